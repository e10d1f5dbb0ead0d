"""Optional dependencies of ``rnnlab.torch``, imported on first use with an error that says what to install.

This module imports nothing heavy itself, so ``import rnnlab`` (and ``import rnnlab.torch``) work
without PyTorch, ONNX or onnxruntime installed.
"""
from __future__ import annotations

import importlib

from rnnlab.errors import RnnlabError


class MissingDependencyError(RnnlabError, ImportError):
    """An optional package is not installed; the message names the ``pip install`` that fixes it.

    Subclasses both ``RnnlabError`` (the CLI prints it as one line) and ``ImportError`` (code that
    probes for optional features with ``except ImportError`` keeps working).
    """


def _require(module: str, what: str, extra: str):
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(f"{what} needs the '{module}' package, which is not installed "
                                     f"({e}); install it with `pip install rnnlab[{extra}]`.") from e


def require_torch():
    """The ``torch`` module, or MissingDependencyError saying ``pip install rnnlab[torch]``."""
    return _require("torch", "the PyTorch engine", "torch")


def require_onnx():
    """The ``onnx`` module, or MissingDependencyError saying ``pip install rnnlab[onnx]``."""
    return _require("onnx", "ONNX export", "onnx")


def require_onnxruntime():
    """The ``onnxruntime`` module, or MissingDependencyError saying ``pip install rnnlab[onnx]``."""
    return _require("onnxruntime", "running an exported ONNX model", "onnx")
