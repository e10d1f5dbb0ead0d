"""``rnnlab train forecast``: forecast yearly sunspot numbers 30 years ahead, or your own series.

Data: the yearly mean sunspot numbers 1700-2008 (statsmodels), or ``--data FILE.csv`` with a
header, one numeric column and optionally a date column. The last ``--horizon`` points are held
out; the networks see only the points before them and forecast the whole held-out stretch from
the end of the training part. Metrics: MASE, scaled by the in-sample seasonal naive forecast with
season ``--season`` (11, the solar cycle, for sunspots; 1 for your data unless given), and sMAPE.
Baselines on the same split: the seasonal naive forecast and AR(p) (statsmodels ``AutoReg`` with
a constant, p = ``--ar-order``); the better by MASE is ``baseline``, both are in ``baselines``.
By default the forecast is the equal-weight mean of the AR(p) forecast and the recurrent
ensemble's (``--hybrid combine``); ``--hybrid residual`` trains the networks on the AR
residuals instead, ``--hybrid none`` uses the networks alone (``rnnlab.tasks.forecast_hybrid``).

The defaults were chosen by rolling-origin validation on 1700-1978 only, never on the held-out
years: ``python benchmarks/forecast_selection.py``. ::

    rnnlab train forecast
    rnnlab train forecast --data sales.csv --date-column month --season 12 --horizon 12
    rnnlab forecast runs/forecast --horizon 10          # from the end of the whole series
"""
from __future__ import annotations

import csv
import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.metrics import mase, smape
from rnnlab.models.forecast import CELLS, MODES, Forecaster
from rnnlab.tasks import forecast_hybrid
from rnnlab.tasks.base import RunDir, Task, TaskConfig, register_task
from rnnlab.tasks.fitting import checkpoint_options

SUNSPOT_SEASON = 11
TRANSFORMS = ("none", "sqrt", "log1p")


@dataclass
class ForecastConfig(TaskConfig):
    """data: CSV file with a header: one numeric column, optionally a date column (default: yearly sunspots)
    test: not used: the held-out part is the last --horizon points of the series
    limit: train on only the last N values before the held-out part (quick runs)
    cell: recurrent cell: gru, lstm, rnn or feedback (output-feedback RNN)
    window: past values each forecast step reads
    mode: recursive (one step ahead, fed back), direct (all --horizon steps in one output) or seq
    ensemble: networks trained from different seeds whose forecasts are averaged
    transform: none, sqrt or log1p, applied before scaling and undone after
    difference: model the first differences
    horizon: held-out points at the end of the series, forecast in one go and scored
    season: period of the seasonal naive baseline and of the MASE scale (default: 11 for sunspots, else 1)
    ar_order: lags p of the AR(p) baseline and of the --hybrid AR part
    hybrid: combine (w·AR(p) + (1-w)·networks), residual (AR(p) + networks on its residuals) or none
    ar_weight: weight of the AR(p) forecast in --hybrid combine, in [0, 1]
    column: value column of --data (needed when it has more than two columns)
    date_column: date column of --data (default: the first column of a two-column file)
    """

    # chosen by rolling-origin validation on 1700-1978 (4 origins x 2 seeds of 5-ensembles,
    # benchmarks/forecast_selection.py): the GRU alone tied AR(9), 0.958 vs 0.947 MASE (LSTM 1.06,
    # feedback 1.12); the equal-weight combination of the two beat both, 0.903 (0.913 and 0.894 by
    # seed); the residual hybrid tied AR(9), 0.950; weights 0.4-0.6 all gave 0.903-0.907.
    cell: str = "gru"
    hidden: int = 32
    window: int = 22
    mode: str = "recursive"
    ensemble: int = 5
    transform: str = "none"
    difference: bool = False
    epochs: int = 60
    lr: float = 1e-2
    horizon: int = 30
    season: int | None = None
    ar_order: int = 9
    hybrid: str = "combine"
    ar_weight: float = 0.5
    column: str | None = None
    date_column: str | None = None


