"""The torch engine checkpoints and resumes as ``fit`` does: a run stopped part-way and resumed from its
checkpoint ends with the weights of an uninterrupted run."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnlab import nn  # noqa: E402
from rnnlab.data.text import CharVocab  # noqa: E402
from rnnlab.models import LambdaCallback, Sequential  # noqa: E402
from rnnlab.models.language import LanguageModel  # noqa: E402
from rnnlab.torch.kind_training import torch_train  # noqa: E402
from rnnlab.torch.training import torch_fit  # noqa: E402


def _sequential():
    model = Sequential([nn.GRU(3, 6, return_sequences=False, dtype=np.float64, seed=0),
                        nn.Dense(6, 2, dtype=np.float64, seed=1)])
    return model.compile("cross_entropy", "adam", lr=1e-2)


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 7, 3))
    return X, (X[:, :, 0].sum(1) > 0).astype(np.int64)


def _stop_after(batches):
    """A callback that stops training like SIGTERM would, after ``batches`` optimiser steps."""
    def on_batch_end(trainer):
        if trainer.step == batches:
            trainer.interrupted = True
    return LambdaCallback(on_batch_end=on_batch_end)


def _same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_torch_fit_resumes_mid_epoch_to_the_uninterrupted_weights(tmp_path):
    X, y = _data()
    fit = dict(epochs=4, batch_size=8, validation_split=0.2, seed=3, progress=False, device="cpu")
    straight = _sequential()
    torch_fit(straight, X, y, **fit)
    stopped = _sequential()
    with pytest.warns(RuntimeWarning, match="interrupted"):
        torch_fit(stopped, X, y, checkpoint_dir=tmp_path, checkpoint_steps=1, callbacks=[_stop_after(6)], **fit)
    assert not np.array_equal(stopped.state_dict()["1.weight"], straight.state_dict()["1.weight"])
    resumed = _sequential()                     # fresh weights: everything comes from the checkpoint
    history = torch_fit(resumed, X, y, checkpoint_dir=tmp_path, resume=True, **fit)
    _same(resumed.state_dict(), straight.state_dict())
    assert len(history) == 4


def test_torch_train_resumes_a_language_model(tmp_path):
    vocab = CharVocab.fit("abcdefgh ")
    ids = vocab.encode("abc defg hab cdef gha bcd efgh " * 12)

    def run(**kw):
        lm = LanguageModel.from_vocab(vocab, embedding_dim=4, hidden_size=8, dtype="float64", seed=0)
        torch_train(lm, lm.batches(ids, batch_size=4, bptt=8), epochs=3, optimizer=nn.Adam(1e-2), seed=1,
                    progress=False, device="cpu", **kw)
        return lm

    straight = run()
    with pytest.warns(RuntimeWarning, match="interrupted"):
        run(checkpoint_dir=tmp_path, checkpoint_steps=1, callbacks=[_stop_after(13)])
    _same(run(checkpoint_dir=tmp_path, resume=True).state_dict(), straight.state_dict())


def test_checkpoints_under_torchrun_are_refused(monkeypatch, tmp_path):
    from rnnlab.errors import RnnlabError
    from rnnlab.torch import distributed

    monkeypatch.setattr(distributed, "setup", lambda device: torch.device("cpu"))
    monkeypatch.setattr(distributed, "check_same", lambda *a: None)
    monkeypatch.setattr(distributed, "rank", lambda: 0)
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    X, y = _data()
    with pytest.raises(RnnlabError, match="single-process training only"):
        torch_fit(_sequential(), X, y, epochs=1, progress=False, distributed=True, checkpoint_dir=tmp_path)
