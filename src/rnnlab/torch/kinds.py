"""What the torch twins of the other model kinds share: ``TorchKind`` and the dispatch by ``kind``.

    net = to_torch(lm)                   # LanguageModel → TorchLanguageModel, Seq2Seq → TorchSeq2Seq,
                                         # Forecaster → TorchForecaster
    model = from_torch(net)              # back to the NumPy engine, same weights
    save_torch(net, "runs/m")            # the one folder format, read by rnnlab.models.load too

A ``TorchKind`` names its children like the model's ``modules`` ("embed", "rnn", "out"; "encoder",
"bridge", ...; "rnn0", "out0", ...) and builds each with the engine's ``torch_layer``, so
``state_dict()`` keys are the model's flat ``params`` keys (``"rnn.weight_ih_l0"``) and the weights
move with no renaming.
Recurrent children are ``TorchLSTM``/``TorchGRU``/``TorchRNN`` (``torch.nn`` kernels: cuDNN or
oneDNN); ``run_recurrent`` adds what their own forward lacks, an initial state.
"""
from __future__ import annotations

import copy
import importlib

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.torch.device import resolve_device
from rnnlab.torch.engine import _load_into_torch, _numpy_state, torch_layer
from rnnlab.torch.optional import require_torch

torch = require_torch()
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

# model kind → (module, class) of its torch twin, imported on first use
TWINS = {"language_model": ("rnnlab.torch.language", "TorchLanguageModel"),
         "seq2seq": ("rnnlab.torch.seq2seq", "TorchSeq2Seq"),
         "forecaster": ("rnnlab.torch.forecast", "TorchForecaster")}


def kind_class(model):
    """The ``TorchKind`` class for a NumPy-engine model of a kind listed in ``TWINS``, else None."""
    from rnnlab.models.base import Model

    where = TWINS.get(getattr(type(model), "kind", None))
    if where is None or not isinstance(model, Model):
        return None
    return getattr(importlib.import_module(where[0]), where[1])


def run_recurrent(module, x, lengths=None, state=None):
    """A torch recurrent child on x (B, T, I) from ``state`` (None: zeros) → out (B, T, H), final state.

    With ``lengths`` (B,) the sequences are packed, as the NumPy layer masks them: outputs past
    each length are zero and the final state is taken at the last valid step. Packing permutes
    the initial state with the batch (``enforce_sorted=False``), so ``state`` stays in batch order.
    """
    T = x.shape[1]
    if lengths is None or int(lengths.min()) == T:  # nothing padded: the unpacked (faster) call
        return module._base_forward(x, state)
    seq = pack_padded_sequence(x, lengths.to("cpu", torch.int64), batch_first=True, enforce_sorted=False)
    out, state = module._base_forward(seq, state)
    return pad_packed_sequence(out, batch_first=True, total_length=T)[0], state


class TorchKind(torch.nn.Module):
    """Base of the torch twins of non-Sequential models; build one with ``from_rnnlab`` (or ``to_torch``).

    Attributes
    ----------
    rnnlab_kind : str
        The ``kind`` of the NumPy model this twins (the registry key in ``config.json``).
    rnnlab_config, meta : dict
        The model's ``get_config()`` and ``meta``, written back by ``to_rnnlab`` / ``save_torch``.
    """

    rnnlab_kind = ""

    def __init__(self, model):
        super().__init__()
        problems: list = []
        for name, layer in model.modules.items():
            self.add_module(name, torch_layer(layer, f"{name} ({type(layer).__name__})", problems))
        if problems:
            raise RnnlabError("to_torch: " + "; ".join(problems) + ".")
        self.rnnlab_config, self.meta = copy.deepcopy(model.get_config()), copy.deepcopy(model.meta)

    @classmethod
    def from_rnnlab(cls, model, device="cpu"):
        """A twin of ``model`` holding a copy of its weights, in its train/eval mode, on ``device``."""
        if getattr(type(model), "kind", None) != cls.rnnlab_kind:
            raise RnnlabError(f"{cls.__name__} is built from a {cls.rnnlab_kind!r} model but got a "
                              f"{type(model).__name__}; use rnnlab.torch.to_torch, which picks the twin.")
        net = cls(model)
        _load_into_torch(net, model.state_dict(), "to_torch")
        net.train(model.training)
        return net.to(resolve_device(device))

    def to_rnnlab(self, template=None):
        """The NumPy-engine model with this module's weights: a copy of ``template``, or built from the config."""
        from rnnlab.models.base import REGISTRY
        from rnnlab.models.io import _import_known_models

        if template is None:
            _import_known_models()
            model = REGISTRY[self.rnnlab_kind].from_config(copy.deepcopy(self.rnnlab_config))
            model.meta = copy.deepcopy(self.meta)
        elif getattr(type(template), "kind", None) != self.rnnlab_kind:
            raise RnnlabError(f"from_torch: the template is a {type(template).__name__} but the module twins a "
                              f"{self.rnnlab_kind!r} model; pass a template of that kind, or none.")
        else:
            model = copy.deepcopy(template)
        model.load_state_dict(_numpy_state(self))
        model.train(self.training)
        return model

    @property
    def device(self):
        return next(self.parameters()).device

    def ids(self, a):
        """NumPy ids → int64 tensor on the module's device."""
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)).to(self.device)

    @staticmethod
    def cpu_lengths(a):
        """NumPy lengths → CPU int64 tensor (what packing wants)."""
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))
