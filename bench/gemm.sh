#!/usr/bin/env bash
# Side-by-side GEMM benchmark: shoal's packed GEMM against numpy's OpenBLAS
# on the same shapes and thread counts, run alternately so both see the same
# machine. Each case runs ROUNDS times (default 3) and the best is kept,
# the run least disturbed by whatever else the machine is doing.
#
#   make bench-gemm            # builds ./shoal, then runs this
#   ROUNDS=5 bash bench/gemm.sh
#
# Prints one table: shape, threads, GFLOP/s of each, shoal/OpenBLAS, and
# shoal's speed-up from 1 to 2 threads on 1024³.
set -euo pipefail
cd "$(dirname "$0")/.."

SHOAL=${SHOAL:-./shoal}
PYTHON=${PYTHON:-/usr/bin/python3}
ROUNDS=${ROUNDS:-3}
if [ ! -x "$SHOAL" ]; then
  echo "gemm.sh: $SHOAL not found; run make build (or make bench-gemm)" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import numpy' 2>/dev/null; then
  echo "gemm.sh: numpy not found for $PYTHON; apt-get install python3-numpy libopenblas0-pthread" >&2
  exit 1
fi

# name m n k threads
cases=(
  "1024x1024x1024 1024 1024 1024 1"
  "128x784@784x256 128 256 784 1"
  "1024x1024x1024 1024 1024 1024 2"
)

gflops() { "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["gflops"])'; }
best() { printf '%s\n' "$@" | sort -g | tail -1; }

results=()
for c in "${cases[@]}"; do
  read -r name m n k t <<<"$c"
  s=() p=()
  for ((r = 0; r < ROUNDS; r++)); do
    s+=("$("$SHOAL" bench gemm --m "$m" --n "$n" --k "$k" --threads "$t" --json | gflops)")
    p+=("$("$PYTHON" bench/peers/gemm.py --m "$m" --n "$n" --k "$k" --threads "$t" --json | gflops)")
  done
  results+=("$name $t $(best "${s[@]}") $(best "${p[@]}")")
done

blas=$("$PYTHON" bench/peers/gemm.py --m 8 --n 8 --k 8 --iters 1 --json |
  "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["blas"])')
echo "GEMM, float32, best of $ROUNDS; peer: numpy with $blas"
printf '%-18s %7s %14s %17s %8s\n' shape threads "shoal GFLOP/s" "OpenBLAS GFLOP/s" ratio
one="" two=""
for r in "${results[@]}"; do
  read -r name t s p <<<"$r"
  printf '%-18s %7s %14.1f %17.1f %8.2f\n' "$name" "$t" "$s" "$p" "$(awk -v a="$s" -v b="$p" 'BEGIN { print a / b }')"
  if [ "$name" = 1024x1024x1024 ]; then
    if [ "$t" = 1 ]; then one=$s; else two=$s; fi
  fi
done
if [ -n "$one" ] && [ -n "$two" ]; then
  printf 'shoal 1024³ scaling, 2 threads / 1 thread: %.2f\n' "$(awk -v a="$two" -v b="$one" 'BEGIN { print a / b }')"
fi
