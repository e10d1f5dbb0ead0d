"""One training loop for every model kind: batches in, ``History`` out, callbacks in between.

The loop knows nothing about what a batch is. The model does: ``train_step_loss(batch)`` runs
forward and backward and returns the mean loss, ``evaluate_batch(batch)`` returns summed metrics
with their ``count``. One optimiser step, in order::

    loss = model.train_step_loss(batch)          # fills model.grads
    on_grad_computed(trainer)                     # read or edit the raw gradients
    norm = clip_grad_norm(model.grads, clip_norm) # global L2 norm, before clipping
    optimizer.step(model.params, model.grads)     # only if loss and norm are finite

A NaN or infinite loss or gradient norm skips the step: the weights and the optimiser state are
left exactly as they were, and the epoch's ``skipped_steps`` counts it.
"""
from __future__ import annotations

import math
import numbers
import time
import warnings
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from rnnlab.errors import RnnlabError
from rnnlab.models.callbacks import Callback
from rnnlab.models.history import History
from rnnlab.nn.optim import clip_grad_norm


def _global_norm(grads: dict) -> float:
    # hypot of the per-array norms, as clip_grad_norm: no overflow from squaring large norms
    return math.hypot(*(float(np.linalg.norm(np.ravel(g))) for g in grads.values()))


class Trainer:
    """The state of one run, handed to every callback hook.

    Attributes
    ----------
    model, optimizer
        What is being trained; a callback may change ``optimizer.lr`` or the model's weights.
    history : History
        One row per finished epoch; ``history[-1]`` is the current epoch in ``on_epoch_end``.
    epoch : int
        0-based index of the running epoch (the row's ``"epoch"`` is 1-based).
    epochs : int
        Epochs requested.
    step : int
        Optimiser steps taken in this run (skipped steps excluded).
    stop : bool
        Set it to True to end training after the current epoch.
    has_validation : bool
        Whether the run computes ``val_*`` metrics.
    batch, batch_index, batch_loss, grad_norm, batch_skipped
        The current batch, its index in the epoch, its loss, its pre-clipping gradient norm (None
        before it is computed) and whether its step was skipped.
    """

    def __init__(self, model, optimizer, callbacks, clip_norm, epochs: int, has_validation: bool):
        self.model, self.optimizer = model, optimizer
        self.callbacks = list(callbacks)
        self.clip_norm, self.epochs, self.has_validation = clip_norm, epochs, has_validation
        self.history = History()
        self.epoch = self.step = 0
        self.stop = False
        self.batch = self.batch_index = self.batch_loss = self.grad_norm = None
        self.batch_skipped = False

    def call(self, hook: str) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self)

    def train_step(self, batch) -> bool:
        """One optimiser step on ``batch``; False when it was skipped as non-finite."""
        self.batch, self.grad_norm = batch, None
        self.batch_loss = float(self.model.train_step_loss(batch))
        if not math.isfinite(self.batch_loss):
            return False  # gradients of a NaN loss are NaN too; callbacks never see them
        self.call("on_grad_computed")
        grads = self.model.grads
        # clip_grad_norm leaves non-finite gradients untouched and reports their norm
        norm = _global_norm(grads) if self.clip_norm is None else clip_grad_norm(grads, self.clip_norm)
        self.grad_norm = norm
        if not math.isfinite(norm):
            return False
        self.optimizer.step(self.model.params, grads)
        self.step += 1
        return True

    def train_epoch(self, batches, bar_kw: dict) -> dict:
        """Run every batch of one epoch; returns the training part of the epoch's row."""
        total = len(batches) if hasattr(batches, "__len__") else None
        losses, norms, skipped = [], [], 0
        with tqdm(batches, total=total, unit="batch", **bar_kw) as bar:
            for i, batch in enumerate(bar):
                self.batch_index = i
                self.batch_skipped = not self.train_step(batch)
                if self.batch_skipped:
                    skipped += 1
                else:
                    losses.append(self.batch_loss)
                    norms.append(self.grad_norm)
                    bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4g}", refresh=False)
                self.call("on_batch_end")
        if not losses and not skipped:
            raise RnnlabError(f"train_batches yielded no batch in epoch {self.epoch + 1}; "
                              "check that the training data is not empty and the batch size.")
        if skipped:
            warnings.warn(f"epoch {self.epoch + 1}: skipped {skipped} step(s) with a non-finite loss or "
                          "gradient; lower the learning rate or check the data.", RuntimeWarning,
                          stacklevel=3)
        return {"loss": float(np.mean(losses)) if losses else math.nan,
                "skipped_steps": skipped,
                "grad_norm": float(np.mean(norms)) if norms else math.nan}

    def validate(self, batches) -> dict:
        """``val_<metric>`` averaged over the samples: Σ metric / Σ count over all batches."""
        sums: dict[str, float] = {}
        for batch in batches:
            for k, v in self.model.evaluate_batch(batch).items():
                sums[k] = sums.get(k, 0.0) + float(v)
        count = sums.pop("count", 0.0)
        if count <= 0:
            raise RnnlabError("valid_batches yielded no samples to evaluate (total count 0); "
                              "check the validation data.")
        return {f"val_{k}": v / count for k, v in sums.items()}


