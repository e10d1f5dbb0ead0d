"""How fast can an LSTM on this machine be? The floors behind the engine's speed targets.

    python benchmarks/engine_roofline.py [--threads 2] [--repeats 5]

For each benchmark shape (``engine_speed.SHAPES``) it prints, for inference and for a train step:

* ``GFLOP``: the matrix products' floating-point work (the gates' elementwise work is left out,
  so every floor below is generous to us);
* ``peak``: what NumPy's OpenBLAS reaches on a large square sgemm here with the same threads, the
  machine's practical ceiling;
* ``torch``: torch.nn.LSTM's time and the share of that ceiling it reaches (``%peak``), with
  oneDNN (torch's default on CPU) and with oneDNN off (torch's own ATen loop);
* ``need %peak``: the share of the ceiling *our* whole step would need to reach the target ratio
  (inference ≤ 1.0, train ≤ 0.8 of torch's time);
* ``BLAS floor``: the engine's products alone, timed as the engine runs them (each thread's
  per-step product on its slice of the batch with one-threaded OpenBLAS, the all-steps products
  with all threads), as a ratio to torch: no loop on OpenBLAS can be faster than this;
* ``ours``: the engine's measured ratio (Numba path) for comparison, to torch as it runs by default
  and to torch with oneDNN off.

A target whose ``need %peak`` is near 100, or below whose ratio the BLAS floor already lies, cannot
be reached by removing overhead; only a faster per-step product than OpenBLAS's could.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engine_speed import SHAPES, best_times  # noqa: E402


def lstm_flops(B, T, I, H, L):
    """(inference, train) multiply-add work ×2 of the LSTM's products."""
    G = 4 * H
    fwd = sum(2 * B * T * G * ((I if layer == 0 else H) + H) for layer in range(L))
    # backward: ∂x and ∂h (same work as forward) and ∂W (same again)
    return fwd, 3 * fwd


def peak_gflops(repeats):
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    best = best_times({"mm": lambda: a @ a}, repeats)["mm"]
    return 2 * 2048 ** 3 / best / 1e9


def _gemm_loop():
    """T products c = a @ b in a compiled loop through the engine's own OpenBLAS call (no Python per step)."""
    import numba

    from rnnlab.nn import kernels

    @numba.njit(nogil=True)
    def loop(a, b, c, T):
        for _ in range(T):
            kernels._gemm(a, b, c)
    return loop


def blas_floor(shape, n_threads, repeats):
    """Seconds of the engine's products alone for (inference, train) on ``shape``."""
    from rnnlab.nn import batch_threads, kernels

    B, T, I, H, L = shape
    G = 4 * H
    rng = np.random.default_rng(0)
    from rnnlab.nn.cells.lstm import LSTMCell

    n = batch_threads.slices(B, G * H, LSTMCell.min_split_work) if n_threads > 1 else 1
    rows = -(-B // n)  # each thread's slice; threads run side by side, so one slice's time counts
    h, dz = rng.random((rows, H), dtype=np.float32), rng.random((rows, G), dtype=np.float32)
    w_t, w = rng.random((H, G), dtype=np.float32), rng.random((G, H), dtype=np.float32)
    out_g, out_h = np.empty((rows, G), np.float32), np.empty((rows, H), np.float32)
    get, put = kernels.blas_thread_functions()
    before = get()

    loop = _gemm_loop()

    def steps(a, b, c):
        put(1 if n > 1 else before)
        try:
            loop(a, b, c, T)
        finally:
            put(before)

    per_layer = {}
    for k, (a, b, c) in {"fwd": (h, w_t, out_g), "bwd": (dz, w, out_h)}.items():
        per_layer[k] = best_times({k: lambda a=a, b=b, c=c: steps(a, b, c)}, repeats)[k]
    big = {}
    for layer in range(L):
        In = I if layer == 0 else H
        x, d = rng.random((T * B, In), dtype=np.float32), rng.random((T * B, G), dtype=np.float32)
        hs, w_ih = rng.random((T * B, H), dtype=np.float32), rng.random((G, In), dtype=np.float32)
        big[layer] = best_times({
            "proj": lambda: x @ w_ih.T,                       # zx = x W_ihᵀ
            "back": lambda: (d @ w_ih, d.T @ x, d.T @ hs),    # ∂x, ∂W_ih, ∂W_hh
        }, repeats)
    infer = L * per_layer["fwd"] + sum(b["proj"] for b in big.values())
    train = infer + L * per_layer["bwd"] + sum(b["back"] for b in big.values())
    return infer, train


def torch_times(shape, repeats, torch):
    B, T, I, H, L = shape
    ref = torch.nn.LSTM(I, H, num_layers=L, batch_first=True)
    x = torch.randn(B, T, I, requires_grad=True)
    d = torch.randn(B, T, H)

    def train():
        out, _ = ref(x)
        out.backward(d)

    def infer():
        with torch.no_grad():
            ref(x)

    res = {}
    for onednn in (True, False):
        with torch.backends.mkldnn.flags(enabled=onednn):
            r = best_times({"infer": infer, "train": train}, repeats)
        res.update({(k, onednn): v for k, v in r.items()})
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    from _common import set_threads

    import warnings

    warnings.filterwarnings("ignore", message="TF32")
    torch = set_threads(args.threads)
    from engine_speed import bench_case

    peak = peak_gflops(args.repeats)
    print(f"# threads={args.threads} torch={torch.__version__}; OpenBLAS sgemm 2048² here: {peak:.0f} GFLOP/s")
    print("| shape (B,T,I,H,L) | mode | GFLOP | torch ms (%peak) | torch, oneDNN off, ms (%peak) "
          "| target | need %peak | BLAS floor ratio | ours ratio | ours / torch oneDNN off |")
    print("|---" * 10 + "|")
    targets = {"infer": 1.0, "train": 0.8}
    for shape in SHAPES:
        flops = dict(zip(("infer", "train"), lstm_flops(*shape)))
        floor = dict(zip(("infer", "train"), blas_floor(shape, args.threads, args.repeats)))
        tt = torch_times(shape, args.repeats, torch)
        ours = bench_case("lstm", shape, args.repeats, torch)
        for mode in ("infer", "train"):
            gf = flops[mode] / 1e9
            t_on, t_off = tt[(mode, True)], tt[(mode, False)]
            share = lambda t: 100 * gf / t / peak  # noqa: E731
            print(f"| {','.join(map(str, shape))} | {mode} | {gf:.2f} | {t_on * 1e3:.1f} ({share(t_on):.0f}%) "
                  f"| {t_off * 1e3:.1f} ({share(t_off):.0f}%) | ≤ {targets[mode]} "
                  f"| {share(t_on) / targets[mode]:.0f}% | {floor[mode] / t_on:.2f} "
                  f"| {ours['numba_' + mode] / ours['torch_' + mode]:.2f} | {ours['numba_' + mode] / t_off:.2f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
