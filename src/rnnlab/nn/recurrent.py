"""The time loop, written once: ``Recurrent`` runs any cell forward and back through time.

One ``Recurrent`` is one direction of one layer. It works time-major, ``(T, B, features)``,
so that each step reads and writes contiguous blocks. Direction, stacking and the batch-first
interface live in ``rnn.py``; what is left here is the loop, in plain NumPy::

    zx = (x ⊙ m_x) @ W_ihᵀ + b_ih (+ b_hh)           # all steps in one product, before the loop
    for t in range(T):                                  # the only sequential part
        state'[t] = cell.step(zx[t], state[t])          # reads h_{t-1} ⊙ m_h in W_hh h_{t-1}
        state[t+1] = state[t] + u_t ⊙ (state'[t] - state[t])
    for t in reversed(range(T)):                        # backpropagation through time
        dz[t], dstate = cell.step_backward(u_t ⊙ (dh_out[t] + dstate)) + (1 - u_t) ⊙ (...)
    ∂W_ih = Σ_t dz_tᵀ x_t;  ∂W_hh = Σ_t dz_tᵀ h_{t-1}  # all steps in one product, after it

u_t, the share of the new candidate state that enters the state, is 1 by default, the 0/1 mask
m_t of valid steps with ``lengths`` (padding carries the state unchanged), and m_t ⊙ (1 - d_t)
with zoneout, whose d_t keeps each unit's old value (a 0/1 draw per step in training, the
probability p at inference). The options of one call:

* ``x_mask`` (B, I), ``h_mask`` (B, H): variational dropout (Gal & Ghahramani 2016), one inverted
  mask per sequence on the inputs and on h_{t-1} inside the recurrent product;
* ``zoneout``: per state, d (T, B, H) of 0/1 or a float p (Krueger et al. 2017);
* ``ln``: the ``LayerNormParams`` of a cell built with ``layer_norm=True``; the input side is
  normalised here for every step at once (one pass over (T·B, G)), the recurrent side in the step.
"""
from __future__ import annotations

import copy

import numpy as np

from rnnlab.nn import batch_threads, kernels, norm
from rnnlab.nn.cells.base import Cell


