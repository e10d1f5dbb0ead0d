"""Sequence classification shared by the series tasks (digits row by row, motion, EEG).

One recipe: standardise each channel with training statistics, hold out a stratified validation
part of the *training* data for early stopping, train a recurrent classifier read at its last
step, and report held-out accuracy next to a logistic-regression baseline on the same split.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.models import Sequential
from rnnlab.models.callbacks import EarlyStopping
from rnnlab.tasks.base import RunDir, TaskConfig

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


@dataclass
class ClassifyConfig(TaskConfig):
    """bidirectional: read the sequence both ways
    dropout: dropout between stacked layers and before the classifier
    valid_fraction: part of the training data held out for early stopping
    patience: epochs without validation improvement before stopping
    """

    bidirectional: bool = False
    dropout: float = 0.0
    valid_fraction: float = 0.2
    patience: int = 10


def stratified_split(y, fraction: float, rng: np.random.Generator):
    """Indices (train, held) with about ``fraction`` of every class held out."""
    held = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        held.extend(idx[:int(round(fraction * len(idx)))])
    held = np.sort(np.asarray(held, dtype=np.int64))
    return np.setdiff1d(np.arange(len(y)), held), held


def channel_scaler(X):
    """Per-channel mean and std over samples and time (training data only)."""
    mean = X.reshape(-1, X.shape[-1]).mean(0)
    std = X.reshape(-1, X.shape[-1]).std(0)
    return mean, np.where(std > 0, std, 1.0)


def check_labels(y_train, y_test, labels):
    if len(np.unique(y_train)) < 2:
        raise RnnlabError("the training labels are all one class; a classifier needs at least two.")
    unseen = sorted(set(np.unique(y_test)) - set(np.unique(y_train)))
    if unseen:
        raise RnnlabError(f"the test set has labels never seen in training: {[labels[i] for i in unseen]}.")


def logistic_baseline(X_train, y_train, X_test, y_test, seed: int) -> float:
    """Logistic regression on the flattened, standardised sequences: the simple alternative."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=2000, random_state=seed)
    clf.fit(X_train.reshape(len(X_train), -1), y_train)
    return float(clf.score(X_test.reshape(len(X_test), -1), y_test))


def build_classifier(cfg: ClassifyConfig, n_channels: int, n_classes: int) -> Sequential:
    if cfg.cell not in CELLS:
        raise RnnlabError(f"--cell must be one of {', '.join(CELLS)} for this task, got {cfg.cell!r}.")
    D = 2 if cfg.bidirectional else 1
    layers = [CELLS[cfg.cell](n_channels, cfg.hidden, num_layers=cfg.layers, bidirectional=cfg.bidirectional,
                              dropout=cfg.dropout if cfg.layers > 1 else 0.0, return_sequences=False,
                              seed=cfg.seed)]
    if cfg.dropout:
        layers.append(nn.Dropout(cfg.dropout, seed=cfg.seed + 1))
    layers.append(nn.Dense(D * cfg.hidden, n_classes, seed=cfg.seed + 2))
    return Sequential(layers)


def train_and_report(cfg: ClassifyConfig, run_dir: RunDir, *, task: str, data: str, X_train, y_train,
                     X_test, y_test, labels, baseline_name="logistic regression", baseline=None) -> dict:
    """Train, evaluate, draw and save; returns the metrics dict (the runner writes metrics.json).

    X_* (N, T, C) float, y_* (N,) int ids into ``labels``.
    """
    from rnnlab.viz import plots

    check_labels(y_train, y_test, labels)
    if cfg.limit:
        X_train, y_train = X_train[:cfg.limit], y_train[:cfg.limit]
    mean, std = channel_scaler(X_train)
    X_train, X_test = ((X - mean) / std for X in (X_train, X_test))
    rng = np.random.default_rng(cfg.seed)
    tr, va = stratified_split(y_train, cfg.valid_fraction, rng)
    model = build_classifier(cfg, X_train.shape[-1], len(labels))
    model.compile("cross_entropy", "adam", lr=cfg.lr)
    callbacks = [EarlyStopping("val_loss", patience=cfg.patience)] if len(va) else []
    history = model.fit(X_train[tr], y_train[tr], epochs=cfg.epochs, batch_size=cfg.batch_size,
                        validation_data=(X_train[va], y_train[va]) if len(va) else None,
                        callbacks=callbacks, seed=cfg.seed, progress=cfg.progress)
    pred = model.predict_classes(X_test)
    accuracy = float((pred == y_test).mean())
    if baseline is None:
        baseline = logistic_baseline(X_train, y_train, X_test, y_test, cfg.seed)
    model.meta = {"task": task, "labels": list(labels), "scale_mean": mean.tolist(), "scale_std": std.tolist(),
                  "steps": int(X_train.shape[1]), "channels": int(X_train.shape[2])}
    run_dir.save_model(model)
    history.to_csv(run_dir.file("history.csv"))
    plots.learning_curves(list(history), run_dir.file("learning_curves.png"))
    plots.confusion_matrix(y_test, pred, labels, run_dir.file("confusion_matrix.png"),
                           title=f"{task}: held-out accuracy {accuracy:.3f}")
    return {"task": task, "data": data,
            "split": {"train": int(len(tr)), "valid": int(len(va)), "test": int(len(y_test))},
            "test": {"accuracy": accuracy},
            "baseline": {"name": baseline_name, "test": {"accuracy": baseline}},
            "epochs_run": len(history)}


def predict_series(model, X) -> list[str]:
    """Label of each (T, C) series in X (N, T, C), scaled as in training."""
    meta = model.meta
    X = (np.asarray(X, np.float64) - np.asarray(meta["scale_mean"])) / np.asarray(meta["scale_std"])
    proba = model.predict(X.astype(np.float32))
    labels = meta["labels"]
    return [f"{labels[k]}\t{p[k]:.3f}" for k, p in zip(proba.argmax(1), proba)]
