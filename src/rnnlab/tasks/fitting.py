"""How a task trains its network: the NumPy engine or the PyTorch engine, with the run's checkpoints.

    fit_sequential(model, X, y, cfg, run_dir, "member0", lengths=L, epochs=20, ...)   # Sequential
    fit_model(model, train_batches, cfg, run_dir, epochs=..., optimizer=..., ...)     # any model kind

With ``--engine numpy`` these are ``Sequential.fit`` / ``rnnlab.models.training.fit``; with
``--engine torch`` they are ``torch_fit`` / ``torch_train`` on ``--device`` (``torch_fit``
data-parallel under torchrun). Both take the run's checkpoint options (``RunDir.fit_options``), so
``rnnlab train --resume`` continues either (bit for bit in the NumPy engine), except under
torchrun, where no checkpoints are written. The trained weights end up in ``model``, which the task
then evaluates and saves the same way.
"""
from __future__ import annotations

from rnnlab.torch.distributed import is_distributed


def checkpoint_options(run_dir, name: str = "model") -> dict:
    """The run's checkpoint options for ``fit`` (none without a run, or under torchrun)."""
    return run_dir.fit_options(name) if run_dir is not None and not is_distributed() else {}


def fit_sequential(model, X, y, cfg, run_dir=None, name: str = "model", **fit_kw):
    """Train the compiled ``Sequential`` ``model`` with the engine ``cfg.engine`` names; returns the History."""
    options = checkpoint_options(run_dir, name)
    if cfg.engine == "torch":
        from rnnlab.torch.training import torch_fit

        return torch_fit(model, X, y, device=cfg.device, **fit_kw, **options)
    return model.fit(X, y, **fit_kw, **options)


def fit_model(model, train_batches, cfg, run_dir=None, name: str = "model", **fit_kw):
    """``rnnlab.models.training.fit`` for a LanguageModel or Seq2Seq, or its torch twin ``torch_train``."""
    options = checkpoint_options(run_dir, name)
    if cfg.engine == "torch":
        from rnnlab.torch.kind_training import torch_train

        return torch_train(model, train_batches, device=cfg.device, **fit_kw, **options)
    from rnnlab.models import training

    return training.fit(model, train_batches, **fit_kw, **options)
