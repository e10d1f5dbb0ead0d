"""Elementwise functions and their derivatives, written in place so the time loop allocates nothing.

The derivatives are expressed through the function's *output* (σ' = s(1-s), tanh' = 1-t²),
which is what the cells cache.
"""
from __future__ import annotations

import numpy as np


def sigmoid(x, out=None):
    # σ(x) = ½(1 + tanh(x/2)): one transcendental call, no overflow for large |x|
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def tanh(x, out=None):
    return np.tanh(x, out=out)


def relu(x, out=None):
    return np.maximum(x, 0, out=out)


ACTIVATIONS = {"tanh": tanh, "relu": relu, "sigmoid": sigmoid}


def activation_grad(name: str, y, dy, out=None):
    """dL/dx given y = f(x) and dL/dy, for f in ACTIVATIONS."""
    if name == "tanh":  # tanh' = 1 - y²
        out = np.multiply(y, y, out=out)
        np.subtract(1, out, out=out)
    elif name == "sigmoid":  # σ' = y(1 - y)
        out = np.subtract(1, y, out=out)
        out *= y
    elif name == "relu":  # relu' = [y > 0]
        return np.multiply(dy, y > 0, out=out)
    else:  # pragma: no cover - validated at construction
        raise ValueError(name)
    out *= dy
    return out


def softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


# ε inside √(σ² + ε) of layer normalisation, torch.nn.LayerNorm's default
LN_EPS = 1e-5
