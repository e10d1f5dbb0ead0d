"""scikit-learn estimators over rnnlab's ``Sequential``: ``RNNClassifier`` and ``RNNRegressor``.

Each estimator is one recurrent layer stack read to its last step, then a ``Dense`` head::

    X (n, T, F) → LSTM/GRU/RNN(F → H, num_layers, bidirectional) → last h (n, D·H) → Dense → (n, C or k)

They follow skorch's ``net.py``: ``__init__`` only stores its arguments (so ``clone``,
``get_params`` and ``GridSearchCV`` work), everything learned ends in ``_``, arguments are
checked in ``fit`` (all problems in one ``RnnlabError``) and ``predict`` is
``classes_[predict_proba(X).argmax(1)]``.

Inputs are sequences ``(n, T, F)``. A 2-D ``X`` ``(n, T·F)`` is read as ``T`` steps of ``F =
n_features_per_step`` features (row-major: the first ``F`` columns are step 0); by default every
column is one step with one feature, which lets scikit-learn's tabular checks and pipelines run.
See ``docs/estimators.md`` for the scikit-learn checks these estimators do not pass, and why.
"""
from __future__ import annotations

import difflib
import math
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_consistent_length, validate_data

from rnnlab import nn
from rnnlab.errors import NotFittedError, RnnlabError
from rnnlab.models.callbacks import EarlyStopping
from rnnlab.models.history import History
from rnnlab.models.sequential import OPTIMIZERS, Sequential

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def _is_int(v, low: int) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= low


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


