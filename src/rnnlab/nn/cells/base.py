"""What every cell shares: the per-sequence workspace that the time loop writes into, and the
recurrent product with its options (recurrent dropout before it, layer norm after it)."""
from __future__ import annotations

from types import SimpleNamespace
from typing import NamedTuple, Optional

import numpy as np

from rnnlab.nn import norm


class LayerNormParams(NamedTuple):
    """Gains and biases of one layer direction's layer norms (see ``Cell.norm_parameters``)."""
    ih_weight: np.ndarray
    ih_bias: np.ndarray
    hh_weight: np.ndarray
    hh_bias: np.ndarray
    c_weight: Optional[np.ndarray] = None
    c_bias: Optional[np.ndarray] = None


class Cell:
    """A cell knows its equations; ``Recurrent`` owns the time loop.

    Buffers are time-major and preallocated for the whole sequence, so ``step`` and
    ``step_backward`` write into them and allocate nothing:

    * ``S[k]`` (T+1, B, H): the k-th state (h, and c for LSTM), ``S[k][0]`` the initial one;
    * ``Sn[k]`` (T, B, H): the new candidate state S'_t that ``step`` writes; it *is* ``S[k][1:]``
      unless zoneout mixes S'_t with S_t, in which case ``Recurrent`` writes S_{t+1} itself;
    * ``HP`` (T, B, H): h_{t-1} ⊙ m_h, the operand of the recurrent product; it is ``S[0][:-1]``
      unless recurrent dropout is on;
    * ``G`` (T, B, n_gates*H): the gate activations of each step;
    * ``dZX`` (T, B, n_gates*H): ∂L/∂(x W_ihᵀ + b_ih) of each step, ``dZH`` the same for the
      recurrent pre-activation (one array for cells where the two are summed before any gate);
      ``dAH``: ∂L/∂(h W_hhᵀ) before the layer norm (``dZH`` itself without one).

    With ``layer_norm`` the cell also keeps, per step, the normalised pre-activations â and 1/σ of
    both products (``NX``, ``IX``, ``NH``, ``IH``), which is all that backward needs of them.
    """

    n_gates = 1
    n_states = 1
    fold_bias_hh = True  # b_hh can join the input projection (false for GRU: r multiplies W_hn h + b_hn)
    separate_dzh = False
    supports_layer_norm = False
    fuses_layer_norm = False  # its forward_sequence takes the raw input product and ws.bias (LN inside)
    min_split_work = 1 << 18  # least multiply-adds per batch slice and step worth a thread (batch_threads)

    def __init__(self, hidden_size: int, layer_norm: bool = False):
        self.hidden_size = hidden_size
        self.layer_norm = bool(layer_norm)

    def norm_parameters(self) -> dict:
        """Name → size of the layer-norm gains (``*_weight``, init 1) and biases (``*_bias``, init 0)."""
        G = self.n_gates * self.hidden_size
        return {"ln_ih_weight": G, "ln_ih_bias": G, "ln_hh_weight": G, "ln_hh_bias": G}

    def workspace(self, T: int, B: int, dtype, recurrent_dropout: bool = False,
                  zoneout: bool = False) -> SimpleNamespace:
        H, n = self.hidden_size, self.n_gates
        G = n * H
        ws = SimpleNamespace(T=T, B=B)
        ws.S = [np.zeros((T + 1, B, H), dtype) for _ in range(self.n_states)]
        ws.Sn = [np.zeros((T, B, H), dtype) for _ in ws.S] if zoneout else [S[1:] for S in ws.S]
        ws.HP = np.zeros((T, B, H), dtype) if recurrent_dropout else ws.S[0][:-1]
        ws.G = np.zeros((T, B, G), dtype)
        ws.dZX = np.zeros((T, B, G), dtype)
        ws.dZH = np.zeros((T, B, G), dtype) if self.separate_dzh else ws.dZX
        ws.dAH = ws.dZH
        ws.tmp = np.zeros((B, H), dtype)
        ws.mh = ws.ln = ws.U = None  # set by Recurrent.forward for each call
        ws.plain = True
        ws.gate_scale = ws.gate_shift = None  # step_prescale's factors while a plain NumPy loop runs
        if self.layer_norm:
            ws.NX, ws.NH, ws.dAX, ws.dAH = (np.zeros((T, B, G), dtype) for _ in range(4))
            ws.IX, ws.IH = np.zeros((T, B, n), dtype), np.zeros((T, B, n), dtype)
            ws.ln_scratch = (np.zeros((B, G), dtype), np.zeros((B, n), dtype), np.zeros((B, n), dtype))
        self.extra_buffers(ws, T, B, dtype)
        return ws

    def step_prescale(self, dtype):
        """Per-gate-column factors that the NumPy ``step`` wants folded into W_ih, W_hh and the
        biases of a plain layer (no dropout, zoneout or layer norm), or None. Powers of two only:
        scaling by them is exact (results move only by the last bit that NumPy's vectorised and
        scalar tanh loops differ in, depending on which elements each gets)."""
        return None

    def extra_buffers(self, ws, T, B, dtype) -> None:
        """Cell-specific caches (e.g. tanh(c) for the LSTM)."""

    def extra_norm_grads(self, ws) -> dict:
        """Gradients of cell-specific layer norms (the LSTM's LN_c), after the backward loop."""
        return {}

    # -- the recurrent product, shared by every cell ----------------------------------------------
    def recurrent_product(self, t, w_hh_t, ws, out):
        """out = A_h = (h_{t-1} ⊙ m_h) W_hhᵀ, layer-normalised per gate block when ``layer_norm``."""
        h = ws.S[0][t]
        if ws.mh is not None:
            # h_{t-1} ⊙ m_h: the same recurrent dropout mask at every step of a sequence
            h = np.multiply(h, ws.mh, out=ws.HP[t])
        np.matmul(h, w_hh_t, out=out)
        if self.layer_norm:
            # A_h = LN_hh(a) = γ_hh ⊙ (a - μ)/σ + β_hh, each gate block on its own
            norm.forward(out, ws.ln.hh_weight, ws.ln.hh_bias, ws.NH[t], ws.IH[t], out)

    def recurrent_product_backward(self, t, dzh, w_hh, ws, dh_prev):
        """dh_prev = ∂L/∂h_{t-1} through the recurrent product, from dzh = ∂L/∂A_h."""
        if self.layer_norm:
            # ∂a = LN_hhᵀ(∂A_h)
            dzh = norm.backward(dzh, ws.NH[t], ws.IH[t], ws.ln.hh_weight, ws.dAH[t], ws.ln_scratch)
        # ∂h_{t-1} = ∂a W_hh ⊙ m_h
        np.matmul(dzh, w_hh, out=dh_prev)
        if ws.mh is not None:
            dh_prev *= ws.mh

    # Optional whole-sequence Numba kernels (see kernels.py); None means Recurrent's Python loop.
    forward_sequence = None
    backward_sequence = None
