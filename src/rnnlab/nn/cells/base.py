"""What every cell shares: the per-sequence workspace that the time loop writes into."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np


class Cell:
    """A cell knows its equations; ``Recurrent`` owns the time loop.

    Buffers are time-major and preallocated for the whole sequence, so ``step`` and
    ``step_backward`` write into them and allocate nothing:

    * ``S[k]`` (T+1, B, H): the k-th state (h, and c for LSTM), ``S[k][0]`` the initial one;
    * ``G`` (T, B, n_gates*H): the gate activations of each step;
    * ``dZX`` (T, B, n_gates*H): ∂L/∂(x W_ihᵀ + b_ih) of each step, ``dZH`` the same for the
      recurrent pre-activation (one array for cells where the two are summed before any gate).
    """

    n_gates = 1
    n_states = 1
    fold_bias_hh = True  # b_hh can join the input projection (false for GRU: r multiplies W_hn h + b_hn)
    separate_dzh = False

    def __init__(self, hidden_size: int):
        self.hidden_size = hidden_size

    def workspace(self, T: int, B: int, dtype) -> SimpleNamespace:
        H, G = self.hidden_size, self.n_gates * self.hidden_size
        ws = SimpleNamespace(T=T, B=B)
        ws.S = [np.zeros((T + 1, B, H), dtype) for _ in range(self.n_states)]
        ws.G = np.zeros((T, B, G), dtype)
        ws.dZX = np.zeros((T, B, G), dtype)
        ws.dZH = np.zeros((T, B, G), dtype) if self.separate_dzh else ws.dZX
        ws.tmp = np.zeros((B, H), dtype)
        self.extra_buffers(ws, T, B, dtype)
        return ws

    def extra_buffers(self, ws, T, B, dtype) -> None:
        """Cell-specific caches (e.g. tanh(c) for the LSTM)."""

    # Optional whole-sequence Numba kernels (see kernels.py); None means Recurrent's Python loop.
    forward_sequence = None
    backward_sequence = None
