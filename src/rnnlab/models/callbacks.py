"""Callbacks: code that plugs into ``rnnlab.models.training.fit`` without changing the loop.

Every hook receives the ``Trainer`` (``model``, ``optimizer``, ``history``, ``epoch``, ``step``,
``stop`` and the current batch's ``batch_loss``/``grad_norm``), in skorch's style. The order
within one run::

    on_train_begin
    for each epoch:   on_epoch_begin
        for each batch: [train_step_loss] on_grad_computed [clip, optimizer.step] on_batch_end
        [validation, row appended to history]  on_epoch_end
    on_train_end

Schedules set ``optimizer.lr``: ``StepLR`` and ``CosineLR`` at each epoch's start from the rate
the run began with, ``ReduceLROnPlateau`` at an epoch's end for the epochs after it.
"""
from __future__ import annotations

import math
import numbers

from rnnlab.errors import RnnlabError


class Callback:
    """Base class with no-op hooks; override the ones you need."""

    def on_train_begin(self, trainer) -> None: ...
    def on_epoch_begin(self, trainer) -> None: ...
    def on_grad_computed(self, trainer) -> None: ...
    def on_batch_end(self, trainer) -> None: ...
    def on_epoch_end(self, trainer) -> None: ...
    def on_train_end(self, trainer) -> None: ...


def _check_positive(**values) -> list[str]:
    return [f"{k} must be a positive number, got {v!r}" for k, v in values.items()
            if not isinstance(v, numbers.Real) or isinstance(v, bool) or not 0 < v < math.inf]


def _check_mode(mode) -> list[str]:
    return [] if mode in ("min", "max") else [f"mode must be 'min' or 'max', got {mode!r}"]


def _raise(cls: str, problems: list[str]) -> None:
    if problems:
        raise RnnlabError(f"{cls}: " + "; ".join(problems) + ".")


class _Monitor:
    """Tracks the best value of one history key; shared by early stopping and the plateau schedule."""

    def __init__(self, monitor: str, mode: str, min_delta: float):
        self.monitor, self.mode, self.min_delta = monitor, mode, float(min_delta)
        self.reset()

    def reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch, self.wait = None, 0

    def state_dict(self) -> dict:
        """Counters a resumed run needs (``fit(resume=True)``)."""
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]

    def check_available(self, owner: str, trainer) -> None:
        if self.monitor.startswith("val_") and not trainer.has_validation:
            raise RnnlabError(f"{owner} monitors {self.monitor!r} but fit got no validation data; "
                              "pass validation data or monitor='loss'.")

    def value(self, owner: str, trainer) -> float:
        row = trainer.history[-1]
        if self.monitor not in row:
            raise RnnlabError(f"{owner} monitors {self.monitor!r} but the epoch logs have only "
                              f"{sorted(row)}; pick one of those.")
        return float(row[self.monitor])

    def update(self, value: float, epoch: int) -> bool:
        """True when ``value`` beats the best by more than ``min_delta`` (NaN never does)."""
        better = (value < self.best - self.min_delta if self.mode == "min"
                  else value > self.best + self.min_delta)
        if better:
            self.best, self.best_epoch, self.wait = value, epoch, 0
        else:
            self.wait += 1
        return better


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; optionally restore the best weights.

    Parameters
    ----------
    monitor : str, default "val_loss"
        History key to watch.
    mode : {"min", "max"}, default "min"
        Whether lower or higher is better.
    patience : int, default 5
        Epochs without improvement before training stops.
    min_delta : float, default 0
        An improvement must beat the best value by more than this.
    restore_best_weights : bool, default True
        At the end of training, load the weights of the best epoch (also when training ran out of
        epochs rather than stopping), so the model returned is the one the monitor preferred.

    Attributes
    ----------
    best, best_epoch : float, int
        Best value seen and its (1-based) epoch.
    stopped_epoch : int or None
        The epoch after which training stopped, None if it ran to the end.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min", patience: int = 5,
                 min_delta: float = 0.0, restore_best_weights: bool = True):
        problems = _check_mode(mode)
        if not isinstance(patience, numbers.Integral) or isinstance(patience, bool) or patience < 1:
            problems.append(f"patience must be a positive integer, got {patience!r}")
        if not isinstance(min_delta, numbers.Real) or not 0 <= min_delta < math.inf:
            problems.append(f"min_delta must be a number >= 0, got {min_delta!r}")
        _raise("EarlyStopping", problems)
        self._tracker = _Monitor(monitor, mode, min_delta)
        self.monitor, self.mode, self.patience = monitor, mode, int(patience)
        self.restore_best_weights = bool(restore_best_weights)
        self.best_weights = self.stopped_epoch = None

    @property
    def best(self) -> float:
        return self._tracker.best

    @property
    def best_epoch(self):
        return self._tracker.best_epoch

    def on_train_begin(self, trainer) -> None:
        self._tracker.check_available("EarlyStopping", trainer)
        self._tracker.reset()
        self.best_weights = self.stopped_epoch = None

    def on_epoch_end(self, trainer) -> None:
        epoch = trainer.history[-1]["epoch"]
        if self._tracker.update(self._tracker.value("EarlyStopping", trainer), epoch):
            if self.restore_best_weights:
                self.best_weights = trainer.model.state_dict()
        elif self._tracker.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop = True

    def state_dict(self) -> dict:
        return {"tracker": self._tracker.state_dict(), "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state: dict) -> None:
        """Counters only: ``fit`` reloads the best weights from the checkpoint's ``best`` folder."""
        self._tracker.load_state_dict(state["tracker"])
        self.stopped_epoch = state["stopped_epoch"]

    def on_train_end(self, trainer) -> None:
        last = trainer.history[-1]["epoch"] if trainer.history else None
        if self.best_weights is not None and self.best_epoch != last:
            trainer.model.load_state_dict(self.best_weights)


class _EpochSchedule(Callback):
    """Sets ``optimizer.lr = lr_at(base_lr, epoch)`` before each epoch (epoch counted from 0)."""

    def on_train_begin(self, trainer) -> None:
        self.base_lr = float(trainer.optimizer.lr)

    def on_epoch_begin(self, trainer) -> None:
        trainer.optimizer.lr = self.lr_at(self.base_lr, trainer.epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        raise NotImplementedError


class StepLR(_EpochSchedule):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs, as ``torch.optim.lr_scheduler.StepLR``.

    Notes
    -----
    lr(e) = base_lr · gamma^⌊e / step_size⌋ for the 0-based epoch e.

    Examples
    --------
    >>> [StepLR(2, 0.5).lr_at(1.0, e) for e in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, step_size: int, gamma: float = 0.1):
        problems = _check_positive(gamma=gamma)
        if not isinstance(step_size, numbers.Integral) or isinstance(step_size, bool) or step_size < 1:
            problems.append(f"step_size must be a positive integer, got {step_size!r}")
        _raise("StepLR", problems)
        self.step_size, self.gamma = int(step_size), float(gamma)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineLR(_EpochSchedule):
    """Cosine annealing from the starting rate to ``eta_min`` over ``T_max`` epochs.

    Notes
    -----
    lr(e) = η_min + (base_lr - η_min) · (1 + cos(π · min(e, T_max) / T_max)) / 2, the closed form of
    ``torch.optim.lr_scheduler.CosineAnnealingLR`` except that it stays at η_min after T_max
    instead of rising again.

    Examples
    --------
    >>> [round(CosineLR(4).lr_at(1.0, e), 3) for e in range(6)]
    [1.0, 0.854, 0.5, 0.146, 0.0, 0.0]
    """

    def __init__(self, T_max: int, eta_min: float = 0.0):
        problems = []
        if not isinstance(T_max, numbers.Integral) or isinstance(T_max, bool) or T_max < 1:
            problems.append(f"T_max must be a positive integer, got {T_max!r}")
        if not isinstance(eta_min, numbers.Real) or not 0 <= eta_min < math.inf:
            problems.append(f"eta_min must be a number >= 0, got {eta_min!r}")
        _raise("CosineLR", problems)
        self.T_max, self.eta_min = int(T_max), float(eta_min)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        e = min(epoch, self.T_max)
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * e / self.T_max)) / 2


