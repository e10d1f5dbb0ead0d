"""Sequence files as the SeqGAN code writes them: one sequence per line, token ids separated by spaces.

Every sequence has the same length T (the paper: 20); there is no end token. A generator reads
the start token (0 in the paper, also an ordinary vocabulary id) before the first real token, so
its inputs are the sequences shifted right by one: ``[start, y_0, ..., y_{T-2}]``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.models.io import write_text_atomic


def check_sequences(seqs, vocab_size: int, what: str = "sequences") -> np.ndarray:
    """(N, T) integer ids in [0, vocab_size) as int64, or one error naming the problem."""
    seqs = np.asarray(seqs)
    if seqs.ndim != 2 or seqs.shape[0] < 1 or seqs.shape[1] < 1 or (seqs.dtype.kind not in "iu"):
        raise RnnlabError(f"{what} must be a non-empty (N, T) array of integer token ids, got "
                          f"{seqs.dtype} {seqs.shape}.")
    if seqs.min() < 0 or seqs.max() >= vocab_size:
        raise RnnlabError(f"{what} hold ids from {seqs.min()} to {seqs.max()} but the vocabulary has "
                          f"{vocab_size} ids [0, {vocab_size}); use a model with a larger vocab_size.")
    return seqs.astype(np.int64, copy=False)


def with_start(seqs: np.ndarray, start_token: int) -> np.ndarray:
    """Inputs of teacher forcing: x_0 = start, x_t = y_{t-1}; (N, T) → (N, T)."""
    x = np.empty_like(seqs)
    x[:, 0] = start_token
    x[:, 1:] = seqs[:, :-1]
    return x


def read_sequences(path, seq_len: int) -> np.ndarray:
    """Read a sequence file; each line must hold at least ``seq_len`` ids (longer lines are cut).

    Blank lines are skipped. Returns (N, seq_len) int64.
    """
    path = Path(path)
    if not path.is_file():
        raise RnnlabError(f"data file {path} does not exist; pass a text file of token ids, one sequence a line.")
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                ids = [int(p) for p in parts]
            except ValueError:
                raise RnnlabError(f"{path} line {n} holds {line.strip()[:40]!r}, which is not a list of integer "
                                  "token ids separated by spaces.") from None
            if len(ids) < seq_len:
                raise RnnlabError(f"{path} line {n} has {len(ids)} tokens, fewer than the sequence length "
                                  f"{seq_len}; lower --seq-len or drop the short lines.")
            rows.append(ids[:seq_len])
    if not rows:
        raise RnnlabError(f"data file {path} holds no sequences; write one sequence of token ids a line.")
    seqs = np.array(rows, dtype=np.int64)
    if seqs.min() < 0:
        raise RnnlabError(f"{path} holds the negative token id {seqs.min()}; ids must be ≥ 0.")
    return seqs


def format_sequences(seqs: np.ndarray) -> str:
    """The paper's format: ids separated by spaces, one sequence a line."""
    return "".join(" ".join(map(str, row)) + "\n" for row in np.asarray(seqs).tolist())


def write_sequences(path, seqs: np.ndarray) -> Path:
    """Write ``seqs`` atomically in the paper's format."""
    write_text_atomic(path, format_sequences(seqs))
    return Path(path)
