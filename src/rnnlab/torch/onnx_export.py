"""Export a saved ``Sequential`` to a standard ONNX graph built on the ONNX RNN, LSTM and GRU operators.

    export_onnx("runs/sentiment", "sentiment.onnx")
    out = run_onnx("sentiment.onnx", X)          # {"output": logits, "prediction": probabilities}

The graph is written with ``onnx.helper`` (no torch needed), so ``sequence_lens`` is a real graph
input and both the batch and the time axis are dynamic. Graph inputs and outputs:

* ``input``: int64 ids (batch, time), or float32 features (batch, time, F);
* ``sequence_lens``: int32 (batch,), the valid steps of each right-padded sequence (all ``time``
  when nothing is padded);
* ``output``: what ``Sequential.forward`` returns (logits for bce and cross_entropy);
* ``prediction``: what ``Sequential.predict`` returns (sigmoid or softmax of the output, per-step
  outputs zero past each length), present when the model was compiled.

Weights are rearranged from PyTorch's layout to ONNX's (all float32):

=====  =================  ==============  =====================================================
cell   torch gate blocks  ONNX gate order  notes
=====  =================  ==============  =====================================================
LSTM   i, f, g, o         i, o, f, c       B = [Wb, Rb] per direction, 8H
GRU    r, z, n            z, r, h          ``linear_before_reset=1`` is torch's r ⊙ (W_hn h + b_hn)
RNN    (one block)        (one block)      activation Tanh, Relu or Sigmoid
=====  =================  ==============  =====================================================

ONNX recurrent ops are time-major with a direction axis: X (T, B, I) → Y (T, D, B, H), Y_h (D, B, H).
The graph transposes the batch-first input once, chains stacked layers as Y → (T, B, D*H), and
for ``return_sequences=False`` takes the top layer's Y_h, directions concatenated, as the NumPy
engine does. Embedding is a Gather, Dense a MatMul and an Add, Dropout is left out (inference).
The output-feedback RNN runs teacher-forced, as in ``Sequential.forward``: its state recursion is
an ONNX RNN on the observed sequence, and its one-step-ahead predictions are MatMuls on the
sequences shifted by one step. Layer norm and zoneout have no ONNX operator and are refused.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.torch.optional import require_onnx, require_onnxruntime

OPSET = 17          # LSTM/GRU/RNN have not changed in meaning since opset 14; 17 is widely supported
IR_VERSION = 8      # the IR that goes with opset 17, so older runtimes load the file too
ONNX_GATES = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}  # torch block k → ONNX position
ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid"}


def to_onnx_gates(w: np.ndarray, kind: str) -> np.ndarray:
    """Reorder the gate blocks of a torch-layout weight or bias (first axis G*H) into ONNX order."""
    order = ONNX_GATES[kind]
    blocks = np.split(np.asarray(w, np.float32), len(order), axis=0)
    return np.concatenate([blocks[k] for k in order], axis=0)


class _Graph:
    """Nodes and constant tensors of the graph being built, with unique names."""

    def __init__(self, onnx):
        self.onnx, self.h = onnx, onnx.helper
        self.nodes, self.inits, self._count = [], [], 0

    def name(self, base: str) -> str:
        self._count += 1
        return f"{base}_{self._count}"

    def const(self, base: str, value) -> str:
        name = self.name(base)
        self.inits.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list, n_out: int = 1, **attrs):
        outs = [self.name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(self.h.make_node(op_type, inputs, outs, name=self.name(f"{op_type}_node"), **attrs))
        return outs[0] if n_out == 1 else outs


def _recurrent(g: _Graph, layer, x: str, lens: str, where: str) -> str:
    """ONNX nodes for one rnnlab RNN/LSTM/GRU layer: x (T, B, I) → (T, B, D*H) or (B, D*H)."""
    kind, H, D = type(layer).__name__, layer.hidden_size, layer.num_directions
    p = layer.params
    attrs = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
    if kind == "RNN":
        attrs["activations"] = [ACTIVATIONS[layer.nonlinearity]] * D
    if kind == "GRU":
        attrs["linear_before_reset"] = 1  # torch: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    n_out = 3 if kind == "LSTM" else 2
    for lay in range(layer.num_layers):
        W, R, B = [], [], []
        for d in range(D):
            sfx = f"_l{lay}" + ("_reverse" if d else "")
            W.append(to_onnx_gates(p["weight_ih" + sfx], kind))
            R.append(to_onnx_gates(p["weight_hh" + sfx], kind))
            zeros = np.zeros(W[-1].shape[0], np.float32)  # bias=False layers: zero biases, same maths
            B.append(np.concatenate([to_onnx_gates(p.get("bias_ih" + sfx, zeros), kind),
                                     to_onnx_gates(p.get("bias_hh" + sfx, zeros), kind)]))
        names = [g.const(f"{where}_l{lay}_{k}", np.stack(v)) for k, v in (("W", W), ("R", R), ("B", B))]
        # Y (T, D, B, H), Y_h (D, B, H) [, Y_c]; steps past sequence_lens give zeros and a frozen state
        Y, Y_h = g.op(kind, [x, *names, lens], n_out, **attrs)[:2]
        # (T, D, B, H) → (T, B, D, H) → (T, B, D*H): the next layer's input, directions concatenated
        x = g.op("Reshape", [g.op("Transpose", [Y], perm=[0, 2, 1, 3]), g.const("shape_tb_", np.array([0, 0, -1]))])
    if layer.return_sequences:
        return x
    # last output = final state of each direction of the top layer: (D, B, H) → (B, D*H)
    return g.op("Reshape", [g.op("Transpose", [Y_h], perm=[1, 0, 2]), g.const("shape_b_", np.array([0, -1]))])


def _feedback(g: _Graph, layer, y: str, lens: str, where: str) -> str:
    """ONNX nodes for the output-feedback RNN under teacher forcing: y (T, B, K) → ŷ (T, B, K).

    Its state recursion h_t = f(W_hy y_t + W_hh h_{t-1} + b_h) is an ONNX RNN with input y, so no
    Loop is needed: ŷ_t = W_yy y_{t-1} + W_yh h_{t-1} + b_y is then two MatMuls over the sequences
    shifted by one step. Past a sequence's length the RNN's Y is zero, but ŷ there is masked, and
    at a valid step t the shifted h_{t-1} is a valid step too.
    """
    p = {k: np.asarray(v, np.float32) for k, v in layer.params.items()}
    H = layer.hidden_size
    W, R = g.const(f"{where}_W", p["weight_hy"][None]), g.const(f"{where}_R", p["weight_hh"][None])
    B = g.const(f"{where}_B", np.concatenate([p["bias_h"], np.zeros(H, np.float32)])[None])
    Y = g.op("RNN", [y, W, R, B, lens], 2, hidden_size=H, activations=[ACTIVATIONS[layer.nonlinearity]])[0]
    S = g.op("Squeeze", [Y, g.const("axes", np.array([1], np.int64))])                  # h_t, (T, B, H)

    def previous(a):  # a_{t-1} with a zero first step: drop the last step, pad one step in front
        cut = g.op("Slice", [a, *(g.const(n, np.array([v], np.int64)) for n, v in
                                  (("starts", 0), ("ends", -1), ("axes", 0)))])
        return g.op("Pad", [cut, g.const("pads", np.array([1, 0, 0, 0, 0, 0], np.int64))])

    # ŷ_t = W_yy y_{t-1} + W_yh h_{t-1} + b_y, masked past each length as in the NumPy layer
    y_hat = g.op("Add", [g.op("MatMul", [previous(y), g.const(f"{where}_Wyy_t", p["weight_yy"].T.copy())]),
                         g.op("MatMul", [previous(S), g.const(f"{where}_Wyh_t", p["weight_yh"].T.copy())])])
    y_hat = g.op("Add", [y_hat, g.const(f"{where}_by", p["bias_y"])])
    return g.op("Mul", [y_hat, _step_mask(g, lens)])


def _check_exportable(model) -> None:
    from rnnlab import nn
    from rnnlab.models.sequential import Sequential

    if not isinstance(model, Sequential):
        raise RnnlabError(f"ONNX export covers Sequential models, got a {type(model).__name__} "
                          f"({getattr(model, 'kind', '?')!r}).")
    problems = []
    if model.meta.get("hybrid", "none") != "none":  # a graph of the network alone would predict something else
        problems.append(f"the model is a --hybrid {model.meta['hybrid']} (its predictions average the network's with "
                        "a logistic regression kept in config.json, which the graph would leave out); train with "
                        "--hybrid none to export the network alone")
    for i, layer in enumerate(model.layers):
        name = f"layer {i} ({type(layer).__name__})"
        if type(layer) not in (nn.Embedding, nn.Dense, nn.Dropout, nn.RNN, nn.LSTM, nn.GRU, nn.FeedbackRNN):
            problems.append(f"{name} has no ONNX translation here (supported: Embedding, Dense, Dropout, RNN, "
                            "LSTM, GRU, FeedbackRNN)")
        elif isinstance(layer, nn.RNNBase) and getattr(layer, "layer_norm", False):
            problems.append(f"{name} uses layer_norm=True, which ONNX's {type(layer).__name__} operator lacks")
        elif isinstance(layer, nn.RNNBase) and getattr(layer, "zoneout", 0.0):
            problems.append(f"{name} uses zoneout, which changes inference and has no ONNX operator")
    if problems:
        raise RnnlabError("cannot export to ONNX: " + "; ".join(problems) + ".")


def build_onnx(model, opset: int = OPSET):
    """The ``onnx.ModelProto`` of a NumPy-engine ``Sequential`` (see the module docstring)."""
    from rnnlab import nn

    onnx = require_onnx()
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or not 14 <= opset <= newest:
        raise RnnlabError(f"opset must be an integer from 14 (axes as inputs, LSTM layout attribute) to {newest} "
                          f"(this onnx {onnx.__version__}), got {opset!r}.")
    _check_exportable(model)
    h, TP = onnx.helper, onnx.TensorProto
    g = _Graph(onnx)
    lens = "sequence_lens"
    if model.ids_input:
        inp = h.make_tensor_value_info("input", TP.INT64, ["batch", "time"])
        x = g.op("Transpose", ["input"], perm=[1, 0])                       # ids (T, B)
    else:
        inp = h.make_tensor_value_info("input", TP.FLOAT, ["batch", "time", model.n_inputs])
        x = g.op("Transpose", ["input"], perm=[1, 0, 2])                    # (T, B, F): ONNX is time-major
    seq = True                                                              # is x still (T, B, ·)?
    for i, layer in enumerate(model.layers):
        p = {k: np.asarray(v, np.float32) for k, v in layer.params.items()}
        if isinstance(layer, nn.Embedding):
            x = g.op("Gather", [g.const(f"emb{i}_weight", p["weight"]), x], axis=0)      # (T, B, E)
        elif isinstance(layer, nn.Dense):
            # y = x Wᵀ + b over the last axis, for (T, B, F) and (B, F) alike
            x = g.op("MatMul", [x, g.const(f"dense{i}_weight_t", np.ascontiguousarray(p["weight"].T))])
            if layer.use_bias:
                x = g.op("Add", [x, g.const(f"dense{i}_bias", p["bias"])])
        elif isinstance(layer, nn.RNNBase):
            x = _recurrent(g, layer, x, lens, f"rnn{i}")
            seq = seq and layer.return_sequences
        elif isinstance(layer, nn.FeedbackRNN):
            x = _feedback(g, layer, x, lens, f"feedback{i}")
        # Dropout: the identity at inference
    outputs = [("output", x)]
    loss = (model.get_config().get("compile") or {}).get("loss")
    if loss is not None:
        y = {"bce": lambda: g.op("Sigmoid", [x]), "cross_entropy": lambda: g.op("Softmax", [x], axis=-1)}.get(
            loss, lambda: x)()
        if seq:
            y = g.op("Mul", [y, _step_mask(g, lens)])  # per-step predictions are zero past each length
        outputs.append(("prediction", y))
    out_info = []
    for name, src in outputs:  # back to batch-first under the public name
        attrs = {"perm": [1, 0, 2]} if seq else {}
        g.nodes.append(h.make_node("Transpose" if seq else "Identity", [src], [name], name=g.name(name), **attrs))
        dims = ["batch", "time", model.n_outputs] if seq else ["batch", model.n_outputs]
        out_info.append(h.make_tensor_value_info(name, TP.FLOAT, dims))
    lens_info = h.make_tensor_value_info(lens, TP.INT32, ["batch"])
    graph = h.make_graph(g.nodes, "rnnlab_sequential", [inp, lens_info], out_info, initializer=g.inits)
    proto = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)], producer_name="rnnlab",
                         ir_version=max(IR_VERSION, onnx.helper.find_min_ir_version_for([h.make_opsetid("", opset)])))
    meta = {"rnnlab_config": json.dumps(model.get_config()), "rnnlab_meta": json.dumps(model.meta, default=str),
            "rnnlab_padding_idx": json.dumps(model.padding_idx)}
    h.set_model_props(proto, meta)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _step_mask(g: _Graph, lens: str) -> str:
    """(T, B, 1) float mask, 1 on steps t < sequence_lens[b], built from the graph's dynamic shape."""
    T = g.op("Gather", [g.op("Shape", ["input"]), g.const("time_axis", np.array(1, np.int64))], axis=0)
    steps = g.op("Range", [g.const("zero", np.array(0, np.int64)), T, g.const("one", np.array(1, np.int64))])
    valid = g.op("Less", [g.op("Unsqueeze", [steps, g.const("axes", np.array([1], np.int64))]),          # (T, 1)
                          g.op("Unsqueeze", [g.op("Cast", [lens], to=g.onnx.TensorProto.INT64),
                                             g.const("axes", np.array([0], np.int64))])])             # (1, B)
    return g.op("Unsqueeze", [g.op("Cast", [valid], to=g.onnx.TensorProto.FLOAT),
                              g.const("axes", np.array([2], np.int64))])


