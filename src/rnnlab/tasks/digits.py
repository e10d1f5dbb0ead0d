"""``rnnlab train digits``: scikit-learn's 8x8 handwritten digits read row by row (8 steps of 8 pixels).

The smallest real "image as a sequence" task: each image is read top to bottom, one row of eight
pixels per step, and classified after the last row. 25% stratified held-out test split.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.tasks.base import Task, register_task
from rnnlab.tasks.classify import ClassifyConfig, predict_series, stratified_split, train_and_report


@dataclass
class DigitsConfig(ClassifyConfig):
    hidden: int = 128
    epochs: int = 60
    lr: float = 3e-3
    patience: int = 15
    valid_fraction: float = 0.15


def load_digits_rows(seed: int):
    """X (N, 8, 8) in [0, 1], y (N,), and a 25% stratified test split fixed by ``seed``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise RnnlabError("the digits task needs scikit-learn: pip install scikit-learn.") from None
    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)
    train, test = stratified_split(d.target, 0.25, np.random.default_rng(seed))
    return X[train], d.target[train], X[test], d.target[test]


@register_task
class Digits(Task):
    name = "digits"
    description = "classify sklearn's 8x8 digits read row by row (8 steps x 8 pixels)"
    Config = DigitsConfig
    default_data = "sklearn.datasets.load_digits (1,797 images), 25% stratified test split"

    def run(self, cfg, run_dir):
        if cfg.data:
            raise RnnlabError("the digits task uses scikit-learn's digits; for your own images use "
                              "`rnnlab train mnist --data FOLDER` with IDX files.")
        X_train, y_train, X_test, y_test = load_digits_rows(cfg.seed)
        return train_and_report(cfg, run_dir, task=self.name, data="sklearn digits 8x8",
                                X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
                                labels=[str(i) for i in range(10)])

    def predict(self, model, inputs):
        from pathlib import Path

        path = Path(inputs)
        if not path.is_file():
            raise RnnlabError(f"{inputs} is not a file; give a .npy array of shape (N, 8, 8) or (8, 8).")
        try:
            X = np.load(path, allow_pickle=False)
        except ValueError as e:
            raise RnnlabError(f"{inputs} is not a readable .npy array ({e}).") from None
        X = X[None] if X.ndim == 2 else X
        if X.ndim != 3 or X.shape[1:] != (8, 8):
            raise RnnlabError(f"digits expects images of shape (8, 8) with values in [0, 1]; got {X.shape}.")
        return predict_series(model, X)
