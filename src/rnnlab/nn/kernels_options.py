"""Numba kernels for the layer options: layer norm, recurrent dropout and zoneout.

``layer_norm*`` replace the NumPy lines of ``norm.py`` and ``lstm_cell_norm*`` the LN_c lines of
``cells/lstm.py`` (whose comments carry the equations). ``*_sequence_options`` are the whole-sequence
loops of ``kernels.py`` with the options added, each behind a flag:

* recurrent dropout: the product reads h_{t-1} ⊙ m_h (kept in HP for ∂W_hh);
* layer norm (GRU): LN_hh right after the product (the LSTM's is fused in ``kernels_ln_lstm``);
* zoneout and padding: S_{t+1} = u_t ⊙ S'_t + (1 - u_t) ⊙ S_t with S'_t the new candidate state
  (``blend``); backward sends u_t ⊙ ∂S_{t+1} into the step and (1 - u_t) ⊙ ∂S_{t+1} straight to S_t.

Layers with no option on keep the plain kernels of ``kernels.py``. Unused arrays are 1x1 stand-ins
(``stub``) so that each dtype compiles once.
"""
from __future__ import annotations

import math

import numpy as np

from rnnlab.nn.functional import LN_EPS
from rnnlab.nn.kernels import (AVAILABLE, _add_into, _gemm, _jit, _jit_seq, _tanh, gru_backward, gru_forward,
                               lstm_backward, lstm_forward, numba)


def _like(x, ref):  # pragma: no cover - replaced by the overload below
    return x


def _inline(fn):
    # inlined in Numba IR: helpers that take array views cost no call and no reference counts
    return numba.njit(inline="always", fastmath=True, nogil=True, error_model="numpy")(fn) if AVAILABLE else fn


if AVAILABLE:
    from numba import types
    from numba.extending import overload

    @overload(_like, inline="always")
    def _like_impl(x, ref):
        # x in ref's precision: float32 statistics keep the float32 loops (and _tanh) vectorised
        if ref == types.float32:
            return lambda x, ref: np.float32(x)
        return lambda x, ref: x


def stub(like, ndim):
    """A 1x...x1 stand-in for an unused array argument (same dtype: one compiled signature)."""
    return np.zeros((1,) * ndim, like.dtype)


def dropout_args(ws, like):
    """(HP, m_h, on) for the sequence loops; stand-ins when recurrent dropout is off."""
    if ws.mh is None:
        return stub(like, 3), stub(like, 2), False
    return ws.HP, ws.mh, True


def norm_args(ws, like, layer_norm):
    """(γ_hh, β_hh, NH, IH, on) for the GRU's sequence loops; stand-ins without layer norm."""
    if not layer_norm:
        return stub(like, 1), stub(like, 1), stub(like, 3), stub(like, 3), False
    return ws.ln.hh_weight, ws.ln.hh_bias, ws.NH, ws.IH, True


def update_args(ws, like, n_states):
    """(u per state..., on): the share of each new candidate state that enters the state."""
    if ws.U is None:
        return (stub(like, 3),) * n_states + (False,)
    return (*ws.U, True)


# -- layer norm over gate blocks: (N, n·H) rows, inv (N, n) -------------------------------------------
# One 1-D view per row, blocks by offset: a view per block costs two reference counts, more than
# the block's arithmetic. Sums run in the arrays' precision (float32 stays vectorised).

@_inline
def _center(ar, nr, lo, H):
    # nr[lo:lo+H] = block - μ; returns 1/√(σ² + ε) of the block (two passes, the block is in L1)
    s = _like(0.0, ar[lo])
    for j in range(H):
        s += ar[lo + j]
    mu = _like(s / H, ar[lo])
    v = _like(0.0, ar[lo])
    for j in range(H):
        d = ar[lo + j] - mu
        nr[lo + j] = d
        v += d * d
    return _like(1.0 / math.sqrt(v / H + LN_EPS), ar[lo])


@_jit
def layer_norm(a, gamma, beta, nrm, inv, out):
    N, G = a.shape
    n = inv.shape[1]
    H = G // n
    for r in range(N):
        ar, nr, orow = a[r], nrm[r], out[r]
        for k in range(n):
            lo = k * H
            iv = _center(ar, nr, lo, H)
            inv[r, k] = iv
            for j in range(H):  # reads only nrm: out may be a itself
                y = nr[lo + j] * iv
                nr[lo + j] = y
                orow[lo + j] = gamma[lo + j] * y + beta[lo + j]


@_inline
def _block_backward(dr, nr, xr, gamma, iv, lo, H, dgamma, dbeta, grads):
    # xr = iv (v - mean(v) - n̂ mean(v n̂)), v = dy γ; with grads: dγ += dy n̂, dβ += dy
    s1 = _like(0.0, dr[lo])
    s2 = _like(0.0, dr[lo])
    for j in range(H):
        v = dr[lo + j] * gamma[lo + j]
        s1 += v
        s2 += v * nr[lo + j]
        if grads:  # loop-invariant: hoisted by LLVM
            dgamma[lo + j] += dr[lo + j] * nr[lo + j]
            dbeta[lo + j] += dr[lo + j]
    m1, m2 = _like(s1 / H, s1), _like(s2 / H, s1)  # s / H is float64: keep float32 loops float32
    for j in range(H):
        xr[lo + j] = iv * (dr[lo + j] * gamma[lo + j] - m1 - nr[lo + j] * m2)


