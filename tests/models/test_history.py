"""History: skorch-style slicing, best epoch, and CSV/JSON files."""
import csv
import math

import pytest

from rnnlab.errors import RnnlabError
from rnnlab.models.history import History


@pytest.fixture
def hist():
    return History([{"epoch": 1, "loss": 0.9, "val_loss": 1.0},
                    {"epoch": 2, "loss": 0.5},                       # no validation this epoch
                    {"epoch": 3, "loss": 0.4, "val_loss": 0.7, "lr": 0.1}])


def test_column_skips_rows_without_the_key(hist):
    assert hist[:, "loss"] == [0.9, 0.5, 0.4]
    assert hist[:, "val_loss"] == [1.0, 0.7]
    assert hist[1:, "loss"] == [0.5, 0.4]


def test_row_and_cell_indexing(hist):
    assert hist[-1]["epoch"] == 3
    assert hist[-1, "val_loss"] == 0.7
    assert hist[0, ("epoch", "loss")] == (1, 0.9)


def test_several_keys_give_tuples_from_rows_that_have_all(hist):
    assert hist[:, ("epoch", "val_loss")] == [(1, 1.0), (3, 0.7)]


def test_slice_is_a_history(hist):
    assert isinstance(hist[:2], History) and len(hist[:2]) == 2


def test_unknown_key_raises_key_error_naming_known_keys(hist):
    with pytest.raises(KeyError, match="known keys"):
        hist[:, "accuracy"]
    with pytest.raises(KeyError, match="no key 'val_loss'"):
        hist[1, "val_loss"]


def test_bad_index_shape_is_an_rnnlab_error(hist):
    with pytest.raises(RnnlabError, match=r"\[rows, key\]"):
        hist[:, "loss", 0]


def test_keys_in_first_seen_order(hist):
    assert hist.keys() == ["epoch", "loss", "val_loss", "lr"]


def test_best_min_max_and_ties_go_to_the_earliest():
    h = History([{"epoch": 1, "acc": 0.5, "loss": math.nan}, {"epoch": 2, "acc": 0.8, "loss": 0.3},
                 {"epoch": 3, "acc": 0.8, "loss": 0.3}])
    assert h.best("loss")["epoch"] == 2          # NaN is never best
    assert h.best("acc", mode="max")["epoch"] == 2


def test_best_without_a_finite_value_raises():
    with pytest.raises(RnnlabError, match="no finite 'val_loss'"):
        History([{"loss": 1.0}]).best("val_loss")
    with pytest.raises(RnnlabError, match="'min' or 'max'"):
        History([{"loss": 1.0}]).best("loss", mode="lowest")


def test_csv_has_one_line_per_epoch_and_empty_cells_for_missing_values(hist, tmp_path):
    path = hist.to_csv(tmp_path / "h.csv")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert rows[1]["val_loss"] == "" and float(rows[2]["lr"]) == 0.1
    assert [p.name for p in tmp_path.iterdir()] == ["h.csv"]  # no temporary file left behind


def test_json_round_trip(hist, tmp_path):
    back = History.from_json(hist.to_json(tmp_path / "h.json"))
    assert back == hist and isinstance(back, History)


def test_from_json_rejects_other_files(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"loss": 1}')
    with pytest.raises(RnnlabError, match="JSON list"):
        History.from_json(p)
    p.write_text("not json")
    with pytest.raises(RnnlabError, match="could not read"):
        History.from_json(p)
