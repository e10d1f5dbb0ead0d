"""``torch_fit``: train a compiled ``Sequential`` with the PyTorch engine, on the CPU or a GPU.

    model.compile(loss="cross_entropy", optimizer="adam", lr=1e-3)
    history = torch_fit(model, X, y, epochs=5, validation_split=0.1, device="auto", bf16=True)
    model.predict(X_new)          # the trained weights are back in the NumPy model

The loop is rnnlab's: the same ``Trainer`` hooks (so ``EarlyStopping``, ``StepLR``, ``CosineLR``,
``ReduceLROnPlateau``, ``CSVLogger`` and ``LambdaCallback`` work unchanged), the same ``History``
rows, the same batching (shuffling, ``validation_split``, ``bucket_by_length``) and the same
masked losses and metrics. Only the step differs, in torch::

    loss = masked_loss(net(x, lengths), y, mask)   # bf16 autocast on CUDA when asked
    loss.backward(); on_grad_computed(trainer)
    norm = clip_grad_norm_(params, clip_norm)       # a non-finite loss or norm skips the step
    optimizer.step()                                # torch.optim twin of the compiled optimiser

Under torchrun (or with ``distributed=True``) the processes train data-parallel with
DistributedDataParallel: each takes its slice of every global batch (``distributed.RankBatches``),
the loss is divided by the global count of kept elements, and the logged loss and validation
metrics are sums over all ranks, so the weights and the History equal one process's training.

The epochs are ``rnnlab.models.training.run_training``'s, so checkpoints and ``resume`` work as in
``fit`` (torch optimiser state included; single process). Not here: the ``l1`` and
``max_norm_recurrent`` optimiser options.
"""
from __future__ import annotations

import math

import numpy as np

from rnnlab import nn as rnn_nn
from rnnlab.errors import NotFittedError, RnnlabError
from rnnlab.models import arrays
from rnnlab.models.callbacks import CSVLogger
from rnnlab.models.history import History
from rnnlab.models.training import Trainer, _check_args, run_training
from rnnlab.torch import distributed as ddp
from rnnlab.torch.device import autocast, resolve_device
from rnnlab.torch.engine import _load_into_torch, _numpy_state, to_torch
from rnnlab.torch.optional import require_torch

torch = require_torch()
F = torch.nn.functional