@_jit
def layer_norm_backward(dy, nrm, inv, gamma, dx):
    N, G = dy.shape
    n = inv.shape[1]
    H = G // n
    for r in range(N):
        dr, nr, xr = dy[r], nrm[r], dx[r]
        for k in range(n):
            _block_backward(dr, nr, xr, gamma, inv[r, k], k * H, H, gamma, gamma, False)


@_jit
def layer_norm_backward_grads(dy, nrm, inv, gamma, dx, dgamma, dbeta):
    # layer_norm_backward and layer_norm_grads in one pass over dy and nrm
    N, G = dy.shape
    n = inv.shape[1]
    H = G // n
    dgamma[:] = 0
    dbeta[:] = 0
    for r in range(N):
        dr, nr, xr = dy[r], nrm[r], dx[r]
        for k in range(n):
            _block_backward(dr, nr, xr, gamma, inv[r, k], k * H, H, dgamma, dbeta, True)


@_jit
def layer_norm_grads(dy, nrm, dgamma, dbeta):
    N, G = dy.shape
    dgamma[:] = 0
    dbeta[:] = 0
    for r in range(N):
        db, nb = dy[r], nrm[r]
        for j in range(G):
            dgamma[j] += db[j] * nb[j]
            dbeta[j] += db[j]


# -- LSTM cell norm: h = o ⊙ tanh(LN_c(c)), after lstm_forward has written c ---------------------------
@_jit
def lstm_cell_norm(c, gates, gamma, beta, nrm, inv, tc, h):
    B, H = c.shape
    for b in range(B):
        cb, nb, tb, hb, gb = c[b], nrm[b], tc[b], h[b], gates[b]
        iv = _center(cb, nb, 0, H)
        inv[b, 0] = iv
        for j in range(H):
            y = nb[j] * iv
            nb[j] = y
            t = _tanh(gamma[j] * y + beta[j])
            tb[j] = t
            hb[j] = gb[3 * H + j] * t


@_jit
def lstm_cell_norm_backward(dh, gates, tc, gamma, nrm, inv, dcn, dc):
    # u = ∂h ⊙ o ⊙ (1 - tc²) → dcn (for ∂γ_c, ∂β_c);  ∂c += LN_cᵀ(u)
    B, H = dh.shape
    for b in range(B):
        db, gb, tb, nb, ub, cb = dh[b], gates[b], tc[b], nrm[b], dcn[b], dc[b]
        s1 = _like(0.0, db[0])
        s2 = _like(0.0, db[0])
        for j in range(H):
            u = db[j] * gb[3 * H + j] * (1 - tb[j] * tb[j])
            ub[j] = u
            v = u * gamma[j]
            s1 += v
            s2 += v * nb[j]
        m1, m2, iv = _like(s1 / H, s1), _like(s2 / H, s1), inv[b, 0]
        for j in range(H):
            cb[j] += iv * (ub[j] * gamma[j] - m1 - nb[j] * m2)


# -- zoneout / padding blends, dropout masks ----------------------------------------------------------
@_jit
def blend(new, old, u, out):
    # out = u ⊙ new + (1 - u) ⊙ old, u (B, H) or (B, 1); out may be new itself
    B, H = out.shape
    for b in range(B):
        nb, pb, ub, yb = new[b], old[b], u[b], out[b]
        if u.shape[1] == 1:
            w = ub[0]
            for j in range(H):
                yb[j] = w * nb[j] + (1 - w) * pb[j]
        else:
            for j in range(H):
                yb[j] = ub[j] * nb[j] + (1 - ub[j]) * pb[j]


@_jit
def split(d, u, d_new, d_old):
    # d_new = u ⊙ d (into the step), d_old = (1 - u) ⊙ d (straight to the previous state)
    B, H = d.shape
    for b in range(B):
        db, ub, nb, ob = d[b], u[b], d_new[b], d_old[b]
        if u.shape[1] == 1:
            w = ub[0]
            for j in range(H):
                nb[j] = w * db[j]
                ob[j] = (1 - w) * db[j]
        else:
            for j in range(H):
                nb[j] = ub[j] * db[j]
                ob[j] = (1 - ub[j]) * db[j]


@_jit
def _scale_rows(out, a, m):
    # out = a ⊙ m, m (B, H): one dropout mask per sequence
    for b in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[b, j] = a[b, j] * m[b, j]


@_jit
def _add_to(out, a):
    for b in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[b, j] += a[b, j]