class Recurrent:
    """Runs ``cell`` over a time-major sequence and keeps what backward needs (the workspace)."""

    def __init__(self, cell: Cell, may_split: bool = True):
        self.cell = cell
        self.ws = None
        self.may_split = may_split  # False for the parts themselves: one level of threads
        self.parts = None   # one Recurrent per batch slice after a split forward (batch_threads)

    def _workspace(self, T, B, dtype, recurrent_dropout, zoneout):
        key = (T, B, np.dtype(dtype), recurrent_dropout, zoneout)
        if self.ws is None or self.ws.key != key:
            self.ws = self.cell.workspace(T, B, dtype, recurrent_dropout, zoneout)
            self.ws.key = key
        return self.ws

    def forward(self, x, w_ih, w_hh, b_ih, b_hh, state0, mask=None, *, ln=None, x_mask=None, h_mask=None,
                zoneout=None):
        """x (T, B, I); state0: list of (B, H) arrays; mask (T, B, 1) of 0/1 or None; options above.

        Returns the list of state sequences, each (T+1, B, H) with the initial state at index 0.
        """
        T, B, I = x.shape
        cell = self.cell
        sequence = kernels.ENABLED and kernels.SEQUENCE and cell.forward_sequence is not None
        n = batch_threads.slices(B, w_hh.size, cell.min_split_work) if sequence and self.may_split else 1
        if n > 1:
            return self._forward_split(n, x, w_ih, w_hh, b_ih, b_hh, state0, mask, ln, x_mask, h_mask, zoneout)
        self.parts = None
        ws = self._workspace(T, B, x.dtype, h_mask is not None, zoneout is not None)
        if x_mask is not None:
            # x_t ⊙ m_x: the same input dropout mask at every step of a sequence
            x = x * x_mask
        self.x = x = np.ascontiguousarray(x)
        self.x_mask = x_mask
        ws.mh, ws.ln = h_mask, ln
        ws.U = self._updates(mask, zoneout, T, B, x.dtype)
        ws.plain = h_mask is None and zoneout is None and not cell.layer_norm
        scale = cell.step_prescale(x.dtype) if ws.plain and not kernels.ENABLED else None
        ws.gate_scale, ws.gate_shift = scale, None if scale is None else 1 - scale
        if scale is not None:
            # s ⊙ (x W_ihᵀ + b_ih + b_hh + h W_hhᵀ) with s folded into the weights: no pass over the steps
            w_ih, b_ih = w_ih * scale[:, None], b_ih * scale
            b_hh = None if b_hh is None else b_hh * scale
        fused_norm = cell.layer_norm and sequence and cell.fuses_layer_norm
        # zx = x W_ihᵀ + b_ih (+ b_hh): the input projection of every step in one product
        out = ws.NX.reshape(T * B, -1) if fused_norm else None
        zx = np.matmul(x.reshape(T * B, I), w_ih.T, out=out).reshape(T, B, -1)
        fold = cell.fold_bias_hh and b_hh is not None
        if fused_norm:
            # the cell's loop normalises each step's raw product in place (in NX) and adds the biases
            ws.bias = ln.ih_bias + b_ih + b_hh + ln.hh_bias
        elif cell.layer_norm:
            # zx = LN_ih(x W_ihᵀ) + b_ih (+ b_hh): the biases join β_ih, one pass over every step
            beta = ln.ih_bias + b_ih + b_hh if fold else ln.ih_bias + b_ih
            z2 = zx.reshape(T * B, -1)
            norm.forward(z2, ln.ih_weight, beta, ws.NX.reshape(T * B, -1), ws.IX.reshape(T * B, -1), z2)
        else:
            zx += b_ih
            if fold:  # two passes, not one with b_ih + b_hh: that would round differently from before
                zx += b_hh
        for S, s0 in zip(ws.S, state0):
            S[0] = s0
        # a contiguous right operand is ~30% faster in sgemm; never scale in place: .T of a (G, 1)
        # parameter is already contiguous, and ascontiguousarray would hand back the parameter itself
        w_hh_t = np.ascontiguousarray(w_hh.T) if scale is None else np.multiply(w_hh.T, scale, order="C")
        if sequence:
            cell.forward_sequence(zx, w_hh_t, b_hh, ws, mask)
            return ws.S
        U = ws.U
        for t in range(T):
            cell.step(t, zx[t], w_hh_t, b_hh, ws)
            if U is not None:  # S_{t+1} = S_t + u_t (S'_t - S_t): padding and zoneout keep the old state
                for S, Sn, u in zip(ws.S, ws.Sn, U):
                    np.subtract(Sn[t], S[t], out=ws.tmp)
                    ws.tmp *= u[t]
                    np.add(S[t], ws.tmp, out=S[t + 1])
        return ws.S

    def _forward_split(self, n, x, w_ih, w_hh, b_ih, b_hh, state0, mask, ln, x_mask, h_mask, zoneout):
        """``forward`` on n batch slices in n threads; the states are put back together."""
        T, B, _ = x.shape
        if self.parts is None or len(self.parts) != n:
            self.parts = [Recurrent(copy.copy(self.cell), may_split=False) for _ in range(n)]  # cells hold settings only
        self.slices = batch_threads.bounds(B, n)
        self.ws = None  # each part keeps its own; tools that read the workspace run unsplit

        def part(k):
            lo, hi = self.slices[k]
            return self.parts[k].forward(
                _rows(x, lo, hi, 1), w_ih, w_hh, b_ih, b_hh, [s[lo:hi] for s in state0], _rows(mask, lo, hi, 1),
                ln=ln, x_mask=_rows(x_mask, lo, hi, 0), h_mask=_rows(h_mask, lo, hi, 0),
                zoneout=None if zoneout is None else [_rows(d, lo, hi, 1) for d in zoneout])

        states = batch_threads.run(part, n)
        return [np.concatenate(S, axis=1) for S in zip(*states)]

    def _backward_split(self, dH, d_final, w_ih, w_hh, mask):
        """``backward`` on the slices of the last split forward: dx and ∂(initial state) put back
        together, the parameter gradients (sums over rows) added up."""
        def part(k):
            lo, hi = self.slices[k]
            d_k = None if d_final is None else [None if df is None else df[lo:hi] for df in d_final]
            return self.parts[k].backward(_rows(dH, lo, hi, 1), d_k, w_ih, w_hh, _rows(mask, lo, hi, 1))

        results = batch_threads.run(part, len(self.parts))
        dx = np.concatenate([r[0] for r in results], axis=1)
        grads = {key: sum(r[1][key] for r in results) for key in results[0][1]}
        d0 = [np.concatenate(ds, axis=0) for ds in zip(*(r[2] for r in results))]
        return dx, grads, d0

    def _updates(self, mask, zoneout, T, B, dtype):
        """u_t per state: None (all new), the padding mask, or m_t ⊙ (1 - d_t) with zoneout."""
        if zoneout is None:
            return None if mask is None else [mask] * self.cell.n_states
        us = []
        for d in zoneout:
            u = np.full((T, B, 1), 1 - d, dtype) if np.isscalar(d) else (1 - d).astype(dtype)
            if mask is not None:
                u *= mask
            us.append(u)
        return us

    def backward(self, dH, d_final, w_ih, w_hh, mask=None):
        """dH (T, B, H): ∂L/∂h_t from above; d_final: list of ∂L/∂(final state) or None.

        Returns (dx (T, B, I), grads {w_ih, w_hh, b_ih, b_hh[, ln_*]}, list of ∂L/∂(initial state)).
        """
        if self.parts is not None:
            return self._backward_split(dH, d_final, w_ih, w_hh, mask)
        ws, cell, x = self.ws, self.cell, self.x
        T, B, I = x.shape
        Hn = cell.hidden_size
        d = [np.zeros((B, Hn), x.dtype) for _ in range(2)]          # running ∂h, ∂c
        d_prev = [np.zeros((B, Hn), x.dtype) for _ in range(2)]     # written by step_backward
        if d_final is not None:
            for k, df in enumerate(d_final):
                if df is not None:
                    d[k][...] = df
        ws.norm_grads = None
        if kernels.ENABLED and kernels.SEQUENCE and cell.backward_sequence is not None:
            d = list(cell.backward_sequence(dH, d, w_hh, ws, mask))
            return self._weight_grads(x, w_ih, d)
        dh_tot = np.empty((B, Hn), x.dtype)
        U = ws.U
        keep = [np.empty((B, Hn), x.dtype) for _ in range(2)] if U is not None else None
        inv_U = [1 - u for u in U] if U is not None else None
        for t in range(T - 1, -1, -1):
            # ∂h_t = ∂out_t + ∂h_t from step t+1
            np.add(dH[t], d[0], out=dh_tot)
            if U is not None:  # the kept share (1 - u_t) of ∂S_{t+1} goes straight to S_t
                for k, (u, iu) in enumerate(zip(U, inv_U)):
                    dk = dh_tot if k == 0 else d[1]
                    np.multiply(dk, iu[t], out=keep[k])
                    dk *= u[t]
            cell.step_backward(t, dh_tot, d[1], w_hh, ws, d_prev[0], d_prev[1])
            if U is not None:
                for k in range(len(U)):
                    d_prev[k] += keep[k]
            d, d_prev = d_prev, d
        return self._weight_grads(x, w_ih, d)

    def _weight_grads(self, x, w_ih, d):
        ws, cell, (T, B, I) = self.ws, self.cell, x.shape
        G = ws.dZX.shape[2]
        dzx = ws.dZX.reshape(T * B, G)
        dzh = ws.dZH.reshape(T * B, G)
        grads = {}
        dah = ws.dAH.reshape(T * B, G)
        if ws.norm_grads is not None:  # the fused loop (kernels_ln_lstm) has summed them already
            grads.update(ws.norm_grads)
            dzx, dah = (a.reshape(T * B, G) for a in ws.d_products)
        elif cell.layer_norm:
            # ∂γ = Σ ∂A ⊙ â, ∂β = Σ ∂A for both LNs; b_ih (b_hh) sits beside β_ih (β_hh): the same gradient
            grads["ln_hh_weight"], grads["ln_hh_bias"] = norm.param_grads(dzh, ws.NH.reshape(T * B, G))
            grads.update(cell.extra_norm_grads(ws))
            # ∂(x W_ihᵀ) = LN_ihᵀ(∂A_x), with ∂γ_ih and ∂β_ih in the same pass
            dax = ws.dAX.reshape(T * B, G)
            grads["ln_ih_weight"], grads["ln_ih_bias"] = norm.backward_and_grads(
                dzx, ws.NX.reshape(T * B, G), ws.IX.reshape(T * B, -1), ws.ln.ih_weight, dax)
            grads["b_ih"], grads["b_hh"] = grads["ln_ih_bias"], grads["ln_hh_bias"]
            dzx = dax
        else:
            grads["b_ih"] = dzx.sum(0)
            grads["b_hh"] = grads["b_ih"] if ws.dZH is ws.dZX else dzh.sum(0)  # one sum when b_hh joins b_ih
        # where ∂(x W_ihᵀ) and ∂(h W_hhᵀ) of every step are now, whichever path wrote them (gradient_flow reads them)
        ws.d_products = dzx.reshape(T, B, G), dah.reshape(T, B, G)
        # ∂W_ih = Σ_t dz_tᵀ x_t,  ∂W_hh = Σ_t dz_tᵀ h_{t-1}: one product each over all steps
        grads["w_ih"] = dzx.T @ x.reshape(T * B, I)
        grads["w_hh"] = dah.T @ ws.HP.reshape(T * B, -1)
        dx = (dzx @ w_ih).reshape(T, B, I)
        if self.x_mask is not None:
            dx *= self.x_mask
        return dx, grads, d[:cell.n_states]


def _rows(a, lo, hi, axis):
    """Rows lo:hi of the batch axis of ``a`` as a contiguous array; None and floats pass through."""
    if a is None or np.isscalar(a):
        return a
    return np.ascontiguousarray(a[:, lo:hi] if axis == 1 else a[lo:hi])
