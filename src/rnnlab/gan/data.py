"""Where the real sequences of a run come from: an oracle's samples or a sequence file.

Everything here is checked before any training starts, so a bad file costs seconds, not a run.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.gan.oracle import load_oracle
from rnnlab.gan.sampling import generate
from rnnlab.gan.sequences import check_sequences, read_sequences
from rnnlab.models.language import LanguageModel


class RealData(NamedTuple):
    train: np.ndarray                 # (N, T) ids the generator and the discriminator learn from
    valid: np.ndarray                 # (N', T) held-out ids for the held-out NLL (N' may be 0)
    vocab_size: int
    oracle: LanguageModel | None      # the oracle that drew them, or None for a file


def oracle_data(path, num_samples: int, seq_len: int, valid_fraction: float, rng,
                vocab_size: int | None = None) -> RealData:
    """``num_samples`` oracle sequences to train on and ``valid_fraction`` as many more, held out."""
    oracle = load_oracle(path)
    if vocab_size is not None and vocab_size != oracle.vocab_size:
        raise RnnlabError(f"vocab_size {vocab_size} does not match the oracle's {oracle.vocab_size} ids; "
                          "leave --vocab-size out with an oracle.")
    train = generate(oracle, num_samples, seq_len, rng)
    valid = generate(oracle, round(valid_fraction * num_samples), seq_len, rng)
    return RealData(train, valid, oracle.vocab_size, oracle)


def file_data(path, seq_len: int, valid_fraction: float, rng, batch_size: int,
              vocab_size: int | None = None) -> RealData:
    """The sequences of a file, shuffled and split; the vocabulary is the largest id + 1 unless given."""
    seqs = read_sequences(path, seq_len)
    V = int(seqs.max()) + 1 if vocab_size is None else vocab_size
    check_sequences(seqs, V, f"the sequences of {path}")
    seqs = seqs[rng.permutation(len(seqs))]
    n_valid = round(valid_fraction * len(seqs))
    if len(seqs) - n_valid < batch_size:
        raise RnnlabError(f"{path} holds {len(seqs)} sequences, {len(seqs) - n_valid} after holding out "
                          f"{n_valid}, fewer than one batch of {batch_size}; add data or lower --batch-size.")
    return RealData(seqs[n_valid:], seqs[:n_valid], V, None)
