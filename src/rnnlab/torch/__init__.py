"""The optional PyTorch side of rnnlab: the same models on torch.nn, and ONNX export.

``import rnnlab.torch`` works without PyTorch: this file imports nothing heavy and each name is
imported on first use; a missing install raises ``MissingDependencyError`` (an ImportError and an
RnnlabError) saying what to install.

* ``engine.py``: ``to_torch`` / ``from_torch`` / ``save_torch`` / ``load_torch`` move a
  ``Sequential`` between the engines (same weight names, same folder format); ``TorchSequential``.
* ``training.py``: ``torch_fit``, rnnlab's training loop features on torch (CPU or CUDA, bf16).
* ``language.py``, ``seq2seq.py``, ``forecast.py``: ``TorchLanguageModel``, ``TorchSeq2Seq``,
  ``TorchForecaster``, the other model kinds on torch.nn (``to_torch``/``from_torch``/``save_torch``/
  ``load_torch`` pick them by kind; ``kinds.py``).
* ``kind_training.py``: ``torch_train``, ``fit``'s loop for a LanguageModel, Seq2Seq or Forecaster,
  stepped by torch.
* ``feedback.py``: ``TorchFeedbackRNN``, the output-feedback RNN as a torch module.
* ``layer_norm.py``: ``LayerNormRNN``, ``LayerNormLSTM``, ``LayerNormGRU``, our ``layer_norm=True``
  layers with torch autograd and the same parameter names and shapes.
* ``onnx_export.py``: ``export_onnx`` writes a standard ONNX graph (LSTM/GRU/RNN operators,
  dynamic batch and length, ``sequence_lens`` input); needs only onnx, not torch.
* ``device.py``: ``resolve_device("cpu"|"cuda"|"auto")``.
"""
from __future__ import annotations

import importlib

_LAZY = {"LayerNormRNN": "layer_norm", "LayerNormLSTM": "layer_norm", "LayerNormGRU": "layer_norm",
         "to_torch": "engine", "from_torch": "engine", "save_torch": "engine", "load_torch": "engine",
         "TorchSequential": "engine", "TorchFeedbackRNN": "feedback", "torch_fit": "training",
         "resolve_device": "device", "export_onnx": "onnx_export", "run_onnx": "onnx_export",
         "MissingDependencyError": "optional", "TorchLanguageModel": "language", "TorchSeq2Seq": "seq2seq",
         "TorchForecaster": "forecast", "torch_train": "kind_training"}
__all__ = list(_LAZY)


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'rnnlab.torch' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rnnlab.torch.{_LAZY[name]}"), name)
