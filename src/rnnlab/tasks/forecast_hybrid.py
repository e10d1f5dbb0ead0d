"""AR(p) + recurrent-network hybrids for the forecast task (``--hybrid``).

A linear AR(p) with a constant (least squares, as statsmodels ``AutoReg(trend="c")``, the task's
AR baseline) and the recurrent ensemble are put together in one of two ways:

``residual``  Zhang (2003), "Time series forecasting using a hybrid ARIMA and neural network
              model" (Neurocomputing 50), which used these sunspots: the AR captures the linear
              structure, the networks are trained on its in-sample residuals
              e_t = y_t - ĉ - Σ φ̂_i y_{t-i}, and the forecast is the AR forecast plus the
              networks' recursive forecast of the residual (future residuals being their own
              predictions). ``--transform`` applies to the series before the AR fit and is undone
              after the sum; the networks see the residuals untransformed.
``combine``   forecast combination: w · AR forecast + (1 - w) · network forecast, w =
              ``--ar-weight``. ``--transform`` applies to both parts: the AR is fitted on g(y)
              and its forecast transformed back, the networks transform as they do alone.

The AR coefficients live in the model's JSON meta (``ar_params`` = [c, φ_1, ..., φ_p]), so a
saved model folder reloads and forecasts without statsmodels; the AR forecast is computed here
in NumPy and tested against statsmodels.
"""
from __future__ import annotations

import importlib.util
import warnings

import numpy as np

from rnnlab.errors import RnnlabError

HYBRIDS = ("none", "residual", "combine")


def fit_ar(y, order: int) -> np.ndarray:
    """[c, φ_1, ..., φ_p] of AR(p) with a constant, least squares (statsmodels AutoReg)."""
    if importlib.util.find_spec("statsmodels") is None:
        raise RnnlabError("--hybrid fits an AR model with statsmodels; install it with "
                          "`pip install 'statsmodels>=0.14.2'`, or use --hybrid none.")
    from statsmodels.tsa.ar_model import AutoReg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(AutoReg(np.asarray(y, np.float64), lags=order, trend="c").fit().params, np.float64)


def ar_path(params, history, steps: int, shocks=None) -> np.ndarray:
    """Iterated AR forecast of the ``steps`` values after ``history`` (only its last p are read)."""
    c, phi = float(params[0]), np.asarray(params[1:], np.float64)
    p = len(phi)
    y = list(np.asarray(history, np.float64)[-p:])
    for k in range(steps):
        # ŷ_{T+k} = c + Σ_i φ_i ŷ_{T+k-i} (+ shock_k), fed back
        y.append(c + float(phi @ np.asarray(y[-1:-p - 1:-1])) + (0.0 if shocks is None else float(shocks[k])))
    return np.asarray(y[p:])


def ar_residuals(params, y) -> np.ndarray:
    """In-sample one-step residuals e_t for t = p, ..., n-1: (n - p,)."""
    c, phi = float(params[0]), np.asarray(params[1:], np.float64)
    y, p = np.asarray(y, np.float64), len(phi)
    lags = np.lib.stride_tricks.sliding_window_view(y[:-1], p)[:, ::-1]      # row t-p: y_{t-1}, ..., y_{t-p}
    # e_t = y_t - c - Σ_i φ_i y_{t-i}
    return y[p:] - c - lags @ phi


def _g(y, transform: str) -> np.ndarray:
    y = np.asarray(y, np.float64)
    if transform == "sqrt" and y.min() < 0 or transform == "log1p" and y.min() <= -1:
        raise RnnlabError(f"--transform {transform} needs values {'>= 0' if transform == 'sqrt' else '> -1'}, "
                          f"but the series goes down to {y.min():g}; use another transform or none.")
    return np.sqrt(y) if transform == "sqrt" else np.log1p(y) if transform == "log1p" else y


def _g_inv(g, transform: str) -> np.ndarray:
    return np.square(np.maximum(g, 0)) if transform == "sqrt" else np.expm1(g) if transform == "log1p" else g


def network_series(train, hybrid: str, order: int, transform: str):
    """(what the networks train on, meta to store): the residuals of AR(p) on g(train) for
    ``residual``, else the series itself (the networks then apply ``--transform`` themselves)."""
    if hybrid == "none":
        return train, {}
    g = _g(train, transform)
    params = fit_ar(g, order)
    meta = {"ar_params": params.tolist(), "hybrid_transform": transform}
    return (train if hybrid == "combine" else ar_residuals(params, g)), meta


def forecast(model, steps: int, history) -> np.ndarray:
    """The point forecast of the ``steps`` values after the raw series ``history``, whatever
    ``model.meta["hybrid"]`` says (absent: the networks alone)."""
    hybrid, history = model.meta.get("hybrid", "none"), np.asarray(history, np.float64)
    if hybrid == "none":
        return model.forecast(steps, history=history)
    params = np.asarray(model.meta["ar_params"], np.float64)
    tr = model.meta.get("hybrid_transform", "none")
    g = _g(history, tr)
    if hybrid == "combine":
        w = float(model.meta["ar_weight"])
        # ŷ = w · g⁻¹(AR forecast of g(y)) + (1 - w) · RNN forecast
        return w * _g_inv(ar_path(params, g, steps), tr) + (1 - w) * model.forecast(steps, history=history)
    # ŷ = g⁻¹(AR forecast of g(y) + RNN forecast of the AR residuals)
    return _g_inv(ar_path(params, g, steps) + model.forecast(steps, history=ar_residuals(params, g)), tr)
