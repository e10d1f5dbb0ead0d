"""Checkpoints: a run killed at any moment resumes to the very weights of an uninterrupted run."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.models import training
from rnnlab.nn.optim import Adam

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from safetensors.numpy import save_file
    from rnnlab import nn
    from rnnlab.models import Sequential

    ckpt, out, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = np.random.default_rng(0)
    X = rng.standard_normal((192, 12, 3)).astype(np.float32)
    y = (X[:, :, 0].sum(1) > 0).astype(np.int64)
    # dropout between layers and before the head: resuming must restore the generators too
    model = Sequential([nn.GRU(3, 16, num_layers=2, dropout=0.2, return_sequences=False, seed=1),
                        nn.Dropout(0.3, seed=2), nn.Dense(16, 2, seed=3)])
    model.compile("cross_entropy", "adam", lr=1e-2)
    model.fit(X, y, epochs=epochs, batch_size=16, validation_split=0.25, seed=4, progress=False,
              checkpoint_dir=ckpt, resume=True, checkpoint_steps=1)
    save_file(model.state_dict(), out)
""")


def _run(tmp_path, ckpt, out, epochs=12, kill_after=None, sig=signal.SIGKILL):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", RNNLAB_NUMBA=os.environ.get("RNNLAB_NUMBA", "1"))
    proc = subprocess.Popen([sys.executable, str(script), str(ckpt), str(out), str(epochs)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_after is None:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
        return proc.returncode
    # the kill lands a random time after the first checkpoint (import and JIT take a variable while)
    first = ckpt / "last" / "state.json"
    while not first.is_file() and proc.poll() is None:
        time.sleep(0.01)
    deadline = time.monotonic() + kill_after
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    if proc.poll() is None:
        proc.send_signal(sig)
    proc.communicate(timeout=300)
    return proc.returncode


def _weights(path):
    from safetensors.numpy import load_file

    return load_file(str(path))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    _run(tmp, tmp / "ckpt", tmp / "final.safetensors")
    return _weights(tmp / "final.safetensors")


@pytest.mark.slow
def test_sigkill_at_a_random_moment_then_resume_gives_identical_weights(tmp_path, reference):
    # training takes a few seconds after the first checkpoint; the kill may land anywhere in it
    kill_after = float(np.random.default_rng().uniform(0.0, 0.8))
    rc = _run(tmp_path, tmp_path / "ckpt", tmp_path / "final.safetensors", kill_after=kill_after)
    if rc == 0:
        pytest.skip(f"the run finished before the kill at {kill_after:.1f} s; nothing to resume")
    assert (tmp_path / "ckpt" / "last" / "state.json").is_file(), f"no checkpoint after {kill_after:.1f} s"
    _run(tmp_path, tmp_path / "ckpt", tmp_path / "final.safetensors")
    resumed = _weights(tmp_path / "final.safetensors")
    assert sorted(resumed) == sorted(reference)
    for k in reference:
        np.testing.assert_array_equal(resumed[k], reference[k], err_msg=f"{k} after kill at {kill_after:.1f} s")


@pytest.mark.slow
def test_sigterm_stops_cleanly_with_a_checkpoint_that_resumes_exactly(tmp_path, reference):
    # SIGTERM right after the first checkpoint (batch 1 of 12 epochs), long before training ends
    rc = _run(tmp_path, tmp_path / "ckpt", tmp_path / "final.safetensors", kill_after=0.02, sig=signal.SIGTERM)
    assert rc == 0  # a clean stop, not a kill
    state = json.loads((tmp_path / "ckpt" / "last" / "state.json").read_text())
    assert (state["epoch"], state["batch"]) != (12, 0), "the run was not interrupted"
    _run(tmp_path, tmp_path / "ckpt", tmp_path / "final.safetensors")
    resumed = _weights(tmp_path / "final.safetensors")
    for k in reference:
        np.testing.assert_array_equal(resumed[k], reference[k])


def test_consecutive_non_finite_steps_stop_with_advice_and_keep_the_weights(quadratic, batches_of_ones):
    model = quadratic([1.0, 2.0], nan_steps=range(2, 100))
    opt = Adam(lr=0.1)
    with pytest.raises(RnnlabError, match="learning rate"):
        training.fit(model, batches_of_ones(5), epochs=3, optimizer=opt, progress=False, max_bad_steps=4)
    w_after_two_steps = model.params["q.w"].copy()
    ref = quadratic([1.0, 2.0])
    training.fit(ref, batches_of_ones(2), epochs=1, optimizer=Adam(lr=0.1), progress=False)
    np.testing.assert_array_equal(w_after_two_steps, ref.params["q.w"])


def test_a_damaged_checkpoint_is_a_clear_error(tmp_path, quadratic, batches_of_ones):
    model = quadratic([1.0])
    training.fit(model, batches_of_ones(2), epochs=1, optimizer=Adam(lr=0.1), progress=False,
                 checkpoint_dir=tmp_path)
    (tmp_path / "last" / "state.json").write_text('{"epoch": 1, ')
    with pytest.raises(RnnlabError, match="state.json"):
        training.fit(quadratic([1.0]), batches_of_ones(2), epochs=2, optimizer=Adam(lr=0.1), progress=False,
                     checkpoint_dir=tmp_path, resume=True)


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path, quadratic, batches_of_ones, monkeypatch):
    from rnnlab.models import checkpoint

    model = quadratic([1.0])
    training.fit(model, batches_of_ones(2), epochs=1, optimizer=Adam(lr=0.1), progress=False,
                 checkpoint_dir=tmp_path)
    before = (tmp_path / "last" / "state.json").read_text()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint, "write_json_atomic", full_disk)
    with pytest.raises(RnnlabError, match="No space left"):
        training.fit(model, batches_of_ones(2), epochs=2, optimizer=Adam(lr=0.1), progress=False,
                     checkpoint_dir=tmp_path, resume=True)
    assert (tmp_path / "last" / "state.json").read_text() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary folders left behind"