def _widen(t):
    """bf16/fp16 (autocast outputs) → float32; float32 and float64 stay as they are."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def masked_loss(out, y, mask, loss: str, ignore_index=None):
    """(mean loss over the kept elements, kept positions) as rnnlab's losses compute them.

    out (B, [T,] C) logits or values; y class ids (B, [T]) or targets shaped like out;
    mask (B, T) bool or None. Computed in float32 at least, also under bf16 autocast.
    """
    total, count, keep = masked_sum(out, y, mask, loss, ignore_index)
    return total / count.clamp(min=1), keep


def masked_sum(out, y, mask, loss: str, ignore_index=None):
    """(loss summed over the kept elements, their count, kept positions): ``masked_loss`` before the mean.

    Data-parallel ranks add sums and counts over all ranks before dividing, which keeps the mean exact.
    """
    out = _widen(out)
    if loss == "cross_entropy":
        C = out.shape[-1]
        ii = -100 if ignore_index is None else ignore_index
        per = F.cross_entropy(out.reshape(-1, C), y.reshape(-1), reduction="none", ignore_index=ii)
        keep = torch.ones_like(per, dtype=torch.bool) if mask is None else mask.reshape(-1).clone()
        if ignore_index is not None:
            keep &= y.reshape(-1) != ignore_index
        return (per * keep).sum(), keep.sum(), keep.reshape(y.shape)
    y = y.to(out.dtype)
    per = (out - y) ** 2 if loss == "mse" else F.binary_cross_entropy_with_logits(out, y, reduction="none")
    keep = torch.ones(out.shape[:-1], dtype=torch.bool, device=out.device) if mask is None else mask
    k = keep[..., None].expand_as(per)
    return (per * k).sum(), k.sum(), keep


class TorchModel:
    """The torch net seen through the interface rnnlab's ``Trainer`` and callbacks use."""

    def __init__(self, net, compile_config: dict, metrics, device, bf16: bool, ddp_net=None):
        self.net, self.device, self.bf16 = net, device, bf16
        self.loss, self.ignore_index = compile_config["loss"], compile_config.get("ignore_index")
        self.metrics = list(metrics)
        # training forwards go through DDP, whose hooks all-reduce the gradients; evaluation uses the
        # bare net, which runs no collective, so ranks may evaluate different numbers of batches
        self.step_net = net if ddp_net is None else ddp_net

    # what checkpoints read (rnnlab.models.io.write_model_files): a model folder of the Sequential
    kind, modules = "sequential", {}   # no NumPy modules, so no NumPy generators to save

    @property
    def meta(self) -> dict:
        return self.net.meta

    def get_config(self) -> dict:
        return self.net.rnnlab_config

    def train(self, mode: bool = True):
        self.step_net.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def state_dict(self) -> dict:
        return _numpy_state(self.net)

    def load_state_dict(self, state: dict) -> None:
        _load_into_torch(self.net, state, "load_state_dict")

    @property
    def params(self) -> dict:
        return dict(self.net.named_parameters())

    @property
    def grads(self) -> dict:
        """NumPy copies of the current gradients, for callbacks that inspect them."""
        return {k: (np.zeros(tuple(p.shape)) if p.grad is None else _widen(p.grad.detach()).cpu().numpy())
                for k, p in self.net.named_parameters()}

    def _forward(self, batch, module):
        Xb, yb, Lb = batch
        x, lengths = self.net.as_tensors(Xb, Lb)
        y = torch.from_numpy(np.ascontiguousarray(yb)).to(self.device)
        mask = None
        if self.net.per_step and Lb is not None:
            mask = torch.from_numpy(arrays.step_mask(Lb, *Xb.shape[:2])).to(self.device)
        with autocast(self.device, self.bf16):
            out = module(x, lengths)
        total, count, keep = masked_sum(out, y, mask, self.loss, self.ignore_index)
        return _widen(out), y, total, count, keep

    def train_step_loss_sums(self, batch):
        """(Σ loss over the batch's kept elements, their count), tensors; the sum carries the graph."""
        return self._forward(batch, self.step_net)[2:4]

    def train_step_loss_tensor(self, batch):
        total, count = self.train_step_loss_sums(batch)
        return total / count.clamp(min=1)

    def train_step_loss(self, batch) -> float:
        """Forward and backward on one batch (gradients accumulate in ``.grad``), as ``Model`` has it."""
        loss = self.train_step_loss_tensor(batch)
        loss.backward()
        return float(loss.detach())

    @torch.no_grad()
    def evaluate_batch(self, batch) -> dict:
        """Summed loss and metrics over the batch's positions and their count, as ``Sequential``."""
        out, y, total, n, keep = self._forward(batch, self.net)
        count = int(keep.sum())
        sums = {"loss": float(total / n.clamp(min=1)) * count, "count": count}
        if "accuracy" in self.metrics:
            if self.loss == "cross_entropy":
                hit = (out.argmax(-1) == y).float()
            else:
                hit = ((out > 0) == (y.reshape(out.shape) > 0.5)).float().mean(-1)
            sums["accuracy"] = float(hit[keep].sum())
        if "mae" in self.metrics:
            sums["mae"] = float((out - y.reshape(out.shape).to(out.dtype)).abs().mean(-1)[keep].sum())
        return sums


