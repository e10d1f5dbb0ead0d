"""The layer-normalised LSTM's whole-sequence loops, with every layer norm inside them (``cells/lstm.py`` has the equations).

Unfused, a layer-normalised LSTM pays for LN_ih as a pass over every step before the loop, for
LN_hh and LN_c as separate calls per step, and for LN_ihᵀ and the gain gradients as passes over
every step after it: each a trip through memory for the (T, B, 4H) arrays. Here each step's rows
are normalised, used and differentiated while they sit in cache:

* forward: LN_ih of the raw input product and LN_hh of the raw recurrent product, block by block,
  summed with the one folded bias β_ih + b_ih + b_hh + β_hh (``ln_products``); the gates and c_t
  (``lstm_gates``); LN_c and h_t;
* backward: the LN_c path into ∂c with ∂γ_c, ∂β_c (``cell_norm_backward``); the gate derivatives;
  LN_ihᵀ and LN_hhᵀ of ∂z with ∂γ_ih, ∂γ_hh and ∂β (shared by both LNs and both biases)
  (``ln_products_backward``).

So the input product enters raw (``ax``) and the gain gradients come out of the loop summed.
Recurrent dropout, zoneout and padding work as in ``kernels_options`` (whose helpers are reused).
Measured with ``benchmarks/layer_norm_speed.py``: 1.06-1.27x the plain LSTM's train step (was 1.08-1.47).
"""
from __future__ import annotations

import math

import numpy as np

from rnnlab.nn.kernels import _add_into, _gemm, _jit, _jit_seq, _sig, _tanh, lstm_backward
from rnnlab.nn.functional import LN_EPS
from rnnlab.nn.kernels_options import (_inline, _like, blend, lstm_cell_norm, lstm_finish_state_grads,
                                      lstm_split_state_grads, recurrent_operand)


# Each phase is its own compiled function: fused into one, LLVM stops vectorising its loops (4x
# slower); for the same reason each loop writes as few arrays as it can (alias checks).

@_inline
def _center_in_place(ar, lo, H):
    # ar[lo:lo+H] -= μ; returns 1/√(σ² + ε) of the block (one array: the loops vectorise)
    s = _like(0.0, ar[lo])
    for j in range(lo, lo + H):
        s += ar[j]
    mu = _like(s / H, ar[lo])
    v = _like(0.0, ar[lo])
    for j in range(lo, lo + H):
        d = ar[j] - mu
        ar[j] = d
        v += d * d
    return _like(1.0 / math.sqrt(v / H + LN_EPS), ar[lo])


@_jit
def ln_products(NX, IX, NH, IH, gx, gh, bias, gates):
    # NX: x_t W_ihᵀ, NH: h_{t-1} W_hhᵀ on entry, â_x and â_h on return (in place: no second array
    # to stream through memory); gates = z = γ_ih ⊙ â_x + γ_hh ⊙ â_h + β
    B, G = NX.shape
    H = G // 4
    for b in range(B):
        nxr, nhr, gr = NX[b], NH[b], gates[b]
        for k in range(4):
            lo = k * H
            ivx = _center_in_place(nxr, lo, H)
            ivh = _center_in_place(nhr, lo, H)
            IX[b, k], IH[b, k] = ivx, ivh
            for j in range(lo, lo + H):
                nxr[j] *= ivx
            for j in range(lo, lo + H):
                nhr[j] *= ivh
            for j in range(lo, lo + H):
                gr[j] = gx[j] * nxr[j] + gh[j] * nhr[j] + bias[j]


@_jit
def ln_products_backward(dz, gx, NX, IX, gh, NH, IH, dgx, dgh, db):
    # ∂a_x = LN_ihᵀ(∂z), ∂a_h = LN_hhᵀ(∂z) per block, written over â_x (NX) and â_h (NH), which only
    # this step reads (half the memory traffic of two more arrays); ∂γ_ih += ∂z ⊙ â_x,
    # ∂γ_hh += ∂z ⊙ â_h, ∂β += ∂z before that
    B, G = dz.shape
    H = G // 4
    for b in range(B):
        dzr, nxr, nhr = dz[b], NX[b], NH[b]
        for j in range(G):
            db[j] += dzr[j]
        for j in range(G):
            dgx[j] += dzr[j] * nxr[j]
        for j in range(G):
            dgh[j] += dzr[j] * nhr[j]
        for k in range(4):
            lo = k * H
            x1 = _like(0.0, dzr[0])
            x2 = _like(0.0, dzr[0])
            h1 = _like(0.0, dzr[0])
            h2 = _like(0.0, dzr[0])
            for j in range(lo, lo + H):
                vx, vh = dzr[j] * gx[j], dzr[j] * gh[j]
                x1 += vx
                x2 += vx * nxr[j]
                h1 += vh
                h2 += vh * nhr[j]
            # s / H is float64: back to the arrays' precision, or the float32 loops below widen
            x1, x2, h1, h2 = _like(x1 / H, x1), _like(x2 / H, x1), _like(h1 / H, x1), _like(h2 / H, x1)
            ivx, ivh = IX[b, k], IH[b, k]
            for j in range(lo, lo + H):
                nxr[j] = ivx * (dzr[j] * gx[j] - x1 - nxr[j] * x2)
            for j in range(lo, lo + H):
                nhr[j] = ivh * (dzr[j] * gh[j] - h1 - nhr[j] * h2)