def test_resuming_a_finished_early_stopped_run_trains_no_further(tmp_path):
    from rnnlab import nn
    from rnnlab.models import Sequential
    from rnnlab.models.callbacks import EarlyStopping

    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 6, 2)).astype(np.float32)
    y = rng.integers(0, 2, 64)                 # noise labels: validation stops improving quickly

    def run():
        model = Sequential([nn.GRU(2, 8, return_sequences=False, seed=1), nn.Dense(8, 2, seed=2)])
        model.compile("cross_entropy", "adam", lr=5e-2)
        model.fit(X, y, epochs=40, batch_size=16, validation_split=0.25, seed=3, progress=False,
                  callbacks=[EarlyStopping("val_loss", patience=1, restore_best_weights=True)],
                  checkpoint_dir=tmp_path, resume=True)
        return model

    first = run()
    assert len(first.history_) < 40
    again = run()                              # same checkpoint folder: the run is already done
    assert len(again.history_) == len(first.history_)
    for k, v in first.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[k], v, err_msg=k)


def test_a_language_model_resumed_mid_pass_continues_its_stream_exactly(tmp_path):
    """The state carried between chunks is part of the checkpoint, or the next chunk would start from zeros."""
    from rnnlab.data.text import CharVocab
    from rnnlab.models import LambdaCallback
    from rnnlab.models.language import LanguageModel

    vocab = CharVocab.fit("abcdefgh ")
    ids = vocab.encode("abc defg hab cdef gha bcd efgh " * 12)

    def run(**kw):
        lm = LanguageModel.from_vocab(vocab, embedding_dim=4, hidden_size=8, cell="lstm", dtype="float64", seed=0)
        lm.fit(ids, epochs=2, batch_size=4, bptt=8, optimizer=Adam(1e-2), seed=1, progress=False, **kw)
        return lm

    def stop_after(steps):
        def on_batch_end(trainer):
            if trainer.step == steps:
                trainer.interrupted = True
        return LambdaCallback(on_batch_end=on_batch_end)

    straight = run()
    with pytest.warns(RuntimeWarning, match="interrupted"):
        run(checkpoint_dir=tmp_path, checkpoint_steps=1, callbacks=[stop_after(5)])   # mid-pass
    resumed = run(checkpoint_dir=tmp_path, resume=True)
    for k, v in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k], v, err_msg=k)
