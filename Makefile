# shoal — build, check, test and benchmark.
#
#   make test    everything CI runs: checks, tests (asm and noasm), race tests
#   make check   gofmt, go vet, staticcheck and the race detector
#   make bench   Go benchmarks of the hot kernels
#   make bench-gemm, bench-allreduce, bench-train, bench-scaling   side by side with peers
#   make bench-balance   --balance against an even split, one worker slowed 2×

GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Packages that run goroutines of their own; tested with -race.
RACE_PKGS   ?= ./internal/... ./tensor/... ./collective/... ./data/... ./autograd/... ./nn/... ./optim/... ./ps/... ./cluster/... ./train/...

.PHONY: all build test check fmt vet staticcheck race unit noasm bench bench-gemm bench-allreduce bench-train bench-scaling bench-balance

all: build

build:
	CGO_ENABLED=0 $(GO) build -o shoal ./cmd/shoal

test: check unit noasm

check: fmt vet staticcheck race

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags noasm ./...

staticcheck:
	$(STATICCHECK) ./...

race:
	$(GO) test -race -short -count=1 $(RACE_PKGS)

unit:
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) test -count=1 ./...

noasm:
	$(GO) test -count=1 -tags noasm ./tensor/... ./optim/...
	$(GO) test -count=1 -short -tags noasm ./collective/...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./tensor/... ./nn/... ./optim/...

bench-gemm: build
	bash bench/gemm.sh

bench-allreduce: build
	bash bench/allreduce.sh

bench-train: build
	bash bench/train.sh

bench-scaling: build
	bash bench/scaling.sh

bench-balance: build
	bash bench/balance.sh
