"""digits end to end on a slice: the contract, the files, reload, predict, and bad input."""
import json

import numpy as np
import pytest

from rnnlab import cli

pytest.importorskip("sklearn")

TINY = ["--limit", "200", "--hidden", "16", "--epochs", "3", "--lr", "0.01", "--ensemble", "1", "--no-progress"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits") / "run"
    assert cli.main(["train", "digits", "--out", str(out), *TINY]) == 0
    return out


def test_run_writes_the_contract_and_files(trained, series_kit):
    m = series_kit.check_run_folder(trained, "digits")
    assert m["split"]["test"] == 450 and m["split"]["train"] + m["split"]["valid"] == 200
    assert m["test"]["accuracy"] > 0.3   # 3 epochs on 200 images: well above chance (0.1)


def test_reloaded_model_gives_the_recorded_accuracy(trained, series_kit):
    from rnnlab.data.datasets import load_digits_rows

    d = load_digits_rows(0)
    m = json.loads((trained / "metrics.json").read_text())
    assert series_kit.reloaded_accuracy(trained, d.X_test, d.y_test) == m["test"]["accuracy"]


def test_predict_reads_npy_images(trained, tmp_path, capsys):
    from rnnlab.data.datasets import load_digits_rows

    np.save(tmp_path / "three.npy", load_digits_rows(0).X_test[:3])
    np.save(tmp_path / "one.npy", load_digits_rows(0).X_test[0])
    capsys.readouterr()
    assert cli.main(["predict", str(trained), str(tmp_path / "three.npy")]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3
    assert cli.main(["predict", str(trained), str(tmp_path / "one.npy")]) == 0
    label, p = capsys.readouterr().out.strip().split("\t")
    assert label in [str(i) for i in range(10)] and 0 <= float(p) <= 1


def test_predict_refuses_other_shapes(trained, tmp_path, capsys, series_kit):
    np.save(tmp_path / "big.npy", np.zeros((2, 28, 28)))
    capsys.readouterr()
    assert cli.main(["predict", str(trained), str(tmp_path / "big.npy")]) == 2
    assert "(8, 8)" in series_kit.error_line(capsys)


def test_own_data_is_refused_and_the_previous_run_kept(trained, capsys, series_kit):
    before = (trained / "metrics.json").read_bytes()
    capsys.readouterr()
    assert cli.main(["train", "digits", "--data", "x.csv", "--out", str(trained), *TINY]) == 2
    assert "mnist" in series_kit.error_line(capsys)
    assert (trained / "metrics.json").read_bytes() == before
