"""``rnnlab train digits``: scikit-learn's 8x8 handwritten digits read row by row (8 steps of 8 pixels).

The smallest real "image as a sequence" task: each image is read top to bottom, one row of eight
pixels per step, and classified after the last row. 25% stratified held-out test split.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.tasks.base import Task, register_task
from rnnlab.tasks.classify import ClassifyConfig, predict_series, train_and_report


@dataclass
class DigitsConfig(ClassifyConfig):
    # chosen by 3-fold cross-validation on the training part (benchmarks/tune_series_tasks.py digits):
    # cv accuracy 0.979, against 0.978 for one BiGRU, 0.973 BiLSTM and 0.961 for the LSTM it replaced
    cell: str = "gru"
    bidirectional: bool = True
    hidden: int = 128
    ensemble: int = 3
    epochs: int = 60
    lr: float = 3e-3
    patience: int = 15
    valid_fraction: float = 0.15


def load_npy_images(inputs, shape: tuple) -> np.ndarray:
    """Images (N, *shape) from a .npy file holding one image or a stack of them."""
    path = Path(inputs)
    if not path.is_file():
        raise RnnlabError(f"{inputs} is not a file; give a .npy array of shape (N, {shape[0]}, {shape[1]}).")
    try:
        X = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise RnnlabError(f"{inputs} is not a readable .npy array ({e}).") from None
    X = X[None] if X.ndim == 2 else X
    if X.ndim != 3 or X.shape[1:] != tuple(shape) or not np.issubdtype(X.dtype, np.number):
        raise RnnlabError(f"{inputs} must hold images of shape {tuple(shape)} or (N, {shape[0]}, {shape[1]}); "
                          f"got {X.dtype} {X.shape}.")
    if not np.all(np.isfinite(X)):
        raise RnnlabError(f"{inputs} contains NaN or infinite pixels; clean them first.")
    return X


@register_task
class Digits(Task):
    name = "digits"
    description = "classify sklearn's 8x8 digits read row by row (8 steps x 8 pixels)"
    Config = DigitsConfig
    default_data = "sklearn.datasets.load_digits (1,797 images), 25% stratified test split"

    def run(self, cfg, run_dir):
        from rnnlab.data.datasets import load_digits_rows

        if cfg.data or cfg.test:
            raise RnnlabError("the digits task uses scikit-learn's digits; for your own images use "
                              "`rnnlab train mnist --data FOLDER` with IDX files.")
        d = load_digits_rows(cfg.seed)
        return train_and_report(cfg, run_dir, task=self.name, data="sklearn digits 8x8 (25% stratified test)",
                                X_train=d.X_train, y_train=d.y_train, X_test=d.X_test, y_test=d.y_test,
                                labels=d.labels)

    def predict(self, model, inputs):
        """Images with values in [0, 1] (pixel / 16), as load_digits_rows gives them."""
        return predict_series(model, load_npy_images(inputs, (8, 8)))