class _RNNEstimator(BaseEstimator):
    """Shared parameters, input handling and training; use ``RNNClassifier`` or ``RNNRegressor``.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}, default "lstm"
    hidden_size : int, default 32
        H, units per direction and layer.
    num_layers : int, default 1
    bidirectional : bool, default False
    nonlinearity : {"tanh", "relu", "sigmoid"}, default "tanh"
        Used by ``cell="rnn"`` only.
    dropout : float in [0, 1), default 0
        Between stacked layers (needs ``num_layers > 1`` to have an effect).
    lr : float, default 1e-2
    optimizer : {"adam", "adamw", "sgd", "rmsprop"}, default "adam"
    epochs : int, default 20
        Passes over the data in ``fit``; ``partial_fit`` runs one.
    batch_size : int, default 32
    validation_fraction : float in [0, 1), default 0
        Random share of the training rows held out for ``val_loss`` (a shuffled split: the rows
        are independent sequences, not one time series).
    early_stopping : bool, default False
        Stop once ``val_loss`` has not improved for ``patience`` epochs and keep the best weights;
        needs ``validation_fraction > 0``.
    patience : int, default 5
    clip_norm : float or None, default 5.0
        Global gradient-norm clip.
    n_features_per_step : int or None, default None
        F used to read a 2-D ``X`` (n, T·F); None means F = 1. A 3-D ``X`` brings its own F.
    seed : int or None, default 0
        Seeds the weights, the validation split and the batch order (None: fresh randomness).
    dtype : {"float32", "float64"}, default "float32"
        Precision of the network.
    verbose : bool, default False
        Show a progress bar per epoch.
    """

    _loss = ""
    _metrics: tuple = ()

    def __init__(self, cell="lstm", hidden_size=32, num_layers=1, bidirectional=False, nonlinearity="tanh",
                 dropout=0.0, lr=1e-2, optimizer="adam", epochs=20, batch_size=32, validation_fraction=0.0,
                 early_stopping=False, patience=5, clip_norm=5.0, n_features_per_step=None, seed=0,
                 dtype="float32", verbose=False):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.nonlinearity = nonlinearity
        self.dropout = dropout
        self.lr = lr
        self.optimizer = optimizer
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.clip_norm = clip_norm
        self.n_features_per_step = n_features_per_step
        self.seed = seed
        self.dtype = dtype
        self.verbose = verbose

    # -- parameters -----------------------------------------------------------------------------
    def set_params(self, **params):
        """As scikit-learn's, but an unknown name gets a near-miss suggestion in an ``RnnlabError``."""
        known = self.get_params(deep=False)
        bad = [k for k in params if k not in known]
        if bad:
            hints = []
            for k in bad:
                near = difflib.get_close_matches(k.split("__")[-1], list(known), n=1)
                hints.append(f"{k!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
            raise RnnlabError(f"{type(self).__name__} has no parameter " + ", ".join(hints)
                              + f"; valid parameters are {sorted(known)}.")
        return super().set_params(**params)

    def _check_params(self) -> None:
        """Every bad argument at once, in one RnnlabError (scikit-learn checks arguments in fit)."""
        p, problems = self.get_params(deep=False), []
        if p["cell"] not in CELLS:
            problems.append(f"cell must be one of {sorted(CELLS)}, got {p['cell']!r}")
        for k in ("hidden_size", "num_layers", "epochs", "batch_size", "patience"):
            if not _is_int(p[k], 1):
                problems.append(f"{k} must be a positive integer, got {p[k]!r}")
        if p["nonlinearity"] not in ("tanh", "relu", "sigmoid"):
            problems.append(f"nonlinearity must be 'tanh', 'relu' or 'sigmoid', got {p['nonlinearity']!r}")
        if not (_is_real(p["dropout"]) and 0 <= p["dropout"] < 1):
            problems.append(f"dropout must be a probability in [0, 1), got {p['dropout']!r}")
        if not (_is_real(p["lr"]) and p["lr"] > 0):
            problems.append(f"lr must be a positive number, got {p['lr']!r}")
        if p["optimizer"] not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {p['optimizer']!r}")
        vf = p["validation_fraction"]
        if not (_is_real(vf) and 0 <= vf < 1):
            problems.append(f"validation_fraction must be a fraction in [0, 1), got {vf!r}")
        elif p["early_stopping"] and vf == 0:
            problems.append("early_stopping=True needs validation_fraction > 0 (e.g. 0.1) to watch val_loss")
        if p["clip_norm"] is not None and not (_is_real(p["clip_norm"]) and p["clip_norm"] > 0):
            problems.append(f"clip_norm must be a positive number or None, got {p['clip_norm']!r}")
        if p["n_features_per_step"] is not None and not _is_int(p["n_features_per_step"], 1):
            problems.append(f"n_features_per_step must be a positive integer or None, got {p['n_features_per_step']!r}")
        if p["seed"] is not None and not _is_int(p["seed"], 0):
            problems.append(f"seed must be a non-negative integer or None, got {p['seed']!r}")
        if str(p["dtype"]) not in ("float32", "float64"):
            problems.append(f"dtype must be 'float32' or 'float64', got {p['dtype']!r}")
        if problems:
            raise RnnlabError(f"{type(self).__name__}: " + "; ".join(problems) + ".")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.seed is None
        return tags

    # -- inputs ---------------------------------------------------------------------------------
    def _sequences(self, X, *, reset: bool) -> np.ndarray:
        """X (n, T, F) or (n, T·F) → float (n, T, F); learns the sizes (``reset``) or checks them.

        ``n_features_in_`` is T·F, the columns of the 2-D view, as scikit-learn expects. A 2-D X at
        prediction must have exactly that many columns; a 3-D X needs the same F but any T.
        """
        if isinstance(X, (list, tuple)):
            try:
                X = np.asarray(X)
            except ValueError:
                raise RnnlabError("X is ragged; pad the sequences to one length (an array (n, T, F)).") from None
        name = type(self).__name__
        if getattr(X, "ndim", None) != 3:
            # scikit-learn's own checks: sparse, complex, NaN, 1-D, feature count and names
            X = validate_data(self, X, reset=reset, dtype=(np.float64, np.float32))
            F = (self.n_features_per_step or 1) if reset else self.n_features_per_step_
            if X.shape[1] % F:
                raise RnnlabError(f"{name} got {X.shape[1]} columns, not a multiple of n_features_per_step={F}; "
                                  "pass X as (samples, time, features) or fix n_features_per_step.")
            X = X.reshape(X.shape[0], X.shape[1] // F, F)
        else:
            X = check_array(X, allow_nd=True, dtype=(np.float64, np.float32), input_name="X")
            n, T, F = X.shape
            if F == 0:
                raise RnnlabError(f"{name} got sequences with 0 features per step (shape {X.shape}).")
            if reset:
                if self.n_features_per_step not in (None, F):
                    raise RnnlabError(f"{name} got X with {F} features per step but n_features_per_step="
                                      f"{self.n_features_per_step}; drop the setting for 3-D X or fix it.")
                self.n_features_in_ = T * F
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            elif F != self.n_features_per_step_:
                raise RnnlabError(f"X has {F} features per step, but {name} is expecting "
                                  f"{self.n_features_per_step_} features per step as input.")
        if reset:
            self.n_steps_, self.n_features_per_step_ = X.shape[1], X.shape[2]
        return X

    def _require_y(self, y):
        if y is None:
            raise RnnlabError(f"{type(self).__name__} requires y to be passed, but the target y is None; "
                              "pass one target per sequence.")

    # -- network and training -------------------------------------------------------------------
    def _seeds(self, *extra) -> list:
        """Independent integer seeds derived from ``seed`` (and a call counter); None stays random."""
        rng = np.random.default_rng(None if self.seed is None else [self.seed, *extra])
        return rng.integers(2**31, size=3).tolist()

    def _build(self, n_features: int, n_outputs: int) -> Sequential:
        s, dt = self._seeds(), np.dtype(str(self.dtype))
        kw = {"nonlinearity": self.nonlinearity} if self.cell == "rnn" else {}
        rnn = CELLS[self.cell](n_features, self.hidden_size, self.num_layers, bidirectional=self.bidirectional,
                               dropout=self.dropout, return_sequences=False, seed=s[0], dtype=dt, **kw)
        head = nn.Dense(self.hidden_size * rnn.num_directions, n_outputs, seed=s[1], dtype=dt)
        model = Sequential([rnn, head])
        return model.compile(loss=self._loss, optimizer=self.optimizer, lr=self.lr, metrics=list(self._metrics))

    def _train(self, X, y, epochs: int) -> None:
        """``epochs`` passes of ``model_`` over (X, y); the rows are appended to ``history_``."""
        callbacks = [EarlyStopping(patience=self.patience)] if self.early_stopping else []
        done = len(self.history_) if hasattr(self, "history_") else 0
        hist = self.model_.fit(X, y, epochs=epochs, batch_size=self.batch_size,
                               validation_split=self.validation_fraction, callbacks=callbacks,
                               seed=self._seeds(done)[2], clip_norm=self.clip_norm, progress=bool(self.verbose))
        for row in hist:
            row["epoch"] += done
        self.history_ = History((self.history_ if done else []) + list(hist))

    def _require_fitted(self, what: str) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(X, y) before {what}.")

    def _outputs(self, X, what: str) -> np.ndarray:
        self._require_fitted(what)
        X = self._sequences(X, reset=False)
        return self.model_.predict(X).astype(np.float64)

    # -- pickling -------------------------------------------------------------------------------
    def __getstate__(self):
        # the network travels as config + arrays, as in a saved model folder: no engine caches or
        # workspaces, and unpickled parameters are fresh writable arrays even from a read-only memmap
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns __dict__ itself
        model = state.get("model_")
        if isinstance(model, Sequential):
            state["model_"] = {"config": model.get_config(), "weights": model.state_dict(),
                               "optimizer": model.optimizer.state_dict()}
        return state

    def __setstate__(self, state):
        packed = state.get("model_")
        if isinstance(packed, dict):
            model = Sequential.from_config(packed["config"])
            model.load_state_dict(packed["weights"])
            model.optimizer.load_state_dict(packed["optimizer"])
            state = {**state, "model_": model.eval()}
        super().__setstate__(state)


class RNNClassifier(ClassifierMixin, _RNNEstimator):
    """Sequence classifier: recurrent layers read to the last step, a softmax over the classes.

    Parameters are those of ``_RNNEstimator`` (listed in its docstring and in
    ``docs/estimators.md``): ``cell``, ``hidden_size``, ``num_layers``, ``bidirectional``,
    ``nonlinearity``, ``dropout``, ``lr``, ``optimizer``, ``epochs``, ``batch_size``,
    ``validation_fraction``, ``early_stopping``, ``patience``, ``clip_norm``,
    ``n_features_per_step``, ``seed``, ``dtype``, ``verbose``.

    Attributes
    ----------
    classes_ : ndarray (C,)
        Sorted labels seen in ``fit`` (any hashable, sortable labels: ints, strings).
    n_features_in_ : int
        Columns of the 2-D view, T·F.
    n_steps_, n_features_per_step_ : int
        T and F of the training sequences.
    model_ : rnnlab.models.Sequential
        The trained network (cross-entropy on C logits); ``rnnlab.models.save`` can store it.
    history_ : rnnlab.models.History
        One row per epoch (``loss``, ``val_loss``, ``val_accuracy``, ...).

    Notes
    -----
    Passes every check of ``sklearn.utils.estimator_checks`` that applies to it (the array-API
    check is skipped unless ``SCIPY_ARRAY_API`` is set; ``fit`` takes no ``sample_weight``, so
    the sample-weight checks are not run); see ``docs/estimators.md``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 5, 2)); y = (X[:, :, 0].sum(1) > 0).astype(int)
    >>> clf = RNNClassifier(hidden_size=8, epochs=5).fit(X, y)
    >>> clf.predict_proba(X).shape, clf.classes_
    ((64, 2), array([0, 1]))
    """

    _loss = "cross_entropy"
    _metrics = ("accuracy",)

    def _labels(self, y, n: int) -> np.ndarray:
        self._require_y(y)
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected; using y.ravel().",
                          DataConversionWarning, stacklevel=3)
            y = y.ravel()
        if y.ndim != 1:
            raise RnnlabError(f"{type(self).__name__} expected y of shape ({n},) (one label per sequence) "
                              f"but got {y.shape}; multi-output classification is not supported.")
        check_classification_targets(y)
        return y

    def fit(self, X, y):
        """Train a fresh network for ``epochs`` epochs.

        Parameters
        ----------
        X : array (n, T, F) or (n, T·F)
        y : array (n,) of labels, at least two distinct

        Returns
        -------
        self
        """
        self._check_params()
        self._train(*self._prepare(X, y, None, first=True), self.epochs)
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch on (X, y), continuing from the current weights and optimiser state.

        ``classes`` (every label that will ever occur) is required on the first call, as for
        scikit-learn's incremental classifiers; later calls may omit it.
        """
        first = not hasattr(self, "model_")
        if first:
            self._check_params()
            if classes is None:
                raise RnnlabError(f"{type(self).__name__}.partial_fit needs classes=... (every label) on the "
                                  "first call.")
        self._train(*self._prepare(X, y, classes, first), 1)
        return self

    def _prepare(self, X, y, classes, first: bool):
        """Checked (n, T, F) inputs and class codes (n,); the first call fixes ``classes_`` and the model."""
        X = self._sequences(X, reset=first)
        y = self._labels(y, X.shape[0])
        check_consistent_length(X, y)
        if first:
            self.classes_ = np.unique(y if classes is None else np.asarray(classes))
            if len(self.classes_) < 2:
                raise RnnlabError(f"{type(self).__name__} needs at least two classes but y holds one class "
                                  f"({self.classes_[0]!r}); there is nothing to learn.")
            self.model_ = self._build(X.shape[2], len(self.classes_))
            if hasattr(self, "history_"):
                del self.history_
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise RnnlabError(f"partial_fit got classes {np.unique(classes).tolist()} but the first call "
                              f"fixed {self.classes_.tolist()}; pass the same classes or call fit.")
        self._check_known(y, "fit")
        return X, np.searchsorted(self.classes_, y).astype(np.int64)

    def _check_known(self, y, what: str) -> None:
        unseen = [v for v in np.unique(y) if v not in set(self.classes_.tolist())]
        if unseen:
            raise RnnlabError(f"{what} got labels {unseen[:5]} that the classifier never saw in training "
                              f"(classes_ = {self.classes_.tolist()[:10]}); a classifier can only predict "
                              "known classes, so drop those rows or retrain with them.")

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, C), columns in the order of ``classes_``."""
        p = self._outputs(X, "predict_proba")
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The most probable label per sequence, (n,)."""
        codes = self.predict_proba(X).argmax(1)
        return self.classes_[codes]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy; labels in ``y`` that training never saw are an ``RnnlabError``, not a silent 0."""
        self._require_fitted("score")
        self._require_y(y)
        self._check_known(np.asarray(y).ravel(), "score")
        return super().score(X, y, sample_weight=sample_weight)


class RNNRegressor(RegressorMixin, _RNNEstimator):
    """Sequence regressor: recurrent layers read to the last step, a linear head of k outputs.

    Parameters are those of ``RNNClassifier`` (see ``docs/estimators.md``).

    Attributes
    ----------
    n_outputs_ : int
        k, the targets per sequence (y of shape (n,) or (n, k)).
    y_mean_, y_scale_ : ndarray (k,)
        The network is trained on standardised targets (y - mean) / scale; ``predict`` undoes it,
        so the learning rate does not depend on the units of y.
    n_features_in_, n_steps_, n_features_per_step_, model_, history_
        As for ``RNNClassifier`` (``history_`` rows hold the loss on the standardised targets).

    Notes
    -----
    One check of ``sklearn.utils.estimator_checks`` is expected to fail, and only because the
    test suite runs the checks with ``epochs=2`` for speed: ``check_regressors_train`` wants
    R² > 0.5 on a 10-feature regression read as 10 steps of one feature, and two epochs reach
    0.23 (the default ``epochs=20`` reaches 0.61 and passes). See ``docs/estimators.md``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 5, 1)); y = X[:, :, 0].sum(1)
    >>> RNNRegressor(hidden_size=8, epochs=5).fit(X, y).predict(X).shape
    (64,)
    """

    _loss = "mse"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _targets(self, y) -> np.ndarray:
        self._require_y(y)
        y = check_array(y, ensure_2d=False, dtype=(np.float64, np.float32), input_name="y")
        if y.ndim not in (1, 2):
            raise RnnlabError(f"{type(self).__name__} expected y of shape (n,) or (n, k) but got {y.shape}.")
        return y

    def fit(self, X, y):
        """Train a fresh network for ``epochs`` epochs on X (n, T, F) or (n, T·F) and y (n,) or (n, k)."""
        self._check_params()
        self._train(*self._prepare(X, y, first=True), self.epochs)
        return self

    def partial_fit(self, X, y):
        """One epoch on (X, y), continuing from the current weights; the first call fixes the scaling."""
        first = not hasattr(self, "model_")
        if first:
            self._check_params()
        self._train(*self._prepare(X, y, first), 1)
        return self

    def _prepare(self, X, y, first: bool):
        """Checked (n, T, F) inputs and standardised (n, k) targets; the first call sets up the model."""
        X = self._sequences(X, reset=first)
        y = self._targets(y)
        check_consistent_length(X, y)
        Y = y.reshape(len(y), -1)
        if first:
            self.y_ndim_, self.n_outputs_ = y.ndim, Y.shape[1]
            self.y_mean_ = Y.mean(axis=0)
            sd = Y.std(axis=0)
            self.y_scale_ = np.where(sd > 0, sd, 1.0)  # a constant target is learnt as its mean
            self.model_ = self._build(X.shape[2], self.n_outputs_)
            if hasattr(self, "history_"):
                del self.history_
        elif Y.shape[1] != self.n_outputs_:
            raise RnnlabError(f"partial_fit got {Y.shape[1]} targets per sequence but the model predicts "
                              f"{self.n_outputs_}; pass y of the same width as in fit.")
        return X, (Y - self.y_mean_) / self.y_scale_

    def predict(self, X) -> np.ndarray:
        """Predictions (n,) for a 1-D training y, else (n, k)."""
        out = self._outputs(X, "predict") * self.y_scale_ + self.y_mean_
        return out.ravel() if self.y_ndim_ == 1 else out
