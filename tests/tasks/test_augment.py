"""Training-time augmentation (--noise, --channel-drop, --scale-jitter) and bagging (--bootstrap)."""
import numpy as np
import pytest

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.models import Sequential
from rnnlab.tasks.augment import Augment
from rnnlab.tasks.classify import ClassifyConfig, check_config, predict_proba, train_classifier

ALL = Augment(noise=0.5, channel_drop=0.3, scale_jitter=0.2)


def _batch(B=6, T=5, C=4, seed=0):
    return np.random.default_rng(seed).normal(size=(B, T, C)).astype(np.float32)


def test_augment_is_reproducible_from_the_generator_and_changes_the_batch():
    X = _batch()
    a = ALL(X, None, np.random.default_rng(7))
    np.testing.assert_array_equal(a, ALL(X, None, np.random.default_rng(7)))
    assert not np.allclose(a, ALL(X, None, np.random.default_rng(8)))
    assert not np.allclose(a, X) and a.dtype == X.dtype
    np.testing.assert_array_equal(X, _batch())   # the caller's batch is left alone


def test_augment_keeps_padding_zero_and_drops_whole_channels():
    X = _batch(B=40)
    L = np.arange(40) % 5 + 1
    for b, n in enumerate(L):
        X[b, n:] = 0
    out = Augment(noise=1.0)(X, L, np.random.default_rng(0))
    for b, n in enumerate(L):
        assert np.all(out[b, n:] == 0) and np.all(out[b, :n] != X[b, :n])
    dropped = Augment(channel_drop=0.5)(X, None, np.random.default_rng(0))
    zero = np.all(dropped == 0, axis=1)              # (B, C): channels zeroed over every step
    assert 0.3 < zero.mean() < 0.7
    np.testing.assert_array_equal(dropped[~zero[:, None, :].repeat(5, 1)], X[~zero[:, None, :].repeat(5, 1)])


def test_all_zero_augment_is_off():
    assert not Augment() and Augment(noise=0.1) and Augment(channel_drop=0.1) and Augment(scale_jitter=0.1)


def _net(seed=0):
    model = Sequential([nn.GRU(4, 3, return_sequences=False, seed=seed), nn.Dense(3, 2, seed=seed + 1)])
    model.compile("cross_entropy", "adam", lr=0.01)
    return model


class Recorder:
    """An augment that records the batches it is given and returns them unchanged."""

    def __init__(self):
        self.shapes = []

    def __call__(self, X, lengths, rng):
        self.shapes.append(X.shape[0])
        return X


def test_fit_augments_training_batches_only():
    X, y = _batch(B=20), np.arange(20) % 2
    rec = Recorder()
    model = _net()
    model.fit(X, y, epochs=3, batch_size=8, validation_data=(X[:6], y[:6]), augment=rec, progress=False)
    assert rec.shapes == [8, 8, 4] * 3          # every training batch of every epoch, no validation batch
    model.predict(X)
    model.evaluate(X, y)
    assert len(rec.shapes) == 9                 # prediction and evaluation see the series as they are


def test_fit_with_augment_is_reproducible_and_differs_from_plain_fit():
    X, y = _batch(B=24), np.arange(24) % 2
    runs = []
    for aug in (ALL, ALL, None):
        model = _net()
        model.fit(X, y, epochs=3, batch_size=8, seed=3, augment=aug, progress=False)
        runs.append(model.state_dict())
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])
    assert any(not np.allclose(runs[0][k], runs[2][k]) for k in runs[0])


def _data(n=40, T=8, C=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, T, C)).astype(np.float32) + y[:, None, None]
    return X, y


@pytest.mark.parametrize("kw", [dict(noise=0.5, channel_drop=0.2, scale_jitter=0.1), dict(bootstrap=True)],
                         ids=["augment", "bootstrap"])
def test_train_classifier_options_are_seeded_and_change_training(kw):
    X, y = _data()
    base = ClassifyConfig(hidden=4, epochs=3, ensemble=2, progress=False, seed=5)
    plain = predict_proba(train_classifier(base, X, y, ["a", "b"])[0], X)
    cfg = ClassifyConfig(hidden=4, epochs=3, ensemble=2, progress=False, seed=5, **kw)
    a, b = (predict_proba(train_classifier(cfg, X, y, ["a", "b"])[0], X) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, plain)


def test_bad_augment_values_give_one_error_naming_each():
    with pytest.raises(RnnlabError) as e:
        check_config(ClassifyConfig(noise=-1.0, channel_drop=1.0, scale_jitter=-0.1))
    msg = str(e.value)
    assert "--noise must be >= 0" in msg and "--channel-drop must be in [0, 1)" in msg
    assert "--scale-jitter must be >= 0" in msg
    with pytest.raises(RnnlabError, match="numpy engine only"):
        check_config(ClassifyConfig(noise=0.1, engine="torch"))
    check_config(ClassifyConfig(engine="torch"))   # no augmentation: the torch engine is fine
