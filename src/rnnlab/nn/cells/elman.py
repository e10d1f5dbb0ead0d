r"""Elman RNN: :math:`h_t = f(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`, f ∈ {tanh, relu, sigmoid}.

With ``layer_norm`` each product is layer-normalised and the biases stay after it, as in the
LSTM (see ``cells/lstm.py`` for why):

.. math::
    h_t = f(\mathrm{LN}_{ih}(W_{ih} x_t) + b_{ih} + \mathrm{LN}_{hh}(W_{hh} h_{t-1}) + b_{hh})
"""
from __future__ import annotations

from rnnlab.nn.cells.base import Cell
from rnnlab.nn.functional import ACTIVATIONS, activation_grad


class ElmanCell(Cell):
    n_gates = 1
    n_states = 1
    supports_layer_norm = True

    def __init__(self, hidden_size: int, nonlinearity: str = "tanh", layer_norm: bool = False):
        super().__init__(hidden_size, layer_norm)
        self.nonlinearity = nonlinearity
        self.f = ACTIVATIONS[nonlinearity]

    def workspace(self, T, B, dtype, recurrent_dropout=False, zoneout=False):
        ws = super().workspace(T, B, dtype, recurrent_dropout, zoneout)
        ws.G = ws.Sn[0]  # the only "gate" is the candidate h'_t itself: no second copy
        return ws

    def step(self, t, zx_t, w_hh_t, b_hh, ws):
        h = ws.Sn[0][t]
        # h'_t = f(x_t W_ihᵀ + b_ih + b_hh + h_{t-1} W_hhᵀ)     (LN on each product when on)
        self.recurrent_product(t, w_hh_t, ws, h)
        h += zx_t
        self.f(h, out=h)

    def step_backward(self, t, dh, dc, w_hh, ws, dh_prev, dc_prev):
        # ∂z_t = ∂h'_t ⊙ f'(z_t), written through h'_t = f(z_t)
        dz = activation_grad(self.nonlinearity, ws.G[t], dh, out=ws.dZX[t])
        # ∂h_{t-1} = ∂z_t W_hh
        self.recurrent_product_backward(t, dz, w_hh, ws, dh_prev)
