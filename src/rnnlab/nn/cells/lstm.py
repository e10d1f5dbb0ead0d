r"""Long short-term memory (Hochreiter & Schmidhuber 1997), gate order i, f, g, o as in PyTorch.

.. math::
    i_t = σ(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})
    f_t = σ(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})
    g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})
    o_t = σ(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ \tanh(c_t)

With ``layer_norm=True`` (Ba et al. 2016) each of the two products is normalised per gate block
(LN(a) = γ ⊙ (a - μ)/σ + β over the H units of each of i, f, g, o) and so is the cell before its tanh:

.. math::
    (z_i, z_f, z_g, z_o) = \mathrm{LN}_{ih}(W_{ih} x_t) + b_{ih} + \mathrm{LN}_{hh}(W_{hh} h_{t-1}) + b_{hh}
    c_t = σ(z_f) ⊙ c_{t-1} + σ(z_i) ⊙ \tanh(z_g)
    h_t = σ(z_o) ⊙ \tanh(\mathrm{LN}_c(c_t))

The biases b_ih and b_hh stay where torch puts them, *after* the normalisation: LN replaces only
the two matrix products. A bias added before LN would lose its mean over each gate block to the
μ that LN subtracts, so the forget-gate bias of 1 (constant over the block) would vanish exactly.
After LN, b_ih + b_hh overlaps β_ih + β_hh (only the sum acts), which costs nothing and keeps the
forget-gate initialisation, torch's state_dict layout plus the ``ln_*`` keys, and, for the GRU,
b_hn inside r ⊙ (·). The cell c_t itself is carried unnormalised; LN_c only feeds h_t.

Options of the layer that act here (see ``Recurrent``): recurrent dropout multiplies h_{t-1} by a
per-sequence mask m_h inside W_hh h_{t-1}; zoneout turns (h_t, c_t) into candidates (h'_t, c'_t)
that ``Recurrent`` mixes with (h_{t-1}, c_{t-1}); h'_t is computed from c'_t (Krueger et al. 2017).
"""
from __future__ import annotations

import numpy as np

from rnnlab.nn import kernels, kernels_ln_lstm, kernels_options, norm
from rnnlab.nn.cells.base import Cell
from rnnlab.nn.functional import sigmoid


