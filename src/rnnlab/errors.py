"""Errors raised on bad input: one sentence that says what was expected and what to do."""
from __future__ import annotations

try:  # NotFittedError also subclasses scikit-learn's when it is installed, as skorch does.
    from sklearn.exceptions import NotFittedError as _SkNotFitted
except ImportError:  # pragma: no cover - scikit-learn is optional
    class _SkNotFitted(ValueError, AttributeError):
        pass


class RnnlabError(ValueError):
    """Bad input or configuration. Subclasses ValueError so callers can catch either."""


class NotFittedError(RnnlabError, _SkNotFitted):
    """A model or estimator was used before it was trained."""


class TrainingInterrupted(Exception):
    """Training stopped on SIGINT/SIGTERM after writing a checkpoint that resumes it."""


class DataScaleWarning(UserWarning):
    """Inputs far from unit scale: training will be slow or unstable unless they are standardised."""


def check_shape(name: str, arr, expected: tuple, hint: str = "") -> None:
    """Raise RnnlabError unless ``arr.shape`` matches ``expected`` (None matches any size)."""
    shape = getattr(arr, "shape", None)
    ok = shape is not None and len(shape) == len(expected) and all(
        e is None or e == s for e, s in zip(expected, shape))
    if not ok:
        want = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise RnnlabError(f"{name} expected shape {want} but got {shape}" + (f"; {hint}" if hint else "."))


def check_finite(name: str, arr) -> None:
    import numpy as np
    if not np.all(np.isfinite(arr)):
        raise RnnlabError(f"{name} contains NaN or infinite values; clean or impute them before calling.")
