r"""Gated recurrent unit (Cho et al. 2014), gate order r, z, n as in PyTorch.

.. math::
    r_t = σ(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})
    z_t = σ(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})
    n_t = \tanh(W_{in} x_t + b_{in} + r_t ⊙ (W_{hn} h_{t-1} + b_{hn}))
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

r multiplies ``W_hn h + b_hn`` (PyTorch's and cuDNN's form), which is why b_hh stays apart from b_ih.

With ``layer_norm=True`` each product is normalised per gate block (r, z, n) and the biases stay
where torch puts them, after it (``cells/lstm.py`` says why):

.. math::
    a^x_t = \mathrm{LN}_{ih}(W_{ih} x_t) + b_{ih},\quad a^h_t = \mathrm{LN}_{hh}(W_{hh} h_{t-1}) + b_{hh}
    r_t = σ(a^x_r + a^h_r),\quad z_t = σ(a^x_z + a^h_z),\quad n_t = \tanh(a^x_n + r_t ⊙ a^h_n)
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

Recurrent dropout masks h_{t-1} inside W_hh h_{t-1} only; the carry z_t ⊙ h_{t-1} sees it unmasked.
"""
from __future__ import annotations

import numpy as np

from rnnlab.nn import kernels, kernels_options
from rnnlab.nn.cells.base import Cell
from rnnlab.nn.functional import sigmoid


class GRUCell(Cell):
    n_gates = 3
    n_states = 1
    fold_bias_hh = False
    separate_dzh = True
    supports_layer_norm = True

    def extra_buffers(self, ws, T, B, dtype):
        ws.ZH = np.zeros((T, B, 3 * self.hidden_size), dtype)  # h_{t-1} W_hhᵀ + b_hh, kept for r's gradient

    def forward_sequence(self, zx, w_hh_t, b_hh, ws, mask):
        if ws.plain:
            kernels.gru_forward_sequence(zx, w_hh_t, b_hh, ws.S[0], ws.G, ws.ZH, *kernels.mask_args(mask, zx))
            return
        ko = kernels_options
        ko.gru_forward_sequence_options(zx, w_hh_t, b_hh, ws.S[0], ws.Sn[0], ws.G, ws.ZH, *ko.dropout_args(ws, zx),
                                        *ko.norm_args(ws, zx, self.layer_norm), *ko.update_args(ws, zx, 1))

    def backward_sequence(self, dH, d, w_hh, ws, mask):
        if ws.plain:
            return (kernels.gru_backward_sequence(dH, d[0], ws.G, ws.ZH, ws.S[0], w_hh, ws.dZX, ws.dZH,
                                                  *kernels.mask_args(mask, dH)),)
        ko = kernels_options
        dH = np.ascontiguousarray(dH)  # one compiled signature for both directions
        _, mh, use_mh = ko.dropout_args(ws, dH)
        gh, _, NH, IH, use_ln = ko.norm_args(ws, dH, self.layer_norm)
        return (ko.gru_backward_sequence_options(dH, d[0], ws.G, ws.ZH, ws.S[0], w_hh, ws.dZX, ws.dZH, ws.dAH, mh,
                                                 use_mh, gh, NH, IH, use_ln, *ko.update_args(ws, dH, 1)),)

    def step(self, t, zx_t, w_hh_t, b_hh, ws):
        H = self.hidden_size
        h_prev, h, g, zh = ws.S[0][t], ws.Sn[0][t], ws.G[t], ws.ZH[t]
        # zh = h_{t-1} W_hhᵀ + b_hh     (h_{t-1} ⊙ m_h and LN_hh on the product when on)
        self.recurrent_product(t, w_hh_t, ws, zh)
        if kernels.ENABLED:
            kernels.gru_forward(zx_t, zh, b_hh, h_prev, g, h)
            return
        zh += b_hh
        rz, n = g[:, :2 * H], g[:, 2 * H:]
        # r = σ(zx_r + zh_r), z = σ(zx_z + zh_z)
        np.add(zx_t[:, :2 * H], zh[:, :2 * H], out=rz)
        sigmoid(rz, out=rz)
        # n = tanh(zx_n + r ⊙ zh_n)
        np.multiply(g[:, :H], zh[:, 2 * H:], out=n)
        n += zx_t[:, 2 * H:]
        np.tanh(n, out=n)
        # h_t = n + z ⊙ (h_{t-1} - n)      (= (1 - z) ⊙ n + z ⊙ h_{t-1})
        np.subtract(h_prev, n, out=h)
        h *= g[:, H:2 * H]
        h += n

    def step_backward(self, t, dh, dc, w_hh, ws, dh_prev, dc_prev):
        H = self.hidden_size
        g, zh, h_prev, dzx, dzh = ws.G[t], ws.ZH[t], ws.S[0][t], ws.dZX[t], ws.dZH[t]
        if kernels.ENABLED:
            kernels.gru_backward(g, zh, h_prev, dh, dzx, dzh, ws.tmp)
        else:
            r, z, n = g[:, :H], g[:, H:2 * H], g[:, 2 * H:]
            dr, dz, dn = dzx[:, :H], dzx[:, H:2 * H], dzx[:, 2 * H:]
            # ∂n_pre = ∂h ⊙ (1 - z) ⊙ (1 - n²)
            np.multiply(n, n, out=dn)
            np.subtract(1, dn, out=dn)
            np.subtract(1, z, out=ws.tmp)
            dn *= ws.tmp
            dn *= dh
            # ∂r_pre = ∂n_pre ⊙ zh_n ⊙ r(1 - r)
            np.subtract(1, r, out=dr)
            dr *= r
            dr *= zh[:, 2 * H:]
            dr *= dn
            # ∂z_pre = ∂h ⊙ (h_{t-1} - n) ⊙ z(1 - z)
            np.subtract(h_prev, n, out=ws.tmp)
            np.subtract(1, z, out=dz)
            dz *= z
            dz *= ws.tmp
            dz *= dh
            # the recurrent pre-activation sees r ⊙ ∂n_pre on its n block, the rest unchanged
            dzh[:, :2 * H] = dzx[:, :2 * H]
            np.multiply(dn, r, out=dzh[:, 2 * H:])
            # direct path of h_t = ... + z ⊙ h_{t-1}
            np.multiply(dh, z, out=ws.tmp)
        # ∂h_{t-1} = ∂zh W_hh + ∂h ⊙ z
        self.recurrent_product_backward(t, dzh, w_hh, ws, dh_prev)
        dh_prev += ws.tmp
