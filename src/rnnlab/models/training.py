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

from rnnlab.errors import RnnlabError, TrainingInterrupted
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
        self.bad_streak = 0          # consecutive skipped steps
        self.max_bad_steps = None
        self.after_batch = None      # fit's checkpoint hook: after_batch(batch_index, partial sums)
        self.interrupted = False     # set by SIGINT/SIGTERM: stop at the next batch boundary
        self.interrupt_raises = False  # fit(on_interrupt="raise") warns nothing: it raises instead

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

    def train_epoch(self, batches, bar_kw: dict, start: int = 0, partial: dict | None = None) -> dict:
        """Run the batches of one epoch from index ``start`` (a resumed epoch skips the ones done
        before, whose sums come in ``partial``); returns the training part of the epoch's row."""
        total = len(batches) if hasattr(batches, "__len__") else None
        partial = partial or {}
        losses, norms = list(partial.get("losses", [])), list(partial.get("norms", []))
        skipped = int(partial.get("skipped", 0))
        with tqdm(batches, total=total, unit="batch", initial=0, **bar_kw) as bar:
            for i, batch in enumerate(bar):
                if i < start:
                    continue
                self.batch_index = i
                self.batch_skipped = not self.train_step(batch)
                if self.batch_skipped:
                    skipped += 1
                    self.bad_streak += 1
                    if self.max_bad_steps and self.bad_streak >= self.max_bad_steps:
                        raise RnnlabError(
                            f"training stopped: {self.bad_streak} consecutive steps had a non-finite "
                            f"{'loss' if not math.isfinite(self.batch_loss) else 'gradient'}, so the "
                            f"weights are those of the last good step. Likely cause: a learning rate too "
                            f"high (lr={self.optimizer.lr:g}) or inputs far from unit scale; lower the "
                            "learning rate or standardise the inputs.")
                else:
                    self.bad_streak = 0
                    losses.append(self.batch_loss)
                    norms.append(self.grad_norm)
                    bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4g}", refresh=False)
                self.call("on_batch_end")
                if self.after_batch is not None:
                    self.after_batch(i, {"losses": losses, "norms": norms, "skipped": skipped})
                if self.interrupted:
                    break
        if not losses and not skipped and not self.interrupted:
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
        seed=0, progress=True, out_dir=None, monitor="val_loss", checkpoint_dir=None, resume=False,
        checkpoint_minutes=None, checkpoint_steps=None, max_bad_steps=20, on_interrupt="return") -> History:
    """Train ``model`` for ``epochs`` epochs and return the per-epoch ``History``.

    Parameters
    ----------
    model : rnnlab.models.Model
        Provides ``params``/``grads`` (flat dicts), ``train_step_loss(batch) -> float`` and, with
        validation, ``evaluate_batch(batch) -> {"loss": Σ, ..., "count": n}``.
    train_batches : callable
        ``train_batches(rng)`` returns the batches of one epoch, shuffled with the
        ``numpy.random.Generator`` it receives; called once per epoch. A source that carries
        state from one epoch to the next (a stream part-way through a pass) offers ``state_dict()``
        and ``load_state_dict(state)`` (JSON values) so that checkpoints resume it exactly.
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
    checkpoint_dir : path or None
        Write ``checkpoint_dir/last`` (weights, optimiser, generators, position; see
        ``rnnlab.models.checkpoint``) at the end of every epoch, every ``checkpoint_minutes`` and
        every ``checkpoint_steps`` batches, and ``checkpoint_dir/best`` (a model folder) when the
        monitor improves. SIGINT/SIGTERM then stop at the next batch boundary after a checkpoint.
    resume : bool
        Continue from ``checkpoint_dir/last`` if it exists: the result is bit for bit the one an
        uninterrupted run with the same seed gives. A run that a callback had stopped early is not trained
        further: its final weights (the best ones, with ``EarlyStopping(restore_best_weights)``) come back;
        one that ran all its epochs trains on when ``epochs`` is now larger.
    on_interrupt : {"return", "raise"}, default "return"
        After SIGINT/SIGTERM and the checkpoint: return the history so far (with a warning), or raise
        ``TrainingInterrupted`` (what a pipeline that must not go on with half-trained weights wants).
    max_bad_steps : int or None, default 20
        Stop with a clear error after this many consecutive non-finite steps.

    Returns
    -------
    History
        One row per epoch: ``epoch`` (1-based), ``loss`` (mean over the epoch's applied steps),
        ``skipped_steps``, ``grad_norm`` (mean pre-clipping norm), ``lr`` (rate of the epoch's last
        step), ``val_*`` (averaged by count), ``seconds`` and ``<monitor>_best``.
    """
    callbacks = _check_args(model, train_batches, epochs, optimizer, valid_batches, callbacks, clip_norm,
                            monitor)
    trainer = Trainer(model, optimizer, callbacks, clip_norm, int(epochs), valid_batches is not None)
    trainer.max_bad_steps = max_bad_steps
    return run_training(trainer, train_batches, valid_batches, seed=seed, progress=progress, out_dir=out_dir,
                        monitor=monitor, checkpoint_dir=checkpoint_dir, resume=resume,
                        checkpoint_minutes=checkpoint_minutes, checkpoint_steps=checkpoint_steps,
                        on_interrupt=on_interrupt)


