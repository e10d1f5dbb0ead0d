"""Synthetic long-term-dependency tasks from the LSTM literature: the adding problem and the copy task.

Both draw every random number from the ``numpy.random.Generator`` passed in, so a seed fixes
the data set exactly.
"""
from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError


def _positive_ints(fn: str, **values) -> None:
    bad = [f"{k} must be a positive integer, got {v!r}" for k, v in values.items()
           if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1]
    if bad:
        raise RnnlabError(f"{fn}: " + "; ".join(bad) + ".")


def _check_rng(fn: str, rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise RnnlabError(f"{fn} expected rng to be a numpy.random.Generator but got {type(rng).__name__}; "
                          "pass np.random.default_rng(seed).")
    return rng


def adding_problem(n: int, T: int, rng: np.random.Generator):
    """The adding problem (Hochreiter & Schmidhuber 1997): add the two marked numbers of a sequence.

    Parameters
    ----------
    n : int
        Number of sequences.
    T : int, at least 2
        Sequence length.
    rng : numpy.random.Generator

    Returns
    -------
    X : float32 array (n, T, 2)
        Channel 0: values drawn from U(0, 1). Channel 1: markers, exactly two 1s per sequence,
        one at a uniform step of the first half [0, T//2) and one in the second half [T//2, T).
    y : float32 array (n, 1)
        The sum of the two marked values.

    Notes
    -----
    The target is a sum of two U(0, 1) values, so always predicting its mean 1 scores an MSE
    of Var = 2/12 ≈ 0.167; a network that learns the task goes far below that. The first marker
    lies on average 3T/4 steps before the end, which is what makes the dependency long.

    Examples
    --------
    >>> X, y = adding_problem(4, 10, np.random.default_rng(0))
    >>> X.shape, y.shape, X[..., 1].sum(axis=1).tolist()
    ((4, 10, 2), (4, 1), [2.0, 2.0, 2.0, 2.0])
    """
    _positive_ints("adding_problem", n=n, T=T)
    if T < 2:
        raise RnnlabError(f"adding_problem needs T >= 2 so each half holds a marker, got T={T}.")
    rng = _check_rng("adding_problem", rng)
    half = T // 2
    values = rng.random((n, T))
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, T, size=n)
    markers = np.zeros((n, T))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    X = np.stack([values, markers], axis=2).astype(np.float32)
    y = (values[rows, first] + values[rows, second]).astype(np.float32)[:, None]
    return X, y


def copy_task(n: int, T: int, n_symbols: int, rng: np.random.Generator, copy_length: int = 10):
    """The copy task (Arjovsky et al. 2016): remember a short sequence over T blank steps, then repeat it.

    Parameters
    ----------
    n : int
        Number of sequences.
    T : int
        Delay: number of blank steps between the end of the symbols and the delimiter, plus one.
    n_symbols : int
        Alphabet size of the data symbols.
    rng : numpy.random.Generator
    copy_length : int, default 10
        Number of symbols L to remember.

    Returns
    -------
    X : int64 array (n, T + 2L)
        Token ids: L symbols from ``1..n_symbols``, T-1 blanks (0), a delimiter (``n_symbols + 1``),
        then L blanks.
    y : int64 array (n, T + 2L)
        T + L blanks (0), then the L symbols. Classes are ``0..n_symbols + 1`` (n_symbols + 2 in all),
        so a per-step ``CrossEntropyLoss`` with ``n_symbols + 2`` outputs fits it.

    Notes
    -----
    Predicting blanks everywhere and a uniform guess over the symbols at the L copy steps costs
    L·log(n_symbols) / (T + 2L) nats per step, the baseline a memoryless model cannot beat.

    Examples
    --------
    >>> X, y = copy_task(2, 5, 8, np.random.default_rng(0), copy_length=3)
    >>> X.shape, bool((y[:, -3:] == X[:, :3]).all()), int(X[0, 3 + 5 - 1])
    ((2, 11), True, 9)
    """
    _positive_ints("copy_task", n=n, T=T, n_symbols=n_symbols, copy_length=copy_length)
    rng = _check_rng("copy_task", rng)
    L = copy_length
    symbols = rng.integers(1, n_symbols + 1, size=(n, L))
    X = np.zeros((n, T + 2 * L), np.int64)
    y = np.zeros((n, T + 2 * L), np.int64)
    X[:, :L] = symbols
    X[:, L + T - 1] = n_symbols + 1   # the delimiter: "start repeating now"
    y[:, T + L:] = symbols
    return X, y
