"""``TorchLanguageModel``: the ``LanguageModel`` on torch.nn, with the same carried-state semantics.

::

    x_t = Embed(w_t);   h_t = RNN(x_t, h_{t-1});   p(w_{t+1} | w_≤t) = softmax(W_o h_t + b_o)

Children "embed", "rnn", "out" are ``nn.Embedding``, ``TorchLSTM``/``TorchGRU``/``TorchRNN`` and
``nn.Linear``, so ``state_dict()`` keys are the NumPy model's (``"rnn.weight_ih_l0"``, ``"out.bias"``).
``logits(x)`` is stateful as ``LanguageModel.logits``: each chunk starts where the previous one
ended, detached (truncated BPTT), from zeros after ``reset_states()`` or when the batch size changes.

    net = to_torch(lm)                       # or TorchLanguageModel.from_rnnlab(lm, "cuda")
    net.reset_states(); z1 = net.logits(x1); z2 = net.logits(x2)   # = lm's, chunk by chunk
"""
from __future__ import annotations

from rnnlab.torch.kinds import TorchKind, run_recurrent
from rnnlab.torch.optional import require_torch
from rnnlab.torch.training import masked_sum

torch = require_torch()


def _batch_size(state) -> int:
    return (state[0] if isinstance(state, tuple) else state).shape[1]


class TorchLanguageModel(TorchKind):
    """A rnnlab ``LanguageModel`` as a ``torch.nn.Module``; build it with ``to_torch`` or ``load_torch``.

    ``forward(x, state=None)`` is stateless: x (B, T) int64 ids → logits (B, T, V) and the final
    state ((L, B, H), or (h, c) for the LSTM). ``logits``, ``loss_sums`` and ``evaluate_batch``
    carry the state between calls like the NumPy model.
    """

    rnnlab_kind = "language_model"

    def __init__(self, model):
        super().__init__(model)
        self.vocab_size = model.vocab_size
        self._carry = None

    def forward(self, x, state=None):
        h, state = run_recurrent(self.rnn, self.embed(x), state=state)      # (B, T, H)
        return self.out(h), state

    def reset_states(self) -> None:
        """Forget the carried state (start of a new stream)."""
        self._carry = None

    def carried_state(self) -> dict:
        """As ``LanguageModel.carried_state``: arrays "carry.0" (h), "carry.1" (c), for checkpoints."""
        carry = self._carry
        if carry is None:
            return {}
        return {f"carry.{i}": s.detach().cpu().numpy() for i, s in enumerate(carry if isinstance(carry, tuple)
                                                                               else (carry,))}

    def load_carried_state(self, arrays: dict) -> None:
        states = tuple(torch.from_numpy(arrays[f"carry.{i}"]).to(self.out.weight.device)
                       for i in range(len(arrays)))
        self._carry = None if not states else states if len(states) == 2 else states[0]

    def logits(self, x):
        """x (B, T) int64 ids → logits (B, T, V), continuing from the carried state and carrying it on."""
        carry = self._carry
        if carry is not None and _batch_size(carry) != x.shape[0]:
            carry = None  # as the NumPy layer: a different batch size starts from zeros
        z, state = self(x, carry)
        # truncated BPTT: the next chunk starts from this state, but no gradient flows back across;
        # kept in the weights' dtype, so a chunk run under bf16 autocast hands on a usable state
        dtype = self.out.weight.dtype
        self._carry = (tuple(s.detach().to(dtype) for s in state) if isinstance(state, tuple)
                       else state.detach().to(dtype))
        return z

    def _begin(self, batch):
        if batch.reset:
            self.reset_states()
        return self.logits(self.ids(batch.x))

    def loss_sums(self, batch):
        """(Σ -log p(y_t | x_≤t) over the chunk's B·T positions, B·T) for an ``LMBatch``; carries the state."""
        total, count, _ = masked_sum(self._begin(batch), self.ids(batch.y), None, "cross_entropy")
        return total, count

    @torch.no_grad()
    def evaluate_batch(self, batch) -> dict:
        """Summed ``loss`` (nats), ``accuracy`` (correct next tokens) and ``count``, as ``LanguageModel``."""
        z = self._begin(batch)
        y = self.ids(batch.y)
        total, count, _ = masked_sum(z, y, None, "cross_entropy")
        return {"loss": float(total), "accuracy": int((z.argmax(-1) == y).sum()), "count": int(count)}
