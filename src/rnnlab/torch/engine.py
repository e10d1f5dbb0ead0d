"""The PyTorch engine: the same ``Sequential`` architectures as ``torch.nn`` modules, weights moved both ways.

    net = to_torch(model, device="auto")          # rnnlab Sequential → TorchSequential, weights copied
    proba = net.predict(X)                         # equals model.predict(X) within float32 rounding
    model2 = from_torch(net, template=model)       # back to the NumPy engine (a new Sequential)
    save_torch(net, "runs/m"); net2 = load_torch("runs/m", device="cuda")   # the same folder format

Recurrent layers are ``torch.nn.LSTM``/``GRU``/``RNN`` (cuDNN on CUDA, oneDNN or ATen on the CPU) and
variable lengths go through ``pack_padded_sequence(enforce_sorted=False)``, which is what the NumPy
engine reproduces: the reverse direction starts at each sequence's own last step, padded outputs are
zero and the final state is taken at the last valid step. Module names are the layer indices, so
``TorchSequential.state_dict()`` keys are exactly the keys of ``weights.safetensors``
(``"1.weight_ih_l0"``, ``"2.weight"``, ...) and a folder written by either engine loads in the other.

What has no cuDNN kernel runs as a torch loop with the same parameter names: the output-feedback
RNN (``rnnlab.torch.feedback``), and ``layer_norm=True`` or ``nonlinearity="sigmoid"`` layers
(``rnnlab.torch.layer_norm``). Training-only regularisers of the NumPy layers (``input_dropout``,
``recurrent_dropout``, ``zoneout``) have no torch counterpart here and are refused.
"""
from __future__ import annotations

import copy
import functools
import warnings

import numpy as np

from rnnlab import nn as rnn_nn
from rnnlab.errors import RnnlabError
from rnnlab.models import arrays
from rnnlab.nn.pooling import MaskedPool
from rnnlab.torch.device import resolve_device
from rnnlab.torch.feedback import TorchFeedbackRNN
from rnnlab.torch.optional import require_torch

torch = require_torch()
nn = torch.nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402


class _Recurrent:
    """Adds ``forward(x, lengths)`` and ``return_sequences`` to a torch recurrent module (a mixin).

    Subclasses inherit the parameters of their torch base, so ``state_dict`` keys stay
    ``weight_ih_l0`` ... with no prefix, exactly the NumPy layer's names.
    """

    return_sequences = True

    def forward(self, x, lengths=None):
        """x (B, T, I), lengths (B,) int CPU tensor or None → out (B, T, D*H) or (B, D*H), state."""
        out, state = self._rnnlab_run(x, lengths)
        if self.return_sequences:
            return out, state
        # last output = final state of each direction of the top layer, directions concatenated
        D = 2 if self.bidirectional else 1
        h_n = state[0] if isinstance(state, tuple) else state
        return h_n[-D:].transpose(0, 1).reshape(x.shape[0], D * self.hidden_size), state

    def _base_forward(self, *args, **kwargs):
        """The torch base class's own forward (the next class after this mixin in the MRO)."""
        return super(_Recurrent, self).forward(*args, **kwargs)


class _Packed(_Recurrent):
    def _rnnlab_run(self, x, lengths):
        T = x.shape[1]
        if lengths is None or int(lengths.min()) == T:  # nothing padded: the unpacked (faster) call
            return self._base_forward(x)
        seq = pack_padded_sequence(x, lengths.to("cpu", torch.int64), batch_first=True, enforce_sorted=False)
        out, state = self._base_forward(seq)
        # padded steps come back as zeros; total_length keeps T even when every sequence is shorter
        return pad_packed_sequence(out, batch_first=True, total_length=T)[0], state


class TorchRNN(_Packed, nn.RNN):
    """``torch.nn.RNN`` (tanh or relu) with ``forward(x, lengths)`` and ``return_sequences``."""


class TorchLSTM(_Packed, nn.LSTM):
    """``torch.nn.LSTM`` with ``forward(x, lengths)`` and ``return_sequences``."""


class TorchGRU(_Packed, nn.GRU):
    """``torch.nn.GRU`` with ``forward(x, lengths)`` and ``return_sequences``."""


class _Loop(_Recurrent):
    def _rnnlab_run(self, x, lengths):
        # zero initial state passed explicitly, in the (L*D, B, H) layout torch.nn.RNN uses
        h0 = x.new_zeros(self.num_layers * self.num_directions, x.shape[0], self.hidden_size)
        return self._base_forward(x, (h0, torch.zeros_like(h0)) if self.n_states == 2 else h0, lengths=lengths)