class TorchOptimizer:
    """The ``torch.optim`` twin of an rnnlab optimiser; ``lr`` reads and sets every param group."""

    def __init__(self, opt, params):
        o = torch.optim
        problems = [f"{k}={getattr(opt, k)}" for k in ("l1", "max_norm_recurrent") if getattr(opt, k, None)]
        if isinstance(opt, rnn_nn.AdamW) and opt.l2:
            problems.append(f"l2={opt.l2} together with AdamW's weight_decay")
        if problems:
            raise RnnlabError(f"torch_fit does not support the optimiser options {', '.join(problems)}; "
                              "drop them or train with the NumPy engine (model.fit).")
        lr, wd = float(opt.lr), float(getattr(opt, "l2", 0.0))  # l2 adds l2·θ to g, as torch's weight_decay
        if type(opt) is rnn_nn.AdamW:
            self.torch = o.AdamW(params, lr=lr, betas=tuple(opt.betas), eps=opt.eps, weight_decay=opt.weight_decay)
        elif type(opt) is rnn_nn.Adam:
            self.torch = o.Adam(params, lr=lr, betas=tuple(opt.betas), eps=opt.eps, weight_decay=wd)
        elif type(opt) is rnn_nn.RMSprop:
            self.torch = o.RMSprop(params, lr=lr, alpha=opt.alpha, eps=opt.eps, momentum=opt.momentum,
                                   weight_decay=wd)
        elif type(opt) is rnn_nn.SGD:
            self.torch = o.SGD(params, lr=lr, momentum=opt.momentum, nesterov=opt.nesterov, weight_decay=wd)
        else:
            raise RnnlabError(f"torch_fit has no torch twin for the optimiser {type(opt).__name__}; "
                              "compile with 'adam', 'adamw', 'sgd' or 'rmsprop'.")

    @property
    def lr(self) -> float:
        return float(self.torch.param_groups[0]["lr"])

    @lr.setter
    def lr(self, value) -> None:
        for group in self.torch.param_groups:
            group["lr"] = float(value)

    def step(self, *_) -> None:
        self.torch.step()

    def state_dict(self) -> dict:
        """The torch optimiser's per-parameter state as flat NumPy arrays ("3.exp_avg"), for checkpoints."""
        return {f"{i}.{k}": v.detach().cpu().numpy() for i, st in self.torch.state_dict()["state"].items()
                for k, v in st.items() if torch.is_tensor(v)}

    def load_state_dict(self, flat: dict) -> None:
        state = {}
        for key, value in flat.items():
            i, name = key.split(".", 1)
            state.setdefault(int(i), {})[name] = torch.from_numpy(np.array(value))
        current = self.torch.state_dict()
        self.torch.load_state_dict({"state": state, "param_groups": current["param_groups"]})


class TorchTrainer(Trainer):
    """rnnlab's ``Trainer`` with the optimiser step done by torch autograd."""

    def train_step(self, batch) -> bool:
        self.batch, self.grad_norm = batch, None
        self.optimizer.torch.zero_grad(set_to_none=True)
        loss, self.batch_loss = self.step_loss(batch)
        if not math.isfinite(self.batch_loss):
            return False
        loss.backward()
        self.call("on_grad_computed")
        params = [p for p in self.model.net.parameters() if p.grad is not None]
        norm = float(torch.nn.utils.clip_grad_norm_(params, math.inf if self.clip_norm is None else self.clip_norm))
        self.grad_norm = norm
        if not math.isfinite(norm):
            return False
        self.optimizer.step()
        self.step += 1
        return True

    def epoch_batches(self, data, index_batches, per_step: bool):
        """The training batches of one epoch, cut from ``data`` = (X, y, lengths)."""
        return arrays.Batches(*data, index_batches, per_step=per_step)

    def valid_batches(self, data, index_batches, per_step: bool):
        """The validation batches, cut from ``data`` = (X, y, lengths)."""
        return arrays.Batches(*data, index_batches, per_step=per_step)

    def step_loss(self, batch):
        """(the loss tensor to differentiate, the batch's loss as logged)."""
        loss = self.model.train_step_loss_tensor(batch)
        return loss, float(loss.detach())


