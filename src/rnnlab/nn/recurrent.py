"""The time loop, written once: ``Recurrent`` runs any cell forward and back through time.

One ``Recurrent`` is one direction of one layer. It works time-major, ``(T, B, features)``,
so that each step reads and writes contiguous blocks. Direction, stacking and the batch-first
interface live in ``rnn.py``; what is left here is the loop, in plain NumPy::

    zx = x @ W_ihᵀ + b_ih (+ b_hh)                   # all steps in one product, before the loop
    for t in range(T):                                  # the only sequential part
        state[t+1] = cell.step(zx[t], state[t])
        state[t+1] = m_t ? state[t+1] : state[t]        # padding carries the state unchanged
    for t in reversed(range(T)):                        # backpropagation through time
        dz[t], dstate = cell.step_backward(m_t ⊙ (dh_out[t] + dstate))
    ∂W_ih = Σ_t dz_tᵀ x_t;  ∂W_hh = Σ_t dz_tᵀ h_{t-1}  # all steps in one product, after it
"""
from __future__ import annotations

import numpy as np

from rnnlab.nn import kernels
from rnnlab.nn.cells.base import Cell


class Recurrent:
    """Runs ``cell`` over a time-major sequence and keeps what backward needs (the workspace)."""

    def __init__(self, cell: Cell):
        self.cell = cell
        self.ws = None

    def _workspace(self, T, B, dtype):
        ws = self.ws
        if ws is None or ws.T != T or ws.B != B or ws.G.dtype != dtype:
            ws = self.ws = self.cell.workspace(T, B, dtype)
        return ws

    def forward(self, x, w_ih, w_hh, b_ih, b_hh, state0, mask=None):
        """x (T, B, I); state0: list of (B, H) arrays; mask (T, B, 1) of 0/1 or None.

        Returns the list of state sequences, each (T+1, B, H) with the initial state at index 0.
        """
        T, B, I = x.shape
        cell = self.cell
        ws = self._workspace(T, B, x.dtype)
        self.x = x = np.ascontiguousarray(x)
        # zx = x W_ihᵀ + b_ih (+ b_hh): the input projection of every step in one product
        zx = np.matmul(x.reshape(T * B, I), w_ih.T).reshape(T, B, -1)
        zx += b_ih
        if cell.fold_bias_hh and b_hh is not None:
            zx += b_hh
        for S, s0 in zip(ws.S, state0):
            S[0] = s0
        w_hh_t = np.ascontiguousarray(w_hh.T)  # a contiguous right operand is ~30% faster in sgemm
        if kernels.ENABLED and kernels.SEQUENCE and cell.forward_sequence is not None:
            cell.forward_sequence(zx, w_hh_t, b_hh, ws, mask)
            return ws.S
        for t in range(T):
            cell.step(t, zx[t], w_hh_t, b_hh, ws)
            if mask is not None:  # S_{t+1} = S_t + m (S_{t+1} - S_t): padded rows keep their state
                for S in ws.S:
                    np.subtract(S[t + 1], S[t], out=ws.tmp)
                    ws.tmp *= mask[t]
                    np.add(S[t], ws.tmp, out=S[t + 1])
        return ws.S

    def backward(self, dH, d_final, w_ih, w_hh, mask=None):
        """dH (T, B, H): ∂L/∂h_t from above; d_final: list of ∂L/∂(final state) or None.

        Returns (dx (T, B, I), grads {w_ih, w_hh, b_ih, b_hh}, list of ∂L/∂(initial state)).
        """
        ws, cell, x = self.ws, self.cell, self.x
        T, B, I = x.shape
        Hn = cell.hidden_size
        d = [np.zeros((B, Hn), x.dtype) for _ in range(2)]          # running ∂h, ∂c
        d_prev = [np.zeros((B, Hn), x.dtype) for _ in range(2)]     # written by step_backward
        if d_final is not None:
            for k, df in enumerate(d_final):
                if df is not None:
                    d[k][...] = df
        if kernels.ENABLED and kernels.SEQUENCE and cell.backward_sequence is not None:
            d = list(cell.backward_sequence(dH, d, w_hh, ws, mask))
            return self._weight_grads(x, w_ih, d)
        dh_tot = np.empty((B, Hn), x.dtype)
        keep = [np.empty((B, Hn), x.dtype) for _ in range(2)] if mask is not None else None
        inv_mask = 1 - mask if mask is not None else None
        for t in range(T - 1, -1, -1):
            # ∂h_t = ∂out_t + ∂h_t from step t+1
            np.add(dH[t], d[0], out=dh_tot)
            if mask is not None:  # padded rows pass their gradient straight to the previous state
                m, keep_m = mask[t], inv_mask[t]
                np.multiply(dh_tot, keep_m, out=keep[0])
                np.multiply(d[1], keep_m, out=keep[1])
                dh_tot *= m
                d[1] *= m
            cell.step_backward(t, dh_tot, d[1], w_hh, ws, d_prev[0], d_prev[1])
            if mask is not None:
                d_prev[0] += keep[0]
                d_prev[1] += keep[1]
            d, d_prev = d_prev, d
        return self._weight_grads(x, w_ih, d)

    def _weight_grads(self, x, w_ih, d):
        ws, T, B, I = self.ws, *x.shape
        Hn = self.cell.hidden_size
        G = ws.dZX.shape[2]
        dzx = ws.dZX.reshape(T * B, G)
        dzh = ws.dZH.reshape(T * B, G)
        # ∂W_ih = Σ_t dz_tᵀ x_t,  ∂W_hh = Σ_t dz_tᵀ h_{t-1}: one product each over all steps
        grads = {
            "w_ih": dzx.T @ x.reshape(T * B, I),
            "w_hh": dzh.T @ ws.S[0][:-1].reshape(T * B, Hn),
            "b_ih": dzx.sum(0),
        }
        grads["b_hh"] = grads["b_ih"] if ws.dZH is ws.dZX else dzh.sum(0)  # one sum when b_hh joins b_ih
        dx = (dzx @ w_ih).reshape(T, B, I)
        return dx, grads, d[:self.cell.n_states]
