"""CharVocab: deterministic ids, unknown characters, specials, JSON round trip and input errors."""
import json

import numpy as np
import pytest

from rnnlab.data.text import CharVocab
from rnnlab.errors import RnnlabError

TEXT = "To be, or not to be: that is the question.\n"


def test_encode_decode_round_trip():
    v = CharVocab.fit(TEXT)
    ids = v.encode(TEXT)
    assert ids.dtype == np.int64 and ids.shape == (len(TEXT),)
    assert v.decode(ids) == TEXT


def test_ids_are_specials_then_sorted_characters():
    v = CharVocab.fit("cab")
    assert v.itos == ["<unk>", "a", "b", "c"] and len(v) == 4
    assert v.encode("abc").tolist() == [1, 2, 3]
    assert CharVocab.fit("bca") == v  # the order of the text does not matter


def test_unknown_characters_map_to_unk():
    v = CharVocab.fit("abc")
    assert v.encode("axb").tolist() == [1, v.unk_id, 2] and v.unk_id == 0
    assert v.decode(v.encode("axb")) == "a<unk>b"
    assert v.decode(v.encode("axb"), skip_specials=True) == "ab"


def test_seq2seq_specials_take_the_first_ids():
    v = CharVocab.fit("hello", specials=("<pad>", "<bos>", "<eos>", "<unk>"))
    assert [v.id("<pad>"), v.id("<bos>"), v.id("<eos>"), v.unk_id] == [0, 1, 2, 3]
    assert v.encode("?").tolist() == [3] and v.id("h") == v.encode("h")[0]
    assert v.decode([1, *v.encode("hello"), 2, 0], skip_specials=True) == "hello"


def test_empty_string_encodes_to_no_ids():
    assert CharVocab.fit("ab").encode("").shape == (0,)


def test_json_round_trip_through_dict_and_string():
    v = CharVocab.fit(TEXT, specials=("<pad>", "<unk>"))
    obj = v.to_json()
    text = json.dumps(obj)  # must be plain JSON, as model.meta is written to config.json
    for restored in (CharVocab.from_json(obj), CharVocab.from_json(text), CharVocab.from_json(json.loads(text))):
        assert restored == v and restored.encode(TEXT).tolist() == v.encode(TEXT).tolist()


@pytest.mark.parametrize("call, match", [
    (lambda: CharVocab.fit(""), "non-empty string"),
    (lambda: CharVocab.fit(["a", "b"]), "non-empty string"),
    (lambda: CharVocab(["ab"]), "one character"),
    (lambda: CharVocab(["a", "a"]), "must not repeat"),
    (lambda: CharVocab(["a"], specials=("<pad>",)), "must be one of the specials"),
    (lambda: CharVocab(["a"], specials=("a", "<unk>")), "overlap"),
    (lambda: CharVocab.fit("ab").decode([1, 5]), r"ids must lie in \[0, 3\)"),
    (lambda: CharVocab.fit("ab").decode([-1]), r"ids must lie in \[0, 3\)"),
    (lambda: CharVocab.fit("ab").decode([1.0]), "integer ids"),
    (lambda: CharVocab.fit("ab").encode([1, 2]), "expected a str"),
    (lambda: CharVocab.from_json("{not json"), "not JSON"),
    (lambda: CharVocab.from_json({"type": "word", "chars": "ab"}), "expected the dict"),
])
def test_bad_input_raises_one_clear_error(call, match):
    with pytest.raises(RnnlabError, match=match):
        call()