@functools.lru_cache(maxsize=None)
def _loop_class(kind: str):
    """``rnnlab.torch.layer_norm``'s loop module for ``kind`` with our forward (layer norm, sigmoid)."""
    try:
        from rnnlab.torch import layer_norm
    except ImportError as e:  # pragma: no cover - shipped with the package
        raise RnnlabError(f"layer_norm and sigmoid layers need rnnlab.torch.layer_norm ({e}).") from e
    base = getattr(layer_norm, f"LayerNorm{kind}")
    return type(f"TorchLoop{kind}", (_Loop, base), {"__doc__": f"{base.__name__} with forward(x, lengths)."})


RECURRENT = (_Recurrent, TorchFeedbackRNN)
_KINDS = {rnn_nn.RNN: ("RNN", TorchRNN), rnn_nn.LSTM: ("LSTM", TorchLSTM), rnn_nn.GRU: ("GRU", TorchGRU)}
_TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def _recurrent_layer(layer, name: str, problems: list):
    kind, cudnn_class = _KINDS[type(layer)]
    unsupported = [f"{k}={getattr(layer, k)}" for k in ("input_dropout", "recurrent_dropout", "zoneout")
                   if getattr(layer, k, 0.0)]
    if unsupported:
        problems.append(f"{name} uses {', '.join(unsupported)}, which the PyTorch engine does not implement; "
                        "set them to 0 (dropout= between layers is supported)")
        return None
    common = dict(num_layers=layer.num_layers, bias=bool(layer.bias), bidirectional=layer.bidirectional)
    nonlinearity = getattr(layer, "nonlinearity", "tanh")
    extra = {"nonlinearity": nonlinearity} if kind == "RNN" else {}
    if getattr(layer, "layer_norm", False) or nonlinearity == "sigmoid":
        if layer.dropout and layer.num_layers > 1:
            warnings.warn(f"{name}: the torch loop module for layer_norm/sigmoid layers has no dropout between "
                          f"layers, so dropout={layer.dropout} is ignored when training with the PyTorch engine "
                          "(inference is unaffected).", RuntimeWarning, stacklevel=3)
        module = _loop_class(kind)(layer.input_size, layer.hidden_size, batch_first=True,
                                   layer_norm=bool(getattr(layer, "layer_norm", False)), **common, **extra)
    else:
        module = cudnn_class(layer.input_size, layer.hidden_size, batch_first=True, dropout=layer.dropout,
                             **common, **extra)
    module.return_sequences = bool(layer.return_sequences)
    return module


class TorchMaskedPool(nn.Module):
    """``rnnlab.nn.MaskedPool``: mean and/or max over each sequence's valid steps (padding excluded)."""

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def forward(self, x, lengths=None):
        B, T, _ = x.shape
        n = torch.full((B,), T, device=x.device) if lengths is None else lengths.to(x.device)
        valid = (torch.arange(T, device=x.device)[None, :] < n[:, None])[..., None]      # (B, T, 1)
        stats = []
        if self.mode in ("mean", "meanmax"):
            # mean_b = (1 / L_b) Σ_{t < L_b} x_{b,t}
            stats.append((x * valid).sum(1) / n[:, None].to(x.dtype))
        if self.mode in ("max", "meanmax"):
            stats.append(x.masked_fill(~valid, float("-inf")).amax(1))
        return torch.cat(stats, -1)


def torch_layer(layer, name: str = "layer", problems: list | None = None):
    """The torch module for one NumPy-engine layer (fresh weights; ``to_torch`` copies them)."""
    own = problems is None
    problems = [] if own else problems
    if isinstance(layer, rnn_nn.Embedding):
        module = nn.Embedding(layer.num_embeddings, layer.embedding_dim, padding_idx=layer.padding_idx)
    elif isinstance(layer, rnn_nn.Dense):
        module = nn.Linear(layer.in_features, layer.out_features, bias=layer.use_bias)
    elif isinstance(layer, rnn_nn.Dropout):
        module = nn.Dropout(layer.p)
    elif isinstance(layer, MaskedPool):
        module = TorchMaskedPool(layer.mode)
    elif type(layer) in _KINDS:
        module = _recurrent_layer(layer, name, problems)
    elif isinstance(layer, rnn_nn.FeedbackRNN):
        module = TorchFeedbackRNN(layer.output_size, layer.hidden_size, layer.input_size, layer.nonlinearity,
                                  layer.recurrent_dropout)
    else:
        problems.append(f"{name} is a {type(layer).__name__}, which has no PyTorch counterpart here")
        module = None
    if module is not None and getattr(layer, "dtype", None) in _TORCH_DTYPES:
        module = module.to(_TORCH_DTYPES[layer.dtype])
    if own and problems:
        raise RnnlabError("to_torch: " + "; ".join(problems) + ".")
    return module


