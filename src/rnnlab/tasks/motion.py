"""``rnnlab train motion``: UEA BasicMotions, a smartwatch's accelerometer and gyroscope (6 channels,
100 steps at 10 Hz) while the wearer plays badminton, runs, stands or walks; official 40/40 split.

This module also holds what every task on UEA/UCR ``.ts`` files shares (``SeriesTask``, used by
``eeg`` too): ``--data X_TRAIN.ts`` trains on any classification file instead (one or many
channels, equal or unequal lengths: unequal ones are padded and carry their lengths); the
held-out part is ``--test``, else the sibling ``X_TEST.ts``, else a stratified 20% of the file
drawn with ``--seed``. ``rnnlab predict DIR FILE.ts`` (or ``.npy``) prints one label per series.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.tasks.base import Task, register_task
from rnnlab.tasks.classify import (ClassifyConfig, check_config, n_channels, predict_series, read_series_file,
                                   stratified_split, take, train_and_report)

TEST_FRACTION = 0.2   # held out of a lone --data file


def _sibling_test(path: Path) -> Path | None:
    """``Name_TRAIN.ts`` → ``Name_TEST.ts`` (or train → test), when that file exists."""
    for a, b in (("TRAIN", "TEST"), ("Train", "Test"), ("train", "test")):
        if a in path.name:
            head, _, tail = path.name.rpartition(a)
            sibling = path.with_name(head + b + tail)
            if sibling.is_file():
                return sibling
    return None


def load_ts_splits(train_path, test_path=None, seed: int = 0):
    """(X_train, y_train, X_test, y_test, labels, description) from a user's .ts file(s).

    The test file must have the training file's channels and only its labels; without one, a
    stratified 20% of the training file is held out with ``seed``.
    """
    from rnnlab.data.loaders import load_ts

    train_path = Path(train_path)
    if train_path.suffix.lower() != ".ts":
        raise RnnlabError(f"--data expected a UEA/UCR .ts file (e.g. Name_TRAIN.ts) but got {str(train_path)!r}.")
    tr = load_ts(train_path)
    test = Path(test_path) if test_path else _sibling_test(train_path)
    if test is None:
        if len(tr.labels) < 2:
            raise RnnlabError(f"{train_path} has only one class ({tr.labels[0]!r}); a classifier needs two.")
        a, b = stratified_split(tr.y, TEST_FRACTION, np.random.default_rng(seed))
        return (take(tr.X, a), tr.y[a], take(tr.X, b), tr.y[b], tr.labels,
                f"{train_path} (stratified {TEST_FRACTION:.0%} test split, seed {seed})")
    te = load_ts(test)
    if n_channels(te.X) != n_channels(tr.X):
        raise RnnlabError(f"the test file {test} has {n_channels(te.X)} channels but the training file "
                          f"{train_path} has {n_channels(tr.X)}; give a test file of the same dataset.")
    unknown = sorted(set(te.labels) - set(tr.labels))
    if unknown:
        raise RnnlabError(f"the test file {test} has labels {unknown} that the training file {train_path} "
                          f"never uses ({tr.labels}); give a test file of the same dataset.")
    y_test = np.array([tr.labels.index(te.labels[i]) for i in te.y], np.int64)
    return tr.X, tr.y, te.X, y_test, tr.labels, f"{train_path} (test: {test})"


class SeriesTask(Task):
    """A classification task on .ts series; subclasses give ``load_default(cfg)`` and ``default_name``."""

    Config = ClassifyConfig
    default_name = ""

    def load_default(self, cfg):
        raise NotImplementedError

    def run(self, cfg, run_dir):
        check_config(cfg)
        if cfg.data:
            *arrays, labels, data = load_ts_splits(cfg.data, cfg.test, cfg.seed)
        elif cfg.test:
            raise RnnlabError(f"--test needs --data: the built-in {self.default_name} keeps its official split.")
        else:
            d = self.load_default(cfg)
            arrays, labels, data = d[:4], d.labels, self.default_name
        X_train, y_train, X_test, y_test = arrays
        return train_and_report(cfg, run_dir, task=self.name, data=data, X_train=X_train, y_train=y_train,
                                X_test=X_test, y_test=y_test, labels=labels)

    def predict(self, model, inputs):
        return predict_series(model, *read_series_file(inputs, model.meta["channels"]))


@dataclass
class MotionConfig(ClassifyConfig):
    # chosen by 4-fold cross-validation on the training part (benchmarks/tune_series_tasks.py motion):
    # cv accuracy 1.000 over 3 seeds, against 0.979 for one network and 0.969 one-directional
    hidden: int = 32
    bidirectional: bool = True
    pool: int = 5
    ensemble: int = 5
    epochs: int = 150
    batch_size: int = 8
    lr: float = 3e-3
    valid_fraction: float = 0.2
    patience: int = 30


@register_task
class Motion(SeriesTask):
    name = "motion"
    description = "classify activities from smartwatch motion (UEA BasicMotions) or your .ts files"
    Config = MotionConfig
    default_name = "UEA BasicMotions (official 40/40 split)"
    default_data = "UEA BasicMotions from sktime (6 channels, 100 steps, 4 classes, 40/40 split)"

    def load_default(self, cfg):
        from rnnlab.data.datasets import load_basic_motions

        return load_basic_motions()
