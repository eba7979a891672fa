#!/usr/bin/python3
"""Time float32 a @ b in numpy, the peer of `shoal bench gemm`.

Prints one JSON object with the same fields as `shoal bench gemm --json`,
plus the BLAS library numpy is linked with at run time. The thread count
must reach OpenBLAS before numpy loads it, so it is set from --threads
first thing.
"""
import argparse
import json
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--m", type=int, default=1024)
    p.add_argument("--n", type=int, default=1024)
    p.add_argument("--k", type=int, default=1024)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iters", type=int, default=0,
                   help="timed multiplications; 0 runs for at least 0.5 s")
    p.add_argument("--transa", action="store_true", help="store A transposed (k×m)")
    p.add_argument("--transb", action="store_true", help="store B transposed (n×k)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args()
    if min(args.m, args.n, args.k) < 1 or args.threads < 1 or args.iters < 0:
        p.error("m, n, k and threads must be at least 1, iters at least 0")
    return args


def blas_library():
    """The BLAS shared object mapped into this process, or "unknown"."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "blas" in os.path.basename(path):
                    return os.path.realpath(path)
    except OSError:
        pass
    return "unknown"


def main():
    args = parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np  # after the thread variables, on purpose

    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, (args.k, args.m) if args.transa else (args.m, args.k)).astype(np.float32)
    b = rng.uniform(-1, 1, (args.n, args.k) if args.transb else (args.k, args.n)).astype(np.float32)
    opa = a.T if args.transa else a
    opb = b.T if args.transb else b
    c = np.empty((args.m, args.n), dtype=np.float32)

    warm = time.perf_counter()
    i = 0
    while i < 3 or time.perf_counter() - warm < 0.05:
        np.matmul(opa, opb, out=c)
        i += 1
    cpu0 = time.process_time()
    start = time.perf_counter()
    done = 0
    while (args.iters == 0 and time.perf_counter() - start < 0.5) or done < args.iters:
        np.matmul(opa, opb, out=c)
        done += 1
    per = (time.perf_counter() - start) / done
    cpu = (time.process_time() - cpu0) / done

    blas = blas_library()
    if "openblas" not in blas:
        print(f"gemm.py: numpy uses {blas}, not OpenBLAS; "
              "install libopenblas0-pthread for a fair comparison", file=sys.stderr)
    res = {
        "system": "numpy", "blas": blas, "numpy": np.__version__,
        "m": args.m, "n": args.n, "k": args.k,
        "transa": args.transa, "transb": args.transb,
        "threads": args.threads, "iters": done,
        "time_ms": per * 1e3,
        "gflops": 2.0 * args.m * args.n * args.k / per / 1e9,
        "cpu_ms": cpu * 1e3,
    }
    if args.json:
        print(json.dumps(res))
    else:
        print(f"numpy gemm {args.m}x{args.n}x{args.k} transa={args.transa} "
              f"transb={args.transb} threads={args.threads}: {res['time_ms']:.3f} ms, "
              f"{res['gflops']:.1f} GFLOP/s ({done} iterations, {blas})")


if __name__ == "__main__":
    main()
