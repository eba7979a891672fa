#!/usr/bin/env bash
# Allreduce side by side: shoal over TCP and shared memory against PyTorch's
# gloo, world 2 and 4, sizes 4 KiB to 64 MiB, plus raw loopback TCP.
# Run from the repository root after `make build` (make bench-allreduce does both).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
SHOAL=${SHOAL:-./shoal}
field() { sed -E "s/.*\"$1\": *([0-9.eE+-]+).*/\1/"; }
iters_for() { if [ "$1" -le 1048576 ]; then echo 200; else echo 20; fi; }

tcp=$($SHOAL bench tcp --json | field gbps)
printf 'raw loopback TCP: %.2f GB/s\n\n' "$tcp"
printf '%-5s %-9s | %-21s | %-21s | %-21s | %-13s %-13s\n' world size "gloo ms / busbw" "shoal tcp ms / busbw" "shoal shm ms / busbw" "tcp/gloo" "shm/gloo"
for n in 2 4; do
  for s in 4096 1048576 16777216 67108864; do
    it=$(iters_for "$s")
    g=$($PY bench/peers/allreduce_gloo.py --ranks "$n" --size "$s" --iters "$it")
    t=$($SHOAL bench allreduce --ranks "$n" --size "$s" --iters "$it" --transport tcp --json)
    m=$($SHOAL bench allreduce --ranks "$n" --size "$s" --iters "$it" --transport shm --json)
    gt=$(echo "$g" | field time_ms); gb=$(echo "$g" | field busbw_gbps)
    tt=$(echo "$t" | field time_ms); tb=$(echo "$t" | field busbw_gbps)
    mt=$(echo "$m" | field time_ms); mb=$(echo "$m" | field busbw_gbps)
    # Small sizes compare latency (gloo time / shoal time), large ones bus bandwidth.
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
