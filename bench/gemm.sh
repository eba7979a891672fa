#!/usr/bin/env bash
# Side-by-side GEMM benchmark: shoal's packed GEMM against numpy's OpenBLAS
# on the same shapes and thread counts, run alternately so both see the same
# machine. Each case runs ROUNDS times (default 3) and the best is kept,
# the run least disturbed by whatever else the machine is doing.
#
#   make bench-gemm            # builds ./shoal, then runs this
#   ROUNDS=5 bash bench/gemm.sh
#
# Prints one table: shape, threads, GFLOP/s of each (wall clock), the ratio
# shoal/OpenBLAS, and shoal's speed-up from 1 to 2 threads on 1024³. On a
# shared machine the wall clock also counts time spent waiting for a core,
# so single-threaded rows add GFLOP/s per CPU-second of the process, which
# leaves that out.
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

# m n k threads
cases=(
  "1024 1024 1024 1"
  "128 256 784 1"
  "1024 1024 1024 2"
)

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for c in "${cases[@]}"; do
  read -r m n k t <<<"$c"
  for ((r = 0; r < ROUNDS; r++)); do
    "$SHOAL" bench gemm --m "$m" --n "$n" --k "$k" --threads "$t" --json >>"$results"
    "$PYTHON" bench/peers/gemm.py --m "$m" --n "$n" --k "$k" --threads "$t" --json >>"$results"
  done
done

"$PYTHON" - "$results" "$ROUNDS" <<'PY'
import json, sys

rows = [json.loads(line) for line in open(sys.argv[1])]
best = {}  # (system, m, n, k, threads) -> [max GFLOP/s, min CPU ms]
for r in rows:
    key = (r["system"], r["m"], r["n"], r["k"], r["threads"])
    b = best.setdefault(key, [0.0, float("inf")])
    b[0] = max(b[0], r["gflops"])
    if r.get("cpu_ms"):
        b[1] = min(b[1], r["cpu_ms"])
blas = next((r["blas"] for r in rows if r["system"] == "numpy"), "?")
print(f"GEMM, float32, best of {sys.argv[2]}; peer: numpy {rows[-1].get('numpy', '?')} with {blas}")
print(f"{'shape (m×k·k×n)':<20} {'threads':>7} {'shoal GFLOP/s':>14} {'OpenBLAS GFLOP/s':>17} {'ratio':>6}"
      f"   {'per CPU-s: shoal':>16} {'OpenBLAS':>9} {'ratio':>6}")
seen = []
for (system, m, n, k, t) in best:
    if (m, n, k, t) in seen:
        continue
    seen.append((m, n, k, t))
    s, p = best[("shoal", m, n, k, t)], best[("numpy", m, n, k, t)]
    line = f"{f'{m}x{k}·{k}x{n}':<20} {t:>7} {s[0]:>14.1f} {p[0]:>17.1f} {s[0] / p[0]:>6.2f}"
    flops = 2.0 * m * n * k
    if t == 1 and s[1] < float("inf") and p[1] < float("inf"):
        cs, cp = flops / s[1] / 1e6, flops / p[1] / 1e6
        line += f"   {cs:>16.1f} {cp:>9.1f} {cs / cp:>6.2f}"
    print(line)
one = best.get(("shoal", 1024, 1024, 1024, 1))
two = best.get(("shoal", 1024, 1024, 1024, 2))
if one and two:
    print(f"shoal 1024³ scaling, 2 threads / 1 thread: {two[0] / one[0]:.2f}")
PY