class DataParallelTrainer(TorchTrainer):
    """``TorchTrainer`` for process ``rank`` of ``world`` under DDP; it trains on ``distributed.RankBatches``.

    Every rank logs the same batch losses, gradient norms and validation metrics (sums over all
    ranks), so callbacks such as ``EarlyStopping`` take the same decision everywhere. ``weight``
    is 0 while the rank runs a stand-in for its empty slice of a batch, else 1.
    """

    def __init__(self, *args, rank: int, world: int):
        super().__init__(*args)
        self.rank, self.world, self.weight = rank, world, 1.0

    def epoch_batches(self, data, index_batches, per_step: bool):
        return ddp.RankBatches(*data, index_batches, self.rank, self.world, per_step)

    def valid_batches(self, data, index_batches, per_step: bool):
        parts = [ddp.rank_slice(idx, self.rank, self.world) for idx in index_batches]
        return arrays.Batches(*data, [p for p in parts if p.size], per_step=per_step)

    def train_step(self, item) -> bool:
        batch, self.weight = item  # weight 0: a stand-in for this rank's empty slice of the batch
        return super().train_step(batch)

    def step_loss(self, batch):
        total, count = self.model.train_step_loss_sums(batch)
        total = total * self.weight
        s, n = ddp.all_reduce_sum([total.detach(), count * self.weight], self.model.device)
        n = max(n, 1.0)
        # DDP averages gradients over the ranks, so world·Σ_rank/n_global averages to ∇(Σ_all/n_global)
        return total * (self.world / n), s / n

    def validate(self, batches) -> dict:
        """``Trainer.validate`` over every rank's batches: sums and counts are added over the ranks."""
        keys = ["loss", "count", *self.model.metrics]
        sums = dict.fromkeys(keys, 0.0)
        for batch in batches:
            for k, v in self.model.evaluate_batch(batch).items():
                sums[k] += float(v)
        sums = dict(zip(keys, ddp.all_reduce_sum(sums.values(), self.model.device)))
        count = sums.pop("count")
        if count <= 0:
            raise RnnlabError("the validation data holds no samples to evaluate; check the validation data.")
        return {f"val_{k}": v / count for k, v in sums.items()}


def _split(model, X, y, lengths, validation_data, validation_split, split_rng):
    """Validated (train, valid) triples (X, y, lengths), as ``Sequential.fit`` builds them."""
    X, lengths = model._inputs(X, lengths)
    y = model._targets(y, X, lengths)
    if validation_data is not None and validation_split:
        raise RnnlabError("pass either validation_data or validation_split, not both.")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise RnnlabError("validation_data expected a tuple (X_val, y_val) or (X_val, y_val, lengths_val).")
        Xv, Lv = model._inputs(validation_data[0], validation_data[2] if len(validation_data) == 3 else None,
                               name="X_val")
        return (X, y, lengths), (Xv, model._targets(validation_data[1], Xv, Lv, name="y_val"), Lv)
    if validation_split:
        tr, va = arrays.split_validation(X.shape[0], validation_split, split_rng)
        take = (lambda idx: None) if lengths is None else (lambda idx: lengths[idx])
        return (X[tr], y[tr], take(tr)), (X[va], y[va], take(va))
    return (X, y, lengths), None


