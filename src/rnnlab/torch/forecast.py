"""``TorchForecaster``: the ``Forecaster`` on torch.nn, computing its training loss and its predictions.

Network j of the ensemble of k reads a batch of standardised windows X (B, T, K)::

    cell lstm/gru/rnn:  ẑ_j = W_j RNN_j(X) + b_j       # last state (B, K) or (B, h, K); every step for "seq"
    cell "feedback":    ẑ_j,t = FeedbackRNN_j(X)_t     # ŷ_t from y_<t, teacher-forced, (B, w+1, K)
    loss = (1/k) Σ_j mean_kept (ẑ_j - Y)²              # Forecaster.train_step_loss
    val  = Σ_kept (mean_j ẑ_j - Y)²                     # Forecaster.evaluate_batch: the ensemble's mean

The batches are the model's own (X, Y, mask) triples, built by ``Forecaster.fit``. Children
"rnn<j>" and "out<j>" are ``TorchLSTM``/``TorchGRU``/``TorchRNN`` (or ``TorchFeedbackRNN``) and
``nn.Linear``, named like the model's modules, so ``state_dict()`` keys are its flat ``params``
keys (``"rnn0.weight_ih_l0"``, ``"out1.bias"``). Forecasting stays with the NumPy model, which
holds the same weights after ``torch_train`` or ``from_torch``::

    net = to_torch(forecaster)               # or TorchForecaster.from_rnnlab(forecaster, "cuda")
    from_torch(net).forecast(12)             # the NumPy model's forecast with the torch weights
"""
from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.torch.kinds import TorchKind
from rnnlab.torch.optional import require_torch
from rnnlab.torch.training import masked_sum

torch = require_torch()


class TorchForecaster(TorchKind):
    """A rnnlab ``Forecaster`` as a ``torch.nn.Module``; build it with ``to_torch`` or ``load_torch``.

    ``forward(x)`` takes standardised windows x (B, T, K) on the module's device and returns every
    network's predictions, stacked (k, B, ...) in the layout of the targets; ``predict(X)`` is
    their mean for a NumPy batch, as the NumPy model's.
    """

    rnnlab_kind = "forecaster"

    def __init__(self, model):
        if model.n_series is None:
            raise RnnlabError("to_torch: this Forecaster has no networks yet because the number of series is "
                              "unknown; call fit(series) first or build it with n_series.")
        super().__init__(model)
        self.mode, self.horizon, self.feedback = model.mode, model.horizon, model.feedback
        self.ensemble, self.n_series = model.ensemble, model.n_series

    def member(self, j: int, x):
        """Network j on x (B, T, K) → predictions in the layout of the targets."""
        if self.feedback:
            return getattr(self, f"rnn{j}")(x)[0]                          # (B, T, K)
        h, _ = getattr(self, f"rnn{j}")(x)                                 # (B, H) or (B, T, H) for "seq"
        out = getattr(self, f"out{j}")(h)
        return out.reshape(len(x), self.horizon, -1) if self.mode == "direct" else out

    def forward(self, x):
        return torch.stack([self.member(j, x) for j in range(self.ensemble)])

    def values(self, a):
        """NumPy values → tensor on the module's device, in its dtype."""
        p = next(self.parameters())
        return torch.from_numpy(np.ascontiguousarray(a)).to(p.device, p.dtype)

    def tensors(self, batch):
        """A NumPy batch (X, Y, mask or None) → tensors on the module's device."""
        X, Y, M = batch
        mask = None if M is None else torch.from_numpy(np.ascontiguousarray(M, dtype=bool)).to(self.device)
        return self.values(X), self.values(Y), mask

    def loss_sums(self, batch):
        """(Σ_j Σ_kept (ẑ_j - y)², k · kept elements): their ratio is the NumPy model's training loss."""
        x, y, mask = self.tensors(batch)
        # every network has the same kept targets, so one sum over (k, B, ...) / (k n) = (1/k) Σ_j mean_j
        total, count, _ = masked_sum(self(x), y, mask, "mse")
        return total, count

    @torch.no_grad()
    def predict(self, X) -> np.ndarray:
        """Standardised windows X (B, T, K), NumPy → the ensemble's mean prediction, NumPy."""
        out = self(self.values(X)).mean(0)
        return (out.float() if out.dtype in (torch.float16, torch.bfloat16) else out).cpu().numpy()

    @torch.no_grad()
    def evaluate_batch(self, batch) -> dict:
        """Summed squared error of the ensemble's mean prediction over the kept targets, and their count."""
        x, y, mask = self.tensors(batch)
        total, count, _ = masked_sum(self(x).mean(0), y, mask, "mse")
        return {"loss": float(total), "count": int(count)}