@_inline
def recurrent_operand(h, hp, mh, use_mh):
    # h_{t-1} ⊙ m_h (kept in HP for ∂W_hh) with recurrent dropout, else h_{t-1} itself
    if use_mh:
        _scale_rows(hp, h, mh)
        return hp
    return h


@_inline
def lstm_split_state_grads(dh_tot, dc, uh, uc, use_u, dh_new, dh_old, dc_new, dc_old):
    # (∂h'_t, ∂c'_t): all of ∂S_{t+1}, unless zoneout or padding sends (1 - u_t) of it straight to S_t
    if use_u:
        split(dh_tot, uh, dh_new, dh_old)
        split(dc, uc, dc_new, dc_old)
        return dh_new, dc_new
    return dh_tot, dc


@_inline
def lstm_finish_state_grads(dh_prev, dc_prev, mh, use_mh, dh_old, dc_old, use_u):
    # ∂h_{t-1} through the product times m_h, plus the shares that skipped the step
    if use_mh:
        _scale_rows(dh_prev, dh_prev, mh)
    if use_u:
        _add_to(dh_prev, dh_old)
        _add_to(dc_prev, dc_old)


# -- whole sequences with options -----------------------------------------------------------------------
@_jit_seq
def lstm_forward_sequence_options(zx, w_hh_t, Hs, Cs, Hn, Cn, G, TC, HP, mh, use_mh, Uh, Uc, use_u):
    # without layer norm (kernels_ln_lstm has the layer-normalised LSTM)
    for t in range(zx.shape[0]):
        hp = recurrent_operand(Hs[t], HP[t], mh, use_mh)
        _gemm(hp, w_hh_t, G[t])
        lstm_forward(G[t], zx[t], Cs[t], Cn[t], TC[t], Hn[t])
        if use_u:
            blend(Hn[t], Hs[t], Uh[t], Hs[t + 1])
            blend(Cn[t], Cs[t], Uc[t], Cs[t + 1])


@_jit_seq
def lstm_backward_sequence_options(dH, dh, dc, G, TC, Cs, w_hh, dZ, mh, use_mh, Uh, Uc, use_u):
    dh_tot, dh_prev, dc_prev = np.empty_like(dh), np.empty_like(dh), np.empty_like(dc)
    dh_new, dh_old, dc_new, dc_old = np.empty_like(dh), np.empty_like(dh), np.empty_like(dc), np.empty_like(dc)
    for t in range(dH.shape[0] - 1, -1, -1):
        _add_into(dh_tot, dH[t], dh)
        hn, cn = lstm_split_state_grads(dh_tot, dc, Uh[t], Uc[t], use_u, dh_new, dh_old, dc_new, dc_old)
        lstm_backward(G[t], TC[t], Cs[t], hn, cn, dZ[t], dc_prev)
        _gemm(dZ[t], w_hh, dh_prev)
        lstm_finish_state_grads(dh_prev, dc_prev, mh, use_mh, dh_old, dc_old, use_u)
        dh, dh_prev = dh_prev, dh
        dc, dc_prev = dc_prev, dc
    return dh, dc


@_jit_seq
def gru_forward_sequence_options(zx, w_hh_t, b_hh, Hs, Hn, G, ZH, HP, mh, use_mh, gh, bh, NH, IH, use_ln, U, use_u):
    for t in range(zx.shape[0]):
        hp = recurrent_operand(Hs[t], HP[t], mh, use_mh)
        _gemm(hp, w_hh_t, ZH[t])
        if use_ln:
            layer_norm(ZH[t], gh, bh, NH[t], IH[t], ZH[t])
        gru_forward(zx[t], ZH[t], b_hh, Hs[t], G[t], Hn[t])
        if use_u:
            blend(Hn[t], Hs[t], U[t], Hs[t + 1])


@_jit_seq
def gru_backward_sequence_options(dH, dh, G, ZH, Hs, w_hh, dZX, dZH, dAH, mh, use_mh, gh, NH, IH, use_ln, U, use_u):
    dh_tot, dh_prev, direct = np.empty_like(dh), np.empty_like(dh), np.empty_like(dh)
    dh_new, dh_old = np.empty_like(dh), np.empty_like(dh)
    for t in range(dH.shape[0] - 1, -1, -1):
        _add_into(dh_tot, dH[t], dh)
        hn = dh_tot
        if use_u:
            split(dh_tot, U[t], dh_new, dh_old)
            hn = dh_new
        gru_backward(G[t], ZH[t], Hs[t], hn, dZX[t], dZH[t], direct)
        if use_ln:
            layer_norm_backward(dZH[t], NH[t], IH[t], gh, dAH[t])
            _gemm(dAH[t], w_hh, dh_prev)
        else:
            _gemm(dZH[t], w_hh, dh_prev)
        if use_mh:
            _scale_rows(dh_prev, dh_prev, mh)
        _add_to(dh_prev, direct)
        if use_u:
            _add_to(dh_prev, dh_old)
        dh, dh_prev = dh_prev, dh
    return dh