class LSTMCell(Cell):
    n_gates = 4
    n_states = 2
    supports_layer_norm = True
    fuses_layer_norm = True
    min_split_work = 1 << 19  # 16 rows of hidden 64 per slice (2^18) did not pay: benchmarks/batch_split.py

    def norm_parameters(self):
        return {**super().norm_parameters(), "ln_c_weight": self.hidden_size, "ln_c_bias": self.hidden_size}

    def extra_buffers(self, ws, T, B, dtype):
        ws.TC = np.zeros((T, B, self.hidden_size), dtype)  # tanh(c_t) or tanh(LN_c(c_t)), reused by backward
        H = self.hidden_size
        ws.slope_a, ws.slope_b = np.zeros(4 * H, dtype), np.ones(4 * H, dtype)  # see step_backward
        ws.slope_a[2 * H:3 * H], ws.slope_b[2 * H:3 * H] = 1, 0
        if self.layer_norm:
            # LN_c: normalised cell ĉ, 1/σ, and ∂L/∂LN_c(c) of each step (for ∂γ_c, ∂β_c)
            ws.NC, ws.dCN, ws.IC = np.zeros((T, B, H), dtype), np.zeros((T, B, H), dtype), np.zeros((T, B, 1), dtype)
            ws.ln_c_scratch = (np.zeros((B, H), dtype), np.zeros((B, 1), dtype), np.zeros((B, 1), dtype))

    def step_prescale(self, dtype):
        # σ(z) = ½ + ½ tanh(z/2): with z/2 in place of z for i, f, o, one tanh serves all four gates
        H = self.hidden_size
        s = np.ones(4 * H, dtype)
        s[:2 * H] = s[3 * H:] = 0.5
        return s

    def extra_norm_grads(self, ws):
        T, B, H = ws.TC.shape
        g, b = norm.param_grads(ws.dCN.reshape(T * B, H), ws.NC.reshape(T * B, H))
        return {"ln_c_weight": g, "ln_c_bias": b}

    # -- whole sequences (Numba) ----------------------------------------------------------------
    def forward_sequence(self, zx, w_hh_t, b_hh, ws, mask):
        if ws.plain:
            kernels.lstm_forward_sequence(zx, w_hh_t, ws.S[0], ws.S[1], ws.G, ws.TC, *kernels.mask_args(mask, zx))
            return
        ko = kernels_options
        if self.layer_norm:  # zx is ws.NX holding the raw x W_ihᵀ here (fuses_layer_norm)
            ln = ws.ln
            kernels_ln_lstm.lstm_ln_forward_sequence(
                w_hh_t, *ws.S, *ws.Sn, ws.G, ws.TC, *ko.dropout_args(ws, zx), ln.ih_weight, ln.hh_weight,
                ws.bias, ws.NX, ws.IX, ws.NH, ws.IH, ln.c_weight, ln.c_bias, ws.NC, ws.IC, *ko.update_args(ws, zx, 2))
            return
        ko.lstm_forward_sequence_options(zx, w_hh_t, *ws.S, *ws.Sn, ws.G, ws.TC, *ko.dropout_args(ws, zx),
                                         *ko.update_args(ws, zx, 2))

    def backward_sequence(self, dH, d, w_hh, ws, mask):
        if ws.plain:
            return kernels.lstm_backward_sequence(dH, d[0], d[1], ws.G, ws.TC, ws.S[1], w_hh, ws.dZX,
                                                  *kernels.mask_args(mask, dH))
        ko = kernels_options
        dH = np.ascontiguousarray(dH)  # one compiled signature for both directions
        _, mh, use_mh = ko.dropout_args(ws, dH)
        if self.layer_norm:
            ln, G, H = ws.ln, ws.G.shape[2], self.hidden_size
            g = {k: np.empty(n, dH.dtype) for k, n in (("ih", G), ("hh", G), ("b", G), ("c", H), ("cb", H))}
            d = kernels_ln_lstm.lstm_ln_backward_sequence(
                dH, d[0], d[1], ws.G, ws.TC, ws.S[1], w_hh, mh, use_mh, ln.ih_weight, ws.NX, ws.IX,
                ln.hh_weight, ws.NH, ws.IH, ln.c_weight, ws.NC, ws.IC, g["ih"], g["hh"], g["b"], g["c"], g["cb"],
                *ko.update_args(ws, dH, 2))
            ws.d_products = ws.NX, ws.NH  # the loop wrote ∂(x W_ihᵀ), ∂(h W_hhᵀ) over â_x, â_h
            # β_ih, β_hh, b_ih and b_hh all sit in the one sum that enters the gates: one gradient
            ws.norm_grads = {"ln_ih_weight": g["ih"], "ln_hh_weight": g["hh"], "ln_c_weight": g["c"],
                             "ln_c_bias": g["cb"], "ln_ih_bias": g["b"], "ln_hh_bias": g["b"], "b_ih": g["b"],
                             "b_hh": g["b"]}
            return d
        return ko.lstm_backward_sequence_options(dH, d[0], d[1], ws.G, ws.TC, ws.S[1], w_hh, ws.dZX, mh, use_mh,
                                                 *ko.update_args(ws, dH, 2))

    # -- one step (NumPy, or the fused elementwise kernels) ---------------------------------------
    def step(self, t, zx_t, w_hh_t, b_hh, ws):
        """One step forward: reads h_{t-1}, c_{t-1} at index t, writes h'_t, c'_t to Sn[·][t]."""
        H = self.hidden_size
        Cs, z, tc = ws.S[1], ws.G[t], ws.TC[t]
        h, c = ws.Sn[0][t], ws.Sn[1][t]
        # z = x_t W_ihᵀ + b_ih + b_hh + h_{t-1} W_hhᵀ     (four gates in one product; biases are in zx_t)
        self.recurrent_product(t, w_hh_t, ws, z)
        if kernels.ENABLED:
            kernels.lstm_forward(z, zx_t, Cs[t], c, tc, h)
            if self.layer_norm:  # replaces tanh(c'_t) and h'_t by their LN_c forms
                ln = ws.ln
                kernels_options.lstm_cell_norm(c, z, ln.c_weight, ln.c_bias, ws.NC[t], ws.IC[t], tc, h)
            return
        z += zx_t
        i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
        if ws.gate_scale is not None:
            # z holds (z_i/2, z_f/2, z_g, z_o/2) (step_prescale): i, f, o = ½ + ½ tanh(z/2), g = tanh(z_g)
            np.tanh(z, out=z)
            z *= ws.gate_scale
            z += ws.gate_shift
        else:
            # i = σ(z_i), f = σ(z_f), o = σ(z_o), g = tanh(z_g)     (in place: G holds the gates)
            sigmoid(z[:, :2 * H], out=z[:, :2 * H])
            sigmoid(o, out=o)
            np.tanh(g, out=g)
        # c'_t = f ⊙ c_{t-1} + i ⊙ g
        np.multiply(f, Cs[t], out=c)
        np.multiply(i, g, out=ws.tmp)
        c += ws.tmp
        if self.layer_norm:
            # h'_t = o ⊙ tanh(LN_c(c'_t)),  LN_c(c) = γ_c ⊙ (c - μ)/σ + β_c
            norm.forward(c, ws.ln.c_weight, ws.ln.c_bias, ws.NC[t], ws.IC[t], tc)
            np.tanh(tc, out=tc)
        else:
            # h'_t = o ⊙ tanh(c'_t)
            np.tanh(c, out=tc)
        np.multiply(o, tc, out=h)

    def step_backward(self, t, dh, dc, w_hh, ws, dh_prev, dc_prev):
        """Given ∂L/∂h'_t, ∂L/∂c'_t (dc is overwritten), write ∂L/∂z_t to dZX[t] and ∂L/∂h_{t-1}, ∂L/∂c_{t-1}."""
        H = self.hidden_size
        z, tc, c_prev, dz = ws.G[t], ws.TC[t], ws.S[1][t], ws.dZX[t]
        if kernels.ENABLED:
            if self.layer_norm:  # adds the path through h'_t = o ⊙ tanh(LN_c(c'_t)) to dc
                kernels_options.lstm_cell_norm_backward(dh, z, tc, ws.ln.c_weight, ws.NC[t], ws.IC[t], ws.dCN[t], dc)
            kernels.lstm_backward(z, tc, c_prev, dh, dc, dz, dc_prev, not self.layer_norm)
        else:
            i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
            di, df, dg, do = dz[:, :H], dz[:, H:2 * H], dz[:, 2 * H:3 * H], dz[:, 3 * H:]
            tmp = ws.tmp
            # ∂c_t += ∂h_t ⊙ o ⊙ (1 - tanh²(c_t))     (the path through h_t = o ⊙ tanh(c_t))
            u = ws.dCN[t] if self.layer_norm else tmp
            np.multiply(tc, tc, out=u)
            np.subtract(1, u, out=u)
            u *= o
            u *= dh
            if self.layer_norm:  # with LN_c, u = ∂L/∂LN_c(c'_t) and ∂c'_t += LN_cᵀ(u)
                norm.backward(u, ws.NC[t], ws.IC[t], ws.ln.c_weight, tmp, ws.ln_c_scratch)
            dc += tmp
            # gate slopes, all four in three passes: σ' = s(1 - s) for i, f, o and tanh' = 1 - g² for g,
            # i.e. G ⊙ (β - G) + α with (α, β) = (0, 1) on σ's columns and (1, 0) on tanh's
            np.subtract(ws.slope_b, z, out=dz)
            dz *= z
            dz += ws.slope_a
            # ∂z_i = ∂c_t ⊙ g ⊙ i(1 - i),  ∂z_f = ∂c_t ⊙ c_{t-1} ⊙ f(1 - f),  ∂z_g = ∂c_t ⊙ i ⊙ (1 - g²)
            di *= g
            df *= c_prev
            dg *= i
            dz.reshape(-1, 4, H)[:, :3] *= dc[:, None, :]  # (i, f, g) blocks of a view: in place
            # ∂z_o = ∂h_t ⊙ tanh(c_t) ⊙ o(1 - o)
            do *= tc
            do *= dh
            # ∂c_{t-1} = ∂c_t ⊙ f
            np.multiply(dc, f, out=dc_prev)
        # ∂h_{t-1} = ∂z W_hh     (∂z is kept: the layer turns all steps into weight gradients at once)
        self.recurrent_product_backward(t, dz, w_hh, ws, dh_prev)
