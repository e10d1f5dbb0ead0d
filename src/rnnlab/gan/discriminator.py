"""The discriminator: an ordinary recurrent classifier, real (1) against generated (0).

It is a ``Sequential`` (embedding → LSTM/GRU, optionally bidirectional, keeping the final state of
each direction → dropout → one logit) trained with binary cross-entropy by ``Sequential.fit``, so
it reuses the classifier machinery, its checks and its file format unchanged. The paper's
discriminator is a CNN; the issue asks for a recurrent one.
"""
from __future__ import annotations

import numpy as np

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.gan.sequences import check_sequences
from rnnlab.models.sequential import Sequential
from rnnlab.nn.functional import sigmoid
from rnnlab.nn.pooling import MaskedPool

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def make_discriminator(vocab_size: int, embedding_dim: int = 64, hidden_size: int = 64, cell: str = "lstm",
                       bidirectional: bool = True, dropout: float = 0.25, lr: float = 1e-3,
                       seed=0, pool: str | None = None) -> Sequential:
    """A compiled real-vs-generated classifier over sequences of ids in [0, vocab_size)."""
    if cell not in CELLS:
        raise RnnlabError(f"discriminator cell must be one of {sorted(CELLS)}, got {cell!r}.")
    s = np.random.default_rng(seed).integers(2**31, size=4).tolist()
    D = 2 if bidirectional else 1
    rnn = CELLS[cell](embedding_dim, hidden_size, bidirectional=bidirectional, return_sequences=pool is not None,
                      seed=s[1])
    head = [] if pool is None else [MaskedPool(pool)]
    width = D * hidden_size * (2 if pool == "meanmax" else 1)
    model = Sequential([nn.Embedding(vocab_size, embedding_dim, seed=s[0]), rnn, *head,
                        nn.Dropout(dropout, seed=s[2]), nn.Dense(width, 1, seed=s[3])])
    return model.compile(loss="bce", optimizer="adam", lr=lr, metrics=["accuracy"])


def vocab_size(discriminator: Sequential) -> int:
    """The number of ids the discriminator's embedding reads."""
    first = discriminator.layers[0]
    if not isinstance(first, nn.Embedding):
        raise RnnlabError("the discriminator must start with an Embedding over token ids; build it with "
                          "make_discriminator.")
    return first.num_embeddings


def prob_real(discriminator: Sequential, seqs, batch_size: int = 4096) -> np.ndarray:
    """D(y) = P(real | y) for seqs (N, T), (N,) float64 (dropout off)."""
    seqs = check_sequences(seqs, vocab_size(discriminator))
    was = discriminator.training
    discriminator.eval()
    try:
        # D(y) = σ(logit): the sigmoid that BCEWithLogitsLoss puts in front of its log
        logits = [discriminator.forward(seqs[lo:lo + batch_size])[:, 0] for lo in range(0, len(seqs), batch_size)]
    finally:
        discriminator.train(was)
    return sigmoid(np.concatenate(logits).astype(np.float64))


def train_discriminator(discriminator: Sequential, real, fake, *, epochs: int = 3, batch_size: int = 64,
                        seed=0, progress: bool = False) -> float:
    """Fit on real (label 1) and fake (label 0) sequences; returns the mean training loss of the last epoch."""
    V = vocab_size(discriminator)
    real, fake = check_sequences(real, V, "real sequences"), check_sequences(fake, V, "generated sequences")
    X = np.concatenate([real, fake])
    y = np.concatenate([np.ones(len(real)), np.zeros(len(fake))])
    history = discriminator.fit(X, y, epochs=epochs, batch_size=batch_size, seed=seed, progress=progress)
    return float(history[-1]["loss"])


def accuracy(discriminator: Sequential, real, fake) -> float:
    """Share of real sequences with D > 0.5 and generated ones with D < 0.5 (classes weighed by count)."""
    hits = (prob_real(discriminator, real) > 0.5).sum() + (prob_real(discriminator, fake) < 0.5).sum()
    return float(hits / (len(real) + len(fake)))
