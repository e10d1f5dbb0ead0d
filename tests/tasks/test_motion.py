"""motion end to end on .ts files the tests write (equal and unequal lengths, sibling or given test
file, or a 20% split), on BasicMotions when sktime ships it, and every bad input as one error line."""
import json

import numpy as np
import pytest

from rnnlab import cli
from rnnlab.tasks.classify import pad_series

pytest.importorskip("sktime")   # the .ts reader
pytest.importorskip("sklearn")  # the baseline

TINY = ["--hidden", "8", "--epochs", "4", "--lr", "0.02", "--batch-size", "8", "--ensemble", "1",
        "--pool", "2", "--patience", "4", "--no-progress"]


def _ts_pair(kit, tmp_path, lengths=(12,), n_train=12, n_test=6):
    train = kit.write_ts(tmp_path / "Toy_TRAIN.ts", *kit.toy_series(n_train, lengths=lengths, seed=0))
    test = kit.write_ts(tmp_path / "Toy_TEST.ts", *kit.toy_series(n_test, lengths=lengths, seed=1))
    return train, test


@pytest.fixture(scope="module")
def trained(tmp_path_factory, series_kit):
    root = tmp_path_factory.mktemp("motion")
    train, test = _ts_pair(series_kit, root)
    out = root / "run"
    assert cli.main(["train", "motion", "--data", str(train), "--out", str(out), *TINY]) == 0
    return out, train, test


def test_ts_run_finds_the_sibling_test_file_and_writes_everything(trained, series_kit):
    out, _, test = trained
    m = series_kit.check_run_folder(out, "motion")
    assert m["split"]["test"] == 12 and m["split"]["train"] + m["split"]["valid"] == 24
    assert str(test) in m["data"]
    assert m["test"]["accuracy"] >= 0.9   # the classes differ by a channel offset


def test_the_saved_model_reloads_with_the_recorded_accuracy(trained, series_kit):
    from rnnlab.data.loaders import load_ts

    out, _, test = trained
    d = load_ts(test)
    m = json.loads((out / "metrics.json").read_text())
    assert series_kit.reloaded_accuracy(out, d.X, d.y) == m["test"]["accuracy"]


def test_predict_prints_one_label_per_series(trained, capsys):
    out, _, test = trained
    capsys.readouterr()
    assert cli.main(["predict", str(out), str(test)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 12 and all(line.split("\t")[0] in ("down", "up") for line in lines)


def test_unequal_lengths_are_padded_and_carry_their_lengths(tmp_path, series_kit):
    train, test = _ts_pair(series_kit, tmp_path, lengths=(9, 14, 11))
    out = tmp_path / "run"
    assert cli.main(["train", "motion", "--data", str(train), "--test", str(test), "--out", str(out), *TINY]) == 0
    m = series_kit.check_run_folder(out, "motion")
    assert m["test"]["accuracy"] >= 0.9
    assert cli.main(["predict", str(out), str(test)]) == 0


def test_without_a_test_file_a_stratified_fifth_is_held_out(tmp_path, series_kit):
    series, ys = series_kit.toy_series(10, labels=("a", "b", "c"), channels=1)
    train = series_kit.write_ts(tmp_path / "solo.ts", series, ys)
    out = tmp_path / "run"
    assert cli.main(["train", "motion", "--data", str(train), "--out", str(out), *TINY]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["split"]["test"] == 6 and "20%" in m["data"]


def test_built_in_basic_motions_on_a_slice(tmp_path, series_kit):
    from rnnlab.data.datasets import get_dataset, load_basic_motions

    if not get_dataset("basic_motions").available():
        pytest.skip("BasicMotions ships with sktime's data files, not installed here")
    out = tmp_path / "bm"
    assert cli.main(["train", "motion", "--out", str(out), "--limit", "16", *TINY]) == 0
    m = series_kit.check_run_folder(out, "motion")
    assert m["split"]["test"] == 40 and m["split"]["train"] + m["split"]["valid"] == 16
    d = load_basic_motions()
    assert series_kit.reloaded_accuracy(out, d.X_test, d.y_test) == m["test"]["accuracy"]


@pytest.mark.parametrize("case", ["nan", "channels", "labels", "one_class", "missing", "not_ts", "test_no_data"])
def test_bad_input_is_one_error_line_and_keeps_the_previous_run(trained, tmp_path, capsys, case, series_kit):
    out, train, _ = trained
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    series, ys = series_kit.toy_series(4, seed=3)
    args = ["--data", str(train)]
    if case == "nan":
        args = ["--data", str(series_kit.write_ts(tmp_path / "nan.ts", series, ys, nan_at=2))]
    elif case == "channels":
        args += ["--test", str(series_kit.write_ts(tmp_path / "c3.ts", *series_kit.toy_series(4, channels=3)))]
    elif case == "labels":
        other = series_kit.toy_series(4, labels=("up", "sideways"))
        args += ["--test", str(series_kit.write_ts(tmp_path / "lab.ts", *other))]
    elif case == "one_class":
        args = ["--data", str(series_kit.write_ts(tmp_path / "one.ts", series, ["up"] * len(series)))]
    elif case == "missing":
        args = ["--data", str(tmp_path / "nowhere_TRAIN.ts")]
    elif case == "not_ts":
        (tmp_path / "x.csv").write_text("a,b\n1,2\n")
        args = ["--data", str(tmp_path / "x.csv")]
    elif case == "test_no_data":
        args = ["--test", str(train)]
    capsys.readouterr()
    assert cli.main(["train", "motion", *args, "--out", str(out), *TINY]) == 2
    line = series_kit.error_line(capsys)
    expected = {"nan": "NaN", "channels": "channels", "labels": "sideways", "one_class": "one class",
                "missing": "does not exist", "not_ts": ".ts", "test_no_data": "--test needs --data"}[case]
    assert expected in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_unknown_task_exits_2_with_a_hint(capsys):
    from rnnlab.errors import RnnlabError
    from rnnlab.tasks import run_task

    with pytest.raises(SystemExit) as e:   # argparse knows the task names: its own usage error
        cli.main(["train", "motoin"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "invalid choice: 'motoin'" in err and "Traceback" not in err
    with pytest.raises(RnnlabError, match="did you mean 'motion'"):
        run_task("motoin")


def test_bad_options_are_reported_together(capsys, series_kit):
    assert cli.main(["train", "motion", "--pool", "0", "--readout", "sum", "--no-progress"]) == 2
    line = series_kit.error_line(capsys)
    assert "--pool" in line and "--readout" in line


def test_padding_never_changes_a_prediction(trained, series_kit):
    from rnnlab.models import load
    from rnnlab.tasks.classify import predict_proba

    model = load(trained[0])
    series = [s.T.astype(np.float32) for s in series_kit.toy_series(2, lengths=(7, 12, 10), seed=5)[0]]
    together = predict_proba(model, series)
    alone = np.concatenate([predict_proba(model, [s]) for s in series])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)
    assert pad_series(series)[1].tolist() == [len(s) for s in series]
