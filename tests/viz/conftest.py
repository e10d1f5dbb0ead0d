"""Shared pieces of the insight-tool tests: a tiny text classifier whose answer is one known token."""
import numpy as np
import pytest

from rnnlab import nn
from rnnlab.data.tokenize import WordVocab
from rnnlab.models import Sequential, save

FILLERS = ["the", "a", "of", "and", "to", "in"]
VOCAB = WordVocab(["good", "bad"] + FILLERS)          # ids: <pad> 0, <unk> 1, good 2, bad 3, fillers 4..9
LABELS = ["neutral", "positive", "negative"]          # no key word, "good", "bad"
T = 8


def key_sentences(n, rng, with_key=True):
    """(ids (n, T), labels (n,), key position (n,) or -1): filler words and at most one key word.

    <unk> is one of the fillers, as unknown words are in real text: occlusion puts <unk> in place of
    a token, and a model that never saw <unk> would read that as a strange new input.
    """
    fillers = np.r_[1, 4:4 + len(FILLERS)]
    ids = fillers[rng.integers(0, len(fillers), size=(n, T))]
    y = rng.integers(1, 3, size=n) if with_key else rng.integers(0, 3, size=n)
    pos = np.where(y > 0, rng.integers(0, T, size=n), -1)
    rows = np.flatnonzero(y > 0)
    ids[rows, pos[rows]] = np.where(y[rows] == 1, 2, 3)
    return ids, y, pos


@pytest.fixture(scope="session")
def key_classifier():
    """Embedding → GRU → Dense trained until the class is the key word: 'good', 'bad' or none.

    Dropping the key word (to <unk>) turns a positive or negative sentence neutral, so the model
    provably depends on that one token. 2,000 sentences, one epoch of batch 32 (~1 s).
    """
    rng = np.random.default_rng(0)
    X, y, _ = key_sentences(2000, rng, with_key=False)
    model = Sequential([nn.Embedding(len(VOCAB), 8, padding_idx=0, seed=0),
                        nn.GRU(8, 16, return_sequences=False, seed=0), nn.Dense(16, 3, seed=1)])
    model.compile("cross_entropy", "adam", lr=1e-2)
    model.fit(X, y, epochs=1, batch_size=32, progress=False, seed=0)
    model.meta = {"vocab": VOCAB.to_json(), "labels": LABELS}
    return model


@pytest.fixture(scope="session")
def held_out_sentences():
    """200 new sentences that each hold one key word, and the key word's position."""
    X, _, pos = key_sentences(200, np.random.default_rng(1))
    return X, pos


@pytest.fixture(scope="session")
def key_classifier_dir(key_classifier, tmp_path_factory):
    return save(key_classifier, tmp_path_factory.mktemp("models") / "key_gru")


@pytest.fixture
def check_png():
    """Assert that a file is a PNG image with more than one colour in it."""
    def check(path):
        image = pytest.importorskip("matplotlib.image")
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = image.imread(path)
        assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
        assert pixels[..., :3].std() > 0.01
    return check
