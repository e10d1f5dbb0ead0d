"""Plots every task writes. matplotlib is imported lazily with the Agg backend (no screen needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def learning_curves(history, path, metrics=("loss", "accuracy")) -> Path:
    """Train and validation curves of each metric present in ``history`` (a list of epoch dicts)."""
    plt = _plt()
    keys = [m for m in metrics if any(m in row or f"val_{m}" in row for row in history)]
    fig, axes = plt.subplots(1, max(len(keys), 1), figsize=(5 * max(len(keys), 1), 3.5), squeeze=False)
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    for ax, key in zip(axes[0], keys):
        for name, style in ((key, "-"), (f"val_{key}", "--")):
            ys = [row.get(name, np.nan) for row in history]
            if not np.all(np.isnan(np.asarray(ys, dtype=float))):
                ax.plot(epochs, ys, style, label=name)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def confusion_matrix(y_true, y_pred, labels, path, title="") -> Path:
    plt = _plt()
    k = len(labels)
    cm = np.zeros((k, k), int)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * k, 1 + 0.6 * k))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(k), labels, rotation=45, ha="right")
    ax.set_yticks(range(k), labels)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, cm[i, j], ha="center", va="center", color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def forecast(history, truth, prediction, path, title="", baseline=None, baseline_name="baseline") -> Path:
    """The series, the held-out truth and the forecast (and optionally a baseline forecast)."""
    plt = _plt()
    n = len(history)
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(np.arange(n), history, color="0.4", label="history")
    h = np.arange(n, n + len(truth))
    ax.plot(h, truth, "k-", label="truth")
    ax.plot(h, prediction, "r-", label="forecast")
    if baseline is not None:
        ax.plot(h, baseline, "b--", label=baseline_name)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
