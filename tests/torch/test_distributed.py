"""Data-parallel ``torch_fit``: gloo processes on the CPU end with the weights one process trains."""
import functools
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab.torch import distributed

WORKER = Path(__file__).with_name("distributed_worker.py")
# the workers import this very rnnlab, installed or not
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(rnnlab.__file__).parents[1]),
                                                                 os.environ.get("PYTHONPATH")]))}


def _gloo_available() -> bool:
    try:
        import torch.distributed as dist
    except ImportError:
        return False
    return dist.is_available() and dist.is_gloo_available()


needs_gloo = pytest.mark.skipif(not _gloo_available(), reason="needs torch with torch.distributed and gloo")


def test_identity_comes_from_torchrun_environment(monkeypatch):
    for k, v in {"WORLD_SIZE": "4", "RANK": "2", "LOCAL_RANK": "1"}.items():
        monkeypatch.setenv(k, v)
    assert (distributed.world_size(), distributed.rank(), distributed.local_rank()) == (4, 2, 1)
    assert distributed.is_distributed() and not distributed.is_main_process()
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(k)
    assert (distributed.world_size(), distributed.rank(), distributed.local_rank()) == (1, 0, 0)
    assert not distributed.is_distributed() and distributed.is_main_process()


def test_asking_for_the_rank_does_not_import_torch():
    code = ("import sys; from rnnlab.torch import distributed as d; "
            "d.is_main_process(); d.is_distributed(); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_rank_slices_share_out_each_batch():
    idx = np.arange(10, 19)
    parts = [distributed.rank_slice(idx, r, 2) for r in range(2)]
    assert [p.tolist() for p in parts] == [[10, 11, 12, 13, 14], [15, 16, 17, 18]]
    X, y = np.arange(8.0).reshape(4, 2, 1), np.arange(4)
    got = list(distributed.RankBatches(X, y, None, [np.array([3, 1, 2]), np.array([0])], rank=1, world=2))
    assert [(b[1].tolist(), w) for b, w in got] == [([2], 1.0), ([0], 0.0)]  # empty slice: a weight-0 stand-in


@pytest.mark.parametrize("seed, env, match", [(0, {}, "MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK is not set"),
                                              (None, {"WORLD_SIZE": "2"}, "integer seed")], ids=["no-env", "no-seed"])
def test_distributed_training_refuses_what_would_leave_ranks_waiting(monkeypatch, seed, env, match):
    pytest.importorskip("torch")
    from rnnlab.errors import RnnlabError
    from rnnlab.torch.training import torch_fit

    for k in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    model, X, y, lengths = _load_worker().problem()
    with pytest.raises(RnnlabError, match=match):
        torch_fit(model, X, y, lengths=lengths, seed=seed, device="cpu", progress=False, distributed=True)


def _load_worker():
    spec = importlib.util.spec_from_file_location("distributed_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference():
    """``reference(batch_size)``: starting weights, and the weights and History of one process's training."""
    torch = pytest.importorskip("torch")
    from rnnlab.torch.training import torch_fit

    worker = _load_worker()

    @functools.cache
    def train(batch_size):
        old = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            model, X, y, lengths = worker.problem()
            start = model.state_dict()
            history = torch_fit(model, X, y, lengths=lengths, batch_size=batch_size, distributed=False, **worker.FIT)
        finally:
            torch.set_num_threads(old)
        return start, model.state_dict(), history

    return train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reports(procs, out: Path) -> list:
    """The report each worker wrote; kills them all if one fails or hangs."""
    try:
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, stderr) in zip(procs, outs):
        assert p.returncode == 0, stderr[-3000:]
    return [json.loads(f.read_text()) for f in sorted(out.glob("report_rank*.json"))]


def _check(out: Path, reports: list, reference, world: int) -> None:
    start, state, history = reference
    assert sorted(r["rank"] for r in reports) == list(range(world))
    assert len({r["weights"] for r in reports}) == 1  # every rank ends with the same weights
    assert all(r["history"] == reports[0]["history"] for r in reports)  # and logged the same epochs
    trained = np.load(out / "weights.npz")
    diff = max(float(np.abs(trained[k] - state[k]).max()) for k in state)
    print(f"max |weight difference| {world} processes vs one: {diff:.3g}")
    assert diff < 1e-10
    assert max(float(np.abs(state[k] - start[k]).max()) for k in state) > 1e-2  # and training moved them
    assert len(reports[0]["history"]) == len(history)
    for row, ref in zip(reports[0]["history"], history):
        for k in ("loss", "val_loss", "val_accuracy", "grad_norm"):
            assert row[k] == pytest.approx(ref[k], rel=1e-10, abs=1e-12), k
    assert sorted(p.name for p in out.glob("history_rank*.csv")) == ["history_rank0.csv"]  # rank 0 writes
    assert all("disagree on the number of training sequences (32 to 33)" in r["refused"] for r in reports)


@pytest.mark.slow
@needs_gloo
def test_two_gloo_processes_train_the_weights_of_one(tmp_path, reference):
    # 33 sequences in batches of 8: the last batch has one, so rank 1's slice of it is empty
    env = {**ENV, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "WORLD_SIZE": "2"}
    procs = [subprocess.Popen([sys.executable, str(WORKER), str(tmp_path), "8"],
                              env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(2)]
    _check(tmp_path, _reports(procs, tmp_path), reference(8), world=2)


@pytest.mark.slow
@needs_gloo
def test_torchrun_launch_of_three_processes_trains_the_weights_of_one(tmp_path, reference):
    # 33 sequences in batches of 31: the last batch of 2 leaves rank 2 a stand-in that must weigh nothing
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "3", "--standalone",
           str(WORKER), str(tmp_path), "31"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _check(tmp_path, _reports([proc], tmp_path), reference(31), world=3)
