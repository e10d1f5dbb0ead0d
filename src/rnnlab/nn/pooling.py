"""``MaskedPool``: one vector per sequence from the valid steps of a (B, T, F) sequence.

Reading a recurrent layer at its last step asks one state to remember the whole sequence;
pooling every step's output lets a classifier use any of them (Conneau et al. 2017 pool
BiLSTM outputs by max; mean and max together is the usual text-classifier head). Padded steps
(t ≥ lengths[b]) take no part in either statistic, so a padded batch gives the same vector as
each sequence alone.
"""
from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.nn.module import Module

MODES = {"meanmax": ("mean", "max"), "mean": ("mean",), "max": ("max",)}


class MaskedPool(Module):
    """Mean and/or max over the valid time steps of each sequence.

    Parameters
    ----------
    mode : {"meanmax", "mean", "max"}, default "meanmax"
        ``meanmax`` concatenates the mean and the max, [mean ‖ max], giving 2F features.
    dtype : numpy dtype, default float32

    Notes
    -----
    For sequence b with L_b = lengths[b] valid steps and features x_{b,t} (F,):

    mean_b = (1 / L_b) Σ_{t < L_b} x_{b,t}          ∂x_{b,t} = ∂mean_b / L_b          (t < L_b)
    max_b  = max_{t < L_b} x_{b,t}  (per feature)    ∂x_{b,t} = ∂max_b · [t = argmax]  (first on ties)

    Padded steps get a zero gradient. The layer has no parameters.

    Examples
    --------
    >>> pool = MaskedPool("meanmax")
    >>> x = np.array([[[1.0], [3.0], [9.0]]])           # (B=1, T=3, F=1); step 2 is padding
    >>> pool.forward(x, lengths=np.array([2])).tolist()
    [[2.0, 3.0]]
    """

    def __init__(self, mode: str = "meanmax", dtype=np.float32):
        super().__init__(dtype)
        if mode not in MODES:
            raise RnnlabError(f"MaskedPool mode must be one of {sorted(MODES)}, got {mode!r}.")
        self.mode = mode
        self.n_stats = len(MODES[mode])
        self._cache = None

    def output_size(self, n_features: int) -> int:
        """Features out for F features in: F, or 2F for meanmax."""
        return self.n_stats * n_features

    def _check(self, x, lengths):
        x = self._as_input("MaskedPool input", x)
        if x.ndim != 3 or 0 in x.shape:
            raise RnnlabError(f"MaskedPool expected input (batch, time, features) but got {x.shape}; "
                              "pool the output of a recurrent layer with return_sequences=True.")
        B, T, _ = x.shape
        if lengths is None:
            return x, np.full(B, T, np.int64)
        return x, self._check_lengths(lengths, B, T)

    def forward(self, x, lengths=None) -> np.ndarray:
        """x (B, T, F), lengths (B,) or None (all T valid) → (B, n_stats·F), [mean ‖ max] order."""
        x, lengths = self._check(x, lengths)
        B, T, F = x.shape
        valid = (np.arange(T)[None, :] < lengths[:, None])[:, :, None]           # (B, T, 1)
        outs, argmax = [], None
        for stat in MODES[self.mode]:
            if stat == "mean":
                # mean = Σ_{t<L} x_t / L;  padded steps are zeroed, whatever they hold
                outs.append(np.where(valid, x, 0).sum(1) / lengths[:, None].astype(self.dtype))
            else:
                # max over valid steps only: padding becomes -inf so it never wins
                argmax = np.where(valid, x, -np.inf).argmax(1)                    # (B, F)
                outs.append(np.take_along_axis(x, argmax[:, None, :], 1)[:, 0])
        self._cache = (x.shape, lengths, valid, argmax)
        return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=1)

    __call__ = forward

    def backward(self, d_out) -> np.ndarray:
        """∂L/∂out (B, n_stats·F) → ∂L/∂x (B, T, F), zero on padded steps."""
        if self._cache is None:
            raise RnnlabError("MaskedPool.backward called before forward; run forward on a batch first.")
        (B, T, F), lengths, valid, argmax = self._cache
        d_out = np.asarray(d_out, self.dtype)
        if d_out.shape != (B, self.n_stats * F):
            raise RnnlabError(f"MaskedPool.backward expected d_out {(B, self.n_stats * F)} but got {d_out.shape}.")
        dx = np.zeros((B, T, F), self.dtype)
        for k, stat in enumerate(MODES[self.mode]):
            d = d_out[:, k * F:(k + 1) * F]                                       # (B, F)
            if stat == "mean":
                # ∂x_t = ∂mean / L on valid steps
                dx += valid * (d / lengths[:, None].astype(self.dtype))[:, None, :]
            else:
                # ∂x_t = ∂max at the step that won, per feature
                np.put_along_axis(dx, argmax[:, None, :],
                                  np.take_along_axis(dx, argmax[:, None, :], 1) + d[:, None, :], 1)
        return dx
