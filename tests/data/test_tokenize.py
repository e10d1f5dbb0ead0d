"""Word tokenizer, WordVocab (fixed specials, frequency order, JSON round trip) and pad_sequences."""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.data.tokenize import WordVocab, pad_sequences, tokenize
from rnnlab.errors import RnnlabError

FUZZ = settings(max_examples=300, deadline=2000)
TEXTS = ["The cat sat on the mat.", "The dog didn't sit!", "A cat, a dog; the end"]


def test_tokenize_keeps_inner_apostrophes_and_splits_punctuation():
    assert tokenize("Don't panic, it's 42!") == ["don't", "panic", ",", "it's", "42", "!"]
    assert tokenize("Café NOW", lower=False) == ["Café", "NOW"]
    with pytest.raises(RnnlabError, match="expected a str"):
        tokenize(b"bytes")


def test_vocab_specials_first_then_by_frequency_then_alphabet():
    v = WordVocab.fit(TEXTS)
    assert v.itos[:2] == ["<pad>", "<unk>"] and (v.pad_id, v.unk_id) == (0, 1)
    assert v.itos[2] == "the"  # 4 times, more than any other token
    counts = [sum(tok == w for t in TEXTS for tok in tokenize(t)) for w in v.itos[2:]]
    assert counts == sorted(counts, reverse=True)
    assert WordVocab.fit(list(reversed(TEXTS))) == v  # order of texts does not matter


def test_min_freq_and_max_size():
    assert WordVocab.fit(TEXTS, min_freq=2).itos == ["<pad>", "<unk>", "the", "a", "cat", "dog"]
    assert WordVocab.fit(TEXTS, max_size=4).itos == ["<pad>", "<unk>", "the", "a"]  # specials count


def test_encode_unknown_to_1_and_decode_back():
    v = WordVocab.fit(TEXTS)
    ids = v.encode("the zebra sat")
    assert ids.dtype == np.int64 and ids[1] == 1
    assert v.decode(ids) == ["the", "<unk>", "sat"]
    assert v.decode(ids, skip_specials=True) == ["the", "sat"]
    assert v.encode(["the", "THE"]).tolist() == [v.stoi["the"], 1]  # token lists are taken as given
    assert [len(x) for x in v.encode_batch(TEXTS)] == [len(tokenize(t)) for t in TEXTS]


def test_json_round_trip_through_text():
    v = WordVocab.fit(TEXTS, lower=False)
    w = WordVocab.from_json(json.loads(json.dumps(v.to_json())))
    assert w == v and w.lower is False and w.encode("The").tolist() == v.encode("The").tolist()


@pytest.mark.parametrize("kwargs, match", [
    ({"min_freq": 0}, "min_freq must be an int >= 1"),
    ({"max_size": 1}, "max_size must be None or an int >= 2"),
    ({"min_freq": 0, "max_size": 1.5}, "min_freq.*; max_size"),  # every problem at once
])
def test_fit_rejects_bad_settings(kwargs, match):
    with pytest.raises(RnnlabError, match=match):
        WordVocab.fit(TEXTS, **kwargs)


def test_fit_rejects_a_bare_string_and_bad_json_and_bad_ids():
    with pytest.raises(RnnlabError, match="not one str"):
        WordVocab.fit("the cat")
    with pytest.raises(RnnlabError, match="type 'word'"):
        WordVocab.from_json({"type": "char", "chars": "ab"})
    with pytest.raises(RnnlabError, match="must not repeat"):
        WordVocab(["a", "a"])
    with pytest.raises(RnnlabError, match="without whitespace"):
        WordVocab(["a b"])
    with pytest.raises(RnnlabError, match="outside"):
        WordVocab(["a"]).decode([5])


@FUZZ
@given(st.lists(st.text(max_size=30), max_size=6), st.text(max_size=30))
def test_fuzz_vocab_round_trip(texts, probe):
    v = WordVocab.fit(texts)
    assert WordVocab.from_json(json.loads(json.dumps(v.to_json()))) == v
    toks = tokenize(probe)
    assert all(t and not any(c.isspace() for c in t) for t in toks)
    assert v.decode(v.encode(probe)) == [t if t in v.stoi else "<unk>" for t in toks]


# ---------------------------------------------------------------- pad_sequences

def test_pad_right_and_lengths():
    x, n = pad_sequences([[5, 6, 7], [8], []])
    assert x.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]] and n.tolist() == [3, 1, 0]
    mask = np.arange(x.shape[1]) < n[:, None]
    assert mask.sum() == 4


def test_pad_truncates_keeping_the_start_and_handles_features():
    x, n = pad_sequences([[1, 2, 3, 4], [5]], maxlen=2, value=-1)
    assert x.tolist() == [[1, 2], [5, -1]] and n.tolist() == [2, 1]
    s, n = pad_sequences([np.ones((3, 2)), np.zeros((1, 2))], dtype=np.float32)
    assert s.shape == (2, 3, 2) and s.dtype == np.float32 and n.tolist() == [3, 1]


@pytest.mark.parametrize("seqs, kwargs, match", [
    ([], {}, "non-empty list"),
    ("abc", {}, "non-empty list"),
    ([[1], [2]], {"maxlen": 0}, "maxlen must be None or an int >= 1"),
    ([[1.5], [2]], {}, "float64, which int64 would truncate"),
    ([np.ones((2, 3)), np.ones((2, 4))], {"dtype": np.float32}, "same feature shape"),
    ([["a"], [1]], {}, "numeric sequences"),
    ([[1], [300]], {"dtype": np.uint8}, "sequence #1 has values in .300, 300., outside the range of uint8"),
    ([[1], [2]], {"value": 300, "dtype": np.uint8}, "could not pad"),
    ([[1], [2]], {"dtype": str}, "integer or float dtype"),
])
def test_pad_bad_input(seqs, kwargs, match):
    with pytest.raises(RnnlabError, match=match):
        pad_sequences(seqs, **kwargs)


@FUZZ
@given(st.lists(st.lists(st.integers(-1000, 1000), max_size=8), min_size=1, max_size=6),
       st.one_of(st.none(), st.integers(1, 10)))
def test_fuzz_pad_invariants(seqs, maxlen):
    x, n = pad_sequences(seqs, maxlen=maxlen, value=-7)
    T = maxlen or max(1, max(len(s) for s in seqs))
    assert x.shape == (len(seqs), T) and n.tolist() == [min(len(s), T) for s in seqs]
    for row, s, k in zip(x, seqs, n):
        assert row[:k].tolist() == s[:k] and (row[k:] == -7).all()


ANY = st.recursive(st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=3)),
                   lambda inner: st.lists(inner, max_size=3), max_leaves=8)


@FUZZ
@given(st.lists(ANY, max_size=4), st.one_of(st.none(), st.integers(-2, 5), st.floats()))
def test_fuzz_pad_garbage_gives_rnnlab_error(seqs, maxlen):
    try:
        pad_sequences(seqs, maxlen=maxlen)
    except RnnlabError:
        pass
