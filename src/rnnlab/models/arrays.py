"""Array checks and batching shared by the models that take ``(X, y, lengths)`` arrays.

Everything here runs before training, so bad input fails in one sentence instead of an epoch in.
Sequences are batch-first and right-padded: row i is valid on ``[0, lengths[i])``.
"""
from __future__ import annotations

import numbers

import numpy as np

from rnnlab.errors import RnnlabError


def as_array(name: str, a) -> np.ndarray:
    """``np.asarray`` that turns ragged nested lists and strings into clear errors."""
    try:
        a = np.asarray(a)
    except ValueError:
        a = None
    if a is None or a.dtype == object:
        raise RnnlabError(f"{name} is ragged or holds Python objects; pad the sequences to one length "
                          "(a rectangular array) and pass their true lengths.")
    if a.dtype.kind in "SU":
        raise RnnlabError(f"{name} holds strings (dtype {a.dtype}); map tokens or labels to numbers first, "
                          "e.g. with a vocabulary or sklearn's LabelEncoder.")
    if a.dtype.kind not in "fiub":
        raise RnnlabError(f"{name} must be numeric, got dtype {a.dtype}.")
    return a


def check_sequences(X, *, ids: bool, n_features: int | None = None, vocab_size: int | None = None,
                    name: str = "X") -> np.ndarray:
    """Validate a batch-first sequence array.

    Parameters
    ----------
    X : array-like (N, T) of integer ids when ``ids``, else (N, T, n_features) of numbers
    ids : bool
        Whether the first layer is an embedding (integer ids) or reads feature vectors.
    n_features : int, optional
        Expected feature size F (ignored when ``ids``).
    vocab_size : int, optional
        With ``ids``: every id must lie in [0, vocab_size).

    Returns
    -------
    ndarray, the validated array (no copy when already an array).
    """
    X = as_array(name, X)
    if X.ndim == 0 or X.shape[0] == 0:
        raise RnnlabError(f"{name} is empty (shape {X.shape}); pass at least one sequence.")
    if ids:
        if X.ndim != 2:
            raise RnnlabError(f"{name} expected integer ids of shape (samples, time) for the Embedding "
                              f"but got shape {X.shape}.")
        if X.dtype.kind not in "iu":
            raise RnnlabError(f"{name} expected integer token ids for the Embedding but got dtype {X.dtype}; "
                              "convert with X.astype(int) or map tokens with a vocabulary.")
        if vocab_size is not None and X.size and (X.min() < 0 or X.max() >= vocab_size):
            raise RnnlabError(f"{name} ids must lie in [0, {vocab_size}) (the Embedding's num_embeddings) but "
                              f"range from {X.min()} to {X.max()}; check the vocabulary size.")
    elif X.ndim != 3 or (n_features is not None and X.shape[2] != n_features):
        raise RnnlabError(f"{name} expected shape (samples, time, {n_features}) but got {X.shape}; "
                          "check the first layer's input size and that arrays are batch-first.")
    if X.shape[1] == 0:
        raise RnnlabError(f"{name} has sequences of length 0 (shape {X.shape}); every sequence needs "
                          "at least one step.")
    if not ids and X.dtype.kind == "f" and not np.isfinite(X).all():
        raise RnnlabError(f"{name} contains NaN or infinite values; clean or impute them before training.")
    return X


UNIT_SCALE = (1e-2, 1e2)   # per-feature root mean square: warn above, or when every feature is below


def warn_if_far_from_unit_scale(X, lengths=None, name: str = "X") -> None:
    """Warn (``DataScaleWarning``) when a float input feature's root mean square over the valid steps
    exceeds ``UNIT_SCALE[1]`` (saturated gates, huge first gradients), or when every non-zero
    feature's lies below ``UNIT_SCALE[0]`` (the signal drowns in the biases). One near-constant
    feature among others, such as an image's always-dark border column, is no cause."""
    if X.dtype.kind != "f":
        return
    valid = X if lengths is None else X[np.arange(X.shape[1]) < np.asarray(lengths)[:, None]]
    rms = np.sqrt(np.mean(np.square(valid.reshape(-1, X.shape[-1]), dtype=np.float64), axis=0))
    lo, hi = UNIT_SCALE
    live = rms > 0
    far = np.flatnonzero(rms > hi) if (rms[live] >= lo).any() else np.flatnonzero(live)
    if far.size:
        import warnings

        from rnnlab.errors import DataScaleWarning

        k = far[np.argmax(np.abs(np.log10(rms[far])))]
        warnings.warn(f"{name} is far from unit scale ({far.size} of {rms.size} features; feature {k} has a "
                      f"root mean square of {rms[k]:.3g}); standardise each feature with training statistics, "
                      "(x - mean) / std, as rnnlab's tasks do, or training may stall or diverge.",
                      DataScaleWarning, stacklevel=3)