class TorchSequential(nn.Module):
    """A rnnlab ``Sequential`` as a ``torch.nn.Module``; build it with ``to_torch`` or ``load_torch``.

    ``forward(x, lengths=None)`` returns what ``Sequential.forward`` returns (logits for the
    classification losses); ``predict`` returns what ``Sequential.predict`` returns (probabilities,
    per-step outputs zero past each length). Children are named "0", "1", ... like the layers.

    Attributes
    ----------
    rnnlab_config : dict
        The Sequential's ``get_config()`` (layers and compile settings), written back by ``save_torch``.
    meta : dict
        Preprocessing that travels with the weights (vocabulary, scaling, labels).
    """

    def __init__(self, modules, config: dict, meta: dict | None = None, *, ids_input: bool, per_step: bool,
                 n_inputs, padding_idx=None, vocab_size=None):
        super().__init__()
        for i, module in enumerate(modules):
            self.add_module(str(i), module)
        self.rnnlab_config, self.meta = copy.deepcopy(config), copy.deepcopy(meta or {})
        self.ids_input, self.per_step, self.n_inputs = ids_input, per_step, n_inputs
        self.padding_idx, self.vocab_size = padding_idx, vocab_size

    @property
    def device(self):
        return next(self.parameters()).device

    @property
    def loss_name(self):
        return (self.rnnlab_config.get("compile") or {}).get("loss")

    def forward(self, x, lengths=None):
        """x (B, T) int64 ids or (B, T, F) floats; lengths (B,) int64 CPU tensor or None."""
        h = x
        for module in self.children():
            if isinstance(module, RECURRENT):
                h, _ = module(h, lengths)
            elif isinstance(module, TorchMaskedPool):
                h = module(h, lengths)
            else:
                h = module(h)
        return h

    # -- NumPy in, NumPy out ----------------------------------------------------------------------
    def inputs(self, X, lengths=None):
        """Validate like ``Sequential`` (lengths from ``padding_idx`` when not given) → (X, lengths) arrays."""
        X = arrays.check_sequences(X, ids=self.ids_input, n_features=self.n_inputs, vocab_size=self.vocab_size)
        if lengths is not None:
            lengths = arrays.check_lengths(lengths, X.shape[0], X.shape[1])
        elif self.padding_idx is not None:
            lengths = arrays.lengths_from_padding(X, self.padding_idx)
        return X, lengths

    def as_tensors(self, X, lengths=None):
        """NumPy batch → (x on the module's device, lengths as a CPU int64 tensor or None)."""
        p = next(self.parameters())
        x = torch.from_numpy(np.ascontiguousarray(X))
        x = x.to(p.device, torch.int64) if self.ids_input else x.to(p.device, p.dtype)
        return x, None if lengths is None else torch.from_numpy(np.asarray(lengths, np.int64))

    def transform(self, out):
        """Network output → prediction, as the compiled loss's ``predict_transform``."""
        if self.loss_name == "bce":
            return torch.sigmoid(out)
        if self.loss_name == "cross_entropy":
            return torch.softmax(out, dim=-1)
        return out

    @torch.no_grad()
    def predict(self, X, lengths=None, batch_size: int = 256, bf16: bool = False) -> np.ndarray:
        """Like ``Sequential.predict``: (N, [T,] n_outputs) NumPy array, in evaluation mode."""
        from rnnlab.torch.device import autocast

        X, lengths = self.inputs(X, lengths)
        was_training = self.training
        self.eval()
        outs = []
        try:
            for Xb, _, Lb in arrays.Batches(X, None, lengths, arrays.batch_indices(X.shape[0], batch_size,
                                                                                   shuffle=False)):
                x, lb = self.as_tensors(Xb, Lb)
                with autocast(self.device, bf16):
                    out = self.transform(self(x, lb))
                p = (out.float() if out.dtype in (torch.float16, torch.bfloat16) else out).cpu().numpy()
                if self.per_step:
                    full = np.zeros((p.shape[0], X.shape[1], p.shape[2]), p.dtype)
                    full[:, :p.shape[1]] = p
                    if Lb is not None:
                        full *= arrays.step_mask(Lb, p.shape[0], X.shape[1])[:, :, None]
                    p = full
                outs.append(p)
        finally:
            self.train(was_training)
        return np.concatenate(outs)


def _check_sequential(model, what: str):
    from rnnlab.models.sequential import Sequential

    if not isinstance(model, Sequential):
        raise RnnlabError(f"{what} expected an rnnlab.models.Sequential but got {type(model).__name__}; "
                          "the PyTorch engine covers Sequential, LanguageModel, Seq2Seq and Forecaster models.")


