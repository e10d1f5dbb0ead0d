"""``Forecaster``: recurrent networks that forecast a univariate or multivariate series.

All modes work on standardised values z_t = (g(s_t) - μ) / σ, where g is the optional
``transform`` (sqrt, log1p), optionally differenced first (d_t = g(s_t) - g(s_{t-1})), with μ and
σ per series from the training part only. With a window of w steps::

    mode="recursive"   many-to-one   z_{t-w+1..t} → ẑ_{t+1}; further steps feed ẑ back into the window
    mode="direct"      many-to-one   z_{t-w+1..t} → (ẑ_{t+1}, ..., ẑ_{t+h}) in one output of h·K values
    mode="seq"         many-to-many  ẑ_{t+1} at every step of the window; forecasts carry the state on
    cell="feedback"    nn.FeedbackRNN: ŷ_t from y_{<t}, teacher-forced over the window, then generate

``ensemble=k`` trains k networks from different seeds side by side (one loss, the mean of
theirs) and averages their forecasts. Noise fed back into the recursive, seq and feedback modes
gives sample paths, whose quantiles are forecast intervals.
"""
from __future__ import annotations

import numbers

import numpy as np

from rnnlab import nn
from rnnlab.errors import NotFittedError, RnnlabError
from rnnlab.models import training
from rnnlab.models.arrays import as_array
from rnnlab.models.base import Model, register

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN, "feedback": nn.FeedbackRNN}
MODES = ("recursive", "direct", "seq")
TRANSFORMS = (None, "sqrt", "log1p")


def _is_int(v, low: int) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= low


