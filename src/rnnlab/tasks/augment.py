"""Training-time augmentation of the series tasks' batches (``--noise``, ``--channel-drop``, ``--scale-jitter``).

Small series sets (EEG: 316 trials) are learned by heart within a few epochs; perturbing every
training batch afresh each epoch, in ways that should not change the class, is the usual cure.
The perturbations act on the prepared (pooled, standardised) batches, so their sizes are in
standard deviations of each channel. Only training batches are touched: validation, test and
``rnnlab predict`` see the series as they are, so nothing about augmentation is saved with a model.

Every draw comes from a generator seeded from the epoch's generator (``arrays.AugmentedBatches``,
used by ``Sequential.fit(augment=...)``), so a run is reproduced by its seed, and a resumed run
replays the same perturbations. The NumPy engine only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.models import arrays


@dataclass(frozen=True)
class Augment:
    """noise: std of Gaussian noise added to every value; channel_drop: chance that a channel of a
    series is zeroed (its training mean); scale_jitter: std of a per-series, per-channel gain around 1."""

    noise: float = 0.0
    channel_drop: float = 0.0
    scale_jitter: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.noise or self.channel_drop or self.scale_jitter)

    @classmethod
    def from_config(cls, cfg) -> Augment:
        return cls(cfg.noise, cfg.channel_drop, cfg.scale_jitter)

    def problems(self) -> list[str]:
        out = [f"--{k.replace('_', '-')} must be >= 0, got {getattr(self, k)!r}"
               for k in ("noise", "scale_jitter") if not getattr(self, k) >= 0]
        if not 0 <= self.channel_drop < 1:
            out.append(f"--channel-drop must be in [0, 1), got {self.channel_drop!r}")
        return out

    def __call__(self, X: np.ndarray, lengths, rng: np.random.Generator) -> np.ndarray:
        """A perturbed copy of the batch X (B, T, C); padding past ``lengths`` stays exactly zero."""
        B, T, C = X.shape
        X = X.copy()
        if self.scale_jitter:
            # x' = g·x, g ~ N(1, σ²) per series and channel (electrode gain and impedance vary)
            X *= (1 + self.scale_jitter * rng.standard_normal((B, 1, C))).astype(X.dtype)
        if self.channel_drop:
            # x'_c = 0 with probability p: no single electrode may decide the class
            X *= (rng.random((B, 1, C)) >= self.channel_drop).astype(X.dtype)
        if self.noise:
            # x' = x + ε, ε ~ N(0, σ²)
            X += (self.noise * rng.standard_normal(X.shape)).astype(X.dtype)
        if lengths is not None:
            X *= arrays.step_mask(lengths, B, T)[..., None]
        return X

