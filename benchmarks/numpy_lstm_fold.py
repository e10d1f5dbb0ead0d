"""The pure-NumPy LSTM step with and without the folded sigmoid, in one run.

    python benchmarks/numpy_lstm_fold.py [--threads 2] [--repeats 5]

The NumPy step (``RNNLAB_NUMBA=0`` or no Numba) takes σ(z) = ½ + ½ tanh(z/2) with the ½ folded
into copies of the weights (``Cell.step_prescale``): one tanh and one affine pass for all four
gates. "direct" turns the fold off (σ applied to each gate block, as the layer-norm and dropout
paths still do). Times are the fastest of interleaved blocks (``engine_speed.best_times``) on the
engine benchmark shapes; the ratio folded/direct below 1 means the fold is faster.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engine_speed import SHAPES, best_times  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    from _common import set_threads

    set_threads(args.threads)
    from rnnlab import nn
    from rnnlab.nn import kernels
    from rnnlab.nn.cells.lstm import LSTMCell

    folded = LSTMCell.step_prescale
    prev = kernels.use(False)
    print(f"# threads={args.threads}; NumPy LSTM step, folded σ against direct σ")
    print("| shape (B,T,I,H,L) | infer folded/direct | train folded/direct |")
    print("|---|---|---|")
    try:
        for B, T, I, H, L in SHAPES:
            rng = np.random.default_rng(0)
            layer = nn.LSTM(I, H, num_layers=L, seed=0)
            x = rng.standard_normal((B, T, I)).astype(np.float32)
            d = rng.standard_normal((B, T, H)).astype(np.float32)

            def on(fold, train):
                def run():
                    LSTMCell.step_prescale = folded if fold else (lambda self, dtype: None)
                    layer.forward(x)
                    if train:
                        layer.backward(d)
                return run

            r = best_times({(f, t): on(f, t) for f in (True, False) for t in (False, True)}, args.repeats)
            print(f"| {B},{T},{I},{H},{L} | {r[True, False] / r[False, False]:.2f} | "
                  f"{r[True, True] / r[False, True]:.2f} |", flush=True)
    finally:
        LSTMCell.step_prescale = folded
        kernels.use(prev)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
