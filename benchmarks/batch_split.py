"""Batch-parallel time loops against one thread, in one run: where does splitting the batch pay?

    python benchmarks/batch_split.py [--repeats 10]

For LSTM and GRU (Numba path, 2 threads) on shapes around the split threshold, the train step and
the inference time with the batch forced into 2 slices (``batch_threads.threads(2)``) divided by
the time with 1; below 1 the split pays. ``work/slice`` is rows per slice x size of W_hh, the
quantity ``batch_threads.slices`` compares with the cell's ``min_split_work`` (LSTM 2^19, GRU 2^18).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engine_speed import best_times  # noqa: E402

SHAPES = [(16, 100, 6, 64), (24, 100, 6, 64), (32, 100, 6, 64), (64, 100, 6, 64), (16, 100, 6, 128),
          (256, 30, 6, 32)]  # (batch, steps, inputs, hidden)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args(argv)
    from _common import set_threads

    set_threads(2)
    from rnnlab import nn
    from rnnlab.nn import batch_threads

    print("| cell | shape (B,T,I,H) | work/slice | split by default | train 2/1 slices | infer 2/1 slices |")
    print("|---|---|---|---|---|---|")
    for cls in (nn.LSTM, nn.GRU):
        for B, T, I, H in SHAPES:
            layer = cls(I, H, seed=0)
            rng = np.random.default_rng(0)
            x = rng.standard_normal((B, T, I)).astype(np.float32)
            d = rng.standard_normal((B, T, H)).astype(np.float32)

            def run(n, train):
                def f():
                    with batch_threads.threads(n):
                        layer.forward(x)
                        if train:
                            layer.backward(d)
                return f

            r = best_times({(n, t): run(n, t) for n in (1, 2) for t in (True, False)}, args.repeats, rounds=5)
            cell = layer._runs[0].cell
            work = B // 2 * cell.n_gates * H * H
            default = batch_threads.slices(B, cell.n_gates * H * H, cell.min_split_work) > 1
            print(f"| {cls.__name__} | {B},{T},{I},{H} | {work} | {'yes' if default else 'no'} | "
                  f"{r[2, True] / r[1, True]:.2f} | {r[2, False] / r[1, False]:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
