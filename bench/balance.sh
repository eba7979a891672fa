#!/usr/bin/env bash
# Heterogeneous workers: LeNet on Fashion-MNIST with 2 workers × 1 thread,
# one of them slowed 2× by the hidden debug flag --debug-slow-rank (each
# step it sleeps as long again as it computed), trained once without and
# once with --balance, alternately, $REPEAT times. Prints samples/s, test
# accuracy, the per-rank batch sizes --balance chose and the ratio
# balanced / unbalanced of the best runs. Called by `make bench-balance`.
#
#   EPOCHS=1 LIMIT=60000 BATCH=64 REPEAT=1 bash bench/balance.sh
set -euo pipefail
cd "$(dirname "$0")/.."

EPOCHS=${EPOCHS:-1}
LIMIT=${LIMIT:-60000}
BATCH=${BATCH:-64}
REPEAT=${REPEAT:-1}
SLOW=${SLOW:-2}
SHOAL=${SHOAL:-./shoal}
PYTHON=${PYTHON:-python3}

[ -x "$SHOAL" ] || { echo "bench/balance.sh: $SHOAL not found; run make build" >&2; exit 2; }
"$SHOAL" data get fashion-mnist >/dev/null

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
common=(--spec examples/lenet.yaml --data fashion-mnist --epochs "$EPOCHS" --limit "$LIMIT" --batch "$BATCH"
  --threads 1 --workers 2 --debug-slow-rank 1 --debug-slow "$SLOW" --json)
for ((i = 1; i <= REPEAT; i++)); do
  for mode in even balance; do
    flags=()
    [ "$mode" = balance ] && flags=(--balance)
    echo "== $mode ($i/$REPEAT)" >&2
    rm -rf "$out/run"
    "$SHOAL" train "${common[@]}" "${flags[@]}" --out "$out/run" 2>"$out/err.txt" | tail -1 >"$out/one.json" || {
      echo "bench/balance.sh: $mode failed:" >&2; tail -5 "$out/err.txt" >&2; exit 1; }
    grep -h "balance: batch sizes" "$out/err.txt" | sed 's/^/   /' | sort -u >&2 || true
    "$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); r["mode"]=sys.argv[2]; print(json.dumps(r))' \
      "$out/one.json" "$mode" >>"$out/results.jsonl"
  done
done
"$PYTHON" - "$out/results.jsonl" "$SLOW" "$BATCH" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("%-8s %12s %9s  %s" % ("mode", "samples/s", "test acc", "batch per rank"))
for r in rows:
    print("%-8s %12.0f %8.2f%%  %s" % (r["mode"], r["samples_per_sec"], 100 * r["test_accuracy"],
                                       r.get("rank_batches") or "even"))
best = {m: max(r["samples_per_sec"] for r in rows if r["mode"] == m) for m in ("even", "balance")}
print()
print("balance / even = %.2fx (target >= 1.3x); one worker slowed %sx, global batch %d, best of each" % (
    best["balance"] / best["even"], sys.argv[2], 2 * int(sys.argv[3])))
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