def check_lengths(lengths, N: int, T: int, name: str = "lengths") -> np.ndarray:
    """Validate per-sequence lengths: an integer array (N,) with values in [1, T] → int64 (N,)."""
    lengths = as_array(name, lengths)
    if lengths.shape != (N,) or lengths.dtype.kind not in "iu":
        raise RnnlabError(f"{name} expected {N} integers (one per sequence) but got {lengths.dtype} "
                          f"array of shape {lengths.shape}.")
    empty = np.flatnonzero(lengths < 1)
    if empty.size:
        raise RnnlabError(f"{name} has sequences of length 0 or less at rows {empty[:5].tolist()}; "
                          "drop empty sequences before training.")
    if lengths.max() > T:
        raise RnnlabError(f"{name} go up to {lengths.max()} but the sequences have only {T} steps; "
                          "lengths count the valid (unpadded) steps.")
    return lengths.astype(np.int64)


def lengths_from_padding(X: np.ndarray, padding_idx: int, name: str = "X") -> np.ndarray | None:
    """Lengths of right-padded id sequences: the count of non-padding ids per row, (N,) int64.

    Returns None when no row is padded (no masking needed).
    """
    keep = X != padding_idx                                                    # (N, T)
    lengths = keep.sum(axis=1).astype(np.int64)
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise RnnlabError(f"{name} rows {empty[:5].tolist()} contain only padding (id {padding_idx}), "
                          "i.e. have length 0; drop empty sequences before training.")
    # padding inside a sequence would make the count wrong, so insist on right padding
    bad = np.flatnonzero((keep != (np.arange(X.shape[1]) < lengths[:, None])).any(axis=1))
    if bad.size:
        raise RnnlabError(f"{name} must be right-padded with padding id {padding_idx}, but rows "
                          f"{bad[:5].tolist()} have padding before a token; pad at the end or pass lengths.")
    return None if lengths.min() == X.shape[1] else lengths


def step_mask(lengths, N: int, T: int) -> np.ndarray | None:
    """(N, T) boolean mask, True on valid steps; None when every step is valid."""
    if lengths is None:
        return None
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


def check_targets(y, *, N: int, T: int, per_step: bool, n_outputs: int, loss: str,
                  lengths=None, ignore_index=None, name: str = "y") -> np.ndarray:
    """Validate targets against the network output (N, [T,] n_outputs) for the loss.

    ``loss`` is "cross_entropy" (integer class ids, shape (N,) or (N, T)), "bce" (values in [0, 1])
    or "mse" (shape of the output, or without its last axis when n_outputs is 1).
    """
    y = as_array(name, y)
    lead = (N, T) if per_step else (N,)
    if y.ndim == 0 or y.shape[0] != N:
        got = "a scalar" if y.ndim == 0 else f"{y.shape[0]}"
        raise RnnlabError(f"X has {N} sequences but {name} has {got}; pass one target per sequence.")
    if loss == "cross_entropy":
        if y.dtype.kind not in "iu":
            raise RnnlabError(f"{name} must hold integer class ids for cross_entropy but has dtype {y.dtype}; "
                              "convert with y.astype(int), or use loss='mse' for real-valued targets.")
        if y.shape != lead:
            raise RnnlabError(f"{name} expected class ids of shape {lead} but got {y.shape}.")
        keep = step_mask(lengths, N, T) if per_step else None
        keep = np.ones(y.shape, bool) if keep is None else keep
        if ignore_index is not None:
            keep = keep & (y != ignore_index)
        vals = y[keep]
        if vals.size and (vals.min() < 0 or vals.max() >= n_outputs):
            raise RnnlabError(f"{name} class ids must lie in [0, {n_outputs}) (the last layer's outputs) but "
                              f"range from {vals.min()} to {vals.max()}; check the number of classes.")
        return y
    full = lead + (n_outputs,)
    if y.shape == lead and n_outputs == 1:
        y = y.reshape(full)
    if y.shape != full:
        raise RnnlabError(f"{name} expected shape {full} (the output shape) but got {y.shape}.")
    if not np.isfinite(y).all():
        raise RnnlabError(f"{name} contains NaN or infinite values; clean or drop them before training.")
    if loss == "bce" and (y.min() < 0 or y.max() > 1):
        raise RnnlabError(f"{name} must lie in [0, 1] for bce but ranges from {y.min()} to {y.max()}; "
                          "use cross_entropy for class ids.")
    return y