def run_training(trainer, train_batches, valid_batches=None, *, seed=0, progress=True, out_dir=None,
                 monitor="val_loss", checkpoint_dir=None, resume=False, checkpoint_minutes=None,
                 checkpoint_steps=None, on_interrupt="return") -> History:
    """``fit``'s epochs, checkpoints and resumption around a ready ``Trainer`` (this engine's, or the
    PyTorch engine's ``TorchTrainer``, whose model and optimiser offer the same ``state_dict`` /
    ``load_state_dict``); the arguments are ``fit``'s."""
    model, optimizer, callbacks, epochs = trainer.model, trainer.optimizer, trainer.callbacks, trainer.epochs
    if on_interrupt not in ("return", "raise"):
        raise RnnlabError(f"on_interrupt must be 'return' or 'raise', got {on_interrupt!r}.")
    rng = np.random.default_rng(seed)
    if valid_batches is None and monitor.startswith("val_"):
        monitor = "loss"
    higher_is_better = "acc" in monitor
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
    trainer.interrupt_raises = on_interrupt == "raise"
    best, start_epoch, start_batch, partial = None, 0, 0, None
    base_lr = float(optimizer.lr)
    ckpt = _Checkpointer(checkpoint_dir, checkpoint_minutes, checkpoint_steps) if checkpoint_dir else None
    resumed = ckpt.resume_state(model, optimizer) if ckpt is not None and resume else None
    if resumed is not None:
        base_lr = resumed["base_lr"]
        optimizer.lr = base_lr  # schedules read their base rate in on_train_begin
    trainer.call("on_train_begin")
    if resumed is not None:
        optimizer.lr = resumed["lr"]
        start_epoch, start_batch, partial = resumed["epoch"], resumed["batch"], resumed["partial"]
        if resumed.get("done"):  # stopped early: only on_train_end (best weights back) is left to run
            start_epoch = int(epochs)
        trainer.step, best = resumed["step"], resumed["best"]
        trainer.history.extend(resumed["history"])
        rng.bit_generator.state = resumed["epoch_rng"]
        if resumed.get("batches") is not None:
            train_batches.load_state_dict(resumed["batches"])
        for cb, st in zip(callbacks, resumed.get("callbacks", [])):
            if st is not None and hasattr(cb, "load_state_dict"):
                cb.load_state_dict(st)
            if getattr(cb, "restore_best_weights", False) and (ckpt.root / "best").is_dir():
                from rnnlab.models.io import read_weights

                cb.best_weights = read_weights(ckpt.root / "best")
    with _stop_on_signals(trainer, enabled=ckpt is not None):
        history = _run_epochs(model, trainer, train_batches, valid_batches, rng, epochs, start_epoch,
                              start_batch, partial, progress, monitor, higher_is_better, best, base_lr,
                              ckpt, out_dir, callbacks)
    if trainer.interrupted and on_interrupt == "raise":
        raise TrainingInterrupted(f"training interrupted in epoch {len(history) + 1}; the checkpoint in "
                                  f"{ckpt.root} resumes it.")
    return history


