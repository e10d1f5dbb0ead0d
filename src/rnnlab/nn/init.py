"""Initialisers. Every random draw comes from the ``numpy.random.Generator`` passed in."""
from __future__ import annotations

import numpy as np


def glorot_uniform(rng: np.random.Generator, shape, dtype=np.float32):
    """Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)); shape is (fan_out, fan_in)."""
    fan_out, fan_in = shape[0], shape[1]
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=shape).astype(dtype)


def orthogonal(rng: np.random.Generator, shape, gain=1.0, dtype=np.float32):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one (Saxe et al. 2014)."""
    rows, cols = shape
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the distribution uniform over orthogonal matrices
    if rows < cols:
        q = q.T
    return (gain * q[:rows, :cols]).astype(dtype)


def recurrent_orthogonal(rng, n_gates: int, hidden: int, dtype=np.float32):
    """One orthogonal (H, H) block per gate, stacked as (n_gates*H, H) like torch's weight_hh."""
    return np.concatenate([orthogonal(rng, (hidden, hidden), dtype=dtype) for _ in range(n_gates)], axis=0)


def uniform(rng, shape, bound, dtype=np.float32):
    return rng.uniform(-bound, bound, size=shape).astype(dtype)
