"""Losses: ``MSELoss``, ``BCEWithLogitsLoss`` and ``CrossEntropyLoss``.

Interface: ``value = loss.forward(pred, target, mask=None)`` returns a Python float, the mean
over the unmasked elements; ``loss.backward()`` returns ∂value/∂pred with pred's shape, zero at
masked positions. ``predict_transform`` maps the network output to what ``predict`` reports
(identity, sigmoid or softmax), so the training API never needs to know which loss it holds.

A ``mask`` (1 = keep, 0 = skip) has the leading shape of the target, e.g. (B, T) for a per-step
target (B, T, F), and broadcasts over the trailing feature axes. When every position is masked
the value is 0.0 and the gradient is zero, so an all-padding batch cannot poison training.
"""
from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError, check_finite
from rnnlab.nn.functional import log_softmax, sigmoid, softmax


def _float(name: str, a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise RnnlabError(f"{name} must be numeric, got dtype {a.dtype}.")
    return a if a.dtype.kind == "f" else a.astype(np.float64)


def _mask(mask, shape: tuple, loss: str):
    """Boolean keep-mask broadcastable to ``shape``, or None."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.ndim > len(shape) or mask.shape != shape[:mask.ndim]:
        raise RnnlabError(f"{loss} expected a mask with the leading shape of the target {shape} "
                          f"(e.g. {shape[:2]}) but got {mask.shape}.")
    return (mask != 0).reshape(mask.shape + (1,) * (len(shape) - mask.ndim))


class Loss:
    """Base class: a subclass's ``forward`` validates, computes the per-position loss and its
    gradient, and hands both to ``_reduce`` for the masked mean."""

    def __init__(self):
        self._grad = None

    def forward(self, pred, target, mask=None) -> float:
        """Mean loss over the unmasked positions.

        Parameters
        ----------
        pred : ndarray
            Network output (shape depends on the loss).
        target : ndarray
            Targets.
        mask : ndarray, optional
            1 where the position counts, 0 where it is padding; leading shape of ``target``.
        """
        raise NotImplementedError

    __call__ = forward

    def backward(self) -> np.ndarray:
        """∂(mean loss)/∂pred for the last ``forward`` call, shaped like pred."""
        if self._grad is None:
            raise RnnlabError(f"{type(self).__name__}.backward called before forward; "
                              "compute the loss value first.")
        return self._grad

    def predict_transform(self, pred) -> np.ndarray:
        """Network output → prediction (probabilities for the classification losses)."""
        return np.asarray(pred)

    def _reduce(self, per: np.ndarray, grad: np.ndarray, keep) -> float:
        """Masked mean of ``per``; turns ``grad`` into ∂mean/∂pred in place and keeps it.

        ``grad`` has per's shape (elementwise losses) or per's shape + (C,) (cross-entropy);
        ``keep`` is None or a boolean array of per's rank.
        """
        if keep is None:
            n, total = per.size, per.sum(dtype=np.float64)
        else:
            n = int(np.broadcast_to(keep, per.shape).sum())
            total = per.sum(where=keep, dtype=np.float64)
            grad *= keep.reshape(keep.shape + (1,) * (grad.ndim - keep.ndim))
        self._grad = grad
        if n == 0:
            grad[...] = 0.0
            return 0.0
        grad /= grad.dtype.type(n)
        return float(total / n)


class _Elementwise(Loss):
    """Shared checks for losses whose target has pred's shape."""

    def _check(self, pred, target, mask):
        name = type(self).__name__
        pred, target = _float("pred", pred), _float("target", target)
        # (B, 1) predictions against (B,) labels is the common binary case; accept it
        if pred.ndim >= 1 and pred.shape[-1] == 1 and target.shape == pred.shape[:-1]:
            target = target[..., None]
        if target.shape != pred.shape:
            raise RnnlabError(f"{name} expected target of the prediction's shape {pred.shape} "
                              f"but got {target.shape}.")
        check_finite("target", target)
        # the target takes pred's dtype so a float32 network gets a float32 gradient
        return pred, target.astype(pred.dtype, copy=False), _mask(mask, pred.shape, name)


class MSELoss(_Elementwise):
    """Mean squared error over the unmasked elements.

    Notes
    -----
    L = (1/n) Σ_{kept} (pred - target)²,   ∂L/∂pred = 2 (pred - target) / n

    Examples
    --------
    >>> MSELoss().forward(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    2.0
    """

    def forward(self, pred, target, mask=None) -> float:
        """pred (...), target (...) same shape, mask (leading axes of pred) → float."""
        pred, target, keep = self._check(pred, target, mask)
        diff = pred - target
        # ∂/∂pred (pred - target)² = 2 (pred - target)
        return self._reduce(diff * diff, 2.0 * diff, keep)

    __call__ = forward


class BCEWithLogitsLoss(_Elementwise):
    """Binary cross-entropy on logits, as ``torch.nn.BCEWithLogitsLoss``.

    Notes
    -----
    With x the logit and y ∈ [0, 1] the target, the stable form of -[y log σ(x) + (1-y) log(1-σ(x))]:

    ℓ = max(x, 0) - x y + log(1 + e^{-|x|}),   ∂ℓ/∂x = σ(x) - y

    Examples
    --------
    >>> round(BCEWithLogitsLoss().forward(np.array([0.0]), np.array([1.0])), 4)
    0.6931
    """

    def forward(self, pred, target, mask=None) -> float:
        """pred logits (...), target in [0, 1] with pred's shape (or (B,) for pred (B, 1)) → float."""
        pred, target, keep = self._check(pred, target, mask)
        if target.size and (target.min() < 0 or target.max() > 1):
            raise RnnlabError(f"BCEWithLogitsLoss targets must lie in [0, 1] but got values from "
                              f"{target.min()} to {target.max()}; use CrossEntropyLoss for class ids.")
        # ℓ = max(x, 0) - x y + log1p(e^{-|x|}): never exponentiates a large positive number
        per = np.maximum(pred, 0) - pred * target + np.log1p(np.exp(-np.abs(pred)))
        # ∂ℓ/∂x = σ(x) - y
        return self._reduce(per, sigmoid(pred) - target, keep)

    __call__ = forward

    def predict_transform(self, pred) -> np.ndarray:
        return sigmoid(_float("pred", pred))


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy on logits with integer class targets, channel-last.

    Parameters
    ----------
    ignore_index : int, optional
        Target value that marks padding: such positions count neither in the mean nor in the
        gradient, like ``torch.nn.CrossEntropyLoss(ignore_index=...)``.

    Notes
    -----
    Logits (B, C) with targets (B,), or per time step (B, T, C) with targets (B, T) and an
    optional mask (B, T). With p = softmax(z) and n the number of kept positions:

    L = -(1/n) Σ_{kept} log p[y],   ∂L/∂z = (p - onehot(y)) / n

    Examples
    --------
    >>> round(CrossEntropyLoss().forward(np.zeros((1, 4)), np.array([2])), 4)
    1.3863
    """

    def __init__(self, ignore_index=None):
        super().__init__()
        if ignore_index is not None and (not isinstance(ignore_index, (int, np.integer))
                                         or isinstance(ignore_index, bool)):
            raise RnnlabError(f"CrossEntropyLoss ignore_index must be an integer or None, "
                              f"got {ignore_index!r}.")
        self.ignore_index = ignore_index

    def forward(self, pred, target, mask=None) -> float:
        """pred logits (..., C), target integer ids pred.shape[:-1], mask target's shape → float."""
        z = _float("logits", pred)
        target = np.asarray(target)
        if z.ndim < 2 or target.shape != z.shape[:-1]:
            raise RnnlabError(f"CrossEntropyLoss expected logits (batch, [time,] classes) and targets of "
                              f"shape logits.shape[:-1] but got logits {z.shape} and targets {target.shape}.")
        if target.dtype.kind not in "iu":
            raise RnnlabError(f"CrossEntropyLoss expected integer class ids but got dtype {target.dtype}; "
                              "use BCEWithLogitsLoss or MSELoss for real-valued targets.")
        C = z.shape[-1]
        keep = _mask(mask, target.shape, "CrossEntropyLoss")
        keep = np.ones(target.shape, bool) if keep is None else np.broadcast_to(keep, target.shape).copy()
        if self.ignore_index is not None:
            keep &= target != self.ignore_index
        y = target[keep]
        if y.size and (y.min() < 0 or y.max() >= C):
            raise RnnlabError(f"CrossEntropyLoss targets must lie in [0, {C}) (the number of classes) but "
                              f"got values from {y.min()} to {y.max()}; set ignore_index for padding ids.")
        # masked positions may hold any id (padding); a safe 0 keeps the gather in range
        safe = np.where(keep, target, 0).astype(np.intp)[..., None]
        # -log p[y] = -(z_y - logsumexp(z)), with the max subtracted inside log_softmax
        logp = log_softmax(z)
        per = -np.take_along_axis(logp, safe, axis=-1)[..., 0]
        # ∂/∂z = softmax(z) - onehot(y)
        grad = np.exp(logp)
        np.put_along_axis(grad, safe, np.take_along_axis(grad, safe, axis=-1) - 1, axis=-1)
        return self._reduce(per, grad, keep)

    __call__ = forward

    def predict_transform(self, pred) -> np.ndarray:
        return softmax(_float("pred", pred), axis=-1)
