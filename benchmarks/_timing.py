"""Timing helper shared by the benchmark scripts (run as ``python benchmarks/<name>.py``)."""

from __future__ import annotations

import time

import torch


def sync(device):
    """Wait for queued GPU work, so that wall time measures it."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn, device, repeats, min_time=0.2):
    """Best wall time of one call over ``repeats`` rounds of at least ``min_time`` s, after a warm-up."""
    fn()
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            sync(device)
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = min(best, elapsed / calls)
    return best
