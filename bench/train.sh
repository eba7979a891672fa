#!/usr/bin/env bash
# Training throughput of shoal against PyTorch 1.13 (Debian's python3-torch),
# side by side in one run: the MLP and LeNet of examples/ on Fashion-MNIST,
# one epoch each (LeNet on the first $LENET_LIMIT examples), at 1 and 2
# threads, same batch, optimizer and learning rate. Prints a table of
# training samples/s (loading excluded), test accuracy and the ratio
# shoal/PyTorch. Called by `make bench-train`, which builds ./shoal first.
#
#   THREADS="1 2" MODELS="mlp lenet" EPOCHS=1 LENET_LIMIT=20000 bash bench/train.sh
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-"1 2"}
MODELS=${MODELS:-"mlp lenet"}
EPOCHS=${EPOCHS:-1}
MLP_LIMIT=${MLP_LIMIT:-0}
LENET_LIMIT=${LENET_LIMIT:-20000}
PYTHON=${PYTHON:-/usr/bin/python3}
SHOAL=${SHOAL:-./shoal}

[ -x "$SHOAL" ] || { echo "bench/train.sh: $SHOAL not found; run make build" >&2; exit 2; }
"$PYTHON" -c 'import torch' 2>/dev/null || {
  echo "bench/train.sh: PyTorch is missing; apt-get install -y python3-torch" >&2; exit 2; }
# PyTorch's multi-threaded runs need the OpenMP build of OpenBLAS; put it
# first on the library path of the PyTorch runs when it is installed.
openmp_blas=/usr/lib/x86_64-linux-gnu/openblas-openmp
if [ -e "$openmp_blas/libblas.so.3" ]; then
  export LD_LIBRARY_PATH="$openmp_blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  echo "note: libopenblas0-openmp is not installed; PyTorch's 2-thread runs use the pthread OpenBLAS and may collapse (apt-get install -y libopenblas0-openmp)" >&2
fi
"$SHOAL" data get fashion-mnist >/dev/null

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
results="$out/results.jsonl"

for model in $MODELS; do
  limit=$MLP_LIMIT
  [ "$model" = lenet ] && limit=$LENET_LIMIT
  for t in $THREADS; do
    echo "== $model, $t thread(s): shoal" >&2
    "$SHOAL" train --spec "examples/$model.yaml" --data fashion-mnist --epochs "$EPOCHS" \
      --threads "$t" --limit "$limit" --out "$out/$model-$t" --json 2>/dev/null >"$out/shoal.json"
    read -r batch lr opt < <("$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["batch"], r["lr"], r["optimizer"])' "$out/shoal.json")
    echo "== $model, $t thread(s): pytorch (batch $batch, $opt lr $lr)" >&2
    OMP_NUM_THREADS=$t "$PYTHON" bench/peers/train.py --model "$model" --threads "$t" --epochs "$EPOCHS" \
      --batch "$batch" --lr "$lr" --optimizer "$opt" --limit "$limit" >"$out/torch.json"
    "$PYTHON" -c 'import json,sys; s=json.load(open(sys.argv[1])); p=json.load(open(sys.argv[2])); print(json.dumps({"model": sys.argv[3], "threads": int(sys.argv[4]), "shoal": s, "torch": p}))' \
      "$out/shoal.json" "$out/torch.json" "$model" "$t" >>"$results"
  done
done

"$PYTHON" - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("%-6s %7s %6s %9s %14s %14s %7s %10s %10s" % ("model", "threads", "batch", "examples", "shoal samp/s", "torch samp/s", "ratio", "shoal acc", "torch acc"))
for r in rows:
    s, p = r["shoal"], r["torch"]
    ratio = s["samples_per_sec"] / p["samples_per_sec"]
    print("%-6s %7d %6d %9d %14.0f %14.0f %6.2fx %9.2f%% %9.2f%%" % (
        r["model"], r["threads"], s["batch"], p["examples"], s["samples_per_sec"], p["samples_per_sec"],
        ratio, 100 * s["test_accuracy"], 100 * p["test_accuracy"]))
print("targets: mlp >= 1.5x, lenet >= 1.2x pytorch samples/s at the same threads and batch")
PY
