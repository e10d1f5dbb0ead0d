"""Shared pieces of the SeqGAN tests: where the paper's oracle lives, and a tiny seeded oracle."""
from pathlib import Path

import pytest

from rnnlab.gan.oracle import random_oracle

SEQGAN_ORACLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "seqgan_oracle.npz"

needs_seqgan_oracle = pytest.mark.skipif(not SEQGAN_ORACLE.is_file(),
                                         reason=f"the paper's oracle file {SEQGAN_ORACLE} is absent")


@pytest.fixture
def tiny_oracle():
    """A random LSTM oracle over 20 ids (embedding and hidden size 8), drawn as the authors drew theirs."""
    return random_oracle(20, 8, 8, seed=3)
