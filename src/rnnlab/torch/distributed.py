"""Data-parallel training across processes: who this process is, the process group, the shared sums.

    torchrun --nproc-per-node 2 -m rnnlab train digits --engine torch     # one machine, two processes
    if is_main_process(): save(model, out)                                # rank 0 alone writes files

``world_size``, ``rank``, ``local_rank``, ``is_distributed`` and ``is_main_process`` read torchrun's
environment (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``), or the process group when one is already up,
and never import torch: code that only asks "am I rank 0?" runs without it. ``setup`` joins the
process group (gloo on the CPU, NCCL on GPUs) and ``all_reduce_sum`` adds numbers over the ranks.

``RankBatches`` is what each rank trains on: every rank draws the same global batches (same seed)
and takes its contiguous slice of each, so ``torch_fit`` takes as many steps per epoch as one
process would, on global batches of the same size.
"""
from __future__ import annotations

import atexit
import os
import sys

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.models import arrays


def _group():
    """``torch.distributed`` when a process group is up, else None (looked up without importing torch)."""
    dist = sys.modules.get("torch.distributed")
    return dist if dist is not None and dist.is_available() and dist.is_initialized() else None


def world_size() -> int:
    """Number of processes training together (1 outside torchrun)."""
    dist = _group()
    return dist.get_world_size() if dist else int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's index among all processes, 0 to ``world_size() - 1`` (0 outside torchrun)."""
    dist = _group()
    return dist.get_rank() if dist else int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    """This process's index on its machine (torchrun's ``LOCAL_RANK``), which picks its GPU."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_distributed() -> bool:
    """Whether several processes train together (torchrun with more than one process)."""
    return world_size() > 1


def is_main_process() -> bool:
    """True on rank 0, the one process that writes files and shows progress; True outside torchrun."""
    return rank() == 0


def setup(device="auto"):
    """Join the process group once (gloo on the CPU, NCCL on CUDA) and return this process's device.

    ``device`` is as for ``resolve_device``; "cuda" and "auto" on a GPU machine become
    ``cuda:LOCAL_RANK``, one GPU per process. The group is left at exit (``teardown``).
    """
    from rnnlab.torch.device import resolve_device
    from rnnlab.torch.optional import require_torch

    torch = require_torch()
    dist = torch.distributed
    if not dist.is_available():
        raise RnnlabError(f"this torch build ({torch.__version__}) has no torch.distributed; install a build "
                          "with it (the pytorch.org wheels have it) or train in one process.")
    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None:
        if local_rank() >= torch.cuda.device_count():
            raise RnnlabError(f"process LOCAL_RANK={local_rank()} has no GPU of its own: "
                              f"{torch.cuda.device_count()} visible; start at most that many processes per "
                              "machine (--nproc-per-node).")
        dev = torch.device("cuda", local_rank())
    if dev.type == "cuda":
        torch.cuda.set_device(dev)  # NCCL works on the current device
    if not dist.is_initialized():
        missing = [k for k in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK") if k not in os.environ]
        if missing:
            raise RnnlabError(f"distributed training needs torchrun's environment but {', '.join(missing)} "
                              "is not set; launch with `torchrun --nproc-per-node N ...`.")
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        atexit.register(teardown)
    return dev


LEAVE_TIMEOUT_S = 60  # how long a rank waits at exit for the others before leaving anyway


def teardown() -> None:
    """Leave the process group, if one is up, together with the other ranks (gloo).

    A gloo rank that closes its connections while a peer is still finishing makes the peer's
    gloo thread abort the peer at exit ("terminate called without an active exception", 3 runs in
    10 of the two-process test here), so the ranks first meet at a barrier; a monitored one, so a
    rank whose peers died waits ``LEAVE_TIMEOUT_S`` at most.
    """
    dist = _group()
    if dist:
        if dist.get_backend() == "gloo":
            from datetime import timedelta

            try:
                dist.monitored_barrier(timeout=timedelta(seconds=LEAVE_TIMEOUT_S))
            except RuntimeError:
                pass  # a peer is gone: leave all the same
        dist.destroy_process_group()


def all_reduce_sum(values, device="cpu") -> list[float]:
    """``values`` (floats) added element-wise over all ranks, in float64; every rank gets the sums.

    ``device`` is this process's training device (NCCL reduces CUDA tensors only).
    """
    import torch

    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    return t.tolist()


def check_same(value: int, what: str, device="cpu") -> None:
    """Raise on every rank unless all ranks hold the same ``value``: ranks that disagree on the data
    would take different numbers of steps and wait for each other forever."""
    import torch

    t = torch.tensor([value, -value], dtype=torch.int64, device=device)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    high, low = int(t[0]), -int(t[1])
    if high != low:
        raise RnnlabError(f"the ranks disagree on {what} ({low} to {high}); every process must load the "
                          "same data.")


def rank_slice(idx: np.ndarray, rank: int, world: int) -> np.ndarray:
    """Rank ``rank``'s contiguous part of the global batch ``idx`` (sizes differ by at most one)."""
    return np.array_split(idx, world)[rank]


class RankBatches:
    """One ``(batch, weight)`` pair per global batch: this rank's slice of it, as ``arrays.take`` cuts it.

    A slice left empty (a last batch with fewer sequences than ranks) becomes the batch's first
    sequence with weight 0: the rank still runs forward and backward, because DDP's gradient
    all-reduce waits for every rank, and adds nothing to the loss or its gradient.
    """

    def __init__(self, X, y, lengths, index_batches, rank: int, world: int, per_step: bool = False):
        self.X, self.y, self.lengths, self.per_step = X, y, lengths, per_step
        self.index_batches, self.rank, self.world = index_batches, rank, world

    def __len__(self) -> int:
        return len(self.index_batches)

    def __iter__(self):
        for idx in self.index_batches:
            part = rank_slice(idx, self.rank, self.world)
            weight = 1.0 if part.size else 0.0
            yield arrays.take(part if part.size else idx[:1], self.X, self.y, self.lengths,
                              per_step=self.per_step), weight