def _check_args(model, train_batches, epochs, optimizer, valid_batches, callbacks, clip_norm, monitor):
    problems = []
    for attr in ("params", "grads", "train_step_loss") + (("evaluate_batch",) if valid_batches else ()):
        if not hasattr(model, attr):
            problems.append(f"model has no {attr!r}; pass an rnnlab.models.Model")
    if not callable(train_batches):
        problems.append("train_batches must be a function rng -> iterable of batches")
    if valid_batches is not None and not callable(valid_batches):
        problems.append("valid_batches must be a function () -> iterable of batches, or None")
    if not isinstance(epochs, numbers.Integral) or isinstance(epochs, bool) or epochs < 1:
        problems.append(f"epochs must be a positive integer, got {epochs!r}")
    if not (hasattr(optimizer, "step") and hasattr(optimizer, "lr")):
        problems.append(f"optimizer must be an rnnlab.nn optimiser (with step and lr), got {optimizer!r}")
    if clip_norm is not None and (not isinstance(clip_norm, numbers.Real) or isinstance(clip_norm, bool)
                                  or not 0 < clip_norm < math.inf):
        problems.append(f"clip_norm must be a positive number or None, got {clip_norm!r}")
    if isinstance(callbacks, Callback):
        callbacks = [callbacks]
    callbacks = list(callbacks or ())
    bad = [type(cb).__name__ for cb in callbacks if not isinstance(cb, Callback)]
    if bad:
        problems.append(f"callbacks must be rnnlab.models.callbacks.Callback instances, got {bad}")
    if not isinstance(monitor, str):
        problems.append(f"monitor must be a history key such as 'val_loss', got {monitor!r}")
    if problems:
        raise RnnlabError("fit: " + "; ".join(problems) + ".")
    return callbacks


def fit(model, train_batches, *, epochs, optimizer, valid_batches=None, callbacks=(), clip_norm=5.0,
        seed=0, progress=True, out_dir=None, monitor="val_loss") -> History:
    """Train ``model`` for ``epochs`` epochs and return the per-epoch ``History``.

    Parameters
    ----------
    model : rnnlab.models.Model
        Provides ``params``/``grads`` (flat dicts), ``train_step_loss(batch) -> float`` and, with
        validation, ``evaluate_batch(batch) -> {"loss": Σ, ..., "count": n}``.
    train_batches : callable
        ``train_batches(rng)`` returns the batches of one epoch, shuffled with the
        ``numpy.random.Generator`` it receives; called once per epoch.
    epochs : int
    optimizer : rnnlab.nn optimiser
        Stepped as ``optimizer.step(model.params, model.grads)``.
    valid_batches : callable or None
        ``valid_batches()`` returns the validation batches, evaluated after each epoch.
    callbacks : sequence of Callback
        Called in order at each hook (see ``rnnlab.models.callbacks``).
    clip_norm : float or None, default 5.0
        Clip the global gradient norm to this; None disables clipping (non-finite norms are still
        detected and skipped).
    seed : int, None or numpy.random.Generator
        Seeds the generator handed to ``train_batches``: the same seed gives the same batches.
    progress : bool, default True
        Show a tqdm bar per epoch (loss and batches/s); tqdm hides it when stderr is not a terminal.
    out_dir : path or None
        If given, ``history.csv`` and ``history.json`` are rewritten there after every epoch and
        the model of the best epoch (by ``monitor``) is saved to ``out_dir/best`` with
        ``rnnlab.models.save`` (so the model needs ``get_config``).
    monitor : str, default "val_loss"
        Key that marks the best epoch (row key ``"<monitor>_best"``); falls back to ``"loss"`` when a
        ``val_`` key is asked for without validation. Higher is better for keys containing
        ``"acc"`` (Keras' ``mode="auto"``), lower for the rest.

    Returns
    -------
    History
        One row per epoch: ``epoch`` (1-based), ``loss`` (mean over the epoch's applied steps),
        ``skipped_steps``, ``grad_norm`` (mean pre-clipping norm), ``lr`` (rate of the epoch's last
        step), ``val_*`` (averaged by count), ``seconds`` and ``<monitor>_best``.
    """
    callbacks = _check_args(model, train_batches, epochs, optimizer, valid_batches, callbacks, clip_norm,
                            monitor)
    rng = np.random.default_rng(seed)
    if valid_batches is None and monitor.startswith("val_"):
        monitor = "loss"
    higher_is_better = "acc" in monitor
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(model, optimizer, callbacks, clip_norm, int(epochs), valid_batches is not None)
    best = None
    trainer.call("on_train_begin")
    for epoch in range(int(epochs)):
        trainer.epoch = epoch
        model.train()
        trainer.call("on_epoch_begin")
        t0 = time.perf_counter()
        bar_kw = {"desc": f"epoch {epoch + 1}/{epochs}", "disable": None if progress else True,
                  "leave": True, "dynamic_ncols": True}
        row = {"epoch": epoch + 1, **trainer.train_epoch(train_batches(rng), bar_kw)}
        row["lr"] = float(optimizer.lr)
        if valid_batches is not None:
            model.eval()
            row.update(trainer.validate(valid_batches()))
        row["seconds"] = time.perf_counter() - t0
        if monitor not in row:
            raise RnnlabError(f"monitor {monitor!r} is not among the epoch logs {sorted(row)}; "
                              "pick one of those.")
        value = float(row[monitor])
        improved = math.isfinite(value) and (best is None or (value > best if higher_is_better
                                                              else value < best))
        if improved:
            best = value
        row[f"{monitor}_best"] = improved
        trainer.history.append(row)
        trainer.call("on_epoch_end")
        if out_dir is not None:
            _write_outputs(trainer, out_dir, row if improved else None)
        if trainer.stop:
            break
    trainer.call("on_train_end")
    model.eval()
    if out_dir is not None:  # on_train_end may have edited the rows (or restored weights)
        _write_outputs(trainer, out_dir, None)
    return trainer.history


def _write_outputs(trainer, out_dir: Path, best_row) -> None:
    trainer.history.to_csv(out_dir / "history.csv")
    trainer.history.to_json(out_dir / "history.json")
    if best_row is not None:
        from rnnlab.models.io import save

        save(trainer.model, out_dir / "best", metrics=best_row)
