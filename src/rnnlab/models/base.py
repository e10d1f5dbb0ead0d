"""What every trainable model provides, so that one training loop and one file format serve all.

A model owns engine modules (``self.modules``, an ordered name → Module dict). Its parameters
and gradients are exposed flat as ``"<module>.<param>"`` (e.g. ``"0.weight_ih_l0"``), which is
what optimisers step and what the safetensors file stores: recurrent weights keep PyTorch's
names inside each module, so the PyTorch engine loads the same file.

Subclasses implement:

* ``get_config()`` → JSON-able dict that rebuilds the architecture with ``from_config``;
* ``train_step_loss(batch)`` → float: forward and backward on one batch, filling the gradients;
* ``evaluate_batch(batch)`` → dict of summed metrics and a ``count`` (the loop averages them);
* ``kind``: the registry key written to ``config.json``.

``meta`` holds preprocessing (vocabulary, scaling, label names) that must travel with the weights.
"""
from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError

REGISTRY: dict[str, type] = {}


def register(cls):
    """Class decorator: make ``cls`` loadable by ``rnnlab.load`` under ``cls.kind``."""
    REGISTRY[cls.kind] = cls
    return cls


class Model:
    kind = "model"

    def __init__(self):
        self.modules: dict = {}
        self.meta: dict = {}
        self.training = True

    # -- flat parameter views for optimisers and files ------------------------------------------
    @property
    def params(self) -> dict[str, np.ndarray]:
        return {f"{m}.{k}": v for m, mod in self.modules.items() for k, v in mod.params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {f"{m}.{k}": v for m, mod in self.modules.items() for k, v in mod.grads.items()}

    def state_dict(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state: dict) -> None:
        own = self.params
        missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or extra:
            raise RnnlabError(f"{type(self).__name__} weights do not match the architecture: "
                              f"missing {missing or 'none'}, unexpected {extra or 'none'}.")
        for m, mod in self.modules.items():
            mod.load_state_dict({k[len(m) + 1:]: v for k, v in state.items() if k.split(".", 1)[0] == m})

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    # -- mode ---------------------------------------------------------------------------------
    def train(self, mode: bool = True):
        self.training = mode
        for mod in self.modules.values():
            mod.train(mode)
        return self

    def eval(self):
        return self.train(False)

    # -- to implement -------------------------------------------------------------------------
    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def train_step_loss(self, batch) -> float:
        raise NotImplementedError

    def evaluate_batch(self, batch) -> dict:
        raise NotImplementedError
