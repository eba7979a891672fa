#!/usr/bin/python3
"""Train the MLP or LeNet of shoal's examples/ data-parallel with PyTorch DDP.

The peer of `shoal train --workers N --strategy allreduce` in
bench/scaling.sh: PyTorch's DistributedDataParallel over the gloo backend,
WORLD processes started with torch.multiprocessing on this machine, each
with one thread (torch.set_num_threads), rendezvous over
tcp://127.0.0.1:PORT. Same layers, loss, optimizer, learning rate and
per-worker batch as shoal (the global batch is WORLD × batch). Every epoch is
shuffled with one seed shared by all ranks and rank r trains on every
WORLD-th example of the permutation, cut to whole batches so that all ranks
take the same number of steps (as shoal's sharded loader does). The data is
preloaded as tensors and loading is excluded from the timing. Prints one
JSON object: samples_per_sec (all ranks together), test_accuracy (rank 0's
replica, which DDP keeps equal to the others), seconds.

    /usr/bin/python3 bench/peers/ddp.py --model mlp --world 2 --epochs 1 --limit 20000
"""
import argparse
import json
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import build, find_data, load, optimizer  # noqa: E402  the single-process peer's conventions


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank, args, port, results):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port,
                            rank=rank, world_size=args.world)
    data_dir = find_data(args.data_dir)
    x_train, y_train = load(data_dir, "train")
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]

    torch.manual_seed(args.seed)  # the same initial weights everywhere; DDP broadcasts rank 0's anyway
    model = DistributedDataParallel(build(args.model))
    opt = optimizer(args.optimizer, model.parameters(), args.lr)
    loss_fn = nn.CrossEntropyLoss()
    n = x_train.shape[0]
    per_rank = (n // args.world) // args.batch * args.batch
    if per_rank == 0:
        sys.exit("ddp.py: %d examples over %d ranks do not fill one batch of %d" % (n, args.world, args.batch))

    gen = torch.Generator()
    dist.barrier()
    start = time.perf_counter()
    seen = 0
    for epoch in range(args.epochs):
        model.train()
        gen.manual_seed(args.seed + epoch)
        perm = torch.randperm(n, generator=gen)[rank::args.world][:per_rank]
        for lo in range(0, per_rank, args.batch):
            idx = perm[lo:lo + args.batch]
            xb, yb = x_train[idx], y_train[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            seen += xb.shape[0]
    train_seconds = time.perf_counter() - start
    # The job is as fast as its slowest rank.
    totals = torch.tensor([float(seen), train_seconds], dtype=torch.float64)
    dist.all_reduce(totals[:1], op=dist.ReduceOp.SUM)
    dist.all_reduce(totals[1:], op=dist.ReduceOp.MAX)

    if rank == 0:
        x_test, y_test = load(data_dir, "t10k")
        net = model.module
        net.eval()
        correct = 0
        with torch.no_grad():
            for lo in range(0, x_test.shape[0], 1000):
                pred = net(x_test[lo:lo + 1000]).argmax(dim=1)
                correct += int((pred == y_test[lo:lo + 1000]).sum())
        results.put({
            "peer": "pytorch %s ddp gloo" % torch.__version__,
            "model": args.model,
            "world": args.world,
            "threads": 1,
            "batch": args.batch,
            "global_batch": args.batch * args.world,
            "epochs": args.epochs,
            "examples": int(totals[0]),
            "samples_per_sec": float(totals[0]) / float(totals[1]),
            "train_seconds": float(totals[1]),
            "seconds": time.perf_counter() - start,
            "test_accuracy": correct / x_test.shape[0],
        })
    # The all_reduce above was the last use of the group on every rank. Its
    # teardown (a barrier, then destroy_process_group) once left one rank
    # spinning in gloo for minutes after the other had exited, so each
    # process ends here without it; rank 0's result is already in the pipe.
    sys.stdout.flush()
    os._exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, choices=["mlp", "lenet"])
    ap.add_argument("--world", type=int, default=2, help="processes, one thread each")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64, help="per process")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--optimizer", default="adam")
    ap.add_argument("--limit", type=int, default=0, help="train on the first N examples only (all ranks together)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data-dir", default="")
    args = ap.parse_args()
    if args.world < 1:
        sys.exit("ddp.py: --world must be at least 1")
    find_data(args.data_dir)  # fail here, once, rather than in every process
    optimizer(args.optimizer, build(args.model).parameters(), args.lr)

    os.environ["OMP_NUM_THREADS"] = "1"
    ctx = mp.get_context("spawn")
    results = ctx.SimpleQueue()
    mp.spawn(worker, args=(args, free_port(), results), nprocs=args.world, join=True)
    if results.empty():
        sys.exit("ddp.py: rank 0 reported no result")
    print(json.dumps(results.get()))


if __name__ == "__main__":
    main()
