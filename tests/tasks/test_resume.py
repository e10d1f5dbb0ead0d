"""`rnnlab train --resume DIR`: a task run killed at any moment ends with the weights of an uninterrupted one."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.numpy import load_file

from rnnlab.errors import RnnlabError, TrainingInterrupted
from rnnlab.tasks import run_task
from rnnlab.tasks.base import checkpoint_root, resume_task

# two ensemble members, so a kill can land in the first, between them or in the second
ARGS = ["digits", "--epochs", "8", "--limit", "600", "--hidden", "24", "--ensemble", "2", "--no-progress"]


def _cli(*args, wait=True):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", RNNLAB_NUMBA=os.environ.get("RNNLAB_NUMBA", "1"))
    proc = subprocess.Popen([sys.executable, "-m", "rnnlab", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    if wait:
        out, err = proc.communicate(timeout=300)
        return proc.returncode, out, err
    return proc


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run: its weights and metrics."""
    out = tmp_path_factory.mktemp("reference") / "run"
    code, _, err = _cli("train", *ARGS, "--out", str(out))
    assert code == 0, err
    return load_file(str(out / "weights.safetensors")), json.loads((out / "metrics.json").read_text())


def _assert_same_run(out, reference):
    weights, metrics = reference
    resumed = load_file(str(out / "weights.safetensors"))
    assert resumed.keys() == weights.keys()
    for k in weights:
        np.testing.assert_array_equal(resumed[k], weights[k], err_msg=k)
    assert json.loads((out / "metrics.json").read_text())["test"] == metrics["test"]


def _epochs_done(ckpt, member):
    try:
        return json.loads((ckpt / f"member{member}" / "last" / "state.json").read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def _wait_for(proc, ckpt, member, epoch):
    """Until network ``member`` has checkpointed ``epoch`` epochs (or the run ended)."""
    while _epochs_done(ckpt, member) < epoch and proc.poll() is None:
        time.sleep(0.002)


# (member, epochs it has checkpointed) after which the kill comes, a random few milliseconds later
KILL_POINTS = [(0, 1), (0, 6), (1, 3)]


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(len(KILL_POINTS)))
def test_sigkill_then_resume_gives_the_uninterrupted_weights(tmp_path, reference, trial):
    out, (member, epoch) = tmp_path / "run", KILL_POINTS[trial]
    proc = _cli("train", *ARGS, "--out", str(out), wait=False)
    _wait_for(proc, checkpoint_root(out), member, epoch)
    time.sleep(random.Random(trial).uniform(0.0, 0.05))
    proc.kill()
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, "the run ended before the kill"
    assert not out.exists()                       # nothing half-written where the result goes
    code, _, err = _cli("train", "--resume", str(out))
    assert code == 0, err
    _assert_same_run(out, reference)
    assert not checkpoint_root(out).exists()      # a finished run cleans up its checkpoints


@pytest.mark.slow
def test_sigterm_stops_with_a_resume_hint_and_exit_130(tmp_path, reference):
    out = tmp_path / "run"
    proc = _cli("train", *ARGS, "--out", str(out), wait=False)
    _wait_for(proc, checkpoint_root(out), 0, 2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert f"rnnlab train --resume {out}" in err and "Traceback" not in err
    assert (checkpoint_root(out) / "task.json").is_file() and not out.exists()
    code, _, err = _cli("train", "--resume", str(out))
    assert code == 0, err
    _assert_same_run(out, reference)


def test_a_fresh_run_refuses_to_overwrite_an_unfinished_one(tmp_path):
    out = tmp_path / "run"
    checkpoint_root(out).mkdir()
    (checkpoint_root(out) / "task.json").write_text("{}")
    with pytest.raises(RnnlabError, match="unfinished run; continue it with `rnnlab train --resume"):
        run_task("digits", out=str(out), epochs=1, limit=60, progress=False)
    assert (checkpoint_root(out) / "task.json").is_file()   # the user's checkpoints are kept


def test_resume_without_checkpoints_is_a_clear_error(tmp_path):
    with pytest.raises(RnnlabError, match="no unfinished run to resume"):
        resume_task(tmp_path / "run")


def test_resume_with_a_damaged_task_file_is_a_clear_error(tmp_path):
    ckpt = checkpoint_root(tmp_path / "run")
    ckpt.mkdir()
    (ckpt / "task.json").write_text('{"task": "digits", "config": {"layers": 1, "rm_rf": true}}')
    with pytest.raises(RnnlabError, match="does not hold options of task 'digits'"):
        resume_task(tmp_path / "run")


def test_a_run_that_fails_before_training_leaves_no_checkpoints(tmp_path):
    with pytest.raises(RnnlabError):
        run_task("motion", data=str(tmp_path / "missing.ts"), out=str(tmp_path / "run"), progress=False)
    assert not checkpoint_root(tmp_path / "run").exists()


def test_cli_resume_with_a_task_is_a_usage_error(tmp_path):
    code, _, err = _cli("train", "--resume", str(tmp_path / "run"), "digits")
    assert code == 2 and err.count("\n") == 1 and "give only" in err


def test_interruption_inside_a_task_is_reported_not_swallowed(tmp_path, monkeypatch):
    """fit(on_interrupt="raise") inside a task: the run stops, nothing is committed, the hint names DIR."""
    from rnnlab.models import training

    def interrupted_fit(*args, **kwargs):
        assert kwargs["on_interrupt"] == "raise"
        (kwargs["checkpoint_dir"] / "last").mkdir(parents=True)  # what fit leaves behind
        raise TrainingInterrupted("stopped")

    monkeypatch.setattr(training, "fit", interrupted_fit)
    out = tmp_path / "run"
    with pytest.raises(TrainingInterrupted, match=f"rnnlab train --resume {out}"):
        run_task("digits", out=str(out), epochs=1, limit=60, progress=False)
    assert not out.exists()
