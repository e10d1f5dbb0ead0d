"""The two long-memory tasks as the insight tools use them: data, one model per cell, its error.

* ``adding``: the adding problem (``data.synthetic.adding_problem``), inputs (N, T, 2), one real
  target per sequence read at the last step, error = test MSE (always answering 1 scores 1/6).
* ``copy``: the copy task (``data.synthetic.copy_task``) with ``COPY_LENGTH`` symbols from an
  alphabet of ``N_SYMBOLS``, fed as one-hot vectors (N, T + 2L, N_SYMBOLS + 2); a class per step,
  error = the fraction of wrongly recalled symbols over the L copy steps (guessing scores 7/8).

``length`` is the sequence length T of the adding problem and the delay T of the copy task.

Cells ``rnn``, ``lstm``, ``gru`` are one recurrent layer plus a ``Dense`` head in a ``Sequential``.
``feedback`` is ``nn.FeedbackRNN`` given the task inputs as its exogenous input x and read out
through its own one-step-ahead prediction ŷ (``FeedbackReadout``):

* adding: one blank input step is appended and ŷ at that step is the answer. ŷ_t sees only x_{<t},
  so the extra step lets it see the last marker; the fed-back y_t are all 0 (the task has no output
  before the end), which makes the state recursion exactly an Elman RNN on x with a linear readout.
* copy: y_t is the target sequence fed back under teacher forcing and ŷ_t gives the logits of step
  t; the previous symbol says nothing about the next one (symbols are independent), so teacher
  forcing leaks no answer.
"""
from __future__ import annotations

import numpy as np

from rnnlab import nn
from rnnlab.data.synthetic import adding_problem, copy_task
from rnnlab.errors import RnnlabError
from rnnlab.models.base import Model
from rnnlab.models.sequential import Sequential

RECURRENT = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
CELLS = ("rnn", "lstm", "gru", "feedback")
TASKS = ("adding", "copy")
# 3 symbols to recall rather than Arjovsky et al.'s 10: with a budget of minutes, not hours, the
# cells then separate instead of all sitting at chance
N_SYMBOLS, COPY_LENGTH = 8, 3
BASELINES = {"adding": 1 / 6, "copy": 1 - 1 / N_SYMBOLS}
ERROR_NAMES = {"adding": "test MSE", "copy": "copy error rate"}