def split_validation(n: int, fraction, rng: np.random.Generator):
    """Shuffle with ``rng`` and hold out the last ``fraction`` (Keras' ``validation_split``).

    Returns (train_idx, valid_idx), two int arrays.
    """
    if not isinstance(fraction, numbers.Real) or isinstance(fraction, bool) or not 0 < fraction < 1:
        raise RnnlabError(f"validation_split must be a fraction in (0, 1), got {fraction!r}.")
    n_train = int(n * (1 - fraction))
    if n_train < 1 or n_train == n:
        raise RnnlabError(f"validation_split={fraction} of {n} sequences leaves an empty "
                          f"{'training' if n_train < 1 else 'validation'} set; change the fraction.")
    perm = rng.permutation(n)
    return perm[:n_train], perm[n_train:]


def batch_indices(n: int, batch_size: int, rng: np.random.Generator | None = None, *, shuffle: bool = True,
                  lengths=None, bucket: bool = False) -> list[np.ndarray]:
    """Split ``range(n)`` into batches of at most ``batch_size`` indices.

    With ``bucket`` (needs ``lengths``): sort by length plus uniform noise in [0, 2), cut into
    batches, then shuffle the batch order. Each batch holds sequences of nearly equal length, so
    little time is spent on padding, while the noise mixes neighbouring lengths between epochs.
    """
    if bucket:
        noise = rng.uniform(0.0, 2.0, n) if rng is not None else np.zeros(n)
        order = np.argsort(np.asarray(lengths) + noise, kind="stable")
    else:
        order = rng.permutation(n) if shuffle and rng is not None else np.arange(n)
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if bucket and shuffle and rng is not None:
        batches = [batches[k] for k in rng.permutation(len(batches))]
    return batches


class Batches:
    """The batches of one pass, cut by ``take`` lazily: ``len`` is known, no copy of the whole set is made.

    Parameters
    ----------
    X, y, lengths : arrays (N, ...), or None for y (prediction) and lengths (no padding)
    index_batches : list of int arrays
        From ``batch_indices``.
    per_step : bool
        Whether the targets are per time step (cut along with X).
    """

    def __init__(self, X, y, lengths, index_batches, per_step: bool = False):
        self.X, self.y, self.lengths, self.per_step = X, y, lengths, per_step
        self.index_batches = index_batches

    def __len__(self) -> int:
        return len(self.index_batches)

    def __iter__(self):
        for idx in self.index_batches:
            yield take(idx, self.X, self.y, self.lengths, per_step=self.per_step)


class AugmentedBatches(Batches):
    """``Batches`` whose X is perturbed by ``augment(Xb, lengths_b, rng)`` (training-time augmentation).

    The seeds are drawn from the epoch's generator ``rng`` when the epoch starts, and batch i draws
    from its own generator seeded by ``seeds[i]``: the same seed gives the same perturbations, and
    skipping batches (resuming part-way through an epoch) changes none of the others."""

    def __init__(self, X, y, lengths, index_batches, augment, rng: np.random.Generator, per_step=False):
        super().__init__(X, y, lengths, index_batches, per_step=per_step)
        self.augment = augment
        self.seeds = rng.integers(0, 2**63 - 1, size=len(index_batches))

    def __iter__(self):
        for idx, seed in zip(self.index_batches, self.seeds):
            Xb, yb, Lb = take(idx, self.X, self.y, self.lengths, per_step=self.per_step)
            yield self.augment(Xb, Lb, np.random.default_rng(seed)), yb, Lb


def take(idx, X, y=None, lengths=None, per_step: bool = False):
    """Rows ``idx`` of X (and y, lengths), cut to the longest sequence in the batch.

    Cutting right padding changes nothing for a masked network (padded steps carry the state) but
    saves the time those steps would cost. With ``per_step`` the targets (N, T, ...) are cut too.
    Returns (Xb, yb, Lb); Lb is None when no sequence of the batch is padded.
    """
    Xb = X[idx]
    Lb = None if lengths is None else lengths[idx]
    yb = None if y is None else y[idx]
    if Lb is not None:
        Tb = int(Lb.max())
        if Tb < X.shape[1]:
            Xb = Xb[:, :Tb]
            if yb is not None and per_step:
                yb = yb[:, :Tb]
        if Lb.min() == Tb:
            Lb = None  # nothing padded in this batch: the unmasked (faster) path gives the same result
    return Xb, yb, Lb
