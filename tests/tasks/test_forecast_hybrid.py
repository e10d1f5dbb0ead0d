"""``--hybrid``: the AR part reproduces statsmodels, each hybrid forecast is exactly its parts put
together, a hybrid model folder reloads and forecasts, and bad options or meta are refused."""
import json

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.models import load
from rnnlab.tasks import forecast_hybrid as fh
from rnnlab.tasks.forecast import ForecastConfig, ar_forecast, fit_forecaster

pytest.importorskip("statsmodels")

TINY = dict(epochs=2, ensemble=2, hidden=4, window=8, progress=False)


@pytest.fixture(scope="module")
def series():
    """AR(2) driven by a nonlinear term: y_t = 5 + 1.2 y_{t-1} - 0.5 y_{t-2} + sin(y_{t-1}) + ε, kept ≥ 0."""
    rng = np.random.default_rng(0)
    y = [10.0, 10.0]
    for _ in range(198):
        y.append(5 + 1.2 * y[-1] - 0.5 * y[-2] + np.sin(y[-1]) + rng.normal())
    return np.maximum(np.asarray(y), 0.0)


def test_ar_part_reproduces_statsmodels(series):
    from statsmodels.tsa.ar_model import AutoReg

    fit = AutoReg(series, lags=3, trend="c").fit()
    params = fh.fit_ar(series, 3)
    np.testing.assert_allclose(params, fit.params)
    np.testing.assert_allclose(fh.ar_path(params, series, 25), fit.predict(start=200, end=224), rtol=1e-10)
    np.testing.assert_allclose(fh.ar_path(params, series, 25), ar_forecast(series, 25, 3), rtol=1e-10)
    np.testing.assert_allclose(fh.ar_residuals(params, series), fit.resid, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("transform", ["none", "sqrt"])
def test_residual_hybrid_is_ar_forecast_plus_network_forecast_of_the_residuals(series, transform):
    cfg = ForecastConfig(**TINY, hybrid="residual", ar_order=2, transform=transform)
    model, _ = fit_forecaster(cfg, series)
    g = np.sqrt(series) if transform == "sqrt" else series
    params = fh.fit_ar(g, 2)
    np.testing.assert_allclose(model.meta["ar_params"], params)
    resid = fh.ar_residuals(params, g)
    np.testing.assert_allclose(model.meta["tail"], resid[-9:, None])   # the networks trained on the residuals
    assert model.config["transform"] is None                           # the transform came before the AR
    total = fh.ar_path(params, g, 12) + model.forecast(12, history=resid)
    expected = np.square(np.maximum(total, 0)) if transform == "sqrt" else total
    np.testing.assert_array_equal(fh.forecast(model, 12, series), expected)
    assert not np.allclose(expected, fh.ar_path(params, g, 12) if transform == "none" else np.square(
        fh.ar_path(params, g, 12)))                                      # the networks do add something


def test_combine_is_the_weighted_mean_of_the_ar_and_network_forecasts(series):
    cfg = ForecastConfig(**TINY, hybrid="combine", ar_order=2, ar_weight=0.25)
    model, _ = fit_forecaster(cfg, series)
    assert model.config["transform"] is None and model.meta["ar_weight"] == 0.25
    net = model.forecast(12, history=series)
    ar = ar_forecast(series, 12, 2)
    np.testing.assert_allclose(fh.forecast(model, 12, series), 0.25 * ar + 0.75 * net, rtol=1e-12)
    plain, _ = fit_forecaster(ForecastConfig(**TINY, hybrid="none"), series)   # same seeds and data: the same networks
    np.testing.assert_array_equal(net, plain.forecast(12, history=series))


@pytest.fixture(scope="module")
def hybrid_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fch") / "run"
    assert main(["train", "forecast", "--out", str(out), "--epochs", "2", "--ensemble", "2", "--hidden", "4",
                 "--no-progress", "--hybrid", "residual", "--ar-order", "9"]) == 0
    return out, json.loads((out / "metrics.json").read_text())


def test_hybrid_run_reloads_and_forecasts_from_the_series_end(hybrid_run, capsys):
    from rnnlab.data.datasets import load_sunspots

    out, m = hybrid_run
    meta = json.loads((out / "config.json").read_text())["meta"]
    assert meta["hybrid"] == "residual" and len(meta["ar_params"]) == 10   # plain JSON numbers, no pickle
    d = load_sunspots()
    model = load(out)
    np.testing.assert_array_equal(fh.forecast(model, 30, d.values_train), m["forecast"])
    assert main(["forecast", str(out), "--horizon", "5"]) == 0
    printed = [float(ln.split("\t")[1]) for ln in capsys.readouterr().out.splitlines()]
    whole = np.concatenate([d.values_train, d.values_test])                 # ends in 2008
    np.testing.assert_allclose(printed, fh.forecast(model, 5, whole), rtol=1e-5)
    assert not np.allclose(printed, fh.ar_path(meta["ar_params"], whole, 5), rtol=1e-3)   # not the AR alone


def test_hybrid_folder_with_bad_ar_params_is_refused(hybrid_run, tmp_path, capsys):
    import shutil

    out, _ = hybrid_run
    folder = tmp_path / "bad"
    shutil.copytree(out, folder)
    header = json.loads((folder / "config.json").read_text())
    header["meta"]["ar_params"] = header["meta"]["ar_params"][:-1]
    (folder / "config.json").write_text(json.dumps(header))
    assert main(["forecast", str(folder), "--horizon", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ar_params must be ar_order + 1" in err[0], err


def test_hybrid_folder_with_too_short_a_tail_is_refused(hybrid_run, tmp_path, capsys):
    import shutil

    out, _ = hybrid_run
    folder = tmp_path / "short"
    shutil.copytree(out, folder)
    header = json.loads((folder / "config.json").read_text())
    header["meta"]["series_tail"] = header["meta"]["series_tail"][-5:]
    (folder / "config.json").write_text(json.dumps(header))
    assert main(["forecast", str(folder), "--horizon", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "series_tail must hold more than ar_order = 9 values, got 5" in err[0], err


def test_bad_hybrid_options_are_one_error_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "forecast", "--out", str(out), "--hybrid", "stacked", "--ar-weight", "1.5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "--hybrid must be one of none, residual, combine, got 'stacked'" in err
    assert "--ar-weight must be in [0, 1], got 1.5" in err
    assert not out.exists()
