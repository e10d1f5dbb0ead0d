"""Recurrent language model: next-token prediction over one long stream, trained by truncated BPTT.

::

    x_t = Embed(w_t);   h_t = RNN(x_t, h_{t-1});   p(w_{t+1} | w_≤t) = softmax(W_o h_t + b_o)

The token stream is cut into ``batch_size`` parallel streams (row b holds one contiguous stretch)
and those into chunks of ``bptt`` steps. The recurrent layer is stateful: each chunk starts from
the state the previous chunk ended in, but gradients stop at the chunk boundary (truncated
BPTT). The state is reset at the first chunk of every pass over the stream (``LMBatch.reset``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnlab import nn
from rnnlab.data.text import CharVocab
from rnnlab.errors import RnnlabError
from rnnlab.models.base import Model, register
from rnnlab.models.seq2seq import CELLS
from rnnlab.nn.functional import softmax


class LMBatch(NamedTuple):
    x: np.ndarray    # (B, T) input ids w_t
    y: np.ndarray    # (B, T) next ids w_{t+1}
    reset: bool      # first chunk of a pass: start from a zero state


def _check_tokens(tokens, vocab_size: int, what: str = "tokens") -> np.ndarray:
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or (tokens.size and tokens.dtype.kind not in "iu"):
        raise RnnlabError(f"{what} must be a 1-D array of integer ids but got {tokens.dtype} {tokens.shape}; "
                          "encode text with a vocabulary first.")
    if tokens.size == 0:
        raise RnnlabError(f"{what} is empty; pass at least one token.")
    if tokens.min() < 0 or tokens.max() >= vocab_size:
        raise RnnlabError(f"{what} ids must lie in [0, {vocab_size}) (the model's vocab_size) but got values "
                          f"from {tokens.min()} to {tokens.max()}; was the text encoded with another vocabulary?")
    return tokens.astype(np.int64)


class StreamBatches:
    """One pass over a token stream per call, ``batches(rng)``, as (B, ≤bptt) chunks of B parallel streams.

    Parameters
    ----------
    tokens : (N,) int array
    batch_size : int
        B parallel streams of N // B consecutive tokens each.
    bptt : int
        Steps per chunk (the last chunk may be shorter).
    random_offset : bool, default True
        With an rng, start each pass 0 .. bptt-1 tokens into the stream, so chunk boundaries move
        between epochs.
    """

    def __init__(self, tokens, batch_size: int, bptt: int, random_offset: bool = True):
        for name, v in (("batch_size", batch_size), ("bptt", bptt)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise RnnlabError(f"{name} must be a positive integer, got {v!r}.")
        tokens = np.asarray(tokens)
        if len(tokens) < bptt + 1:
            raise RnnlabError(f"the corpus has {len(tokens)} tokens, shorter than bptt + 1 = {bptt + 1}; "
                              "use a longer text or a smaller bptt.")
        if len(tokens) < 2 * batch_size:
            raise RnnlabError(f"the corpus has {len(tokens)} tokens, too few for {batch_size} parallel streams "
                              "of at least 2 tokens; use a smaller batch_size.")
        self.tokens, self.B, self.bptt, self.random_offset = tokens, int(batch_size), int(bptt), random_offset

    def __call__(self, rng=None):
        B, bptt = self.B, self.bptt
        offset = 0
        if rng is not None and self.random_offset:
            offset = int(rng.integers(min(bptt, len(self.tokens) - 2 * B + 1)))
        L = (len(self.tokens) - offset) // B
        streams = self.tokens[offset:offset + B * L].reshape(B, L)  # row b: one contiguous stretch
        for i in range(0, L - 1, bptt):
            T = min(bptt, L - 1 - i)
            yield LMBatch(streams[:, i:i + T], streams[:, i + 1:i + 1 + T], i == 0)


@register
class LanguageModel(Model):
    """Embedding → stacked recurrent layer (stateful) → Dense over the vocabulary.

    Parameters
    ----------
    vocab_size : int
        V, the number of token ids.
    embedding_dim : int, default 32
    hidden_size : int, default 128
    num_layers : int, default 1
    cell : {"lstm", "gru", "rnn"}, default "lstm"
    dropout : float, default 0
        Dropout between stacked recurrent layers (training only).
    seed : int, default 0
    dtype : {"float32", "float64"}, default "float32"

    Notes
    -----
    Batches are ``LMBatch`` tuples (x (B, T), y (B, T), reset). Loss: mean -log p(y_t | x_≤t) in
    nats over all B·T positions. ``meta["vocab"]`` holds the ``CharVocab`` (``set_vocab``) so a
    loaded model can turn ids back into text.

    Examples
    --------
    >>> vocab = CharVocab.fit("abcab")
    >>> lm = LanguageModel.from_vocab(vocab, hidden_size=8)
    >>> lm.sample(5, prime=vocab.encode("ab"), rng=0).shape
    (5,)
    """

    kind = "language_model"

    def __init__(self, vocab_size: int, embedding_dim: int = 32, hidden_size: int = 128, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.0, seed: int = 0, dtype: str = "float32"):
        super().__init__()
        problems = []
        if cell not in CELLS:
            problems.append(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        if str(dtype) not in ("float32", "float64"):
            problems.append(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        if problems:
            raise RnnlabError("LanguageModel: " + "; ".join(problems) + ".")
        self.config = dict(vocab_size=vocab_size, embedding_dim=embedding_dim, hidden_size=hidden_size,
                           num_layers=num_layers, cell=cell, dropout=dropout, seed=seed, dtype=str(dtype))
        self.vocab_size, dt = vocab_size, np.dtype(dtype)
        s = np.random.default_rng(seed).integers(2**31, size=3).tolist()
        self.modules["embed"] = nn.Embedding(vocab_size, embedding_dim, seed=s[0], dtype=dt)
        self.modules["rnn"] = CELLS[cell](embedding_dim, hidden_size, num_layers, dropout=dropout,
                                          stateful=True, seed=s[1], dtype=dt)
        self.modules["out"] = nn.Dense(hidden_size, vocab_size, seed=s[2], dtype=dt)
        self.loss_fn = nn.CrossEntropyLoss()

    def get_config(self) -> dict:
        return dict(self.config)

    # -- vocabulary -----------------------------------------------------------------------------
    @classmethod
    def from_vocab(cls, vocab: CharVocab, **config) -> "LanguageModel":
        """A model sized for ``vocab`` that carries it in ``meta``."""
        model = cls(len(vocab), **config)
        model.set_vocab(vocab)
        return model

    def set_vocab(self, vocab: CharVocab) -> None:
        if len(vocab) != self.vocab_size:
            raise RnnlabError(f"the vocabulary has {len(vocab)} ids but the model predicts {self.vocab_size}; "
                              "build the model with LanguageModel.from_vocab(vocab).")
        self.meta["vocab"] = vocab.to_json()

    def check_meta(self, path) -> None:
        """On load: a stored vocabulary must have exactly the ids the embedding and softmax have."""
        if "vocab" in self.meta and len(self.vocab) != self.vocab_size:
            raise RnnlabError(f"{path}: the stored vocabulary has {len(self.vocab)} ids but the model's embedding "
                              f"and softmax have {self.vocab_size}; the files do not belong together.")

    @property
    def vocab(self) -> CharVocab:
        if "vocab" not in self.meta:
            raise RnnlabError("this LanguageModel has no vocabulary; call set_vocab(vocab) or work with ids.")
        return CharVocab.from_json(self.meta["vocab"])

    def _ids(self, tokens, what="tokens") -> np.ndarray:
        return _check_tokens(self.vocab.encode(tokens) if isinstance(tokens, str) else tokens,
                             self.vocab_size, what)

    # -- training -------------------------------------------------------------------------------
    def batches(self, tokens, batch_size: int = 32, bptt: int = 64, random_offset: bool = True):
        """``train_batches(rng)`` for ``fit`` over a token stream (ids, or text when a vocab is set)."""
        return StreamBatches(self._ids(tokens), batch_size, bptt, random_offset)

    def reset_states(self) -> None:
        """Forget the carried recurrent state (start of a new stream)."""
        self.modules["rnn"].reset_states()

    def carried_state(self) -> dict:
        """The state carried into the next chunk, as arrays (empty after a reset): checkpoints keep it,
        so a run resumed in the middle of a pass continues the stream exactly."""
        carry = self.modules["rnn"]._carry
        return {} if carry is None else {f"carry.{i}": np.array(a) for i, a in enumerate(carry)}

    def load_carried_state(self, arrays: dict) -> None:
        self.modules["rnn"]._carry = [arrays[f"carry.{i}"] for i in range(len(arrays))] if arrays else None

    def logits(self, x) -> np.ndarray:
        """x (B, T) ids → logits (B, T, V), continuing from the carried state (and carrying it on)."""
        m = self.modules
        h, _ = m["rnn"].forward(m["embed"].forward(x))                            # (B, T, H)
        return m["out"].forward(h)

    def _begin(self, batch: LMBatch):
        if batch.reset:
            self.reset_states()
        return self.logits(batch.x)

    def loss(self, batch: LMBatch) -> float:
        """Mean nats per token of a batch (forward only; still carries the state)."""
        return self.loss_fn.forward(self._begin(batch), batch.y)

    def train_step_loss(self, batch: LMBatch) -> float:
        """Forward and backward on one chunk; fills ``grads`` and returns the mean loss."""
        m = self.modules
        value = self.loss_fn.forward(self._begin(batch), batch.y)
        # the carried initial state gets a gradient (rnn.grad_initial_state) that is dropped: truncation
        m["embed"].backward(m["rnn"].backward(m["out"].backward(self.loss_fn.backward())))
        return value

    def evaluate_batch(self, batch: LMBatch) -> dict:
        """Summed ``loss`` (nats) and ``accuracy`` (correct next tokens) over the chunk, and ``count``."""
        z = self._begin(batch)
        n = batch.y.size
        value = self.loss_fn.forward(z, batch.y)
        return {"loss": value * n, "accuracy": int((z.argmax(-1) == batch.y).sum()), "count": n}

    def evaluate(self, tokens, batch_size: int = 8, bptt: int = 64) -> float:
        """Nats per token on held-out ``tokens`` (ids, or text when a vocab is set).

        Every token but the first of each of the ``batch_size`` streams is predicted from all the
        tokens before it in its stream; batch_size=1 gives the exact per-token cross-entropy.
        """
        was = self.training
        self.eval()
        total = count = 0.0
        try:
            for batch in StreamBatches(self._ids(tokens), batch_size, bptt, random_offset=False)():
                r = self.evaluate_batch(batch)
                total, count = total + r["loss"], count + r["count"]
        finally:
            self.reset_states()
            self.train(was)
        return total / count

    def fit(self, tokens, *, epochs: int = 10, batch_size: int = 32, bptt: int = 64, optimizer=None,
            valid_tokens=None, **kwargs):
        """Train with ``rnnlab.models.training.fit`` (val_loss is then nats per token).

        ``optimizer`` defaults to ``nn.Adam(2e-3)``; other keyword arguments go to ``training.fit``.
        """
        from rnnlab.models.training import fit

        valid = (StreamBatches(self._ids(valid_tokens, "valid_tokens"), min(batch_size, 8), bptt,
                               random_offset=False) if valid_tokens is not None else None)
        return fit(self, self.batches(tokens, batch_size, bptt), epochs=epochs,
                   optimizer=optimizer or nn.Adam(2e-3), valid_batches=valid, **kwargs)

    # -- generation -----------------------------------------------------------------------------
    @staticmethod
    def _pick(z: np.ndarray, temperature: float, top_k, rng) -> int:
        """Next id from logits z (V,): argmax at temperature 0, else a draw from softmax(z / T) over the top k."""
        z = z.astype(np.float64)
        if top_k is not None:
            # keep the k largest logits (ties at the k-th may keep a few more)
            z = np.where(z >= np.sort(z)[-top_k], z, -np.inf)
        if temperature == 0:
            return int(z.argmax())
        p = softmax(z / temperature)
        return int(rng.choice(len(p), p=p))

    def sample(self, n_tokens: int, prime=None, temperature: float = 1.0, top_k: int | None = None,
               rng=None) -> np.ndarray:
        """Generate ``n_tokens`` ids one step at a time, each fed back as the next input.

        Parameters
        ----------
        n_tokens : int
            Number of ids to return (the prime is not included).
        prime : (P,) int array, str (with a vocab set), or None
            Context read before generating. None: the first token is drawn uniformly from the
            vocabulary (the model has no start symbol) and counts among the n_tokens.
        temperature : float ≥ 0
            Divides the logits; 0 means argmax (greedy), → 0 approaches it, > 1 flattens.
        top_k : int, optional
            Sample only among the k most probable ids; top_k=1 is greedy.
        rng : int, None or numpy.random.Generator

        Returns
        -------
        (n_tokens,) int64 array.

        Notes
        -----
        Uses the stateful carry; the carried state is reset before and after sampling.
        """
        problems = []
        if not isinstance(n_tokens, (int, np.integer)) or n_tokens < 1:
            problems.append(f"n_tokens must be a positive integer, got {n_tokens!r}")
        if not isinstance(temperature, (int, float, np.floating)) or not temperature >= 0:
            problems.append(f"temperature must be a number ≥ 0, got {temperature!r}")
        if top_k is not None and (not isinstance(top_k, (int, np.integer)) or not 1 <= top_k <= self.vocab_size):
            problems.append(f"top_k must be None or an integer in [1, {self.vocab_size}], got {top_k!r}")
        if problems:
            raise RnnlabError("LanguageModel.sample: " + "; ".join(problems) + ".")
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        out = []
        was = self.training
        self.eval()
        self.reset_states()
        try:
            if prime is None:
                out.append(int(rng.integers(self.vocab_size)))
                prime = out
            z = self.logits(self._ids(prime, "prime")[None, :])[0, -1]
            while len(out) < n_tokens:
                out.append(self._pick(z, temperature, top_k, rng))
                if len(out) < n_tokens:  # feed the new token back: one step from the carried state
                    z = self.logits(np.array([[out[-1]]]))[0, -1]
        finally:
            self.reset_states()
            self.train(was)
        return np.array(out, np.int64)

    def sample_text(self, n_chars: int, prime: str | None = None, **kwargs) -> str:
        """``sample`` through the model's vocabulary: text in, text out (the prime not repeated)."""
        return self.vocab.decode(self.sample(n_chars, prime=prime, **kwargs))
