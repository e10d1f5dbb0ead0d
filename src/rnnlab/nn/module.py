"""Module: a container of named parameters and their gradients, with PyTorch-style state dicts.

Gradient semantics: ``backward`` *overwrites* ``grads`` with the gradient of the last
forward call (there is no accumulation and so no ``zero_grad`` to forget).
"""
from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError


class Module:
    training: bool = True

    def __init__(self, dtype=np.float32):
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            self.dtype = None
        if self.dtype not in (np.float32, np.float64):
            raise RnnlabError(f"{type(self).__name__}: dtype must be float32 or float64, got {dtype!r}.")
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    @staticmethod
    def make_rng(seed) -> np.random.Generator:
        """A Generator from an int, None or a Generator; anything else is a clear error."""
        if isinstance(seed, np.random.Generator):
            return seed
        if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
            return np.random.default_rng(seed)
        raise RnnlabError(f"seed must be a non-negative integer, None or a numpy Generator, got {seed!r}.")

    # -- parameters -------------------------------------------------------------------------
    def add_param(self, name: str, value: np.ndarray) -> np.ndarray:
        value = np.ascontiguousarray(value, dtype=self.dtype)
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)
        return value

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def state_dict(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays into the parameters; every key must be present with the right shape."""
        missing = sorted(set(self.params) - set(state))
        extra = sorted(set(state) - set(self.params))
        bad = [f"{k}: expected {self.params[k].shape}, got {np.shape(state[k])}"
               for k in self.params if k in state and np.shape(state[k]) != self.params[k].shape]
        if missing or extra or bad:
            parts = []
            if missing:
                parts.append("missing " + ", ".join(missing))
            if extra:
                parts.append("unexpected " + ", ".join(extra))
            if bad:
                parts.append("misshapen " + "; ".join(bad))
            raise RnnlabError(f"{type(self).__name__}.load_state_dict: " + "; ".join(parts) + ".")
        for k, p in self.params.items():
            p[...] = np.asarray(state[k], dtype=self.dtype)

    # -- mode ---------------------------------------------------------------------------------
    def train(self, mode: bool = True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    def _check_lengths(self, lengths, B, T):
        """Valid steps per right-padded sequence: int array (B,) in [1, T], or None."""
        if lengths is None:
            return None
        lengths = np.asarray(lengths)
        if lengths.shape != (B,) or lengths.dtype.kind not in "iu":
            raise RnnlabError(f"lengths expected an integer array of shape ({B},) but got "
                              f"{lengths.dtype} {lengths.shape}.")
        if lengths.min() < 1 or lengths.max() > T:
            raise RnnlabError(f"lengths must lie in [1, {T}] (the time axis), got values from "
                              f"{lengths.min()} to {lengths.max()}.")
        return lengths.astype(np.int64)

    def _as_input(self, name: str, x) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise RnnlabError(f"{name} must be numeric, got dtype {x.dtype}.")
        return np.ascontiguousarray(x, dtype=self.dtype)
