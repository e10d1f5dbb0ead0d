"""Cost of the layer options: LN-LSTM against our plain LSTM and against a PyTorch Python-loop LN-LSTM.

    python benchmarks/layer_norm_speed.py [--repeats 2] [--rounds 2] [--threads 2] [--paths numba,numpy]

Each time is one train step (forward + backward: input, weight, bias and LN gradients) on float32
batch-first data, the fastest of ``--rounds`` blocks of ``--repeats`` runs (``engine_speed.best_times``).
The whole table takes about two minutes on 2 cores.
Contenders on the engine benchmark shapes:

* ``plain``: ``nn.LSTM``; ``ln``: ``nn.LSTM(layer_norm=True)`` (target: ln/plain ≤ 1.3 with the
  engine's default kernels, i.e. the numba path when Numba is installed);
* ``all``: layer norm + input and recurrent dropout 0.25 + zoneout 0.1, in training mode;
* ``torch``: ``rnnlab.torch.LayerNormLSTM``, the same equations with autograd and a Python loop
  over time (torch has no fused LN-LSTM); its weights are ours, loaded through ``load_state_dict``.

Prints a Markdown table; ratios < 1 in the last column mean ours is faster than the torch loop.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engine_speed import SHAPES, best_times  # noqa: E402


def bench_shape(shape, paths, repeats, rounds, torch):
    from rnnlab import nn
    from rnnlab.nn import kernels
    from rnnlab.torch.layer_norm import LayerNormLSTM

    B, T, I, H, L = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    d_out = rng.standard_normal((B, T, H)).astype(np.float32)
    layers = {"plain": nn.LSTM(I, H, num_layers=L, seed=0),
              "ln": nn.LSTM(I, H, num_layers=L, layer_norm=True, seed=0),
              "all": nn.LSTM(I, H, num_layers=L, layer_norm=True, input_dropout=0.25, recurrent_dropout=0.25,
                             zoneout=0.1, seed=0)}
    ref = LayerNormLSTM(I, H, num_layers=L)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in layers["ln"].state_dict().items()})
    xt, dt = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(d_out)

    def torch_train():
        out, _ = ref(xt)
        out.backward(dt)

    def ours(layer, numba):
        def run():
            prev = kernels.use(numba)
            try:
                layer.forward(x)
                layer.backward(d_out)
            finally:
                kernels.use(prev)
        return run

    fns = {"torch": torch_train}
    for path in paths:
        for name, layer in layers.items():
            fns[f"{path}_{name}"] = ours(layer, path == "numba")
    return best_times(fns, repeats, rounds)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--paths", default="numba,numpy", help="kernel paths to time (numba is skipped without Numba)")
    args = ap.parse_args(argv)
    from _common import set_threads

    import torch

    from rnnlab.nn import kernels

    set_threads(args.threads)
    paths = [p for p in args.paths.split(",") if p == "numpy" or (p == "numba" and kernels.AVAILABLE)]
    print(f"# LSTM train step (forward + backward), float32, threads={args.threads}, torch={torch.__version__}, "
          f"numpy={np.__version__}")
    cols = ["shape (B,T,I,H,L)"]
    for p in paths:
        cols += [f"{p} plain ms", f"{p} LN ms", f"{p} LN/plain", f"{p} LN+dropout+zoneout ms"]
    cols += ["torch LN loop ms", f"{paths[0]} LN / torch LN"]
    print("| " + " | ".join(cols) + " |")
    print("|---" * len(cols) + "|")
    worst = {p: 0.0 for p in paths}
    for shape in SHAPES:
        r = bench_shape(shape, paths, args.repeats, args.rounds, torch)
        row = [",".join(map(str, shape))]
        for p in paths:
            ratio = r[f"{p}_ln"] / r[f"{p}_plain"]
            worst[p] = max(worst[p], ratio)
            row += [f"{r[f'{p}_plain'] * 1e3:.1f}", f"{r[f'{p}_ln'] * 1e3:.1f}", f"{ratio:.2f}",
                    f"{r[f'{p}_all'] * 1e3:.1f}"]
        row += [f"{r['torch'] * 1e3:.1f}", f"{r[f'{paths[0]}_ln'] / r['torch']:.2f}"]
        print("| " + " | ".join(row) + " |", flush=True)
    # the target is the engine as installed with its kernels (numba when present); the pure-NumPy
    # path (RNNLAB_NUMBA=0) is shown for information: it pays Python's overhead per LN ufunc
    judged = paths[0]
    print("# worst LN/plain: " + ", ".join(f"{p} {v:.2f}" for p, v in worst.items())
          + f"  (target ≤ 1.3 on the {judged} path: {'met' if worst[judged] <= 1.3 else 'missed'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
