"""Shared pieces of the model tests: a model whose optimum is known."""
import numpy as np
import pytest

from rnnlab.models.base import Model
from rnnlab.nn.module import Module


class Quadratic(Model):
    """L(w) = ½‖w - target‖² per batch; a batch is a float scale s of the target, L = ½‖w - s·target‖².

    ``val_script`` replaces the validation loss by scripted values (one per epoch), so callbacks
    can be tested on a known curve; ``nan_steps`` / ``inf_grad_steps`` are 0-based training-step
    indices that return a NaN loss / an infinite gradient.
    """

    kind = "test_quadratic"

    def __init__(self, target, val_script=None, nan_steps=(), inf_grad_steps=()):
        super().__init__()
        self.target = np.asarray(target, np.float64)
        mod = Module(np.float64)
        mod.add_param("w", np.zeros_like(self.target))
        self.modules = {"q": mod}
        self.val_script = list(val_script or [])
        self.nan_steps, self.inf_grad_steps = set(nan_steps), set(inf_grad_steps)
        self.calls = 0
        self.n_evals = 0

    def get_config(self):
        return {"target": self.target.tolist()}

    def train_step_loss(self, batch):
        step, self.calls = self.calls, self.calls + 1
        q = self.modules["q"]
        diff = q.params["w"] - float(batch) * self.target
        q.grads["w"][...] = diff
        if step in self.inf_grad_steps:
            q.grads["w"][0] = np.inf
        return float("nan") if step in self.nan_steps else 0.5 * float(diff @ diff)

    def evaluate_batch(self, batch):
        self.n_evals += 1
        if self.val_script:
            return {"loss": self.val_script.pop(0), "count": 1}
        diff = self.modules["q"].params["w"] - self.target
        return {"loss": 0.5 * float(diff @ diff), "count": 1}


@pytest.fixture
def quadratic():
    return Quadratic


def ones(n):
    """train_batches for the quadratic: n batches of scale 1 (the rng is not needed)."""
    return lambda rng: [1.0] * n


@pytest.fixture
def batches_of_ones():
    return ones
