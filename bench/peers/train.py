#!/usr/bin/python3
"""Train the MLP or LeNet of shoal's examples/ on Fashion-MNIST with PyTorch.

The peer of `shoal train` in bench/train.sh: the same layers, loss,
optimizer, learning rate, batch size and epochs, on the same IDX files. The
data is preloaded as tensors and loading is excluded from the timing;
per-epoch shuffling and batching are inside it, as in shoal. Prints one JSON
object: samples_per_sec (training only), test_accuracy, seconds.

    /usr/bin/python3 bench/peers/train.py --model mlp --threads 1 --epochs 1
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"


def find_data(explicit):
    candidates = [explicit] if explicit else []
    if os.environ.get("SHOAL_DATA"):
        candidates.append(os.path.join(os.environ["SHOAL_DATA"], "fashion-mnist"))
    cache = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
    candidates += [os.path.join(cache, "shoal", "datasets", "fashion-mnist"), DEBIAN_DIR]
    for c in candidates:
        if c and os.path.exists(os.path.join(c, "train-images-idx3-ubyte.gz")):
            return c
    sys.exit("train.py: Fashion-MNIST not found in %s; run shoal data get fashion-mnist" % ", ".join(c for c in candidates if c))


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit("train.py: %s is not an IDX file of unsigned bytes" % path)
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data_dir, split):
    images = read_idx(os.path.join(data_dir, split + "-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, split + "-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)  # [N, 1, 28, 28]
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def build(name):
    if name == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 256), nn.ReLU(),
            nn.Linear(256, 128), nn.ReLU(),
            nn.Linear(128, 10))
    if name == "lenet":
        return nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 1024), nn.ReLU(),
            nn.Linear(1024, 10))
    sys.exit("train.py: unknown model %r; use mlp or lenet" % name)


def optimizer(name, params, lr):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    sys.exit("train.py: optimizer %r is not mirrored here; use adam or sgd" % name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, choices=["mlp", "lenet"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--optimizer", default="adam")
    ap.add_argument("--limit", type=int, default=0, help="train on the first N examples only")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data-dir", default="")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data_dir = find_data(args.data_dir)
    x_train, y_train = load(data_dir, "train")
    x_test, y_test = load(data_dir, "t10k")
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]

    model = build(args.model)
    opt = optimizer(args.optimizer, model.parameters(), args.lr)
    loss_fn = nn.CrossEntropyLoss()
    n = x_train.shape[0]
    start = time.perf_counter()
    seen = 0
    for _ in range(args.epochs):
        model.train()
        perm = torch.randperm(n)
        for lo in range(0, n, args.batch):
            idx = perm[lo:lo + args.batch]
            xb, yb = x_train[idx], y_train[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            seen += xb.shape[0]
    train_seconds = time.perf_counter() - start

    model.eval()
    correct = 0
    with torch.no_grad():
        for lo in range(0, x_test.shape[0], 1000):
            pred = model(x_test[lo:lo + 1000]).argmax(dim=1)
            correct += int((pred == y_test[lo:lo + 1000]).sum())
    print(json.dumps({
        "peer": "pytorch " + torch.__version__,
        "model": args.model,
        "threads": args.threads,
        "batch": args.batch,
        "epochs": args.epochs,
        "examples": seen,
        "samples_per_sec": seen / train_seconds,
        "train_seconds": train_seconds,
        "seconds": time.perf_counter() - start,
        "test_accuracy": correct / x_test.shape[0],
    }))


if __name__ == "__main__":
    main()