def one_blas_thread():
    """A context with one BLAS thread (threadpoolctl, when installed): these matrices are small, and
    on a few shared cores BLAS threads spinning against each other cost more than they give."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is optional
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def check_choices(what: str, values, known) -> tuple:
    """Validate a list of names against ``known``; every bad one at once, with the choices."""
    values = (values,) if isinstance(values, str) else tuple(values)
    bad = [v for v in values if v not in known]
    if bad or not values:
        raise RnnlabError(f"unknown {what} {bad or values!r}; choose from {', '.join(known)}.")
    return values


def make_data(task: str, n: int, length: int, rng: np.random.Generator):
    """(X float32 (n, T, F), y, score_mask): ``score_mask`` (n, T) marks the copy steps (None for adding)."""
    if task == "adding":
        X, y = adding_problem(n, length, rng)
        return X, y, None
    if task == "copy":
        ids, y = copy_task(n, length, N_SYMBOLS, rng, copy_length=COPY_LENGTH)
        X = np.eye(N_SYMBOLS + 2, dtype=np.float32)[ids]
        mask = np.zeros(y.shape, bool)
        mask[:, -COPY_LENGTH:] = True
        return X, y, mask
    raise RnnlabError(f"unknown task {task!r}; choose from {', '.join(TASKS)}.")


def n_features(task: str) -> tuple[int, int]:
    """(input features, outputs) of a task."""
    return (2, 1) if task == "adding" else (N_SYMBOLS + 2, N_SYMBOLS + 2)


def build_model(cell: str, task: str, hidden: int, seed: int, lr: float):
    """A compiled model for ``task``: a ``Sequential`` for rnn/lstm/gru, a ``FeedbackReadout`` for feedback."""
    F, K = n_features(task)
    if cell == "feedback":
        return FeedbackReadout(task, hidden, seed, lr)
    per_step = task == "copy"
    model = Sequential([RECURRENT[cell](F, hidden, return_sequences=per_step, seed=seed),
                        nn.Dense(hidden, K, seed=seed + 1)])
    return model.compile("cross_entropy" if per_step else "mse", "adam", lr=lr, metrics=[])


def train(model, X, y, steps: int, batch_size: int, seed: int) -> None:
    """``steps`` Adam steps on consecutive batches of (X, y), global-norm clip 1 (one pass)."""
    n = steps * batch_size
    if isinstance(model, Sequential):
        model.fit(X[:n], y[:n], epochs=1, batch_size=batch_size, clip_norm=1.0, seed=seed, progress=False)
        return
    from rnnlab.models.arrays import batch_indices
    from rnnlab.models.training import fit

    fit(model, lambda rng: [(X[i], y[i]) for i in batch_indices(n, batch_size, rng)], epochs=1,
        optimizer=model.optimizer, clip_norm=1.0, seed=seed, progress=False, monitor="loss")


def outputs(model, X, y) -> np.ndarray:
    """Network output in eval mode: (N, 1) for adding, (N, T, K) logits for copy.

    ``y`` is only read by the feedback model on the copy task, which is teacher-forced.
    """
    model.eval()
    out = model.forward(X) if isinstance(model, Sequential) else model.predict_raw(X, y)
    model.train()
    return out


def task_error(task: str, out, y, score_mask) -> float:
    """Test MSE (adding) or the fraction of wrong symbols on the copy steps (copy)."""
    if task == "adding":
        return float(((out.reshape(y.shape) - y) ** 2).mean())
    return float((out.argmax(-1) != y)[score_mask].mean())


class FeedbackReadout(Model):
    """``nn.FeedbackRNN`` with the task inputs as exogenous x, trained through its ŷ (module docstring)."""

    kind = "feedback_readout"

    def __init__(self, task: str, hidden: int, seed: int, lr: float):
        super().__init__()
        F, K = n_features(task)
        self.task = task
        self.rnn = nn.FeedbackRNN(output_size=K, hidden_size=hidden, input_size=F, seed=seed)
        self.modules = {"0": self.rnn}
        self.loss = nn.MSELoss() if task == "adding" else nn.CrossEntropyLoss()
        self.optimizer = nn.Adam(lr=lr)

    def _inputs(self, X, y=None):
        """(y fed back (B, T', K), x (B, T', F)) for ``FeedbackRNN.forward``."""
        B, T, F = X.shape
        K = self.rnn.output_size
        if self.task == "adding":  # one blank step after the sequence: ŷ there has seen every x_t
            x = np.concatenate([X, np.zeros((B, 1, F), X.dtype)], axis=1)
            return np.zeros((B, T + 1, K), np.float32), x
        if y is None:
            raise RnnlabError("the feedback copy model is teacher-forced: it needs the targets y.")
        return np.eye(K, dtype=np.float32)[y], X

    def _forward(self, X, y):
        y_fb, x = self._inputs(X, y)
        y_hat, _ = self.rnn.forward(y_fb, x)
        return y_hat[:, -1] if self.task == "adding" else y_hat

    def predict_raw(self, X, y=None):
        return self._forward(X, y)

    def train_step_loss(self, batch) -> float:
        X, y = batch[:2]
        out = self._forward(X, y)
        value = self.loss.forward(out, y)
        d = self.loss.backward()
        if self.task == "adding":  # only the appended step is read out
            full = np.zeros((X.shape[0], X.shape[1] + 1, 1), np.float32)
            full[:, -1] = d
            d = full
        self.rnn.backward(d)
        return value

    def evaluate_batch(self, batch) -> dict:
        X, y = batch[:2]
        value = self.loss.forward(self._forward(X, y), y)
        return {"loss": value * len(X), "count": len(X)}