@register
class Forecaster(Model):
    """A recurrent forecaster; see the module docstring for the modes.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn", "feedback"}, default "lstm"
    hidden_size : int, default 32
    num_layers : int, default 1
        Stacked layers (not for "feedback").
    window : int, default 22
        w, the steps each training sample reads (and the context a forecast starts from).
    horizon : int, default 1
        h, the outputs of ``mode="direct"``; must be 1 for the other modes, which forecast any
        number of steps recursively.
    mode : {"recursive", "direct", "seq"}, default "recursive"
        "feedback" trains per step (as "seq") and accepts "recursive" or "seq".
    dropout : float, default 0
        Between stacked layers.
    nonlinearity : {"tanh", "relu", "sigmoid"}, default "tanh"
        For cell "rnn" and "feedback".
    difference : bool, default False
        Model the first differences, and sum the forecasts back up.
    transform : {None, "sqrt", "log1p"}, default None
        Applied before differencing and scaling, inverted after (sqrt needs s ≥ 0, log1p s > -1).
    ensemble : int, default 1
        Networks averaged.
    n_series : int or None, default None
        K; None takes it from the first ``fit``.
    seed : int, default 0
        Seeds the initial weights.
    dtype : {"float32", "float64"}, default "float32"

    Attributes
    ----------
    meta : dict
        After ``fit``: ``mean``, ``std`` (K,), ``tail`` (the last w + 1 raw values, the default
        context of ``forecast``) and ``residual_std`` (RMS one-step error on the training windows,
        in standardised units, the default noise of ``sample_paths``). Saved with the model.

    Examples
    --------
    >>> t = np.arange(300); s = np.sin(2 * np.pi * t / 25)
    >>> f = Forecaster(hidden_size=8, window=10)
    >>> _ = f.fit(s, epochs=2)
    >>> f.forecast(5).shape
    (5,)
    """

    kind = "forecaster"

    def __init__(self, cell="lstm", hidden_size=32, num_layers=1, window=22, horizon=1, mode="recursive",
                 dropout=0.0, nonlinearity="tanh", difference=False, transform=None, ensemble=1,
                 n_series=None, seed=0, dtype="float32"):
        super().__init__()
        self.config = dict(cell=cell, hidden_size=hidden_size, num_layers=num_layers, window=window,
                           horizon=horizon, mode=mode, dropout=dropout, nonlinearity=nonlinearity,
                           difference=difference, transform=transform, ensemble=ensemble, n_series=n_series,
                           seed=seed, dtype=str(dtype))
        self._check_config()
        self.cell, self.mode, self.window, self.horizon = cell, mode, int(window), int(horizon)
        self.feedback, self.ensemble, self.n_series = cell == "feedback", int(ensemble), None
        self.dtype = np.dtype(str(dtype))
        if n_series is not None:
            self._build(int(n_series))

    def _check_config(self) -> None:
        c, problems = self.config, []
        if c["cell"] not in CELLS:
            problems.append(f"cell must be one of {sorted(CELLS)}, got {c['cell']!r}")
        if c["mode"] not in MODES:
            problems.append(f"mode must be one of {list(MODES)}, got {c['mode']!r}")
        for k in ("hidden_size", "num_layers", "window", "horizon", "ensemble"):
            if not _is_int(c[k], 1):
                problems.append(f"{k} must be a positive integer, got {c[k]!r}")
        if c["n_series"] is not None and not _is_int(c["n_series"], 1):
            problems.append(f"n_series must be a positive integer or None, got {c['n_series']!r}")
        if _is_int(c["horizon"], 2) and c["mode"] != "direct":
            problems.append(f"horizon={c['horizon']} needs mode='direct'; the other modes forecast any number "
                            "of steps with forecast(steps), so leave horizon=1")
        if c["cell"] == "feedback" and c["mode"] == "direct":
            problems.append("cell='feedback' forecasts by feeding its outputs back, so it takes mode "
                            "'recursive' or 'seq', not 'direct'")
        if c["cell"] == "feedback" and c["num_layers"] != 1:
            problems.append("cell='feedback' has one layer; use num_layers=1")
        if not (isinstance(c["dropout"], numbers.Real) and 0 <= c["dropout"] < 1):
            problems.append(f"dropout must be a probability in [0, 1), got {c['dropout']!r}")
        if c["nonlinearity"] not in ("tanh", "relu", "sigmoid"):
            problems.append(f"nonlinearity must be 'tanh', 'relu' or 'sigmoid', got {c['nonlinearity']!r}")
        if c["transform"] not in TRANSFORMS:
            problems.append(f"transform must be one of {list(TRANSFORMS)}, got {c['transform']!r}")
        if not isinstance(c["difference"], bool):
            problems.append(f"difference must be True or False, got {c['difference']!r}")
        if not _is_int(c["seed"], 0):
            problems.append(f"seed must be a non-negative integer, got {c['seed']!r}")
        if c["dtype"] not in ("float32", "float64"):
            problems.append(f"dtype must be 'float32' or 'float64', got {c['dtype']!r}")
        if problems:
            raise RnnlabError("Forecaster: " + "; ".join(problems) + ".")

    def _build(self, K: int) -> None:
        """Create the ``ensemble`` networks for K series: modules ``rnn<j>`` (and ``out<j>``)."""
        c, dt = self.config, self.dtype
        seeds = np.random.default_rng(c["seed"]).integers(2**31, size=(self.ensemble, 2)).tolist()
        out_size = K * self.horizon
        for j, (s_rnn, s_out) in enumerate(seeds):
            if self.feedback:
                self.modules[f"rnn{j}"] = nn.FeedbackRNN(K, c["hidden_size"], nonlinearity=c["nonlinearity"],
                                                         seed=s_rnn, dtype=dt)
                continue
            kw = {"nonlinearity": c["nonlinearity"]} if self.cell == "rnn" else {}
            self.modules[f"rnn{j}"] = CELLS[self.cell](K, c["hidden_size"], c["num_layers"], dropout=c["dropout"],
                                                       return_sequences=self.mode == "seq", seed=s_rnn,
                                                       dtype=dt, **kw)
            self.modules[f"out{j}"] = nn.Dense(c["hidden_size"], out_size, seed=s_out, dtype=dt)
        self.n_series = self.config["n_series"] = K

    def get_config(self) -> dict:
        return dict(self.config)

    # -- scaling ----------------------------------------------------------------------------------
    @property
    def _needed(self) -> int:
        """Raw values a forecast context needs: the window, plus one to difference."""
        return self.window + int(self.config["difference"])

    def _series(self, series, name: str = "series") -> np.ndarray:
        """Validate a raw series (T,) or (T, K) → float64 (T, K)."""
        s = as_array(name, series)
        if s.ndim not in (1, 2) or (s.ndim == 2 and s.shape[1] == 0):
            raise RnnlabError(f"{name} expected shape (time,) or (time, n_series) but got {s.shape}; pass one "
                              "column per series, time along the first axis.")
        s = s.astype(np.float64).reshape(len(s), -1)
        if not np.isfinite(s).all():
            raise RnnlabError(f"{name} contains NaN or infinite values at rows "
                              f"{np.flatnonzero(~np.isfinite(s).all(1))[:5].tolist()}; fill or drop them first.")
        if self.n_series is not None and s.shape[1] != self.n_series:
            raise RnnlabError(f"{name} has {s.shape[1]} series (columns) but the model forecasts {self.n_series}; "
                              "pass the same series the model was trained on.")
        tr = self.config["transform"]
        if (tr == "sqrt" and s.min() < 0) or (tr == "log1p" and s.min() <= -1):
            raise RnnlabError(f"transform={tr!r} needs values {'>= 0' if tr == 'sqrt' else '> -1'} but {name} "
                              f"goes down to {s.min():g}; use another transform or none.")
        return s

    def _transformed(self, s: np.ndarray) -> np.ndarray:
        """g(s), differenced when asked: (T, K) → (T or T-1, K), not yet standardised."""
        tr = self.config["transform"]
        g = np.sqrt(s) if tr == "sqrt" else np.log1p(s) if tr == "log1p" else s
        return np.diff(g, axis=0) if self.config["difference"] else g

    def _scale(self, s: np.ndarray) -> np.ndarray:
        return ((self._transformed(s) - self.meta["mean"]) / self.meta["std"]).astype(self.dtype)

    def _unscale(self, z: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Standardised forecasts (..., steps, K) → raw values, given the last raw value (K,)."""
        g = z.astype(np.float64) * self.meta["std"] + self.meta["mean"]
        if self.config["difference"]:
            tr = self.config["transform"]
            g_last = np.sqrt(last) if tr == "sqrt" else np.log1p(last) if tr == "log1p" else last
            g = g_last + np.cumsum(g, axis=-2)
        tr = self.config["transform"]
        return np.square(np.maximum(g, 0)) if tr == "sqrt" else np.expm1(g) if tr == "log1p" else g

    # -- windows and batches ------------------------------------------------------------------------
    def _windows(self, z: np.ndarray):
        """All training samples of a standardised series z (N, K).

        Returns X (n, w[+1], K) inputs, Y targets ((n, K), (n, h, K) or (n, w[+1], K)) and the time
        index of each target (n, targets) in z, used to split train from validation.
        """
        w, h = self.window, self.horizon
        view = np.lib.stride_tricks.sliding_window_view(z, w + h, axis=0).transpose(0, 2, 1)  # (n, w+h, K)
        t0 = np.arange(len(view))[:, None]
        if self.feedback:                                   # ŷ_t from y_{<t}; step 0 has no past
            return view, view, t0 + np.arange(w + 1)
        if self.mode == "seq":                              # next value at every step
            return view[:, :w], view[:, 1:], t0 + np.arange(1, w + 1)
        if self.mode == "recursive":
            return view[:, :w], view[:, w], t0 + w
        return view[:, :w], view[:, w:], t0 + np.arange(w, w + h)

    def _samples(self, z, split: int):
        """(X, Y, mask) of the training samples (every target before ``split``) and of the
        validation samples (last target at or after ``split``; the mask keeps those ≥ split)."""
        X, Y, t = self._windows(z)
        if self.mode == "recursive" and not self.feedback:
            t = t[:, 0]                                     # one target per sample: mask (n,)
        keep = np.ones(t.shape, bool)
        if self.feedback:
            keep[:, 0] = False
        last = t if t.ndim == 1 else t.max(axis=1)
        tr, va = last < split, last >= split
        train = (X[tr], Y[tr], keep[tr])
        valid = (X[va], Y[va], keep[va] & (t[va] >= split)) if va.any() else None
        return train, valid

    @staticmethod
    def _take(data, idx):
        X, Y, M = data
        m = M[idx]
        return np.ascontiguousarray(X[idx]), np.ascontiguousarray(Y[idx]), (None if m.all() else m)

    # -- forward, loss ------------------------------------------------------------------------------
    def _member(self, j: int, X: np.ndarray) -> np.ndarray:
        """Network j on inputs X (B, T, K) → predictions in the layout of the targets."""
        if self.feedback:
            return self.modules[f"rnn{j}"].forward(X)[0]
        h, _ = self.modules[f"rnn{j}"].forward(X)
        out = self.modules[f"out{j}"].forward(h)
        return out.reshape(len(X), self.horizon, -1) if self.mode == "direct" else out

    def _member_backward(self, j: int, d: np.ndarray) -> None:
        if self.feedback:
            self.modules[f"rnn{j}"].backward(d)
            return
        if self.mode == "direct":
            d = d.reshape(len(d), -1)
        self.modules[f"rnn{j}"].backward(self.modules[f"out{j}"].backward(d))

    def train_step_loss(self, batch) -> float:
        """Mean over the networks of their masked MSE; each network gets the gradient of its share."""
        X, Y, M = batch
        loss, total = nn.MSELoss(), 0.0
        for j in range(self.ensemble):
            total += loss.forward(self._member(j, X), Y, M)
            self._member_backward(j, loss.backward() / self.ensemble)
        return total / self.ensemble

    def _predict_batch(self, X) -> np.ndarray:
        return np.mean([self._member(j, X) for j in range(self.ensemble)], axis=0)

    def evaluate_batch(self, batch) -> dict:
        """Summed squared error of the ensemble's mean prediction over the kept targets, and their count."""
        X, Y, M = batch
        err = (self._predict_batch(X) - Y).astype(np.float64) ** 2
        if M is not None:
            err = err[M]
        return {"loss": float(err.sum()), "count": err.size}

    # -- training -----------------------------------------------------------------------------------
    def fit(self, series, *, epochs: int = 50, batch_size: int = 32, lr: float = 3e-3, optimizer=None,
            validation_fraction: float = 0.0, seed=0, progress: bool = False, callbacks=(), clip_norm=5.0,
            out_dir=None, engine: str = "numpy", device="auto", **fit_options):
        """Train on one series with ``rnnlab.models.training.fit`` (or ``rnnlab.torch.torch_train``);
        returns the ``History``.

        Parameters
        ----------
        series : array (T,) or (T, K)
            Time along the first axis; no NaN.
        epochs, batch_size : int
        lr : float, default 3e-3
            For the default optimiser, ``nn.Adam(lr)``.
        optimizer : rnnlab.nn optimiser, optional
        validation_fraction : float in [0, 1), default 0
            The last share of the series is held out: ``val_loss`` is the one-step (per-step for
            seq/feedback, per-horizon for direct) MSE, in standardised units, of samples whose
            targets lie there. Scaling statistics come from the part before it.
        seed : int or Generator
            Batch order.
        progress, callbacks, clip_norm, out_dir
            As in ``rnnlab.models.training.fit``.
        engine : {"numpy", "torch"}, default "numpy"
            "torch" takes the same batches and steps through ``rnnlab.torch.torch_train`` (needs
            PyTorch); the weights come back into this model, and forecasting stays in NumPy.
        device : {"auto", "cpu", "cuda"} or "cuda:N", default "auto"
            Where ``engine="torch"`` trains; the NumPy engine ignores it.
        **fit_options
            Passed to ``rnnlab.models.training.fit`` (or ``torch_train``): ``checkpoint_dir``, ``resume``,
            ``checkpoint_minutes``, ``checkpoint_steps``, ``max_bad_steps``, ``on_interrupt``.

        Notes
        -----
        The first ``fit`` fixes the scaling and the number of series; a later ``fit`` continues
        training the same networks on that scale.
        """
        if engine not in ("numpy", "torch"):
            raise RnnlabError(f"engine must be 'numpy' or 'torch', got {engine!r}.")
        s = self._series(series)
        if not (isinstance(validation_fraction, numbers.Real) and 0 <= validation_fraction < 1):
            raise RnnlabError(f"validation_fraction must be a fraction in [0, 1), got {validation_fraction!r}.")
        if not _is_int(batch_size, 1):
            raise RnnlabError(f"batch_size must be a positive integer, got {batch_size!r}.")
        need = self._needed + self.horizon
        if len(s) < need:
            raise RnnlabError(f"the series has {len(s)} values but one training sample needs window + horizon"
                              f"{' + 1 (difference)' if self.config['difference'] else ''} = {need}; use a "
                              "longer series or a shorter window.")
        if self.n_series is None:
            self._build(s.shape[1])
        g = self._transformed(s)
        split = len(g) - int(round(len(g) * validation_fraction)) if validation_fraction else len(g)
        if "mean" not in self.meta:
            ref = g[:split]
            sd = ref.std(axis=0)
            self.meta.update(mean=ref.mean(axis=0).tolist(), std=np.where(sd > 0, sd, 1.0).tolist())
        train, valid = self._samples(self._scale(s), split)
        if len(train[0]) == 0 or (validation_fraction and valid is None):
            raise RnnlabError(f"validation_fraction={validation_fraction} of {len(s)} values leaves no "
                              f"{'training' if len(train[0]) == 0 else 'validation'} sample of window + horizon "
                              "steps; change the fraction or the window.")
        n = len(train[0])

        def train_batches(rng):
            order = rng.permutation(n)
            return [self._take(train, order[i:i + batch_size]) for i in range(0, n, batch_size)]

        def valid_batches():
            return [self._take(valid, np.arange(i, min(i + 256, len(valid[0]))))
                    for i in range(0, len(valid[0]), 256)]

        loop = dict(epochs=epochs, optimizer=optimizer or nn.Adam(lr), callbacks=callbacks, clip_norm=clip_norm,
                    valid_batches=valid_batches if valid is not None else None, seed=seed, progress=progress,
                    out_dir=out_dir, **fit_options)
        if engine == "torch":
            from rnnlab.torch.kind_training import torch_train  # optional dependency, imported on use

            history = torch_train(self, train_batches, device=device, **loop)
        else:
            history = training.fit(self, train_batches, **loop)
        self.meta["tail"] = s[-(self.window + 1):].tolist()
        sums = self.evaluate_batch(self._take(train, np.arange(n)))
        self.meta["residual_std"] = float(np.sqrt(sums["loss"] / sums["count"]))
        return history

    # -- forecasting --------------------------------------------------------------------------------
    def _context(self, history):
        """(standardised context (w, K), last raw value (K,)) from ``history`` or the stored tail."""
        if "mean" not in self.meta or "tail" not in self.meta:
            raise NotFittedError("This Forecaster is not trained yet; call fit(series) before forecasting "
                                 "(or rnnlab.models.load a saved one).")
        s = self._series(self.meta["tail"] if history is None else history, "history")
        if len(s) < self._needed:
            raise RnnlabError(f"history has {len(s)} values but a forecast needs the last {self._needed} "
                              f"(window{' + 1 to difference' if self.config['difference'] else ''}); pass a "
                              "longer history.")
        s = s[-self._needed:]
        return self._scale(s), s[-1]

    def _roll(self, j: int, ctx: np.ndarray, steps: int, noise_std: float, rng) -> np.ndarray:
        """Network j continues the standardised contexts ctx (B, w, K) by ``steps`` → (B, steps, K)."""
        B, w, K = ctx.shape
        rnn = self.modules[f"rnn{j}"]
        if self.feedback:
            return rnn.generate(steps, y_context=ctx, noise_std=noise_std, rng=rng)
        out, dense = np.empty((B, steps, K), self.dtype), self.modules[f"out{j}"]
        noise = (lambda shape: noise_std * rng.standard_normal(shape)) if noise_std > 0 else (lambda shape: 0)
        if self.mode == "seq":  # carry the state: one step per forecast after reading the context
            h, state = rnn.forward(ctx)
            for t in range(steps):
                out[:, t] = dense.forward(h[:, -1]) + noise((B, K))
                if t + 1 < steps:
                    h, state = rnn.forward(out[:, t:t + 1], initial_state=state)
            return out
        win, t = ctx.copy(), 0
        while t < steps:  # recursive: one value per pass; direct: a block of h values per pass
            pred = self._member(j, win).reshape(B, -1, K) + noise((B, self.horizon, K))
            n = min(pred.shape[1], steps - t)
            out[:, t:t + n] = pred[:, :n]
            win = np.concatenate([win[:, n:], pred[:, :n]], axis=1).astype(self.dtype)
            t += n
        return out

    def _paths(self, steps, history, n_paths: int, noise_std: float, rng):
        """Standardised futures (n_paths, steps, K), path p from network p mod ensemble, and the last raw value."""
        if not _is_int(steps, 1):
            raise RnnlabError(f"steps must be a positive integer, got {steps!r}.")
        ctx, last = self._context(history)
        was = self.training
        self.eval()
        try:
            z = np.empty((n_paths, steps, self.n_series))
            for j in range(min(self.ensemble, n_paths)):
                rows = np.arange(j, n_paths, self.ensemble)
                z[rows] = self._roll(j, np.repeat(ctx[None], rows.size, axis=0), steps, noise_std, rng)
        finally:
            self.train(was)
        return z, last

    def _shape(self, a: np.ndarray) -> np.ndarray:
        return a[..., 0] if self.n_series == 1 else a

    def forecast(self, steps: int, history=None) -> np.ndarray:
        """Point forecast of the next ``steps`` values after ``history`` (default: the training series).

        Parameters
        ----------
        steps : int
        history : array (T,) or (T, K), optional
            Raw values; only the last ``window`` (+1 with ``difference``) are read.

        Returns
        -------
        array (steps,) for one series, else (steps, K). With an ensemble, the networks' forecasts
        are averaged on the standardised scale, before the transform is undone.
        """
        z, last = self._paths(steps, history, self.ensemble, 0.0, None)
        return self._shape(self._unscale(z.mean(axis=0), last))

    def sample_paths(self, steps: int, n_paths: int = 100, noise_std=None, history=None, rng=0) -> np.ndarray:
        """Simulated futures: each fed-back value gets N(0, noise_std²) noise (standardised units).

        Parameters
        ----------
        steps, history
            As in ``forecast``.
        n_paths : int, default 100
            Spread round-robin over the ensemble's networks.
        noise_std : float, optional
            Default ``meta["residual_std"]``, the RMS one-step training error.
        rng : int, None or numpy.random.Generator

        Returns
        -------
        array (n_paths, steps) or (n_paths, steps, K). ``np.quantile(paths, [0.05, 0.95], axis=0)``
        gives a 90% interval.
        """
        if self.mode == "direct":
            raise RnnlabError("sample_paths feeds noisy values back, which mode='direct' does not do; use "
                              "mode='recursive', 'seq' or cell='feedback'.")
        if not _is_int(n_paths, 1):
            raise RnnlabError(f"n_paths must be a positive integer, got {n_paths!r}.")
        if noise_std is None:
            noise_std = self.meta.get("residual_std", 0.0)
        if not (isinstance(noise_std, numbers.Real) and 0 <= noise_std < np.inf):
            raise RnnlabError(f"noise_std must be a finite number >= 0, got {noise_std!r}.")
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        z, last = self._paths(steps, history, n_paths, float(noise_std), rng)
        return self._shape(self._unscale(z, last))