def export_model(model, path, opset: int = OPSET) -> Path:
    """Write the ONNX graph of an in-memory ``Sequential`` to ``path``; returns the path."""
    onnx = require_onnx()
    proto = build_onnx(model, opset)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(path))
    return path


def export_onnx(model_dir, path, opset: int = OPSET) -> Path:
    """Export the model folder ``model_dir`` (config.json + weights.safetensors) to the ONNX file ``path``.

    For ``rnnlab export DIR --onnx model.onnx``. Raises RnnlabError for a folder that is not a
    Sequential, for layers without an ONNX operator, or when ``onnx`` is not installed.
    """
    from rnnlab.models.io import load

    return export_model(load(model_dir), path, opset)


def run_onnx(path, X, lengths=None, providers=("CPUExecutionProvider",)) -> dict:
    """Run an exported graph with onnxruntime: {"output": ..., "prediction": ...} as NumPy arrays.

    ``lengths`` defaults to the non-padding count when the model's Embedding has a ``padding_idx``
    (as ``Sequential.predict`` does), else to the full length.
    """
    ort = require_onnxruntime()
    sess = ort.InferenceSession(str(path), providers=list(providers))
    meta = sess.get_modelmeta().custom_metadata_map
    padding_idx = json.loads(meta.get("rnnlab_padding_idx", "null"))
    X = np.asarray(X)
    ids = X.ndim == 2
    if lengths is None:
        lengths = (X != padding_idx).sum(1) if ids and padding_idx is not None else np.full(X.shape[0], X.shape[1])
    feeds = {"input": X.astype(np.int64 if ids else np.float32), "sequence_lens": np.asarray(lengths, np.int32)}
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))
