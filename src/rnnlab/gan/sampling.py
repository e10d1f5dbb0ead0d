"""Batched generation from a ``LanguageModel``: one recurrent step at a time, every row at once.

The time loop is the only sequential part, so each step does as little as possible: one
``rnn.forward`` of length 1 from an explicit state (the layer's own step, no carried state), one
output product, and one draw per row from the softmax by inverse CDF. A draw reads (N, V)
exponentials once; at V = 5000 that, not the recurrence, is what a step costs.
"""
from __future__ import annotations

import numpy as np

from rnnlab.models.language import LanguageModel


def categorical(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One id per row drawn from softmax(logits), (N, V) → (N,) int64, by a two-level inverse CDF.

    A full cumulative sum over (N, V) costs several passes; instead the V ids are cut into blocks
    of k ≈ √V: a block is chosen by the inverse CDF of the block masses, then an id inside it by
    the inverse CDF of that block alone (N·k work). Ids of probability 0 are never drawn.
    """
    N, V = logits.shape
    k = int(np.ceil(np.sqrt(V)))
    nb = -(-V // k)
    # p ∝ exp(z - max z): the max keeps exp finite; padding ids (≥ V) get mass 0
    p = np.zeros((N, nb * k), np.float32 if logits.dtype == np.float32 else np.float64)
    np.subtract(logits, logits.max(axis=1, keepdims=True), out=p[:, :V])
    np.exp(p[:, :V], out=p[:, :V])
    blocks = p.reshape(N, nb, k)
    rows = np.arange(N)
    # block b: the first with F_b > u, F = cumulative block masses, u ~ U[0, F_last)
    cb = np.cumsum(blocks.sum(axis=2, dtype=np.float64), axis=1)
    total = cb[:, -1]
    u = np.minimum(rng.random(N) * total, np.nextafter(total, 0))  # u < F_last even after rounding
    b = (cb <= u[:, None]).sum(axis=1)
    # inside block b: u's share of the block, rescaled to the in-block cumulative sums (never ≥ their total)
    lo = np.where(b > 0, cb[rows, np.maximum(b - 1, 0)], 0.0)
    inner = np.cumsum(blocks[rows, b], axis=1, dtype=np.float64)
    share = np.minimum((u - lo) / (cb[rows, b] - lo), 1.0 - 1e-12)
    j = (inner <= (share * inner[:, -1])[:, None]).sum(axis=1)
    return b * k + j


def zero_state(lm: LanguageModel, n: int):
    """The zero initial state of ``lm``'s recurrent layer for n rows: h0 (L, n, H), or (h0, c0)."""
    rnn = lm.modules["rnn"]
    zeros = [np.zeros((rnn.num_layers * rnn.num_directions, n, rnn.hidden_size), rnn.dtype)
             for _ in range(rnn.n_states)]
    return tuple(zeros) if rnn.n_states == 2 else zeros[0]


def repeat_state(state, times: int):
    """Each row's state ``times`` times in a row, (L, n, H) → (L, n·times, H) (row r → rows r·times ...)."""
    if isinstance(state, tuple):
        return tuple(np.repeat(s, times, axis=1) for s in state)
    return np.repeat(state, times, axis=1)


def step(lm: LanguageModel, ids: np.ndarray, state):
    """Feed ids (n,) from ``state``; returns logits (n, V) of the next id and the new state."""
    m = lm.modules
    h, state = m["rnn"].forward(m["embed"].forward(ids[:, None]), initial_state=state)
    return m["out"].forward(h[:, 0]), state


def continue_sequences(lm: LanguageModel, last_ids: np.ndarray, state, steps: int,
                       rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
    """Sample ``steps`` ids per row after ``last_ids`` (n,), starting from ``state``; → (n, steps).

    ``temperature`` τ draws from softmax(z / τ): below 1 sharper, above 1 flatter.
    """
    out = np.empty((len(last_ids), steps), np.int64)
    ids = last_ids
    for t in range(steps):
        z, state = step(lm, ids, state)
        if temperature != 1.0:
            z /= temperature
        ids = out[:, t] = categorical(z, rng)
    return out


def generate(lm: LanguageModel, n: int, seq_len: int, rng, start_token: int = 0,
             batch_size: int = 2048, temperature: float = 1.0) -> np.ndarray:
    """n sequences of ``seq_len`` ids, each from a zero state with ``start_token`` as the first input.

    Returns (n, seq_len) int64. ``rng``: int, None or numpy Generator; the result depends on it and
    on ``batch_size`` (the rows of one draw). ``temperature`` as in ``continue_sequences``.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    was = lm.training
    lm.eval()
    try:
        parts = []
        for lo in range(0, n, batch_size):
            rows = min(batch_size, n - lo)
            start = np.full(rows, start_token, np.int64)
            parts.append(continue_sequences(lm, start, zero_state(lm, rows), seq_len, rng, temperature))
    finally:
        lm.reset_states()  # the stateful layer kept the last step's state; leave it clean
        lm.train(was)
    return np.concatenate(parts)
