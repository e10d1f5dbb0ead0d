r"""Long short-term memory (Hochreiter & Schmidhuber 1997), gate order i, f, g, o as in PyTorch.

.. math::
    i_t = σ(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})
    f_t = σ(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})
    g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})
    o_t = σ(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ \tanh(c_t)
"""
from __future__ import annotations

import numpy as np

from rnnlab.nn import kernels
from rnnlab.nn.cells.base import Cell
from rnnlab.nn.functional import sigmoid


class LSTMCell(Cell):
    n_gates = 4
    n_states = 2

    def extra_buffers(self, ws, T, B, dtype):
        ws.TC = np.zeros((T, B, self.hidden_size), dtype)  # tanh(c_t), reused by backward

    def forward_sequence(self, zx, w_hh_t, b_hh, ws, mask):
        kernels.lstm_forward_sequence(zx, w_hh_t, ws.S[0], ws.S[1], ws.G, ws.TC, *kernels.mask_args(mask, zx))

    def backward_sequence(self, dH, d, w_hh, ws, mask):
        return kernels.lstm_backward_sequence(dH, d[0], d[1], ws.G, ws.TC, ws.S[1], w_hh, ws.dZX,
                                              *kernels.mask_args(mask, dH))

    def step(self, t, zx_t, w_hh_t, b_hh, ws):
        """One step forward: reads h_{t-1}, c_{t-1} at index t, writes h_t, c_t at t+1."""
        H = self.hidden_size
        (Hs, Cs), z, tc = ws.S, ws.G[t], ws.TC[t]
        # z = x_t W_ihᵀ + b_ih + b_hh + h_{t-1} W_hhᵀ     (four gates in one product; biases are in zx_t)
        np.matmul(Hs[t], w_hh_t, out=z)
        if kernels.ENABLED:
            kernels.lstm_forward(z, zx_t, Cs[t], Cs[t + 1], tc, Hs[t + 1])
            return
        z += zx_t
        i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
        # i = σ(z_i), f = σ(z_f), o = σ(z_o), g = tanh(z_g)     (in place: G holds the gates)
        sigmoid(z[:, :2 * H], out=z[:, :2 * H])
        sigmoid(o, out=o)
        np.tanh(g, out=g)
        # c_t = f ⊙ c_{t-1} + i ⊙ g
        c = Cs[t + 1]
        np.multiply(f, Cs[t], out=c)
        np.multiply(i, g, out=ws.tmp)
        c += ws.tmp
        # h_t = o ⊙ tanh(c_t)
        np.tanh(c, out=tc)
        np.multiply(o, tc, out=Hs[t + 1])

    def step_backward(self, t, dh, dc, w_hh, ws, dh_prev, dc_prev):
        """Given ∂L/∂h_t, ∂L/∂c_t (dc is overwritten), write ∂L/∂z_t to dZX[t] and ∂L/∂h_{t-1}, ∂L/∂c_{t-1}."""
        H = self.hidden_size
        z, tc, c_prev, dz = ws.G[t], ws.TC[t], ws.S[1][t], ws.dZX[t]
        if kernels.ENABLED:
            kernels.lstm_backward(z, tc, c_prev, dh, dc, dz, dc_prev)
        else:
            i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
            di, df, dg, do = dz[:, :H], dz[:, H:2 * H], dz[:, 2 * H:3 * H], dz[:, 3 * H:]
            tmp = ws.tmp
            # ∂c_t += ∂h_t ⊙ o ⊙ (1 - tanh²(c_t))     (the path through h_t = o ⊙ tanh(c_t))
            np.multiply(tc, tc, out=tmp)
            np.subtract(1, tmp, out=tmp)
            tmp *= o
            tmp *= dh
            dc += tmp
            # ∂z_o = ∂h_t ⊙ tanh(c_t) ⊙ o(1 - o)
            np.subtract(1, o, out=do)
            do *= o
            do *= tc
            do *= dh
            # ∂z_i = ∂c_t ⊙ g ⊙ i(1 - i)
            np.subtract(1, i, out=di)
            di *= i
            di *= g
            di *= dc
            # ∂z_f = ∂c_t ⊙ c_{t-1} ⊙ f(1 - f)
            np.subtract(1, f, out=df)
            df *= f
            df *= c_prev
            df *= dc
            # ∂z_g = ∂c_t ⊙ i ⊙ (1 - g²)
            np.multiply(g, g, out=dg)
            np.subtract(1, dg, out=dg)
            dg *= i
            dg *= dc
            # ∂c_{t-1} = ∂c_t ⊙ f
            np.multiply(dc, f, out=dc_prev)
        # ∂h_{t-1} = ∂z W_hh     (∂z is kept: the layer turns all steps into weight gradients at once)
        np.matmul(dz, w_hh, out=dh_prev)
