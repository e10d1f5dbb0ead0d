"""Metrics against values worked out by hand on tiny arrays."""
import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.metrics import accuracy, edit_distance, mase, per, smape, wer


def test_mase_against_hand_computed_values():
    # naive |2-1|, |4-2|, |7-4| → MAE 2; forecast errors 1, 3 → MAE 2; MASE 1
    assert mase([8, 10], [9, 7], [1, 2, 4, 7]) == pytest.approx(1.0)
    # season 2: |4-1|, |7-2| → MAE 4; forecast errors 1, 3 → MASE 0.5
    assert mase([8, 10], [9, 7], [1, 2, 4, 7], season=2) == pytest.approx(0.5)


def test_mase_scales_each_series_by_its_own_naive():
    train = np.array([[0, 0], [1, 10], [2, 20]])          # naive MAE 1 and 10
    assert mase([[3, 30]], [[4, 40]], train) == pytest.approx((1 / 1 + 10 / 10) / 2)


def test_smape_against_hand_computed_values():
    assert smape([100, 200], [110, 200]) == pytest.approx((200 * 10 / 210 + 0) / 2)
    assert smape([0, 1], [0, -1]) == pytest.approx((0 + 200) / 2)   # 0/0 counts 0; opposite signs 200


def test_accuracy():
    assert accuracy([[1, 2], [3, 4]], [[1, 0], [3, 4]]) == 0.75


@pytest.mark.parametrize("a, b, d", [("", "", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3),
                                     ("flaw", "lawn", 2), ("intention", "execution", 5), ("abc", "abc", 0)])
def test_edit_distance_known_values(a, b, d):
    assert edit_distance(a, b) == d == edit_distance(b, a)


def test_per_and_wer_pool_edits_over_utterances():
    # one substitution in 4 phonemes; tokens may be strings or lists
    assert per(["HH AH0 L OW1"], [["HH", "AH1", "L", "OW1"]]) == 0.25
    # insertion "down" (1 of 3) + deletion of "world" (1 of 2) → 2 / 5
    assert wer(["the cat sat", "hello world"], ["the cat sat down", "hello"]) == pytest.approx(0.4)
    assert wer(["a b"], ["c d e f"]) == 2.0   # two substitutions and two insertions: rates can pass 1


@pytest.mark.parametrize("call", [lambda: mase([], [], [1, 2]), lambda: smape([], []), lambda: accuracy([], []),
                                  lambda: per([], []), lambda: wer([""], [""])],
                         ids=["mase", "smape", "accuracy", "per", "wer-empty-refs"])
def test_empty_inputs_are_errors(call):
    with pytest.raises(RnnlabError, match="empty|no utterances"):
        call()


def test_other_bad_inputs_are_errors():
    with pytest.raises(RnnlabError, match="shape"):
        smape([1, 2], [1])
    with pytest.raises(RnnlabError, match="scale 0"):
        mase([1], [2], [3, 3, 3])
    with pytest.raises(RnnlabError, match="at least 12"):
        mase([1], [2], np.arange(5), season=11)
    with pytest.raises(RnnlabError, match="NaN"):
        mase([np.nan], [1], [1, 2])
    with pytest.raises(RnnlabError, match="one hypothesis per reference"):
        wer(["a"], ["a", "b"])
    with pytest.raises(RnnlabError, match="single string"):
        per("AH B", "AH")
