#!/usr/bin/env bash
# Allreduce side by side: shoal over TCP and shared memory against PyTorch's
# gloo, world 2 and 4, sizes 4 KiB to 64 MiB, plus raw loopback TCP. Each
# cell runs ROUNDS times (default 3), the three systems one after the other
# in every round, and keeps each system's fastest run: the one least
# disturbed by whatever else the machine is doing, for all three alike.
# Run from the repository root after `make build` (make bench-allreduce does both).
#
#   ROUNDS=3 WORLDS="2 4" SIZES="4096 1048576 16777216 67108864" bash bench/allreduce.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
SHOAL=${SHOAL:-./shoal}
ROUNDS=${ROUNDS:-3}
WORLDS=${WORLDS:-"2 4"}
SIZES=${SIZES:-"4096 1048576 16777216 67108864"}
field() { sed -E "s/.*\"$1\": *([0-9.eE+-]+).*/\1/"; }
iters_for() { if [ "$1" -le 1048576 ]; then echo 200; else echo 20; fi; }
# best A B: the smaller of two times (B empty: A).
best() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b == "" || a + 0 < b + 0) print a; else print b }'; }
tcp=$($SHOAL bench tcp --json | field gbps)
printf 'raw loopback TCP: %.2f GB/s; best of %d rounds per cell\n\n' "$tcp" "$ROUNDS"
printf '%-5s %-9s | %-21s | %-21s | %-21s | %-13s %-13s\n' world size "gloo ms / busbw" "shoal tcp ms / busbw" "shoal shm ms / busbw" "tcp/gloo" "shm/gloo"
for n in $WORLDS; do
  for s in $SIZES; do
    it=$(iters_for "$s")
    gt="" tt="" mt=""
    for ((r = 1; r <= ROUNDS; r++)); do
      gt=$(best "$($PY bench/peers/allreduce_gloo.py --ranks "$n" --size "$s" --iters "$it" | field time_ms)" "$gt")
      tt=$(best "$($SHOAL bench allreduce --ranks "$n" --size "$s" --iters "$it" --transport tcp --json | field time_ms)" "$tt")
      mt=$(best "$($SHOAL bench allreduce --ranks "$n" --size "$s" --iters "$it" --transport shm --json | field time_ms)" "$mt")
    done
    # Bus bandwidth as nccl-tests defines it: 2(n-1)/n · bytes / time.
    bw() { awk -v n="$n" -v s="$s" -v t="$1" 'BEGIN{printf "%.4f", 2*(n-1)/n*s/(t/1e3)/1e9}'; }
    gb=$(bw "$gt") tb=$(bw "$tt") mb=$(bw "$mt")
    # Small sizes compare latency (shoal time / gloo time), large ones bus bandwidth.
    if [ "$s" -le 4096 ]; then
      r1=$(awk -v a="$tt" -v b="$gt" 'BEGIN{printf "lat %.2fx", a/b}')
      r2=$(awk -v a="$mt" -v b="$gt" 'BEGIN{printf "lat %.2fx", a/b}')
    else
      r1=$(awk -v a="$tb" -v b="$gb" 'BEGIN{printf "bw %.2fx", a/b}')
      r2=$(awk -v a="$mb" -v b="$gb" 'BEGIN{printf "bw %.2fx", a/b}')
    fi
    printf '%-5s %-9s | %8.3f %6.2f GB/s | %8.3f %6.2f GB/s | %8.3f %6.2f GB/s | %-13s %-13s\n' \
      "$n" "$s" "$gt" "$gb" "$tt" "$tb" "$mt" "$mb" "$r1" "$r2"
  done
done
echo
echo "lat: shoal time / gloo time (want <= 0.5); bw: shoal busbw / gloo busbw (want >= 1.3 tcp, >= 3 shm)"
