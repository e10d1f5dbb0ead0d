"""NumPy engine vs PyTorch engine on the same model: training and inference throughput.

    python benchmarks/torch_engine_speed.py [--cells lstm,gru,rnn] [--device cpu|cuda] [--bf16]
                                            [--threads 2] [--repeats 3] [--markdown]

The model is ``Sequential([Cell(I, H, num_layers=L, return_sequences=False), Dense(H, 10)])`` with
cross-entropy and Adam, on the engine benchmark shapes (B, T, I, H, L). One training step is what
each engine's ``fit`` does per batch: forward, loss, backward, clipping to norm 5 and the Adam step
(NumPy: ``rnnlab.models.training.Trainer``; torch: ``rnnlab.torch.training.TorchTrainer``, which
also copies the NumPy batch to the device). Inference is a forward pass in evaluation mode (torch
under ``no_grad``, the input already on the device). Each time is the fastest of several blocks
of ``--repeats`` runs (``engine_speed.best_times``); the ratio is torch samples/s over NumPy's.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engine_speed import SHAPES, best_times  # noqa: E402


def build(cell, shape, seed=0):
    from rnnlab import nn
    from rnnlab.models import Sequential

    B, T, I, H, L = shape
    rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](I, H, num_layers=L, return_sequences=False, seed=seed)
    model = Sequential([rnn, nn.Dense(H, 10, seed=seed)]).compile(loss="cross_entropy", optimizer="adam", lr=1e-3)
    rng = np.random.default_rng(seed)
    batch = (rng.standard_normal((B, T, I)).astype(np.float32), rng.integers(0, 10, B), None)
    return model, batch


def bench_case(cell, shape, repeats, rounds, device, bf16):
    import torch

    from rnnlab.models.training import Trainer
    from rnnlab.torch.engine import to_torch
    from rnnlab.torch.training import TorchModel, TorchOptimizer, TorchTrainer

    model, batch = build(cell, shape)
    net = to_torch(model, device)
    numpy_trainer = Trainer(model, model.optimizer, [], 5.0, 1, False)
    tmodel = TorchModel(net, model._compile_config, [], net.device, bf16)
    torch_trainer = TorchTrainer(tmodel, TorchOptimizer(model.optimizer, net.parameters()), [], 5.0, 1, False)
    x = torch.from_numpy(batch[0]).to(net.device)
    sync = torch.cuda.synchronize if net.device.type == "cuda" else (lambda: None)

    def numpy_train():
        model.train()
        numpy_trainer.train_step(batch)

    def numpy_infer():
        model.eval()
        model.forward(batch[0])

    def torch_train():
        net.train()
        torch_trainer.train_step(batch)
        sync()

    def torch_infer():
        from rnnlab.torch.device import autocast

        net.eval()
        with torch.no_grad(), autocast(net.device, bf16):
            net(x)
        sync()

    fns = {"numpy_train": numpy_train, "torch_train": torch_train, "numpy_infer": numpy_infer,
           "torch_infer": torch_infer}
    return best_times(fns, repeats, rounds)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", default="lstm,gru,rnn")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast for the torch engine (CUDA only)")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads and BLAS threads")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args(argv)
    from _common import set_threads

    import torch

    from rnnlab.errors import RnnlabError
    from rnnlab.nn import kernels
    from rnnlab.torch.device import resolve_device

    set_threads(args.threads)
    try:
        device = resolve_device(args.device)
    except RnnlabError as e:  # e.g. --device cuda without a GPU: one line, not a traceback
        ap.error(str(e))
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {args.threads} threads"
    print(f"# device={device} ({where}) bf16={args.bf16} torch={torch.__version__} numpy={np.__version__} "
          f"numpy engine kernels={'numba' if kernels.ENABLED else 'numpy'} "
          f"load average={os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    head = ["cell", "shape (B,T,I,H,L)", "numpy train samples/s", "torch train samples/s", "train ratio",
            "numpy infer samples/s", "torch infer samples/s", "infer ratio"]
    sep = "|" if args.markdown else " | "
    print(("| " if args.markdown else "") + sep.join(head) + (" |" if args.markdown else ""))
    if args.markdown:
        print("|---" * len(head) + "|")
    for cell in args.cells.split(","):
        for shape in SHAPES:
            r = bench_case(cell, shape, args.repeats, args.rounds, device, args.bf16)
            B = shape[0]
            sps = {k: B / v for k, v in r.items()}
            row = [cell, ",".join(map(str, shape)), f"{sps['numpy_train']:.0f}", f"{sps['torch_train']:.0f}",
                   f"{r['numpy_train'] / r['torch_train']:.2f}", f"{sps['numpy_infer']:.0f}",
                   f"{sps['torch_infer']:.0f}", f"{r['numpy_infer'] / r['torch_infer']:.2f}"]
            print(("| " if args.markdown else "") + sep.join(row) + (" |" if args.markdown else ""), flush=True)
    print("# ratio = torch samples/s ÷ NumPy samples/s (> 1: the PyTorch engine is faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
