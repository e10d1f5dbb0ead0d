"""Sequence classification shared by the series tasks (digits and MNIST row by row, motion, EEG).

One recipe: optionally average every ``pool`` steps, standardise each channel with training
statistics, hold out a stratified validation part of the *training* data for early stopping,
train a recurrent classifier read at each series' last real step (or pooled over its steps),
optionally as an ensemble merged into one network, and report held-out accuracy next to a
logistic-regression baseline on the same split. Training batches may be perturbed afresh each
epoch (``--noise``, ``--channel-drop``, ``--scale-jitter``: ``augment.py``) and ensemble members
may each train on a bootstrap sample (``--bootstrap``); both act on training only, so a saved
model prepares and predicts series exactly as without them. ``--hybrid combine`` averages the
network's class probabilities with those of the logistic-regression baseline (fitted on the whole
training part and kept in the model's meta, ``linear.py``): a forecast combination for classes.
Series of unequal lengths are right-padded with zeros and carry their lengths, so padding never
reaches the classifier. The tasks on UEA/UCR ``.ts`` files (users' own data included) build on
this in ``motion.py``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.models import Sequential
from rnnlab.models.arrays import step_mask
from rnnlab.models.callbacks import EarlyStopping
from rnnlab.models.history import History
from rnnlab.nn.pooling import MaskedPool
from rnnlab.tasks.augment import Augment
from rnnlab.tasks.base import RegularisedConfig, RunDir
from rnnlab.tasks.fitting import fit_sequential
from rnnlab.tasks.linear import fit_logistic, linear_proba

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
READOUTS = ("last", "mean", "max", "meanmax")
HYBRIDS = ("none", "combine")


@dataclass
class ClassifyConfig(RegularisedConfig):
    """limit: use only N training examples, a class-stratified sample drawn with --seed (quick runs)
    bidirectional: read the sequence both ways
    dropout: dropout between stacked layers and before the classifier
    projection: first map the channels to this many linear features per step (0: off)
    pool: first average every POOL consecutive steps (smooths and shortens noisy series)
    readout: read the class from the last real step (last) or pool every step's output: mean, max, meanmax
    ensemble: train this many members, each with its own validation part, and average their logits
    valid_fraction: part of the training data held out for early stopping
    patience: epochs without validation improvement before stopping
    bootstrap: train each ensemble member on a bootstrap sample of its training part (bagging)
    noise: augment training batches with Gaussian noise of this std (in channel stds; 0: off)
    channel_drop: augment training batches by zeroing each channel of a series with this chance
    scale_jitter: augment training batches by scaling each channel of a series by N(1, SCALE_JITTER^2)
    hybrid: none (the network alone) or combine (average its probabilities with the logistic-regression baseline's)
    """

    bidirectional: bool = False
    dropout: float = 0.0
    projection: int = 0
    pool: int = 1
    readout: str = "last"
    ensemble: int = 1
    valid_fraction: float = 0.2
    patience: int = 10
    bootstrap: bool = False
    noise: float = 0.0
    channel_drop: float = 0.0
    scale_jitter: float = 0.0
    hybrid: str = "none"


def check_config(cfg: ClassifyConfig) -> None:
    """Every bad option at once, before any data is read."""
    problems = [f"--{k.replace('_', '-')} must be in [0, 1), got {getattr(cfg, k)!r}"
                for k in ("dropout", "valid_fraction") if not 0 <= getattr(cfg, k) < 1]
    problems += cfg.regularisation_problems() + Augment.from_config(cfg).problems()
    if Augment.from_config(cfg) and cfg.engine == "torch":
        problems.append("--noise, --channel-drop and --scale-jitter augment batches in the numpy engine only; "
                        "use --engine numpy or set them to 0")
    problems += [f"--{k} must be a positive integer, got {getattr(cfg, k)!r}"
                 for k in ("hidden", "layers", "epochs", "batch_size", "pool", "patience", "ensemble")
                 if getattr(cfg, k) < 1]
    if cfg.projection < 0:
        problems.append(f"--projection must be 0 (off) or a positive integer, got {cfg.projection!r}")
    if not cfg.lr > 0:
        problems.append(f"--lr must be > 0, got {cfg.lr!r}")
    if cfg.limit is not None and cfg.limit < 2:
        problems.append(f"--limit must be at least 2 (two classes), got {cfg.limit!r}")
    if cfg.layer_norm and cfg.ensemble > 1:  # one norm over all members' units would mix them
        problems.append("--layer-norm cannot be merged into one network with --ensemble > 1; use --ensemble 1 "
                        "or drop --layer-norm")
    if cfg.readout not in READOUTS:
        problems.append(f"--readout must be one of {', '.join(READOUTS)}, got {cfg.readout!r}")
    if cfg.hybrid not in HYBRIDS:
        problems.append(f"--hybrid must be one of {', '.join(HYBRIDS)}, got {cfg.hybrid!r}")
    if cfg.cell not in CELLS:
        problems.append(f"--cell must be one of {', '.join(CELLS)} for this task, got {cfg.cell!r}")
    if problems:
        raise RnnlabError("; ".join(problems) + ".")


# ---------------------------------------------------------------- splits and preprocessing

def stratified_split(y, fraction: float, rng: np.random.Generator):
    """Indices (train, held) with about ``fraction`` of every class held out."""
    held = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        held.extend(idx[:int(round(fraction * len(idx)))])
    held = np.sort(np.asarray(held, dtype=np.int64))
    return np.setdiff1d(np.arange(len(y)), held), held


def stratified_subset(y, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``n`` examples keeping the class proportions (class-sorted files stay mixed)."""
    if n >= len(y):
        return np.arange(len(y))
    perm = rng.permutation(len(y))
    rank = np.empty(len(y))
    for c in np.unique(y):
        idx = perm[y[perm] == c]
        rank[idx] = (np.arange(len(idx)) + 0.5) / len(idx)   # position within its class, in [0, 1)
    return np.sort(perm[np.argsort(rank[perm], kind="stable")][:n])


def pad_series(series) -> tuple[np.ndarray, np.ndarray | None]:
    """(N, T, C) array → itself, lengths None; list of (T_i, C) arrays → zero-padded (N, T_max, C), lengths."""
    if isinstance(series, np.ndarray):
        return series.astype(np.float32, copy=False), None
    lengths = np.array([len(s) for s in series], np.int64)
    X = np.zeros((len(series), lengths.max(), series[0].shape[1]), np.float32)
    for i, s in enumerate(series):
        X[i, :len(s)] = s
    return X, lengths


def take(X, idx):
    """Rows ``idx`` of an array or of a list of series."""
    return X[idx] if isinstance(X, np.ndarray) else [X[i] for i in idx]


def n_channels(X) -> int:
    return int(X.shape[-1] if isinstance(X, np.ndarray) else X[0].shape[1])


def pool_steps(X, lengths, k: int):
    """Mean of every ``k`` consecutive real steps: (N, T, C) → (N, ⌈T/k⌉, C); lengths become ⌈L/k⌉."""
    if k == 1:
        return X, lengths
    N, T, C = X.shape
    Tk = -(-T // k)
    valid = np.zeros((N, Tk * k), np.float32)
    valid[:, :T] = step_mask(lengths, N, T) if lengths is not None else 1.0
    Xp = np.zeros((N, Tk * k, C), np.float32)
    Xp[:, :T] = X
    sums = (Xp * valid[..., None]).reshape(N, Tk, k, C).sum(2)
    counts = valid.reshape(N, Tk, k).sum(2)[..., None]
    return sums / np.maximum(counts, 1), None if lengths is None else -(-lengths // k)


def channel_scaler(X, lengths=None):
    """Per-channel mean and std over samples and real steps (training data only)."""
    rows = X.reshape(-1, X.shape[-1]) if lengths is None else X[step_mask(lengths, *X.shape[:2]).astype(bool)]
    mean, std = rows.mean(0), rows.std(0)
    return mean, np.where(std > 0, std, 1.0)


def prepare(X, lengths, meta: dict):
    """Pool and standardise as in training (``meta`` from the model); padding stays exactly zero."""
    X, lengths = pool_steps(np.asarray(X, np.float32), lengths, int(meta.get("pool", 1)))
    X = ((X - np.asarray(meta["scale_mean"])) / np.asarray(meta["scale_std"])).astype(np.float32)
    if lengths is not None:
        X *= step_mask(lengths, *X.shape[:2])[..., None]
    return X, lengths


def check_labels(y_train, y_test, labels):
    if len(np.unique(y_train)) < 2:
        raise RnnlabError("the training labels are all one class; a classifier needs at least two.")
    unseen = sorted(set(np.unique(y_test)) - set(np.unique(y_train)))
    if unseen:
        raise RnnlabError(f"the test set has labels never seen in training: {[labels[i] for i in unseen]}.")


def flat_series(X, lengths, linear: dict) -> np.ndarray:
    """(N, steps·C): standardised with the raw (unpooled) training statistics in ``linear``, padded with
    zeros or cut to the training length ``steps``, flattened; the logistic regression's inputs."""
    X, _ = prepare(X, lengths, linear)
    T = int(linear["steps"])
    X = np.pad(X[:, :T], ((0, 0), (0, max(0, T - X.shape[1])), (0, 0)))
    return X.reshape(len(X), -1)


def fit_linear(X, lengths, y, seed: int) -> dict:
    """Logistic regression on the flattened, standardised series X (N, T, C): the baseline, and the
    linear half of ``--hybrid combine``. Returns plain numbers (``flat_series`` and ``linear_proba`` use them)."""
    linear = {"steps": int(X.shape[1])}
    linear["scale_mean"], linear["scale_std"] = (a.tolist() for a in channel_scaler(X, lengths))
    return linear | fit_logistic(flat_series(X, lengths, linear), y, seed)


# ---------------------------------------------------------------- model

def build_classifier(cfg: ClassifyConfig, n_channels: int, n_classes: int) -> Sequential:
    D = 2 if cfg.bidirectional else 1
    layers, n_in = [], n_channels
    if cfg.projection:  # a learned linear mix of channels, like a spatial filter for EEG
        layers.append(nn.Dense(n_channels, cfg.projection, seed=cfg.seed + 3))
        n_in = cfg.projection
    layers.append(CELLS[cfg.cell](n_in, cfg.hidden, num_layers=cfg.layers, bidirectional=cfg.bidirectional,
                                  dropout=cfg.dropout if cfg.layers > 1 else 0.0,
                                  return_sequences=cfg.readout != "last",
                                  seed=cfg.seed, **cfg.recurrent_options()))
    if cfg.readout != "last":  # over the real steps only
        layers.append(MaskedPool(cfg.readout))
    if cfg.dropout:
        layers.append(nn.Dropout(cfg.dropout, seed=cfg.seed + 1))
    layers.append(nn.Dense(_n_stats(cfg) * D * cfg.hidden, n_classes, seed=cfg.seed + 2))
    return Sequential(layers)


def _n_stats(cfg) -> int:
    return 1 if cfg.readout == "last" else MaskedPool(cfg.readout).n_stats


def fit_classifier(cfg: ClassifyConfig, X, y, lengths, n_classes: int, valid=None, run_dir=None, name="model"):
    """Build, compile and train; ``valid`` = (X, y, lengths) drives early stopping. Returns (model, history).

    With ``run_dir`` the training is checkpointed as network ``name`` of that run (numpy engine)."""
    model = build_classifier(cfg, X.shape[-1], n_classes)
    model.compile("cross_entropy", cfg.optimizer(), lr=cfg.lr)
    callbacks = [EarlyStopping("val_loss", patience=cfg.patience)] if valid is not None else []
    augment = Augment.from_config(cfg)
    history = fit_sequential(model, X, y, cfg, run_dir, name, lengths=lengths, epochs=cfg.epochs,
                             batch_size=cfg.batch_size, validation_data=valid, callbacks=callbacks, seed=cfg.seed,
                             progress=cfg.progress, **({"augment": augment} if augment else {}))
    return model, history


def member_seed(seed: int, m: int) -> int:
    """Seed of ensemble member m: ``seed`` itself for the first, independent streams for the others."""
    return seed if m == 0 else int(np.random.SeedSequence([seed, m]).generate_state(1)[0] >> 1)


def merge_members(members, cfg: ClassifyConfig, n_channels: int, n_classes: int) -> Sequential:
    """One network whose logits are exactly the mean of the members' logits.

    Member m owns units m·h … m·h+h−1 of the merged recurrent layers (inside every gate block and
    direction) and features m·p … m·p+p−1 of the merged projection; the weights between members
    are zero, so each runs untouched beside the others, and the output layer computes
    z = (1/K) Σ_m (W_m h_m + b_m). Saved and loaded like any single model.
    """
    K, h, p, D = len(members), cfg.hidden, cfg.projection, 2 if cfg.bidirectional else 1
    merged = build_classifier(dataclasses.replace(cfg, hidden=K * h, projection=K * p), n_channels, n_classes)
    state = {k: np.zeros_like(v) for k, v in merged.state_dict().items()}
    last = str(len(merged.layers) - 1)

    def units(m, size, blocks):  # merged indices of member m's units in each of ``blocks`` blocks
        return np.concatenate([b * K * size + m * size + np.arange(size) for b in range(blocks)])

    for m, member in enumerate(members):
        for key, w in member.state_dict().items():
            layer, name = key.split(".", 1)
            if layer == last and name == "bias":                # output: average of logits
                state[key] += w / K
            elif layer == last:
                state[key][:, units(m, h, _n_stats(cfg) * D)] = w / K
            elif isinstance(member.layers[int(layer)], nn.Dense):   # projection: stacked rows
                state[key][units(m, p, 1)] = w
            else:
                rows = units(m, h, w.shape[0] // h)             # every gate block
                if name.startswith("bias"):
                    state[key][rows] = w
                    continue
                level = int(name.split("_l")[1].split("_")[0])
                cols = (units(m, h, 1) if name.startswith("weight_hh") else units(m, h, D) if level
                        else units(m, p, 1) if p else np.arange(w.shape[1]))
                state[key][np.ix_(rows, cols)] = w
    merged.load_state_dict(state)
    merged.compile("cross_entropy", "adam", lr=cfg.lr)
    return merged


def train_classifier(cfg: ClassifyConfig, X_train, y_train, labels, task: str = "", run_dir=None):
    """The recipe up to a trained model: limit, pad, pool, standardise, carve validation, fit.

    With ``ensemble`` K > 1, K members (each with its own validation part and initial weights) are
    trained and merged into one network (``merge_members``). X_train (N, T, C), or a list of (T_i, C)
    arrays; y_train (N,) int ids into ``labels``. Returns (model, history, n_fit, n_valid); the
    history of an ensemble is the members' mean per epoch; ``model.meta`` holds what ``prepare`` needs.
    ``run_dir`` (a ``RunDir``) checkpoints each member's training.
    """
    check_config(cfg)
    if len(np.unique(y_train)) < 2:
        raise RnnlabError("the training labels are all one class; a classifier needs at least two.")
    rng = np.random.default_rng(cfg.seed)
    if cfg.limit:
        keep = stratified_subset(y_train, cfg.limit, rng)
        X_train, y_train = take(X_train, keep), y_train[keep]
    X, L = pad_series(X_train)
    meta = {"task": task, "labels": list(labels), "pool": cfg.pool, "steps": int(X.shape[1]),
            "channels": int(X.shape[2])}
    meta["scale_mean"], meta["scale_std"] = (a.tolist() for a in channel_scaler(*pool_steps(X, L, cfg.pool)))
    if cfg.hybrid == "combine":  # on every training series: the linear model needs no early stopping
        meta |= {"hybrid": "combine", "linear": fit_linear(X, L, y_train, cfg.seed)}
    X, L = prepare(X, L, meta)

    def rows(i):
        return X[i], y_train[i], None if L is None else L[i]

    members, histories = [], []
    for m in range(cfg.ensemble):
        mcfg = dataclasses.replace(cfg, seed=member_seed(cfg.seed, m))
        member_rng = rng if m == 0 else np.random.default_rng(mcfg.seed)
        tr, va = stratified_split(y_train, cfg.valid_fraction, member_rng)
        if cfg.bootstrap:  # bagging: members differ in the examples they see, not only in split and start
            tr = np.sort(member_rng.choice(tr, size=len(tr), replace=True))
        model, history = fit_classifier(mcfg, *rows(tr), len(labels), rows(va) if len(va) else None,
                                        run_dir, f"member{m}")
        members.append(model)
        histories.append(history)
    if cfg.ensemble > 1:
        model = merge_members(members, cfg, X.shape[2], len(labels))
        history = History(_mean_rows([[h[e] for h in histories if len(h) > e]
                                      for e in range(max(map(len, histories)))]))
    model.meta = meta
    return model, history, len(tr), len(va)


def _mean_rows(epochs: list) -> list[dict]:
    """Per epoch, the members' mean of every numeric log entry, and how many members were still training."""
    return [{k: float(np.mean([r[k] for r in rows if isinstance(r.get(k), (int, float))]))
             for k in rows[0] if isinstance(rows[0][k], (int, float))} | {"members": len(rows)} for rows in epochs]


def predict_proba(model, X, lengths=None, part: str = "model") -> np.ndarray:
    """Class probabilities (N, K) of series X (array or list), prepared as in training.

    ``part``: ``model`` (what the saved model predicts: with ``--hybrid combine`` the average of both
    halves), ``network`` or ``linear`` (one half of a hybrid)."""
    linear = model.meta.get("linear")
    if part not in ("model", "network", "linear") or part == "linear" and not linear:
        raise ValueError(f"part must be model, network or linear (a hybrid's), got {part!r}")
    if lengths is None:
        X, lengths = pad_series(X)
    if part == "linear" or part == "model" and linear:
        # p = ½ p_network + ½ p_logistic (hybrid combine)
        p = linear_proba(linear, flat_series(X, lengths, linear), len(model.meta["labels"]))
        return p if part == "linear" else (model.predict(*prepare(X, lengths, model.meta)) + p) / 2
    return model.predict(*prepare(X, lengths, model.meta))


def train_and_report(cfg: ClassifyConfig, run_dir: RunDir, *, task: str, data: str, X_train, y_train,
                     X_test, y_test, labels, baseline_name="logistic regression", baseline=None) -> dict:
    """Train, evaluate, draw and save; returns the metrics dict (the runner writes metrics.json).

    X_* (N, T, C) arrays, or lists of (T_i, C) arrays for unequal lengths; y_* (N,) int ids into ``labels``.
    """
    from rnnlab.viz import plots

    check_config(cfg)
    check_labels(y_train, y_test, labels)
    model, history, n_fit, n_valid = train_classifier(cfg, X_train, y_train, labels, task, run_dir)
    pred = predict_proba(model, X_test).argmax(1)
    accuracy = float((pred == y_test).mean())
    parts = {}
    if baseline is None:  # on the series as given (not pooled), standardised per channel
        Xb, Lb = pad_series(X_test)
        # on every training series; a hybrid's own linear half is that same fit unless --limit cut the data
        linear = (model.meta["linear"] if cfg.hybrid == "combine" and not cfg.limit
                  else fit_linear(*pad_series(X_train), y_train, cfg.seed))
        baseline = float((linear_proba(linear, flat_series(Xb, Lb, linear), len(labels)).argmax(1) == y_test).mean())
    if cfg.hybrid == "combine":  # what the network scores on its own, beside the combination
        parts["network alone"] = {"accuracy": float((predict_proba(model, X_test, part="network").argmax(1)
                                                     == y_test).mean())}
    run_dir.save_model(model)
    history.to_csv(run_dir.file("history.csv"))
    plots.learning_curves(list(history), run_dir.file("learning_curves.png"))
    plots.confusion_matrix(y_test, pred, labels, run_dir.file("confusion_matrix.png"),
                           title=f"{task}: held-out accuracy {accuracy:.3f}")
    return {"task": task, "data": data,
            "split": {"train": int(n_fit), "valid": int(n_valid), "test": int(len(y_test))},
            "test": {"accuracy": accuracy},
            "baseline": {"name": baseline_name, "test": {"accuracy": baseline}},
            **({"parts": parts} if parts else {}), "epochs_run": len(history)}


def predict_series(model, X, lengths=None) -> list[str]:
    """``label<TAB>probability`` of each (T, C) series in X (N, T, C), prepared as in training."""
    proba = predict_proba(model, X, lengths)
    labels = model.meta["labels"]
    return [f"{labels[k]}\t{p[k]:.3f}" for k, p in zip(proba.argmax(1), proba)]


def read_series_file(path, channels: int):
    """Series to predict from a .ts file (labels ignored) or a .npy array (N, T, C) or (T, C)."""
    from rnnlab.data.loaders import load_ts

    path = Path(path)
    if not path.is_file():
        raise RnnlabError(f"{path} is not a file; give a .ts file or a .npy array (N, T, {channels}).")
    if path.suffix.lower() == ".ts":
        X = load_ts(path).X
    else:
        try:
            X = np.load(path, allow_pickle=False)
        except ValueError as e:
            raise RnnlabError(f"{path} is neither a .ts file nor a readable .npy array ({e}).") from None
        X = X[None] if X.ndim == 2 else X
        if X.ndim != 3 or not np.issubdtype(X.dtype, np.number) or not np.all(np.isfinite(X)):
            raise RnnlabError(f"{path} must hold finite numbers of shape (N, T, {channels}) or (T, {channels}); "
                              f"got {X.dtype} {X.shape}.")
    if n_channels(X) != channels:
        raise RnnlabError(f"{path} has {n_channels(X)} channels but the model was trained on {channels}.")
    return pad_series(X)
