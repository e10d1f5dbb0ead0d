"""Helpers of the series task tests, as the ``series_kit`` fixture: tiny UEA/UCR .ts series and
MNIST-style IDX images the tests write themselves, and checks of a run's folder and error line.

Every class is easy to tell apart (a channel offset, a lit row), so a few epochs of a small
network learn it; nothing here downloads anything.
"""
import gzip
import json
import struct

import numpy as np
import pytest

from rnnlab.models import load


def toy_series(n_per_class, labels=("up", "down"), channels=2, lengths=(12,), seed=0):
    """A list of (C, T) arrays and their labels: class k adds a different offset to each channel."""
    rng = np.random.default_rng(seed)
    series, ys = [], []
    for i in range(n_per_class * len(labels)):
        k = i % len(labels)
        T = lengths[i % len(lengths)]
        offset = np.array([(1.5 if (k + c) % 2 else -1.5) * (1 + k % 3) for c in range(channels)])
        series.append(offset[:, None] + 0.3 * rng.normal(size=(channels, T)))
        ys.append(labels[k])
    return series, ys


def write_ts(path, series, ys, declared=None, nan_at=None):
    """A .ts classification file; ``nan_at`` = case index whose first value becomes '?'."""
    C = len(series[0])
    equal = len({s.shape[1] for s in series}) == 1
    head = ["@problemName Toy", "@timeStamps false", "@missing false", f"@univariate {str(C == 1).lower()}",
            f"@dimensions {C}", f"@equalLength {str(equal).lower()}"]
    if equal:
        head.append(f"@seriesLength {series[0].shape[1]}")
    head += [f"@classLabel true {' '.join(declared or sorted(set(ys)))}", "@data"]
    lines = []
    for i, (s, y) in enumerate(zip(series, ys)):
        chans = [",".join(f"{v:.5f}" for v in ch) for ch in s]
        if i == nan_at:
            chans[0] = "?" + chans[0][chans[0].index(","):]
        lines.append(":".join(chans) + f":{y}")
    path.write_text("\n".join(head + lines) + "\n")
    return path


def write_idx(folder, n_train=60, n_test=30, size=8, classes=3, gz=False, test_classes=None, seed=0):
    """MNIST-layout IDX files: an image of class k has its row size-1-2k lit (plus noise)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)

    def images(n, cls):
        y = np.arange(n) % cls
        X = rng.integers(0, 40, size=(n, size, size))
        X[np.arange(n), size - 1 - 2 * y] = 250
        return X.astype(np.uint8), y.astype(np.uint8)

    def write(name, arr):
        data = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
        (folder / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(data) if gz else data)

    for split, n, cls in (("train", n_train, classes), ("t10k", n_test, test_classes or classes)):
        X, y = images(n, cls)
        write(f"{split}-images-idx3-ubyte", X)
        write(f"{split}-labels-idx1-ubyte", y)
    return folder


def error_line(capsys):
    """The one stderr line of a failed command (and no traceback)."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnlab: error: "), err
    assert "Traceback" not in err
    return lines[0]


def check_run_folder(out, task, picture="confusion_matrix.png"):
    """The metrics.json contract and the files every classification run writes; returns the metrics."""
    m = json.loads((out / "metrics.json").read_text())
    assert m["task"] == task and isinstance(m["data"], str)
    assert set(m["split"]) == {"train", "valid", "test"} and all(isinstance(v, int) for v in m["split"].values())
    assert 0 <= m["test"]["accuracy"] <= 1 and set(m["test"]) == {"accuracy"}
    assert m["baseline"]["name"] and 0 <= m["baseline"]["test"]["accuracy"] <= 1
    assert m["seconds"] > 0 and m["config"]["seed"] == 0
    for name in ("config.json", "weights.safetensors", "history.csv", "learning_curves.png", picture):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    return m


def reloaded_accuracy(out, X_test, y_test):
    """Held-out accuracy of the model reloaded from ``out``; equals the run's figure when the files are whole."""
    from rnnlab.tasks.classify import predict_proba

    return float((predict_proba(load(out), X_test).argmax(1) == np.asarray(y_test)).mean())


@pytest.fixture(scope="session")
def series_kit():
    """This module: ``series_kit.write_ts(...)``, ``series_kit.error_line(capsys)`` ..."""
    import sys

    return sys.modules[__name__]
