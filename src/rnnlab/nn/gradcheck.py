"""Central finite differences: the proof that a hand-written backward pass is right.

Used by the test suite and by ``rnnlab check``; run it in float64.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def numerical_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dF/dx by central differences, perturbing ``x`` in place (and restoring it)."""
    return numerical_grad_sampled(f, x, np.arange(x.size), eps).reshape(x.shape)


def rel_error(a, b) -> float:
    """‖a-b‖ / (‖a‖+‖b‖): scale-free, zero when equal, robust to entries that are ~0 in both."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0


def sample_indices(size: int, k: int, rng: np.random.Generator):
    return np.arange(size) if size <= k else rng.choice(size, k, replace=False)


def numerical_grad_sampled(f, x, idx, eps=1e-6):
    """Finite differences at the flat indices ``idx`` only (large arrays)."""
    flat = x.reshape(-1)
    out = np.empty(len(idx))
    for n, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        out[n] = (fp - fm) / (2 * eps)
    return out