def check_config(cfg: ForecastConfig) -> None:
    """Every bad option at once, before any data is read."""
    problems = [f"--{k.replace('_', '-')} must be a positive integer, got {getattr(cfg, k)!r}"
                for k in ("hidden", "layers", "epochs", "batch_size", "window", "ensemble", "horizon", "ar_order")
                if getattr(cfg, k) < 1]
    for flag, value, options in (("cell", cfg.cell, CELLS), ("mode", cfg.mode, MODES),
                                 ("transform", cfg.transform, TRANSFORMS),
                                 ("hybrid", cfg.hybrid, forecast_hybrid.HYBRIDS)):
        if value not in options:
            problems.append(f"--{flag} must be one of {', '.join(options)}, got {value!r}")
    if cfg.cell == "feedback" and cfg.mode == "direct":
        problems.append("--cell feedback feeds its outputs back, so it takes --mode recursive or seq, not direct")
    if not 0 <= cfg.ar_weight <= 1:
        problems.append(f"--ar-weight must be in [0, 1], got {cfg.ar_weight!r}")
    if not cfg.lr > 0:
        problems.append(f"--lr must be > 0, got {cfg.lr!r}")
    for k in ("season", "limit"):
        if getattr(cfg, k) is not None and getattr(cfg, k) < 1:
            problems.append(f"--{k} must be a positive integer, got {getattr(cfg, k)!r}")
    if cfg.test:
        problems.append("--test is not used by forecast: the held-out part is the last --horizon points of --data")
    if problems:
        raise RnnlabError("forecast: " + "; ".join(problems) + ".")


# ---------------------------------------------------------------- data

def load_values(cfg: ForecastConfig) -> tuple[np.ndarray, list | None, str, int]:
    """(the whole series (n,), its dates or None, a description, the season)."""
    if cfg.data is None:
        from rnnlab.data.datasets import load_sunspots

        d = load_sunspots(n_test=1)
        years = np.concatenate([d.years_train, d.years_test]).tolist()
        return (np.concatenate([d.values_train, d.values_test]), years,
                f"yearly sunspots {years[0]}-{years[-1]} (statsmodels)", cfg.season or SUNSPOT_SEASON)
    from rnnlab.data.loaders import load_series_csv

    path, date_col = Path(cfg.data), cfg.date_column
    if cfg.column is None and path.is_file():
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            header = [h.strip() for h in next(csv.reader(fh), [])]
        if date_col is None and len(header) == 2:  # date, value: the usual two-column layout
            date_col = header[0]
        elif len([h for h in header if h != date_col]) > 1:
            raise RnnlabError(f"{path} has columns {header}; name the series with --column (and the dates "
                              "with --date-column).")
    s = load_series_csv(path, cfg.column, date_col)
    return s.values, s.dates, str(cfg.data), cfg.season or 1


def split_series(values: np.ndarray, cfg: ForecastConfig, data: str, season: int):
    """(training part, held-out part): the last --horizon points are held out; --limit trims the start."""
    H, diff = cfg.horizon, int(cfg.difference)
    # --hybrid residual: the networks train on the n - p residuals of the AR(p)
    resid = cfg.ar_order if cfg.hybrid == "residual" else 0
    per_sample = cfg.window + (H if cfg.mode == "direct" else 1) + diff + resid
    need = max(per_sample, season + 1, 2 * cfg.ar_order + 2)
    if len(values) - H < need:
        raise RnnlabError(
            f"{data} has {len(values)} values, but holding out --horizon {H} and training on --window "
            f"{cfg.window}{' plus --horizon outputs' if cfg.mode == 'direct' else ''} (and fitting AR("
            f"{cfg.ar_order}) and the season-{season} naive) needs at least {H + need}; use a longer "
            "series or a smaller --window, --horizon or --ar-order.")
    train, test = values[:-H], values[-H:]
    return (train[-max(cfg.limit, need):] if cfg.limit else train), test


# ---------------------------------------------------------------- baselines, scores, model

def seasonal_naive(train: np.ndarray, steps: int, season: int) -> np.ndarray:
    """ŷ_{T+k} = y_{T+k-m·⌈k/m⌉}: the last season repeated."""
    return np.resize(train[-season:], steps)


def ar_forecast(train: np.ndarray, steps: int, order: int) -> np.ndarray | None:
    """AR(p) with a constant, least squares (statsmodels AutoReg); None without statsmodels."""
    if importlib.util.find_spec("statsmodels") is None:
        return None
    from statsmodels.tsa.ar_model import AutoReg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = AutoReg(np.asarray(train, np.float64), lags=order, trend="c").fit()
        return np.asarray(fit.predict(start=len(train), end=len(train) + steps - 1))


def scores(truth, pred, train, season: int) -> dict:
    return {"mase": mase(truth, pred, train, season), "smape": smape(truth, pred)}


