"""mnist on a tiny IDX folder the test writes (plain and gzipped); no built-in data, clear errors."""
import json

import numpy as np
import pytest

from rnnlab import cli

pytest.importorskip("sklearn")

TINY = ["--hidden", "8", "--epochs", "6", "--lr", "0.03", "--batch-size", "16", "--patience", "4", "--no-progress"]


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "gzip"])
def trained(tmp_path_factory, request, series_kit):
    root = tmp_path_factory.mktemp("mnist")
    folder = series_kit.write_idx(root / "idx", gz=request.param)
    out = root / "run"
    assert cli.main(["train", "mnist", "--data", str(folder), "--out", str(out), *TINY]) == 0
    return out, folder


def test_run_writes_the_contract_and_learns_the_rows(trained, series_kit):
    out, _ = trained
    m = series_kit.check_run_folder(out, "mnist")
    assert m["split"]["test"] == 30 and m["split"]["train"] + m["split"]["valid"] == 60
    assert m["test"]["accuracy"] >= 0.9   # the lit row gives the class away


def test_reloaded_model_gives_the_recorded_accuracy(trained, series_kit):
    from rnnlab.data.loaders import load_idx_folder

    out, folder = trained
    d = load_idx_folder(folder)
    m = json.loads((out / "metrics.json").read_text())
    assert series_kit.reloaded_accuracy(out, d.X_test.astype(np.float32), d.y_test) == m["test"]["accuracy"]


def test_predict_reads_idx_and_npy_images(trained, tmp_path, capsys):
    from rnnlab.data.loaders import load_idx_folder

    out, folder = trained
    images = next(folder.glob("t10k-images*"))
    np.save(tmp_path / "two.npy", load_idx_folder(folder).X_test[:2])
    capsys.readouterr()
    assert cli.main(["predict", str(out), str(images)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 30
    assert cli.main(["predict", str(out), str(tmp_path / "two.npy")]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.strip().splitlines()] == ["0", "1"]


def test_without_data_the_error_says_what_to_pass(capsys, series_kit):
    assert cli.main(["train", "mnist", "--no-progress"]) == 2
    assert "--data FOLDER" in series_kit.error_line(capsys)


@pytest.mark.parametrize("case", ["empty_folder", "unseen_test_label", "not_a_folder"])
def test_bad_folders_are_one_error_line_and_keep_the_previous_run(trained, tmp_path, capsys, case, series_kit):
    out, _ = trained
    before = (out / "metrics.json").read_bytes()
    if case == "empty_folder":
        (tmp_path / "empty").mkdir()
        folder = tmp_path / "empty"
    elif case == "unseen_test_label":
        folder = series_kit.write_idx(tmp_path / "odd", n_train=12, n_test=8, classes=2, test_classes=3)
    else:
        folder = tmp_path / "nothing-here"
    capsys.readouterr()
    assert cli.main(["train", "mnist", "--data", str(folder), "--out", str(out), *TINY]) == 2
    line = series_kit.error_line(capsys)
    assert {"empty_folder": "lacks", "unseen_test_label": "never seen", "not_a_folder": "not a folder"}[case] in line
    assert (out / "metrics.json").read_bytes() == before
