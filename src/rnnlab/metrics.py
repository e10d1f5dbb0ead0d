"""Scores for the tasks: forecast errors (MASE, sMAPE), accuracy, and edit-distance error rates (PER, WER).

    mase  = mean|y - ŷ| / mean_t |y_train[t] - y_train[t - m]|          (m = season; < 1 beats the naive)
    smape = mean 200 · |y - ŷ| / (|y| + |ŷ|)                            (percent, 0 ≤ smape ≤ 200)
    per, wer = Σ edit_distance(ref, hyp) / Σ len(ref)                   (over all utterances)
"""
from __future__ import annotations

import numbers

import numpy as np

from rnnlab.errors import RnnlabError


def _pair(name: str, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    a, f = np.asarray(y_true), np.asarray(y_pred)
    if a.shape != f.shape:
        raise RnnlabError(f"{name}: y_true has shape {a.shape} but y_pred has {f.shape}; pass one prediction "
                          "per true value.")
    if a.size == 0:
        raise RnnlabError(f"{name}: y_true and y_pred are empty; pass at least one value.")
    return a, f


def _numeric(name: str, *arrays) -> list[np.ndarray]:
    out = []
    for a in arrays:
        if a.dtype.kind not in "fiub":
            raise RnnlabError(f"{name} needs numbers, got dtype {a.dtype}.")
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise RnnlabError(f"{name} got NaN or infinite values; clean them before scoring.")
        out.append(a)
    return out


def mase(y_true, y_pred, y_train, season: int = 1) -> float:
    """Mean absolute scaled error: the forecast's MAE over the in-sample seasonal naive MAE.

    Parameters
    ----------
    y_true, y_pred : array (h,) or (h, K)
        Held-out values and their forecasts.
    y_train : array (T,) or (T, K)
        The training series; its seasonal naive forecast ŷ_t = y_{t-m} sets the scale.
    season : int, default 1
        m; 1 gives the random-walk scale, 11 the sunspot cycle, 12 monthly seasonality.

    Returns
    -------
    float
        With K series, each column is scaled by its own naive MAE and the mean is over all values.

    Examples
    --------
    >>> mase([3, 5], [4, 4], [1, 2, 4])     # naive MAE (1 + 2) / 2 = 1.5; forecast MAE 1
    0.6666666666666666
    """
    a, f = _pair("mase", y_true, y_pred)
    train = np.asarray(y_train)
    a, f, train = _numeric("mase", a, f, train)
    if not isinstance(season, numbers.Integral) or isinstance(season, bool) or season < 1:
        raise RnnlabError(f"mase: season must be a positive integer, got {season!r}.")
    if train.ndim != a.ndim or train.shape[1:] != a.shape[1:]:
        raise RnnlabError(f"mase: y_train has shape {train.shape} but y_true {a.shape}; they need the same "
                          "columns (time along the first axis).")
    if len(train) <= season:
        raise RnnlabError(f"mase: y_train has {len(train)} values, too few for a seasonal naive with "
                          f"season={season}; it needs at least {season + 1}.")
    scale = np.abs(train[season:] - train[:-season]).mean(axis=0)
    if np.any(scale == 0):
        raise RnnlabError("mase: the training series equals its seasonal naive forecast (scale 0), so MASE "
                          "is undefined; use MAE instead.")
    return float((np.abs(a - f) / scale).mean())


def smape(y_true, y_pred) -> float:
    """Symmetric MAPE in percent: mean of 200·|a - f| / (|a| + |f|); a term with a = f = 0 counts 0.

    Examples
    --------
    >>> smape([100, 0], [110, 0])           # 200·10/210 and 0
    4.761904761904762
    """
    a, f = _numeric("smape", *_pair("smape", y_true, y_pred))
    den = np.abs(a) + np.abs(f)
    terms = np.divide(200.0 * np.abs(a - f), den, out=np.zeros_like(den), where=den > 0)
    return float(terms.mean())


def accuracy(y_true, y_pred) -> float:
    """Share of positions where ``y_true == y_pred`` (any shapes, as long as they match).

    Examples
    --------
    >>> accuracy([1, 2, 3, 4], [1, 2, 0, 4])
    0.75
    """
    a, f = _pair("accuracy", y_true, y_pred)
    return float(np.mean(a == f))


def edit_distance(ref, hyp) -> int:
    """Levenshtein distance between two token sequences (substitutions, insertions, deletions cost 1).

    One DP row per reference token; inside a row, insertions chain left to right, which
    ``minimum.accumulate`` of d[j] - j resolves at once: d[j] = min_{i ≤ j}(d[i] + j - i).

    Examples
    --------
    >>> edit_distance("kitten", "sitting")
    3
    """
    ref, hyp = list(ref), list(hyp)
    cols = np.arange(len(hyp) + 1)
    row = cols.copy()                                              # distance from the empty prefix of ref
    for i, r in enumerate(ref, 1):
        sub = row[:-1] + np.array([r != h for h in hyp], dtype=np.int64)   # match or substitute
        new = np.concatenate([[i], np.minimum(sub, row[1:] + 1)])         # ... or delete r
        row = np.minimum.accumulate(new - cols) + cols                      # ... or insert hyp tokens
    return int(row[-1])


def _tokens(x, split: bool):
    if isinstance(x, str):
        return x.split() if split else list(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return list(x)


def _error_rate(name: str, refs, hyps) -> float:
    if isinstance(refs, str) or isinstance(hyps, str):
        raise RnnlabError(f"{name} expects lists of utterances, got a single string; wrap it: {name}([ref], [hyp]).")
    refs, hyps = list(refs), list(hyps)
    if len(refs) != len(hyps):
        raise RnnlabError(f"{name}: {len(refs)} references but {len(hyps)} hypotheses; pass one hypothesis "
                          "per reference.")
    if not refs:
        raise RnnlabError(f"{name}: no utterances to score; pass at least one reference.")
    refs = [_tokens(r, True) for r in refs]
    total = sum(len(r) for r in refs)
    if total == 0:
        raise RnnlabError(f"{name}: every reference is empty, so the rate has no denominator.")
    return sum(edit_distance(r, _tokens(h, True)) for r, h in zip(refs, hyps)) / total


def per(refs, hyps) -> float:
    """Phoneme error rate: Σ edit distance / Σ reference length over all utterances.

    Parameters
    ----------
    refs, hyps : sequences of utterances
        Each utterance is a sequence of phoneme tokens (``["HH", "AH0", "L", "OW1"]``) or a string of
        space-separated phonemes (``"HH AH0 L OW1"``).

    Examples
    --------
    >>> per(["HH AH0 L OW1"], ["HH AH1 L OW1"])
    0.25
    """
    return _error_rate("per", refs, hyps)


def wer(refs, hyps) -> float:
    """Word error rate: as ``per`` with words; a string utterance is split on whitespace.

    Examples
    --------
    >>> wer(["the cat sat", "hello"], ["the cat sat down", "hello"])
    0.25
    """
    return _error_rate("wer", refs, hyps)