def fit_forecaster(cfg: ForecastConfig, train: np.ndarray, run_dir: RunDir | None = None):
    """The task's model on a training series (n,): returns (Forecaster, History); checkpointed in
    ``run_dir`` when given. With ``--hybrid`` the AR part is fitted too and kept in ``model.meta``;
    forecast with ``forecast_hybrid.forecast(model, steps, history)``."""
    series, meta = forecast_hybrid.network_series(train, cfg.hybrid, cfg.ar_order, cfg.transform)
    net_transform = "none" if cfg.hybrid == "residual" else cfg.transform   # residual: applied before the AR
    model = Forecaster(cell=cfg.cell, hidden_size=cfg.hidden, num_layers=cfg.layers, window=cfg.window,
                       horizon=cfg.horizon if cfg.mode == "direct" else 1, mode=cfg.mode,
                       difference=cfg.difference, transform=None if net_transform == "none" else net_transform,
                       ensemble=cfg.ensemble, seed=cfg.seed)
    if cfg.hybrid != "none":
        model.meta.update(hybrid=cfg.hybrid, ar_order=cfg.ar_order, **meta)
        if cfg.hybrid == "combine":
            model.meta["ar_weight"] = cfg.ar_weight
    history = model.fit(series, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed,
                        progress=cfg.progress, engine=cfg.engine, device=cfg.device,
                        **checkpoint_options(run_dir))
    return model, history


def write_table(path, dates, columns: dict) -> None:
    """forecast.csv: one row per held-out step with its date (or step number) and each forecast."""
    rows = zip(dates, *columns.values())
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["date", *columns])
        w.writerows([d, *(f"{v:.6g}" for v in vals)] for d, *vals in rows)


# ---------------------------------------------------------------- the task

@register_task
class Forecast(Task):
    name = "forecast"
    description = "forecast a series --horizon steps ahead (yearly sunspots by default); MASE and sMAPE"
    Config = ForecastConfig
    default_data = "yearly sunspots 1700-2008 (statsmodels), last 30 years held out; --data FILE.csv for yours"

    def run(self, cfg, run_dir: RunDir) -> dict:
        from rnnlab.viz import plots

        check_config(cfg)
        values, dates, data, season = load_values(cfg)
        train, test = split_series(values, cfg, data, season)
        H = len(test)
        model, history = fit_forecaster(cfg, train, run_dir)
        pred = forecast_hybrid.forecast(model, H, train)
        result = scores(test, pred, train, season)

        naive = seasonal_naive(train, H, season)
        forecasts = {f"seasonal naive (season {season})": naive}
        ar = ar_forecast(train, H, cfg.ar_order)
        if ar is not None:
            forecasts[f"AR({cfg.ar_order})"] = ar
        baselines = {k: scores(test, v, train, season) for k, v in forecasts.items()}
        best = min(baselines, key=lambda k: baselines[k]["mase"])
        parts = {}
        if cfg.hybrid == "combine":  # what the networks score on their own, beside the combination
            parts["networks alone"] = scores(test, model.forecast(H, history=train), train, season)

        model.meta.update(task=self.name, data=data, season=season,
                          # the context of `rnnlab forecast`; the AR part reads p more values
                          series_tail=values[-(cfg.window + 1 + (cfg.hybrid != "none") * cfg.ar_order):].tolist())
        run_dir.save_model(model)
        history.to_csv(run_dir.file("history.csv"))
        plots.learning_curves(list(history), run_dir.file("learning_curves.png"))
        held_dates = dates[-H:] if dates is not None else list(range(1, H + 1))
        write_table(run_dir.file("forecast.csv"), held_dates, {"truth": test, "forecast": pred, **forecasts})
        plots.forecast(train, test, pred, run_dir.file("forecast.png"), baseline=forecasts[best],
                       baseline_name=best,
                       title=f"{data}: MASE {result['mase']:.3f} ({best} {baselines[best]['mase']:.3f})")
        return {"task": self.name, "data": data,
                "split": {"train": int(len(train)), "valid": 0, "test": H, "unit": "time steps",
                          "test_from": str(held_dates[0]), "test_to": str(held_dates[-1])},
                "test": result,
                "baseline": {"name": best, "test": baselines[best]},
                "baselines": baselines, **({"parts": parts} if parts else {}),
                "season": season, "forecast": [float(v) for v in pred], "epochs_run": len(history)}

    def forecast(self, model, horizon: int = 10) -> list[str]:
        """``step<TAB>value`` for the ``horizon`` steps after the end of the whole series."""
        if not isinstance(horizon, int) or horizon < 1:
            raise RnnlabError(f"--horizon must be a positive number of steps, got {horizon!r}.")
        pred = forecast_hybrid.forecast(model, horizon, model.meta["series_tail"])
        return [f"{t}\t{v:.6g}" for t, v in enumerate(pred, 1)]
