r"""Layer normalisation over gate blocks (Ba et al. 2016), for the cells' ``layer_norm=True``.

A row a of G = n·H pre-activations holds n gate blocks of H units; each block is normalised on
its own, with a gain γ and a bias β per unit:

.. math::
    \hat a = (a - μ) / \sqrt{σ^2 + ε},\quad μ = \mathrm{mean}(a),\ σ^2 = \mathrm{mean}((a - μ)^2)
    y = γ ⊙ \hat a + β
    ∂a = (v - \mathrm{mean}(v) - \hat a ⊙ \mathrm{mean}(v ⊙ \hat a)) / \sqrt{σ^2 + ε},\quad v = ∂y ⊙ γ

Arrays are 2-D: ``a`` (N, n·H), ``inv`` (N, n) holds 1/√(σ² + ε) of each block; ``nrm`` keeps â for
backward. The functions write into the arrays they are given and allocate nothing; with Numba
(``kernels.ENABLED``) fused kernels from ``kernels_options`` replace the NumPy lines.
"""
from __future__ import annotations

import numpy as np

from rnnlab.nn import kernels, kernels_options
from rnnlab.nn.functional import LN_EPS


def _blocks(*arrays, n):
    """(N, n·H) arrays as (N, n, H) views; (N, n) statistics as (N, n, 1)."""
    return [a.reshape(a.shape[0], n, -1) for a in arrays]


def forward(a, gamma, beta, nrm, inv, out):
    """out = γ ⊙ â + β for each gate block of each row; ``out`` may be ``a`` itself."""
    if kernels.ENABLED:
        kernels_options.layer_norm(a, gamma, beta, nrm, inv, out)
        return out
    n = inv.shape[1]
    a3, n3, o3, i3 = _blocks(a, nrm, out, inv, n=n)
    g3, b3 = gamma.reshape(n, -1), beta.reshape(n, -1)
    H = a3.shape[2]
    # μ = mean(a), a - μ
    np.sum(a3, axis=2, keepdims=True, out=i3)
    i3 /= H
    np.subtract(a3, i3, out=n3)
    # 1/√(σ² + ε), σ² = mean((a - μ)²)
    np.multiply(n3, n3, out=o3)
    np.sum(o3, axis=2, keepdims=True, out=i3)
    i3 /= H
    i3 += LN_EPS
    np.sqrt(i3, out=i3)
    np.divide(1, i3, out=i3)
    # â = (a - μ)/√(σ² + ε),  y = γ ⊙ â + β
    n3 *= i3
    np.multiply(n3, g3, out=o3)
    o3 += b3
    return out


def backward(dy, nrm, inv, gamma, out, scratch=None):
    """out = ∂L/∂a from ∂L/∂y; ``scratch`` = (tmp like dy, s1, s2 like inv) for the NumPy path."""
    if kernels.ENABLED:
        kernels_options.layer_norm_backward(dy, nrm, inv, gamma, out)
        return out
    n = inv.shape[1]
    if scratch is None:
        scratch = (np.empty_like(dy), np.empty_like(inv), np.empty_like(inv))
    d3, n3, o3, i3, t3, s1, s2 = _blocks(dy, nrm, out, inv, *scratch, n=n)
    H = d3.shape[2]
    # v = ∂y ⊙ γ
    np.multiply(d3, gamma.reshape(n, -1), out=o3)
    # mean(v), mean(v ⊙ â)
    np.sum(o3, axis=2, keepdims=True, out=s1)
    s1 /= H
    np.multiply(o3, n3, out=t3)
    np.sum(t3, axis=2, keepdims=True, out=s2)
    s2 /= H
    # ∂a = (v - mean(v) - â ⊙ mean(v ⊙ â)) / √(σ² + ε)
    np.multiply(n3, s2, out=t3)
    o3 -= t3
    o3 -= s1
    o3 *= i3
    return out


def backward_and_grads(dy, nrm, inv, gamma, out):
    """``backward`` and ``param_grads`` together (one fused pass with Numba): returns (∂γ, ∂β)."""
    if kernels.ENABLED:
        dgamma, dbeta = np.empty(dy.shape[1], dy.dtype), np.empty(dy.shape[1], dy.dtype)
        kernels_options.layer_norm_backward_grads(dy, nrm, inv, gamma, out, dgamma, dbeta)
        return dgamma, dbeta
    grads = param_grads(dy, nrm)
    backward(dy, nrm, inv, gamma, out)
    return grads


def param_grads(dy, nrm):
    """(∂γ, ∂β) = (Σ_rows ∂y ⊙ â, Σ_rows ∂y) over every row (every step and sequence)."""
    if kernels.ENABLED:
        dgamma, dbeta = np.empty(dy.shape[1], dy.dtype), np.empty(dy.shape[1], dy.dtype)
        kernels_options.layer_norm_grads(dy, nrm, dgamma, dbeta)
        return dgamma, dbeta
    return np.einsum("ng,ng->g", dy, nrm), dy.sum(0)