def torch_fit(model, X, y, *, epochs=10, batch_size=32, validation_data=None, validation_split=0.0,
              callbacks=(), lengths=None, shuffle=True, seed=0, clip_norm=5.0, progress=True,
              bucket_by_length=False, device="auto", bf16=False, monitor=None, distributed=None,
              checkpoint_dir=None, resume=False, checkpoint_minutes=None, checkpoint_steps=None,
              on_interrupt="return") -> History:
    """Train the compiled ``Sequential`` ``model`` with the PyTorch engine; its weights are updated in place.

    Parameters are those of ``Sequential.fit`` plus:

    device : {"auto", "cpu", "cuda"} or "cuda:N"
        Where to train; "auto" takes the GPU when there is one. Under torchrun, "auto" and "cuda"
        mean this process's GPU, ``cuda:LOCAL_RANK``.
    bf16 : bool, default False
        bf16 autocast on CUDA (weights and optimiser state stay float32).
    monitor : str, optional
        History key of the best epoch; "val_loss" with validation, else "loss".
    distributed : bool, optional
        Train data-parallel with the other processes of the torchrun job (DistributedDataParallel);
        by default when torchrun started more than one process. Every process must pass the same
        data, seed and arguments; ``batch_size`` is the global batch, shared out among them. Only
        rank 0 shows progress and runs ``CSVLogger``; the weights come back on every rank.

    ``seed`` fixes the split, the batch order and torch's dropout masks (``torch.manual_seed``;
    seed + rank under DDP, so that ranks drop different units).
    Returns the ``History`` (also kept as ``model.history_``).
    """
    if getattr(model, "loss", None) is None or getattr(model, "_compile_config", None) is None:
        raise NotFittedError("torch_fit needs a compiled Sequential; call model.compile(loss=..., "
                             "optimizer=...) first.")
    batch_size = model._batch_size(batch_size)
    parallel = ddp.is_distributed() if distributed is None else bool(distributed)
    if parallel and not isinstance(seed, (int, np.integer)):
        raise RnnlabError(f"distributed training needs an integer seed, so that every process draws the same "
                          f"batches, but got {seed!r}.")
    if parallel and checkpoint_dir is not None:
        raise RnnlabError("checkpoints are written by single-process training only; drop checkpoint_dir "
                          "under torchrun.")
    split_rng, train_rng = np.random.default_rng(seed).spawn(2)
    (X, y, lengths), valid = _split(model, X, y, lengths, validation_data, validation_split, split_rng)
    arrays.warn_if_far_from_unit_scale(X, lengths)
    if bucket_by_length and lengths is None:
        raise RnnlabError("bucket_by_length needs variable lengths: pass lengths or use an Embedding with "
                          "padding_idx on right-padded ids.")
    dev = ddp.setup(device) if parallel else resolve_device(device)
    autocast(dev, bf16)  # fail before training when bf16 cannot run here
    rank = ddp.rank() if parallel else 0
    if parallel:
        ddp.check_same(X.shape[0], "the number of training sequences", dev)
    if isinstance(seed, (int, np.integer)):
        torch.manual_seed(int(seed) + rank)
    net = to_torch(model, dev).train()
    # DDP copies rank 0's weights to every rank as it wraps the net, so all ranks start alike
    wrapper = torch.nn.parallel.DistributedDataParallel(
        net, device_ids=[dev.index] if dev.type == "cuda" else None) if parallel else None
    tmodel = TorchModel(net, model._compile_config, model.metrics, dev, bf16, ddp_net=wrapper)
    optimizer = TorchOptimizer(model.optimizer, net.parameters())
    monitor = monitor or ("val_loss" if valid else "loss")
    callbacks = _check_args(tmodel, lambda rng: None, epochs, optimizer, None, callbacks, clip_norm, monitor)
    if rank != 0:  # rank 0 alone writes files
        callbacks = [cb for cb in callbacks if not isinstance(cb, CSVLogger)]
    args = (tmodel, optimizer, callbacks, clip_norm, int(epochs), valid is not None)
    trainer = DataParallelTrainer(*args, rank=rank, world=ddp.world_size()) if parallel else TorchTrainer(*args)
    trainer.max_bad_steps = 20

    def train_batches(rng):
        return trainer.epoch_batches((X, y, lengths), arrays.batch_indices(
            X.shape[0], batch_size, rng, shuffle=shuffle, lengths=lengths, bucket=bucket_by_length), model.per_step)

    def valid_batches():
        return trainer.valid_batches(valid, arrays.batch_indices(valid[0].shape[0], max(batch_size, 256),
                                                                 shuffle=False), model.per_step)

    try:
        history = run_training(trainer, train_batches, valid_batches if valid is not None else None,
                               seed=train_rng, progress=progress and rank == 0, monitor=monitor,
                               checkpoint_dir=checkpoint_dir, resume=resume, checkpoint_minutes=checkpoint_minutes,
                               checkpoint_steps=checkpoint_steps, on_interrupt=on_interrupt)
    finally:  # also after an error or an interruption: the model holds the weights trained so far
        model.load_state_dict(tmodel.state_dict())
    model.optimizer.lr = optimizer.lr
    model.history_ = history
    model.eval()
    return history