def _numpy_state(module) -> dict:
    """state_dict of a torch module as NumPy arrays (bf16/fp16 widened to float32)."""
    out = {}
    for k, v in module.state_dict().items():
        v = v.detach()
        if v.dtype in (torch.float16, torch.bfloat16):
            v = v.float()
        out[k] = v.cpu().numpy().copy()
    return out


def _load_into_torch(net, state: dict, what: str) -> None:
    own = net.state_dict()
    missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    bad = [f"{k}: torch {tuple(own[k].shape)} vs rnnlab {np.shape(state[k])}"
           for k in own if k in state and tuple(own[k].shape) != np.shape(state[k])]
    if missing or extra or bad:
        raise RnnlabError(f"{what}: the weights do not match the torch modules (missing {missing or 'none'}, "
                          f"unexpected {extra or 'none'}, misshapen {bad or 'none'}).")
    with torch.no_grad():
        for k, t in own.items():
            t.copy_(torch.from_numpy(np.ascontiguousarray(state[k])))


def to_torch(model, device="cpu") -> TorchSequential:
    """A ``TorchSequential`` with the architecture and a copy of the weights of ``model``.

    Parameters
    ----------
    model : rnnlab.models.Sequential, LanguageModel, Seq2Seq or Forecaster
    device : {"cpu", "cuda", "auto"}, "cuda:N" or torch.device

    Returns
    -------
    TorchSequential
        In the same train/eval mode as ``model``; its ``forward`` and ``predict`` match the NumPy
        engine's within float32 rounding (about 1e-6). A ``LanguageModel`` gives a
        ``TorchLanguageModel``, a ``Seq2Seq`` a ``TorchSeq2Seq``, a ``Forecaster`` a
        ``TorchForecaster`` (``rnnlab.torch.kinds``).
    """
    from rnnlab.torch.kinds import kind_class

    twin = kind_class(model)  # LanguageModel, Seq2Seq, Forecaster: their own torch module (rnnlab.torch.kinds)
    if twin is not None:
        return twin.from_rnnlab(model, device)
    _check_sequential(model, "to_torch")
    problems: list = []
    modules = [torch_layer(layer, f"layer {i} ({type(layer).__name__})", problems)
               for i, layer in enumerate(model.layers)]
    if problems:
        raise RnnlabError("to_torch: " + "; ".join(problems) + ".")
    first = model.layers[0]
    net = TorchSequential(modules, model.get_config(), model.meta, ids_input=model.ids_input,
                          per_step=model.per_step, n_inputs=model.n_inputs, padding_idx=model.padding_idx,
                          vocab_size=first.num_embeddings if model.ids_input else None)
    _load_into_torch(net, model.state_dict(), "to_torch")
    net.train(model.training)
    return net.to(resolve_device(device))


def from_torch(module, template=None):
    """A NumPy-engine ``Sequential`` holding the weights of the torch ``module``.

    Parameters
    ----------
    module : TorchSequential, TorchLanguageModel, TorchSeq2Seq, TorchForecaster, or any torch.nn.Module whose
        state_dict keys are the template's Sequential's
    template : rnnlab.models.Sequential, optional
        The architecture to fill; it is copied, never changed. Without it the architecture comes
        from ``module.rnnlab_config`` (a TorchSequential made by ``to_torch``/``load_torch``).
    """
    from rnnlab.models.sequential import Sequential
    from rnnlab.torch.kinds import TorchKind

    if isinstance(module, TorchKind):
        return module.to_rnnlab(template)
    if template is None:
        if not isinstance(module, TorchSequential):
            raise RnnlabError(f"from_torch needs a template Sequential for a {type(module).__name__}; "
                              "pass template=the rnnlab model with the same architecture.")
        model = Sequential.from_config(module.rnnlab_config)
        model.meta = copy.deepcopy(module.meta)
    else:
        _check_sequential(template, "from_torch")
        model = copy.deepcopy(template)
    model.load_state_dict(_numpy_state(module))
    model.train(module.training)
    return model


def save_torch(module, path, template=None, metrics: dict | None = None):
    """Write ``module`` as an rnnlab model folder (config.json + weights.safetensors) at ``path``."""
    from rnnlab.models.io import save

    return save(from_torch(module, template), path, metrics=metrics)


def load_torch(path, device="cpu") -> TorchSequential:
    """Load an rnnlab model folder (written by either engine) as a ``TorchSequential`` in eval mode
    (a ``TorchLanguageModel``, ``TorchSeq2Seq`` or ``TorchForecaster`` for those kinds)."""
    from rnnlab.models.io import load
    from rnnlab.torch.kinds import kind_class

    model = load(path)
    if kind_class(model) is None:
        _check_sequential(model, f"load_torch({str(path)!r})")
    return to_torch(model, device).eval()
