"""Engine layers as plain JSON: the class name and the constructor arguments that rebuild its shapes.

Seeds are not stored: the weights come from the safetensors file, and a rebuilt ``Dropout``
draws fresh masks. ``dtype`` is stored by name ("float32").
"""
from __future__ import annotations

import numpy as np

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.nn.pooling import MaskedPool

LAYERS = {"Embedding": nn.Embedding, "Dense": nn.Dense, "Dropout": nn.Dropout, "RNN": nn.RNN,
          "LSTM": nn.LSTM, "GRU": nn.GRU, "FeedbackRNN": nn.FeedbackRNN, "MaskedPool": MaskedPool}


def layer_config(layer) -> dict:
    """{"class": name, **constructor arguments} for one layer."""
    name = type(layer).__name__
    if LAYERS.get(name) is not type(layer):
        raise RnnlabError(f"cannot describe a {name} layer as config; supported layers: {sorted(LAYERS)}.")
    if isinstance(layer, nn.Embedding):
        args = {"num_embeddings": layer.num_embeddings, "embedding_dim": layer.embedding_dim,
                "padding_idx": layer.padding_idx}
    elif isinstance(layer, nn.Dense):
        args = {"in_features": layer.in_features, "out_features": layer.out_features, "bias": layer.use_bias}
    elif isinstance(layer, nn.Dropout):
        args = {"p": layer.p}
    elif isinstance(layer, MaskedPool):
        args = {"mode": layer.mode}
    elif isinstance(layer, nn.FeedbackRNN):
        args = {"output_size": layer.output_size, "hidden_size": layer.hidden_size,
                "input_size": layer.input_size, "nonlinearity": layer.nonlinearity}
    else:
        args = {"input_size": layer.input_size, "hidden_size": layer.hidden_size,
                "num_layers": layer.num_layers, "bias": bool(layer.bias),
                "bidirectional": layer.bidirectional, "dropout": layer.dropout,
                "return_sequences": bool(layer.return_sequences), "stateful": bool(layer.stateful)}
        # regularisation and normalisation options, written only when used (older files stay valid)
        for opt in ("input_dropout", "recurrent_dropout", "zoneout"):
            if getattr(layer, opt, 0.0):
                args[opt] = float(getattr(layer, opt))
        if getattr(layer, "layer_norm", False):
            args["layer_norm"] = True
        if isinstance(layer, nn.RNN):
            args["nonlinearity"] = layer.nonlinearity
    return {"class": name, **args, "dtype": layer.dtype.name}


def layer_from_config(config: dict):
    """Rebuild a layer (fresh weights of the right shapes) from ``layer_config``'s output."""
    if not isinstance(config, dict) or config.get("class") not in LAYERS:
        got = config.get("class") if isinstance(config, dict) else config
        raise RnnlabError(f"unknown layer {got!r} in the config; supported layers: {sorted(LAYERS)}.")
    args = {k: v for k, v in config.items() if k != "class"}
    if "dtype" in args:
        try:
            args["dtype"] = np.dtype(args["dtype"])
        except TypeError:
            raise RnnlabError(f"layer {config['class']} has an unknown dtype {args['dtype']!r}.") from None
    try:
        return LAYERS[config["class"]](**args)
    except TypeError as e:
        raise RnnlabError(f"layer {config['class']} config does not match its arguments ({e}).") from None


def layer_label(layer) -> str:
    """Short description for summaries, e.g. ``LSTM(32→64, 2 layers, bidirectional)``."""
    if isinstance(layer, nn.Embedding):
        pad = "" if layer.padding_idx is None else f", padding_idx={layer.padding_idx}"
        return f"Embedding({layer.num_embeddings}, {layer.embedding_dim}{pad})"
    if isinstance(layer, nn.Dense):
        return f"Dense({layer.in_features}→{layer.out_features})"
    if isinstance(layer, nn.Dropout):
        return f"Dropout(p={layer.p:g})"
    if isinstance(layer, MaskedPool):
        return f"MaskedPool({layer.mode})"
    if isinstance(layer, nn.FeedbackRNN):
        return f"FeedbackRNN({layer.output_size}, hidden={layer.hidden_size})"
    extras = [f"{layer.num_layers} layers"] if layer.num_layers > 1 else []
    if layer.bidirectional:
        extras.append("bidirectional")
    if not layer.return_sequences:
        extras.append("last step")
    return f"{type(layer).__name__}({layer.input_size}→{layer.hidden_size}" + \
        "".join(", " + e for e in extras) + ")"