class ReduceLROnPlateau(Callback):
    """Multiply the rate by ``factor`` once ``monitor`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str, default "val_loss"
    factor : float in (0, 1), default 0.5
    patience : int, default 2
        Epochs without improvement before a reduction (Keras' count: with patience 2 the rate
        drops at the end of the second flat epoch); the count restarts after each reduction.
    min_lr : float, default 0
        Lower bound of the rate.
    mode : {"min", "max"}, default "min"
    min_delta : float, default 0
        An improvement must beat the best value by more than this.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.5, patience: int = 2,
                 min_lr: float = 0.0, mode: str = "min", min_delta: float = 0.0):
        problems = _check_mode(mode)
        if not isinstance(factor, numbers.Real) or not 0 < factor < 1:
            problems.append(f"factor must be a number in (0, 1), got {factor!r}")
        if not isinstance(patience, numbers.Integral) or isinstance(patience, bool) or patience < 1:
            problems.append(f"patience must be a positive integer, got {patience!r}")
        for name, v in (("min_lr", min_lr), ("min_delta", min_delta)):
            if not isinstance(v, numbers.Real) or not 0 <= v < math.inf:
                problems.append(f"{name} must be a number >= 0, got {v!r}")
        _raise("ReduceLROnPlateau", problems)
        self._tracker = _Monitor(monitor, mode, min_delta)
        self.monitor, self.factor, self.patience = monitor, float(factor), int(patience)
        self.min_lr = float(min_lr)

    def on_train_begin(self, trainer) -> None:
        self._tracker.check_available("ReduceLROnPlateau", trainer)
        self._tracker.reset()

    def state_dict(self) -> dict:
        return self._tracker.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self._tracker.load_state_dict(state)

    def on_epoch_end(self, trainer) -> None:
        value = self._tracker.value("ReduceLROnPlateau", trainer)
        epoch = trainer.history[-1]["epoch"]
        if not self._tracker.update(value, epoch) and self._tracker.wait >= self.patience:
            trainer.optimizer.lr = max(trainer.optimizer.lr * self.factor, self.min_lr)
            self._tracker.wait = 0


class CSVLogger(Callback):
    """Rewrite ``path`` with the whole history after every epoch (atomically; new keys become columns)."""

    def __init__(self, path):
        self.path = path

    def on_epoch_end(self, trainer) -> None:
        trainer.history.to_csv(self.path)


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda trainer: ...)``."""

    HOOKS = ("on_train_begin", "on_epoch_begin", "on_grad_computed", "on_batch_end", "on_epoch_end",
             "on_train_end")

    def __init__(self, **hooks):
        unknown = sorted(set(hooks) - set(self.HOOKS))
        not_callable = sorted(k for k, f in hooks.items() if k in self.HOOKS and not callable(f))
        problems = []
        if unknown:
            problems.append(f"unknown hooks {unknown}; the hooks are {list(self.HOOKS)}")
        if not_callable:
            problems.append(f"hooks {not_callable} must be callables taking the trainer")
        _raise("LambdaCallback", problems)
        for name, fn in hooks.items():
            setattr(self, name, fn)
