"""How a task trains a ``Sequential``: the NumPy engine with checkpoints, or the PyTorch engine.

    fit_sequential(model, X, y, cfg, run_dir, "member0", lengths=L, epochs=20, ...)

With ``--engine numpy`` this is ``model.fit`` plus the run's checkpoint options (so ``rnnlab train
--resume`` continues it bit for bit); with ``--engine torch`` it is ``torch_fit`` on ``--device``
(under torchrun, data-parallel across the processes). Either way the trained weights end up in
``model``, which the task then evaluates and saves the same way.
"""
from __future__ import annotations


def fit_sequential(model, X, y, cfg, run_dir=None, name: str = "model", **fit_kw):
    """Train the compiled ``model`` with the engine ``cfg.engine`` names; returns the History."""
    if cfg.engine == "torch":
        from rnnlab.torch.training import torch_fit

        return torch_fit(model, X, y, device=cfg.device, **fit_kw)
    options = run_dir.fit_options(name) if run_dir is not None else {}
    return model.fit(X, y, **fit_kw, **options)
