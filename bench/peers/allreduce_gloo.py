#!/usr/bin/env python3
"""Time torch.distributed allreduce with the gloo backend among N local
processes, the way `shoal bench allreduce` does, and print one JSON object
with time_ms, algbw_gbps and busbw_gbps (nccl-tests definitions)."""
import argparse
import json
import os
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def worker(rank, world, port, size, iters, warmup, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    buf = (torch.arange(size // 4, dtype=torch.float32) % 17) * 0.25
    for _ in range(warmup):
        dist.all_reduce(buf)
    dist.barrier()
    start = time.perf_counter()
    for _ in range(iters):
        dist.all_reduce(buf)
    out[rank] = (time.perf_counter() - start) / iters
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--size", type=int, default=16 << 20, help="bytes of float32")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    a = p.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = mp.Manager().dict()
    mp.spawn(worker, args=(a.ranks, port, a.size, a.iters, a.warmup, out), nprocs=a.ranks)
    sec = max(out.values())
    alg = a.size / sec / 1e9
    print(json.dumps({"ranks": a.ranks, "size": a.size, "transport": "gloo", "iters": a.iters,
                      "time_ms": sec * 1e3, "algbw_gbps": alg,
                      "busbw_gbps": alg * 2 * (a.ranks - 1) / a.ranks}))


if __name__ == "__main__":
    main()
