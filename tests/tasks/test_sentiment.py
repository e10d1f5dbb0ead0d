"""sentiment end to end: a tiny CSV of our own (always), the VADER snippets (when cached), predict, bad input."""
import csv
import json
import re

import numpy as np
import pytest

from rnnlab import cli
from rnnlab.data import glove
from rnnlab.data.datasets import get_dataset
from rnnlab.models import load
from rnnlab.tasks import run_task
from rnnlab.tasks.sentiment import predict_proba

POS = ["great", "wonderful", "moving", "brilliant", "funny", "superb"]
NEG = ["awful", "boring", "dull", "terrible", "clumsy", "tedious"]
FILL = ["the", "film", "was", "a", "plot", "and", "story", "acting", "really", "quite", "its", "cast"]
TINY = ["--embeddings", "none", "--embedding-dim", "8", "--hidden", "8", "--epochs", "6", "--lr", "0.02",
        "--batch-size", "8", "--patience", "6", "--no-progress"]


def _rows(n, seed):
    """n texts of filler words and one telling word, labelled pos / neg in turn."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = ("neg", "pos")[i % 2]
        words = list(rng.choice(FILL, rng.integers(2, 9))) + [rng.choice(POS if label == "pos" else NEG)]
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return rows


def _write_csv(path, rows, header=("text", "label")):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _err_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rnnlab: error: "), err
    return err[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("sentiment")
    train, test = _write_csv(root / "train.csv", _rows(120, 0)), _write_csv(root / "test.csv", _rows(40, 1))
    out = root / "run"
    assert cli.main(["train", "sentiment", "--data", str(train), "--test", str(test), "--out", str(out),
                     *TINY]) == 0
    return out, json.loads((out / "metrics.json").read_text()), _rows(40, 1)


def test_csv_run_writes_the_model_pictures_and_metrics(trained):
    out, m, _ = trained
    for name in ("config.json", "weights.safetensors", "metrics.json", "history.csv", "learning_curves.png",
                 "confusion_matrix.png"):
        assert (out / name).is_file(), name
    assert m["task"] == "sentiment" and m["labels"] == ["neg", "pos"] and m["embeddings"] == "none"
    assert m["split"]["train"] + m["split"]["valid"] == 120 and m["split"]["test"] == 40
    assert set(m["test"]) == {"accuracy"} and set(m["baseline"]["test"]) == {"accuracy"}
    assert m["test"]["accuracy"] >= 0.9  # one telling word per text: the model must find it


def test_reloaded_model_reproduces_the_recorded_accuracy(trained):
    out, m, test_rows = trained
    proba = predict_proba(load(out), [t for t, _ in test_rows])
    y = np.array([label == "pos" for _, label in test_rows])
    assert float((proba.argmax(1) == y).mean()) == m["test"]["accuracy"]


def test_predict_prints_label_and_probability_for_a_text_or_a_file(trained, tmp_path, capsys):
    out, _, _ = trained
    assert cli.main(["predict", str(out), "a brilliant and wonderful film"]) == 0
    assert re.fullmatch(r"pos\t(0\.[5-9]\d\d|1\.000)\n", capsys.readouterr().out)
    lines = tmp_path / "texts.txt"
    lines.write_text("the plot was dull\n\nsuperb acting\nits cast\n", encoding="utf-8")
    assert cli.main(["predict", str(out), str(lines)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3 and printed[0].startswith("neg\t") and printed[1].startswith("pos\t")


def test_padding_does_not_change_a_texts_score(trained):
    model = load(trained[0])
    alone = predict_proba(model, ["superb film"])
    batched = predict_proba(model, ["superb film", "the story was quite boring and the cast really dull too"])
    np.testing.assert_allclose(batched[0], alone[0], rtol=1e-5)


@pytest.mark.skipif(not get_dataset("vader_movies").available(), reason="VADER archive not in the rnnlab cache")
def test_vader_default_data_with_a_random_limit(tmp_path):
    emb = "glove50" if glove.available() else "none"
    m = run_task("sentiment", limit=200, epochs=1, hidden=8, embeddings=emb, progress=False,
                 out=str(tmp_path / "v"))
    assert m["data"] == "VADER movie-review snippets" and m["split"]["test"] == 2113
    assert m["split"]["train"] + m["split"]["valid"] == 200 and m["labels"] == ["negative", "positive"]
    assert 0 <= m["test"]["accuracy"] <= 1 and (m["glove_coverage"] > 0.8) == (emb == "glove50")


def _bad_cases(tmp_path):
    return {
        "missing_file": ([str(tmp_path / "nope.csv")], "does not exist"),
        "no_text_column": ([str(_write_csv(tmp_path / "c.csv", _rows(20, 0), ("review", "label")))],
                           "no text column 'text'"),
        "one_class": ([str(_write_csv(tmp_path / "o.csv", [(t, "pos") for t, _ in _rows(20, 0)]))],
                      "only one class"),
        "unseen_test_label": ([str(_write_csv(tmp_path / "t.csv", _rows(20, 0))), "--test",
                               str(_write_csv(tmp_path / "u.csv", [("meh film", "meh"), ("a", "pos")]))],
                              "labels ['meh'] that the training data does not have"),
        "bad_embeddings": ([str(_write_csv(tmp_path / "e.csv", _rows(20, 0))), "--embeddings", "glove100"],
                           "--embeddings must be one of glove50, none"),
    }


@pytest.mark.parametrize("case", ["missing_file", "no_text_column", "one_class", "unseen_test_label",
                                  "bad_embeddings"])
def test_bad_input_exits_2_with_one_line_and_keeps_the_old_folder(tmp_path, capsys, case):
    args, match = _bad_cases(tmp_path)[case]
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous run")
    assert cli.main(["train", "sentiment", "--out", str(out), *TINY, "--data", *args]) == 2
    assert match in _err_line(capsys)
    assert (out / "keep.txt").read_text() == "previous run"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_predict_on_blank_input_is_an_error(trained, capsys):
    assert cli.main(["predict", str(trained[0]), "   "]) == 2
    assert "nothing to classify" in _err_line(capsys)