def _run_epochs(model, trainer, train_batches, valid_batches, rng, epochs, start_epoch, start_batch,
                partial, progress, monitor, higher_is_better, best, base_lr, ckpt, out_dir, callbacks):
    optimizer = trainer.optimizer

    def epoch_start():
        """What replays an epoch: the generator's state, and the batch source's own if it keeps one
        across epochs (a text stream part-way through a pass)."""
        keeps = hasattr(train_batches, "state_dict")
        return rng.bit_generator.state, train_batches.state_dict() if keeps else None

    def state(epoch, batch, start, partial_sums):
        return {"epoch": epoch, "batch": batch, "epoch_rng": start[0], "batches": start[1], "partial": partial_sums,
                "step": trainer.step, "best": best, "base_lr": base_lr, "lr": float(optimizer.lr),
                "history": [dict(r) for r in trainer.history],
                "callbacks": [cb.state_dict() if hasattr(cb, "state_dict") else None for cb in callbacks]}

    for epoch in range(start_epoch, int(epochs)):
        trainer.epoch = epoch
        model.train()
        trainer.call("on_epoch_begin")
        if epoch == start_epoch and partial is not None:
            optimizer.lr = partial.get("lr", optimizer.lr)  # the schedule already ran for this epoch
        t0 = time.perf_counter()
        bar_kw = {"desc": f"epoch {epoch + 1}/{epochs}", "disable": None if progress else True,
                  "leave": True, "dynamic_ncols": True}
        start = epoch_start()
        batches = train_batches(rng)
        if ckpt is not None:
            trainer.after_batch = lambda i, sums: ckpt.maybe(
                model, optimizer, lambda: state(epoch, i + 1, start, dict(sums, lr=float(optimizer.lr))),
                force=trainer.interrupted)
        first = start_batch if epoch == start_epoch else 0
        row = {"epoch": epoch + 1, **trainer.train_epoch(batches, bar_kw, first,
                                                        partial if epoch == start_epoch else None)}
        if trainer.interrupted:
            if trainer.interrupt_raises:
                return trainer.history
            warnings.warn(f"training interrupted in epoch {epoch + 1}; the checkpoint in {ckpt.root} "
                          "resumes it (resume=True).", RuntimeWarning, stacklevel=3)
            return trainer.history
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
        if ckpt is not None:
            if improved:
                ckpt.save_best(model, row)
            # done: stopped early, so a resumed run must not train on past the stop
            ckpt.save(model, optimizer, dict(state(epoch + 1, 0, epoch_start(), None), done=trainer.stop))
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


class _Checkpointer:
    """When and where ``fit`` writes checkpoints (see ``rnnlab.models.checkpoint``)."""

    def __init__(self, root, minutes, steps):
        self.root = Path(root)
        self.minutes, self.steps = minutes, steps
        self.last_time = time.monotonic()
        self.batches = 0

    def resume_state(self, model, optimizer):
        from rnnlab.models.checkpoint import load_checkpoint

        last = self.root / "last"
        return load_checkpoint(last, model, optimizer) if last.is_dir() else None

    def save(self, model, optimizer, state) -> None:
        from rnnlab.models.checkpoint import save_checkpoint

        save_checkpoint(self.root / "last", model, optimizer, state)
        self.last_time = time.monotonic()

    def save_best(self, model, row) -> None:
        from rnnlab.models.io import save

        save(model, self.root / "best", metrics=row)

    def maybe(self, model, optimizer, make_state, force=False) -> None:
        self.batches += 1
        due = force or (self.steps and self.batches % self.steps == 0) or (
            self.minutes and time.monotonic() - self.last_time >= 60 * self.minutes)
        if due:
            self.save(model, optimizer, make_state())


class _stop_on_signals:
    """SIGINT/SIGTERM set ``trainer.interrupted``: the loop checkpoints and stops at the next batch."""

    def __init__(self, trainer, enabled: bool):
        self.trainer, self.enabled, self.old = trainer, enabled, {}

    def __enter__(self):
        import signal
        import threading

        if self.enabled and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.trainer.interrupted = True

    def __exit__(self, *exc):
        import signal

        for sig, handler in self.old.items():
            signal.signal(sig, handler)
        return False
