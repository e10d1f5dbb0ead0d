"""``rnnlab train mnist --data FOLDER``: MNIST-style IDX images read row by row (28 steps of 28 pixels).

FOLDER holds ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]`` and the held-out
``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]`` (MNIST, Fashion-MNIST, KMNIST
... all use this layout). Each image is read top to bottom, one row per step, and classified after
the last row. There is no built-in data: rnnlab never downloads MNIST.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.tasks.base import Task, register_task
from rnnlab.tasks.classify import ClassifyConfig, predict_series, train_and_report
from rnnlab.tasks.digits import load_npy_images


@dataclass
class MnistConfig(ClassifyConfig):
    # the classic row-by-row LSTM; about 30 s an epoch on 60,000 images and 2 CPU cores (timed on
    # synthetic 28x28 IDX files: rnnlab does not ship MNIST, so these are not tuned on it)
    hidden: int = 128
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    valid_fraction: float = 0.1
    patience: int = 3


@register_task
class Mnist(Task):
    name = "mnist"
    description = "classify MNIST-style IDX images (--data FOLDER) read row by row"
    Config = MnistConfig
    default_data = "none: pass --data FOLDER with train-images-idx3-ubyte[.gz], t10k-* ... (IDX files)"

    def run(self, cfg, run_dir):
        from rnnlab.data.loaders import load_idx_folder

        if not cfg.data:
            raise RnnlabError("the mnist task has no built-in data; pass --data FOLDER holding "
                              "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
                              "t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz].")
        if cfg.test:
            raise RnnlabError("the mnist task takes its held-out images from the t10k-* files of --data; "
                              "drop --test.")
        d = load_idx_folder(cfg.data)
        if d.X_train.ndim != 3 or d.X_test.shape[1:] != d.X_train.shape[1:]:
            raise RnnlabError(f"{cfg.data}: expected train and t10k images of one shape (n, rows, columns); "
                              f"got {d.X_train.shape} and {d.X_test.shape}.")
        classes = np.unique(d.y_train)
        unseen = sorted(set(np.unique(d.y_test).tolist()) - set(classes.tolist()))
        if unseen:
            raise RnnlabError(f"{cfg.data}: the t10k labels include {unseen}, never seen in the training labels.")
        # raw pixel values (0-255): the per-column standardisation of the recipe does the scaling
        return train_and_report(cfg, run_dir, task=self.name, data=f"{cfg.data} (held out: t10k files)",
                                X_train=d.X_train.astype(np.float32), y_train=np.searchsorted(classes, d.y_train),
                                X_test=d.X_test.astype(np.float32), y_test=np.searchsorted(classes, d.y_test),
                                labels=[str(c) for c in classes.tolist()])

    def predict(self, model, inputs):
        """Images with raw pixel values, as in the IDX files: a .npy array or an IDX images file."""
        from rnnlab.data.loaders import read_idx

        shape = (model.meta["steps"], model.meta["channels"])
        name = Path(inputs).name
        if "idx" in name and "ubyte" in name:
            X = read_idx(inputs)
            if X.ndim == 2:
                X = X[None]
            if X.shape[1:] != shape:
                raise RnnlabError(f"{inputs} holds images of shape {X.shape[1:]} but the model reads {shape}.")
        else:
            X = load_npy_images(inputs, shape)
        return predict_series(model, X.astype(np.float32))
