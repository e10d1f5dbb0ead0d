"""Forecaster: every mode learns a noisy sine, shapes, scaling, files, and bad input."""
import numpy as np
import pytest

from rnnlab.errors import NotFittedError, RnnlabError
from rnnlab.metrics import mase
from rnnlab.models import Forecaster, load, save

HOLD = 20


@pytest.fixture(scope="module")
def sine():
    """A sine of period 20 plus N(0, 0.1²) noise, 420 steps; the last 20 are held out.

    The season-1 naive MAE is about 0.27, and noise alone costs a perfect forecast about 0.08,
    so MASE cannot go much below 0.3.
    """
    rng = np.random.default_rng(0)
    s = np.sin(2 * np.pi * np.arange(420) / 20) + 0.1 * rng.normal(size=420)
    return s[:-HOLD], s[-HOLD:]


@pytest.fixture(scope="module")
def pair():
    """Two series (300, 2): a sine and a cosine of period 15, lightly noisy."""
    rng = np.random.default_rng(1)
    t = 2 * np.pi * np.arange(300) / 15
    return np.stack([np.sin(t), 3 + 2 * np.cos(t)], axis=1) + 0.05 * rng.normal(size=(300, 2))


MODES = {
    "lstm-recursive": dict(mode="recursive"),
    "lstm-direct": dict(mode="direct", horizon=HOLD),
    "lstm-seq": dict(mode="seq"),
    "feedback": dict(cell="feedback"),
    "rnn-recursive-ensemble": dict(cell="rnn", ensemble=3),
}


@pytest.mark.parametrize("kw", MODES.values(), ids=MODES.keys())
def test_each_mode_learns_a_noisy_sine(sine, kw):
    train, test = sine
    f = Forecaster(hidden_size=16, window=20, **kw)
    history = f.fit(train, epochs=12, lr=1e-2)
    assert history[-1, "loss"] < 0.1 * history[0, "loss"] or history[-1, "loss"] < 0.06
    # observed 0.42-0.52; the naive forecast scores 1 by construction
    assert mase(test, f.forecast(HOLD), train) < 0.7


def test_recursive_and_direct_shapes(pair):
    rec = Forecaster(hidden_size=8, window=10)
    rec.fit(pair, epochs=1)
    assert rec.forecast(7).shape == (7, 2)
    direct = Forecaster(hidden_size=8, window=10, mode="direct", horizon=4)
    direct.fit(pair, epochs=1)
    assert direct.forecast(3).shape == (3, 2)
    long = direct.forecast(10)   # three blocks of 4, cut to 10
    assert long.shape == (10, 2)
    np.testing.assert_array_equal(long[:3], direct.forecast(3))
    uni = Forecaster(hidden_size=8, window=10, mode="direct", horizon=4)
    uni.fit(pair[:, 0], epochs=1)
    assert uni.forecast(5).shape == (5,)


def test_feedback_cell_forecasts_and_samples_paths(sine):
    train, _ = sine
    f = Forecaster(cell="feedback", hidden_size=16, window=20)
    f.fit(train, epochs=12, lr=1e-2)
    paths = f.sample_paths(HOLD, n_paths=200, rng=0)
    assert paths.shape == (200, HOLD)
    lo, hi = np.quantile(paths, [0.05, 0.95], axis=0)
    point = f.forecast(HOLD)
    assert np.all(hi - lo > 0) and np.mean((lo <= point) & (point <= hi)) > 0.9
    np.testing.assert_allclose(f.sample_paths(HOLD, n_paths=3, noise_std=0.0), np.tile(point, (3, 1)),
                               rtol=1e-6, atol=1e-6)
    assert f.meta["residual_std"] > 0


def test_seq_mode_carries_the_state_and_matches_its_one_step_prediction(pair):
    f = Forecaster(hidden_size=8, window=10, mode="seq")
    f.fit(pair, epochs=2)
    two = f.forecast(2)
    # the second value is the one-step forecast from a history that ends with the first
    longer = np.concatenate([pair, two[:1]])
    ctx = f._scale(longer[-f.window - 1:])
    f.eval()
    h, _ = f.modules["rnn0"].forward(ctx[None])
    z = f.modules["out0"].forward(h[:, -1])
    np.testing.assert_allclose(f._unscale(z[None], None)[0, 0], two[1], rtol=1e-4)


