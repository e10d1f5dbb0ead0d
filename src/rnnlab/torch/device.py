"""``--device cpu|cuda|auto`` for the PyTorch engine, and the bf16 autocast that goes with CUDA.

    dev = resolve_device("auto")          # cuda:0 when a GPU is visible, else cpu
    with autocast(dev, bf16=True):        # bf16 matmuls/RNNs on CUDA; a no-op context on CPU
        out = module(x.to(dev))
"""
from __future__ import annotations

import contextlib

from rnnlab.errors import RnnlabError
from rnnlab.torch.optional import require_torch

DEVICES = ("cpu", "cuda", "auto")


def resolve_device(device="auto"):
    """A ``torch.device`` from "cpu", "cuda", "cuda:N", "auto" or a torch.device.

    "auto" picks CUDA when ``torch.cuda.is_available()``, else the CPU. Asking for CUDA where there
    is none is an error rather than a silent fall-back, so a GPU job never runs on the CPU unnoticed.
    """
    torch = require_torch()
    if isinstance(device, torch.device):
        name = str(device)
    elif isinstance(device, str):
        name = device.strip().lower()
    else:
        raise RnnlabError(f"device must be one of {DEVICES} (or 'cuda:N'), got {device!r}.")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA" if torch.version.cuda is None else "no GPU is visible"
            raise RnnlabError(f"device {device!r} was asked for but {why} (torch {torch.__version__}); "
                              "use --device cpu, or install a CUDA build of torch on a GPU machine.")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RnnlabError(f"device {device!r} does not exist: {torch.cuda.device_count()} GPU(s) visible "
                              "(check CUDA_VISIBLE_DEVICES).")
        return dev
    raise RnnlabError(f"device must be one of {DEVICES} (or 'cuda:N'), got {device!r}.")


def autocast(device, bf16: bool = False):
    """bf16 autocast on CUDA when ``bf16``; otherwise a context that does nothing.

    bf16 keeps float32's exponent range, so unlike fp16 it needs no loss scaling. Weights and
    optimiser state stay float32; only the matmuls and cuDNN RNN kernels run in bf16.
    """
    torch = require_torch()
    device = resolve_device(device)
    if not bf16:
        return contextlib.nullcontext()
    if device.type != "cuda":
        raise RnnlabError("bf16 autocast runs on CUDA only; use --device cuda, or drop --bf16 on the CPU.")
    if not torch.cuda.is_bf16_supported():
        raise RnnlabError(f"this GPU ({torch.cuda.get_device_name(device)}) does not support bf16; drop --bf16.")
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
