r"""Elman RNN: :math:`h_t = f(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`, f ∈ {tanh, relu, sigmoid}."""
from __future__ import annotations

import numpy as np

from rnnlab.nn.cells.base import Cell
from rnnlab.nn.functional import ACTIVATIONS, activation_grad


class ElmanCell(Cell):
    n_gates = 1
    n_states = 1

    def __init__(self, hidden_size: int, nonlinearity: str = "tanh"):
        super().__init__(hidden_size)
        self.nonlinearity = nonlinearity
        self.f = ACTIVATIONS[nonlinearity]

    def workspace(self, T, B, dtype):
        ws = super().workspace(T, B, dtype)
        ws.G = ws.S[0][1:]  # the only "gate" is h_t itself: no second copy
        return ws

    def step(self, t, zx_t, w_hh_t, b_hh, ws):
        h = ws.S[0][t + 1]
        # h_t = f(x_t W_ihᵀ + b_ih + b_hh + h_{t-1} W_hhᵀ)
        np.matmul(ws.S[0][t], w_hh_t, out=h)
        h += zx_t
        self.f(h, out=h)

    def step_backward(self, t, dh, dc, w_hh, ws, dh_prev, dc_prev):
        # ∂z_t = ∂h_t ⊙ f'(z_t), written through h_t = f(z_t)
        dz = activation_grad(self.nonlinearity, ws.S[0][t + 1], dh, out=ws.dZX[t])
        # ∂h_{t-1} = ∂z_t W_hh
        np.matmul(dz, w_hh, out=dh_prev)