@pytest.mark.parametrize("kw", [{}, {"difference": True}, {"transform": "sqrt"},
                                {"transform": "log1p", "difference": True}], ids=str)
def test_scaling_round_trip(kw):
    rng = np.random.default_rng(2)
    s = np.abs(rng.normal(5, 2, size=(50, 2)))
    f = Forecaster(window=5, n_series=2, **kw)
    f.fit(s, epochs=1)
    z = f._scale(s).astype(np.float64)
    assert abs(z.mean()) < 1e-6 and abs(z.std() - 1) < 1e-6
    back = f._unscale(f._scale(s), s[0])  # differenced values are summed from the first raw value
    np.testing.assert_allclose(back, s[1:] if f.config["difference"] else s, rtol=1e-5)


def test_statistics_come_from_the_training_part_only(sine):
    train, _ = sine
    f = Forecaster(hidden_size=8, window=20)
    history = f.fit(train, epochs=1, validation_fraction=0.25)
    cut = len(train) - 100
    np.testing.assert_allclose(f.meta["mean"], [train[:cut].mean()])
    np.testing.assert_allclose(f.meta["std"], [train[:cut].std()])
    assert "val_loss" in history[-1]


@pytest.mark.parametrize("kw", [dict(mode="recursive", difference=True, ensemble=2),
                                dict(mode="direct", horizon=3, transform="sqrt"),
                                dict(mode="seq", cell="gru"), dict(cell="feedback")], ids=str)
def test_save_and_load_give_identical_forecasts(tmp_path, pair, kw):
    s = pair + 2  # positive, for the sqrt transform
    f = Forecaster(hidden_size=8, window=10, **kw)
    f.fit(s, epochs=2)
    g = load(save(f, tmp_path / "m"))
    assert isinstance(g, Forecaster) and g.get_config() == f.get_config()
    np.testing.assert_array_equal(g.forecast(6), f.forecast(6))
    np.testing.assert_array_equal(g.forecast(4, history=s[:100]), f.forecast(4, history=s[:100]))


def test_forecast_from_a_given_history_reads_only_its_tail(pair):
    f = Forecaster(hidden_size=8, window=10)
    f.fit(pair, epochs=1)
    np.testing.assert_array_equal(f.forecast(3, history=pair[:150]), f.forecast(3, history=pair[139:150]))
    np.testing.assert_array_equal(f.forecast(3), f.forecast(3, history=pair))


def test_bad_series_are_clear_errors(pair):
    f = Forecaster(window=10)
    nan = pair[:, 0].copy()
    nan[40] = np.nan
    with pytest.raises(RnnlabError, match="NaN.*rows \\[40\\]"):
        f.fit(nan)
    with pytest.raises(RnnlabError, match="needs window \\+ horizon = 11"):
        f.fit(pair[:10, 0])
    with pytest.raises(RnnlabError, match="expected shape \\(time,\\) or \\(time, n_series\\)"):
        f.fit(pair[None])
    with pytest.raises(RnnlabError, match="\\+ 1 \\(difference\\) = 15"):
        Forecaster(window=10, horizon=4, mode="direct", difference=True).fit(pair[:14])
    with pytest.raises(RnnlabError, match="transform='sqrt' needs values >= 0"):
        Forecaster(transform="sqrt").fit(pair[:, 0])
    with pytest.raises(NotFittedError, match="call fit"):
        f.forecast(3)
    f.fit(pair, epochs=1)
    with pytest.raises(RnnlabError, match="has 1 series .* forecasts 2"):
        f.forecast(3, history=pair[:, 0])
    with pytest.raises(RnnlabError, match="needs the last 10"):
        f.forecast(3, history=pair[:5])
    with pytest.raises(RnnlabError, match="steps must be a positive integer"):
        f.forecast(0)


def test_bad_settings_are_reported_together():
    with pytest.raises(RnnlabError) as e:
        Forecaster(cell="lstn", mode="recursive", horizon=5, window=0)
    msg = str(e.value)
    assert "cell must be one of" in msg and "horizon=5 needs mode='direct'" in msg and "window" in msg
    with pytest.raises(RnnlabError, match="takes mode 'recursive' or 'seq'"):
        Forecaster(cell="feedback", mode="direct", horizon=3)
    with pytest.raises(RnnlabError, match="does not do"):
        Forecaster(mode="direct", horizon=2, n_series=1).sample_paths(3)