@_jit
def lstm_gates(gates, c_prev, c):
    # the gates from z (in place) and c_t = f ⊙ c_{t-1} + i ⊙ g
    B, H = c.shape
    for b in range(B):
        gr, cp, cb = gates[b], c_prev[b], c[b]
        zi, zf, zg, zo = gr[:H], gr[H:2 * H], gr[2 * H:3 * H], gr[3 * H:]
        for j in range(H):
            i, f, g = _sig(zi[j]), _sig(zf[j]), _tanh(zg[j])
            zi[j], zf[j], zg[j], zo[j] = i, f, g, _sig(zo[j])
            cb[j] = f * cp[j] + i * g


@_jit
def cell_norm_backward(dh, gates, tc, gamma, NC, IC, dc, dgc, dbc):
    # u = ∂h ⊙ o ⊙ (1 - tanh²) = ∂L/∂LN_c(c);  ∂c += LN_cᵀ(u);  ∂γ_c += u ⊙ ĉ,  ∂β_c += u
    B, H = dh.shape
    for b in range(B):
        dhb, go, tb, ncr, dcb = dh[b], gates[b, 3 * H:], tc[b], NC[b], dc[b]
        s1 = _like(0.0, dhb[0])
        s2 = _like(0.0, dhb[0])
        for j in range(H):
            u = dhb[j] * go[j] * (1 - tb[j] * tb[j])
            v = u * gamma[j]
            s1 += v
            s2 += v * ncr[j]
        m1, m2, iv = _like(s1 / H, s1), _like(s2 / H, s1), IC[b, 0]
        for j in range(H):
            u = dhb[j] * go[j] * (1 - tb[j] * tb[j])
            dgc[j] += u * ncr[j]
            dbc[j] += u
        for j in range(H):
            u = dhb[j] * go[j] * (1 - tb[j] * tb[j])
            dcb[j] += iv * (u * gamma[j] - m1 - ncr[j] * m2)


@_jit_seq
def lstm_ln_forward_sequence(w_hh_t, Hs, Cs, Hn, Cn, G, TC, HP, mh, use_mh,
                             gx, gh, bias, NX, IX, NH, IH, gc, bc, NC, IC, Uh, Uc, use_u):
    for t in range(NX.shape[0]):
        hp = recurrent_operand(Hs[t], HP[t], mh, use_mh)
        _gemm(hp, w_hh_t, NH[t])
        ln_products(NX[t], IX[t], NH[t], IH[t], gx, gh, bias, G[t])
        lstm_gates(G[t], Cs[t], Cn[t])
        lstm_cell_norm(Cn[t], G[t], gc, bc, NC[t], IC[t], TC[t], Hn[t])
        if use_u:
            blend(Hn[t], Hs[t], Uh[t], Hs[t + 1])
            blend(Cn[t], Cs[t], Uc[t], Cs[t + 1])


@_jit_seq
def lstm_ln_backward_sequence(dH, dh, dc, G, TC, Cs, w_hh, mh, use_mh, gx, NX, IX, gh, NH, IH, gc, NC, IC,
                              dgx, dgh, db, dgc, dbc, Uh, Uc, use_u):
    dh_tot, dh_prev, dc_prev = np.empty_like(dh), np.empty_like(dh), np.empty_like(dc)
    dh_new, dh_old, dc_new, dc_old = np.empty_like(dh), np.empty_like(dh), np.empty_like(dc), np.empty_like(dc)
    dz = np.empty((dh.shape[0], 4 * dh.shape[1]), dh.dtype)  # ∂z of one step
    for a in (dgx, dgh, db, dgc, dbc):
        a[:] = 0
    for t in range(dH.shape[0] - 1, -1, -1):
        _add_into(dh_tot, dH[t], dh)
        hn, cn = lstm_split_state_grads(dh_tot, dc, Uh[t], Uc[t], use_u, dh_new, dh_old, dc_new, dc_old)
        cell_norm_backward(hn, G[t], TC[t], gc, NC[t], IC[t], cn, dgc, dbc)
        lstm_backward(G[t], TC[t], Cs[t], hn, cn, dz, dc_prev, False)
        ln_products_backward(dz, gx, NX[t], IX[t], gh, NH[t], IH[t], dgx, dgh, db)
        _gemm(NH[t], w_hh, dh_prev)  # NH[t] now holds ∂(h W_hhᵀ)
        lstm_finish_state_grads(dh_prev, dc_prev, mh, use_mh, dh_old, dc_old, use_u)
        dh, dh_prev = dh_prev, dh
        dc, dc_prev = dc_prev, dc
    return dh, dc
