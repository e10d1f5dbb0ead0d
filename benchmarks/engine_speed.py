"""Engine speed against PyTorch, in one run on the same machine: train step and inference.

    python benchmarks/engine_speed.py [--cells lstm,gru,rnn] [--repeats 5] [--threads 2] [--markdown]

Train step = forward + backward (input and all weight gradients) on float32 batch-first data;
inference = forward only (torch under no_grad). Each time is the fastest of several blocks
of ``--repeats`` runs (see ``best_times``). Ratios < 1 mean rnnlab is faster than torch.nn on this machine.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

SHAPES = [  # (batch, steps, inputs, hidden, layers)
    (64, 28, 28, 128, 1),
    (32, 200, 64, 128, 1),
    (16, 100, 6, 64, 1),
    (64, 100, 64, 256, 2),
]


def best_times(fns: dict, repeats: int, rounds: int = 3) -> dict:
    """Fastest run of each function over ``rounds`` rounds of ``repeats`` runs.

    Contenders run in blocks (one untimed run first), the blocks alternating over the rounds:
    the thread pools of OpenBLAS and of torch's OpenMP spin for a while after their last call,
    and on 2 cores a rival's spinning threads would slow whichever contender came next.
    Taking the minimum discards runs hit by other work on a busy machine.
    """
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            fn()
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                best[k] = min(best[k], time.perf_counter() - t0)
    return best


def bench_case(cell, shape, repeats, torch):
    from rnnlab import nn
    from rnnlab.nn import kernels

    B, T, I, H, L = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    ours = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](I, H, num_layers=L, seed=0)
    ref = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell](I, H, num_layers=L, batch_first=True)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    d_out = rng.standard_normal((B, T, H)).astype(np.float32)
    xt, dt = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(d_out)

    def torch_train():
        out, _ = ref(xt)
        out.backward(dt)

    def torch_infer():
        with torch.no_grad():
            ref(xt)

    def our_train():
        ours.forward(x)
        ours.backward(d_out)

    def our_infer():
        ours.forward(x)

    def on_path(fn, numba):
        def run():
            prev = kernels.use(numba)
            try:
                fn()
            finally:
                kernels.use(prev)
        return run

    fns = {"torch_train": torch_train, "torch_infer": torch_infer}
    for path in ["numpy"] + (["numba"] if kernels.AVAILABLE else []):
        fns[f"{path}_train"] = on_path(our_train, path == "numba")
        fns[f"{path}_infer"] = on_path(our_infer, path == "numba")
    return best_times(fns, repeats)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", default="lstm,gru,rnn")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table (for the README)")
    args = ap.parse_args(argv)
    from _common import set_threads

    import torch

    set_threads(args.threads)
    print(f"# threads={args.threads} torch={torch.__version__} numpy={np.__version__} "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '-')}")
    head = "| cell | shape (B,T,I,H,L) | torch train ms | numpy train ratio | numba train ratio | torch infer ms | numpy infer ratio | numba infer ratio |"
    print(head)
    print("|---" * 8 + "|")
    worst = {}
    for cell in args.cells.split(","):
        for shape in SHAPES:
            r = bench_case(cell, shape, args.repeats, torch)
            ratios = {k: r[k] / r["torch_" + k.split("_")[1]] for k in r if not k.startswith("torch")}
            for k, v in ratios.items():
                worst[k] = max(worst.get(k, 0.0), v)
            print(f"| {cell} | {','.join(map(str, shape))} | {r['torch_train'] * 1e3:.1f} | "
                  f"{ratios.get('numpy_train', float('nan')):.2f} | {ratios.get('numba_train', float('nan')):.2f} | "
                  f"{r['torch_infer'] * 1e3:.1f} | {ratios.get('numpy_infer', float('nan')):.2f} | "
                  f"{ratios.get('numba_infer', float('nan')):.2f} |", flush=True)
    print("# worst ratios: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(worst.items())))
    targets = {"numpy_train": 1.0, "numba_train": 0.8, "numpy_infer": 1.2, "numba_infer": 1.0}
    missed = [k for k, v in worst.items() if v > targets[k]]
    print("# targets " + ("met" if not missed else "missed: " + ", ".join(missed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
