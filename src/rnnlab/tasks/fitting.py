"""How a task trains its network: the NumPy engine with checkpoints, or the PyTorch engine.

    fit_sequential(model, X, y, cfg, run_dir, "member0", lengths=L, epochs=20, ...)   # Sequential
    fit_model(model, train_batches, cfg, run_dir, epochs=..., optimizer=..., ...)     # any model kind

With ``--engine numpy`` these are ``Sequential.fit`` / ``rnnlab.models.training.fit`` plus the run's
checkpoint options (so ``rnnlab train --resume`` continues them bit for bit); with ``--engine
torch`` they are ``torch_fit`` / ``torch_train`` on ``--device`` (``torch_fit`` data-parallel under
torchrun). Either way the trained weights end up in ``model``, which the task then evaluates and
saves the same way.
"""
from __future__ import annotations


def fit_sequential(model, X, y, cfg, run_dir=None, name: str = "model", **fit_kw):
    """Train the compiled ``Sequential`` ``model`` with the engine ``cfg.engine`` names; returns the History."""
    if cfg.engine == "torch":
        from rnnlab.torch.training import torch_fit

        return torch_fit(model, X, y, device=cfg.device, **fit_kw)
    options = run_dir.fit_options(name) if run_dir is not None else {}
    return model.fit(X, y, **fit_kw, **options)


def fit_model(model, train_batches, cfg, run_dir=None, name: str = "model", **fit_kw):
    """``rnnlab.models.training.fit`` for a LanguageModel or Seq2Seq, or its torch twin ``torch_train``."""
    if cfg.engine == "torch":
        from rnnlab.torch.kind_training import torch_train

        return torch_train(model, train_batches, device=cfg.device, **fit_kw)
    from rnnlab.models import training

    options = run_dir.fit_options(name) if run_dir is not None else {}
    return training.fit(model, train_batches, **fit_kw, **options)
