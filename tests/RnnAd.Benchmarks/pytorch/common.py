"""Timing helpers shared by the PyTorch counterparts of RnnAd's benchmark workloads.

Each script times one workload the way tests/RnnAd.Benchmarks times RnnAd's: warm-up runs, then the
median of timed runs, and prints one JSON line the benchmark program reads.
"""
import json
import statistics
import sys
import time

import torch


def measure(name, run, warmup, runs, budget_seconds):
    for _ in range(warmup):
        run()
    times = []
    start = time.perf_counter()
    while len(times) < runs and (len(times) < 5 or time.perf_counter() - start < budget_seconds):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    print(json.dumps({
        "workload": name,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "runs": len(times),
        "dtype": str(torch.get_default_dtype()).replace("torch.", ""),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }))
    sys.stdout.flush()


def dtype_from_args():
    """float64 by default (RnnAd's precision); pass float32 to see PyTorch's usual precision."""
    return torch.float32 if "float32" in sys.argv[1:] else torch.float64
