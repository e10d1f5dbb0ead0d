"""Encoder-decoder with optional Luong attention, trained by teacher forcing, decoded greedily or by beam.

::

    e = Encoder(SrcEmbed(x))                         # (B, S, D·H) outputs, final state s_enc
    s_0 = s_enc             (unidirectional)         # decoder starts where the encoder ended
    s_0 = W_b [s_fwd; s_bwd] + b_b  (bidirectional)  # one Dense "bridge", per layer, for h (and c)
    h_t = Decoder(TgtEmbed(y_{t-1}), s_{t-1})        # y_0 = bos; teacher forcing: the true y_{t-1}
    α_ts = softmax_s(h_t · W_a e_s)   ("general";  h_t · e_s for "dot"), padded s excluded
    h̃_t = tanh(W_c [Σ_s α_ts e_s; h_t])              # without attention h̃_t = h_t
    p(y_t | y_<t, x) = softmax(W_o h̃_t + b_o)

The decoder has no input feeding (h̃_{t-1} is not fed back), so training runs the decoder over
all target steps in one call and attention over all steps in one batched product; decoding
calls the same decoder with T=1 and ``initial_state``, so the cell maths exists once.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.models.base import Model, register
from rnnlab.nn.functional import log_softmax, softmax

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
ATTENTION = (None, "dot", "general")


class Seq2SeqBatch(NamedTuple):
    src: np.ndarray          # (B, S) source ids, padded with pad_id
    src_lengths: np.ndarray  # (B,) in [1, S]
    tgt_in: np.ndarray       # (B, T) decoder inputs [bos, y_1 .. y_n, pad ...]
    tgt_out: np.ndarray      # (B, T) targets [y_1 .. y_n, eos, pad ...]
    tgt_lengths: np.ndarray  # (B,) n + 1 (the eos counts)


class Batches:
    """One epoch of batches per call: ``batches(rng)`` shuffles with rng, ``batches()`` keeps the order."""

    def __init__(self, make, n: int, batch_size: int, shuffle: bool = True):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise RnnlabError(f"batch_size must be a positive integer, got {batch_size!r}.")
        self.make, self.n, self.batch_size, self.shuffle = make, n, int(batch_size), shuffle

    def __call__(self, rng=None):
        order = np.arange(self.n)
        if self.shuffle and rng is not None:
            order = rng.permutation(self.n)
        for i in range(0, self.n, self.batch_size):
            yield self.make(order[i:i + self.batch_size])

    def __len__(self):
        return -(-self.n // self.batch_size)


def _pad(seqs, pad_id: int, vocab_size: int, what: str, allow_empty: bool = False):
    """List of id sequences → (ids (B, max_len) int64 padded with pad_id, lengths (B,))."""
    seqs = [np.asarray(s) for s in seqs]
    if not seqs:
        raise RnnlabError(f"{what} is empty; pass at least one sequence.")
    bad = [i for i, s in enumerate(seqs) if s.ndim != 1 or (s.size and s.dtype.kind not in "iu")]
    if bad:
        raise RnnlabError(f"{what} must be 1-D sequences of integer ids; sequence {bad[0]} is "
                          f"{seqs[bad[0]].dtype} {seqs[bad[0]].shape}.")
    lengths = np.array([len(s) for s in seqs], np.int64)
    if not allow_empty and lengths.min() == 0:
        raise RnnlabError(f"{what} sequence {int(np.argmin(lengths))} is empty; every sequence needs "
                          "at least one token.")
    flat = np.concatenate(seqs).astype(np.int64) if lengths.sum() else np.zeros(0, np.int64)
    if flat.size and (flat.min() < 0 or flat.max() >= vocab_size):
        raise RnnlabError(f"{what} ids must lie in [0, {vocab_size}) (the model's vocabulary size) but got "
                          f"values from {flat.min()} to {flat.max()}; was it encoded with another vocabulary?")
    out = np.full((len(seqs), max(1, lengths.max())), pad_id, np.int64)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out, lengths


@register
class Seq2Seq(Model):
    """Sequence-to-sequence model: recurrent encoder, recurrent decoder, optional attention.

    Parameters
    ----------
    src_vocab_size, tgt_vocab_size : int
        Vocabulary sizes V_s and V_t; the target one includes pad, bos and eos.
    embedding_dim : int, default 32
        Size E of both embeddings.
    hidden_size : int, default 64
        Size H of the encoder (per direction) and decoder states.
    num_layers : int, default 1
        Layers of both encoder and decoder.
    cell : {"lstm", "gru", "rnn"}, default "lstm"
        Cell of both encoder and decoder.
    bidirectional : bool, default False
        Bidirectional encoder; its final states are bridged to the decoder by one Dense layer,
        W_b [s_fwd; s_bwd] + b_b per layer (for the LSTM the same map serves h and c). A learned
        map rather than a sum keeps the two directions distinguishable to the decoder.
    attention : {None, "dot", "general"}, default "general"
        Luong score h_t · e_s ("dot": needs D·H = H, so no bidirectional encoder) or h_t · W_a e_s.
    dropout : float, default 0
        Dropout between stacked recurrent layers (training only).
    pad_id, bos_id, eos_id : int, default 0, 1, 2
        Special target ids (pad_id also pads the source).
    seed : int, default 0
        Seeds every initial weight.
    dtype : {"float32", "float64"}, default "float32"

    Notes
    -----
    Batches are ``Seq2SeqBatch`` tuples built by ``make_batch`` (shapes there). The loss is the
    mean cross-entropy over the target steps y_1 .. y_n, eos of every sequence (padding masked).

    Examples
    --------
    >>> m = Seq2Seq(8, 8, embedding_dim=4, hidden_size=6)
    >>> b = m.make_batch([[3, 4, 5]], [[5, 4, 3]])
    >>> b.tgt_in.tolist(), b.tgt_out.tolist()
    ([[1, 5, 4, 3]], [[5, 4, 3, 2]])
    >>> len(m.greedy_decode([[3, 4, 5]], max_len=5)[0]) <= 5
    True
    """

    kind = "seq2seq"

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embedding_dim: int = 32,
                 hidden_size: int = 64, num_layers: int = 1, cell: str = "lstm", bidirectional: bool = False,
                 attention: str | None = "general", dropout: float = 0.0, pad_id: int = 0, bos_id: int = 1,
                 eos_id: int = 2, seed: int = 0, dtype: str = "float32"):
        self.config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__()
        ids = {"pad_id": pad_id, "bos_id": bos_id, "eos_id": eos_id}
        V = min(src_vocab_size, tgt_vocab_size)
        problems = [f"{k} must be an id in [0, {V}), got {v!r}" for k, v in ids.items()
                    if not isinstance(v, (int, np.integer)) or not 0 <= v < V]
        problems += [f"pad_id, bos_id and eos_id must differ, got {ids}"] if len(set(ids.values())) < 3 else []
        if cell not in CELLS:
            problems.append(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        if attention not in ATTENTION:
            problems.append(f"attention must be None, 'dot' or 'general', got {attention!r}")
        if attention == "dot" and bidirectional:
            problems.append("attention='dot' needs encoder outputs of the decoder's size; use "
                            "attention='general' with a bidirectional encoder")
        if str(dtype) not in ("float32", "float64"):
            problems.append(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        if problems:
            raise RnnlabError("Seq2Seq: " + "; ".join(problems) + ".")
        self.pad_id, self.bos_id, self.eos_id = int(pad_id), int(bos_id), int(eos_id)
        self.attention, self.bidirectional, self._lstm = attention, bool(bidirectional), cell == "lstm"
        self.src_vocab_size, self.tgt_vocab_size = src_vocab_size, tgt_vocab_size
        E, H, D, dt = embedding_dim, hidden_size, 2 if bidirectional else 1, np.dtype(dtype)
        seeds = iter(np.random.default_rng(seed).integers(2**31, size=8).tolist())
        Cell, m = CELLS[cell], self.modules
        m["src_embed"] = nn.Embedding(src_vocab_size, E, padding_idx=self.pad_id, seed=next(seeds), dtype=dt)
        m["encoder"] = Cell(E, H, num_layers, bidirectional=bidirectional, dropout=dropout,
                            seed=next(seeds), dtype=dt)
        if self.bidirectional:
            m["bridge"] = nn.Dense(2 * H, H, seed=next(seeds), dtype=dt)
        m["tgt_embed"] = nn.Embedding(tgt_vocab_size, E, padding_idx=self.pad_id, seed=next(seeds), dtype=dt)
        m["decoder"] = Cell(E, H, num_layers, dropout=dropout, seed=next(seeds), dtype=dt)
        if attention == "general":
            m["attn"] = nn.Dense(D * H, H, bias=False, seed=next(seeds), dtype=dt)
        if attention:
            m["combine"] = nn.Dense(D * H + H, H, bias=False, seed=next(seeds), dtype=dt)
        m["out"] = nn.Dense(H, tgt_vocab_size, seed=next(seeds), dtype=dt)
        self.loss_fn = nn.CrossEntropyLoss()

    def get_config(self) -> dict:
        return dict(self.config)

    # -- batches --------------------------------------------------------------------------------
    def make_batch(self, src_seqs, tgt_seqs=None) -> Seq2SeqBatch:
        """Pad lists of id sequences (without bos/eos) into a ``Seq2SeqBatch``; tgt fields None if no targets."""
        src, src_len = _pad(src_seqs, self.pad_id, self.src_vocab_size, "source")
        if tgt_seqs is None:
            return Seq2SeqBatch(src, src_len, None, None, None)
        if len(tgt_seqs) != len(src):
            raise RnnlabError(f"Seq2Seq got {len(src)} source but {len(tgt_seqs)} target sequences; "
                              "pass one target per source.")
        tgt, n = _pad(tgt_seqs, self.pad_id, self.tgt_vocab_size, "target", allow_empty=True)
        B, T = len(src), int(n.max()) + 1
        tgt_in = np.full((B, T), self.pad_id, np.int64)
        tgt_out = np.full((B, T), self.pad_id, np.int64)
        tgt_in[:, 0] = self.bos_id
        tgt_in[:, 1:] = tgt[:, :T - 1]
        tgt_out[:, :T - 1] = tgt[:, :T - 1]
        tgt_out[np.arange(B), n] = self.eos_id  # beyond n both stay pad, as tgt was padded
        return Seq2SeqBatch(src, src_len, tgt_in, tgt_out, n + 1)

    def batches(self, src_seqs, tgt_seqs, batch_size: int = 32, shuffle: bool = True) -> Batches:
        """``train_batches(rng)`` for ``fit``: shuffled (when rng is given) padded batches."""
        if len(src_seqs) != len(tgt_seqs):
            raise RnnlabError(f"Seq2Seq got {len(src_seqs)} source but {len(tgt_seqs)} target sequences; "
                              "pass one target per source.")
        src, tgt = list(src_seqs), list(tgt_seqs)
        return Batches(lambda idx: self.make_batch([src[i] for i in idx], [tgt[i] for i in idx]),
                       len(src), batch_size, shuffle)

    # -- encoder, bridge, attention -------------------------------------------------------------
    def _bridge(self, state):
        """Encoder final state (L·D, B, H) → decoder initial state (L, B, H), for h (and c)."""
        if not self.bidirectional:
            return state
        parts = state if self._lstm else (state,)
        LD, B, H = parts[0].shape
        # (2L, B, H) → (L, B, 2H): [s_fwd; s_bwd] per layer, index k = 2·layer + direction
        x = np.stack([p.reshape(LD // 2, 2, B, H).transpose(0, 2, 1, 3).reshape(LD // 2, B, 2 * H)
                      for p in parts])
        # s_0 = W_b [s_fwd; s_bwd] + b_b;  h and c in one call, as Dense keeps one input for backward
        y = self.modules["bridge"].forward(x)
        return tuple(y) if self._lstm else y[0]

    def _bridge_backward(self, d_state):
        if not self.bidirectional:
            return d_state
        parts = d_state if self._lstm else (d_state,)
        L, B, H = parts[0].shape
        dx = self.modules["bridge"].backward(np.stack(parts))  # (n_states, L, B, 2H)
        back = [d.reshape(L, B, 2, H).transpose(0, 2, 1, 3).reshape(2 * L, B, H) for d in dx]
        return tuple(back) if self._lstm else back[0]

    def _encode(self, src, src_lengths) -> dict:
        xs = self.modules["src_embed"].forward(src)                                # (B, S, E)
        enc_out, state = self.modules["encoder"].forward(xs, lengths=src_lengths)  # (B, S, D·H)
        # k_s = W_a e_s ("general") or e_s ("dot"), computed once per source
        keys = self.modules["attn"].forward(enc_out) if self.attention == "general" else enc_out
        mask = np.arange(src.shape[1])[None, :] < src_lengths[:, None]            # (B, S)
        return {"out": enc_out, "keys": keys, "mask": mask, "state": self._bridge(state)}

    def _attend(self, h, enc):
        """Decoder outputs h (B, T, H) → h̃ (B, T, H) and the cache for ``_attend_backward``."""
        e, k = enc["out"], enc["keys"]
        # score_ts = h_t · k_s;  padded source steps get -inf, hence α_ts = 0
        scores = np.where(enc["mask"][:, None, :], h @ k.transpose(0, 2, 1), -np.inf)  # (B, T, S)
        # α_t = softmax_s(score_t)
        alpha = softmax(scores, axis=-1)
        # c_t = Σ_s α_ts e_s
        ctx = alpha @ e                                                             # (B, T, D·H)
        # h̃_t = tanh(W_c [c_t; h_t])
        ht = np.tanh(self.modules["combine"].forward(np.concatenate([ctx, h], axis=-1)))
        return ht, (h, alpha, ht)

    def _attend_backward(self, d_ht, cache, enc):
        """∂L/∂h̃ (B, T, H) → ∂L/∂h (B, T, H), ∂L/∂e (B, S, D·H)."""
        h, alpha, ht = cache
        e, k = enc["out"], enc["keys"]
        # ∂(W_c [c; h]) = ∂h̃ ⊙ (1 - h̃²)
        d_cat = self.modules["combine"].backward(d_ht * (1 - ht * ht))
        d_ctx, d_h = d_cat[..., :e.shape[2]], d_cat[..., e.shape[2]:]
        # c = α e:  ∂α = ∂c eᵀ,  ∂e = αᵀ ∂c
        d_alpha = d_ctx @ e.transpose(0, 2, 1)
        d_e = alpha.transpose(0, 2, 1) @ d_ctx
        # softmax: ∂score = α ⊙ (∂α - Σ_s α ∂α)  (zero where α = 0, the padded steps)
        d_scores = alpha * (d_alpha - (alpha * d_alpha).sum(-1, keepdims=True))
        # score = h kᵀ:  ∂h = ∂score k,  ∂k = ∂scoreᵀ h
        d_h = d_h + d_scores @ k
        d_k = d_scores.transpose(0, 2, 1) @ h
        # k = W_a e ("general") or e ("dot")
        d_e += self.modules["attn"].backward(d_k) if self.attention == "general" else d_k
        return d_h, d_e

    # -- training -------------------------------------------------------------------------------
    def _forward(self, batch: Seq2SeqBatch):
        if batch.tgt_in is None:
            raise RnnlabError("Seq2Seq training and evaluation need targets; build the batch with "
                              "make_batch(src_seqs, tgt_seqs).")
        m = self.modules
        enc = self._encode(batch.src, batch.src_lengths)
        yd = m["tgt_embed"].forward(batch.tgt_in)                                # (B, T, E)
        h, _ = m["decoder"].forward(yd, lengths=batch.tgt_lengths, initial_state=enc["state"])
        ht, cache = self._attend(h, enc) if self.attention else (h, None)
        return m["out"].forward(ht), (enc, cache)                                 # (B, T, V_t)

    def logits(self, batch: Seq2SeqBatch) -> np.ndarray:
        """Teacher-forced logits (B, T, V_t) of a batch (forward only)."""
        return self._forward(batch)[0]

    def _target_mask(self, batch):
        return np.arange(batch.tgt_out.shape[1])[None, :] < batch.tgt_lengths[:, None]  # (B, T)

    def loss(self, batch: Seq2SeqBatch) -> float:
        """Mean cross-entropy per target step (forward only)."""
        return self.loss_fn.forward(self.logits(batch), batch.tgt_out, mask=self._target_mask(batch))

    def train_step_loss(self, batch: Seq2SeqBatch) -> float:
        """Forward and backward on one batch; fills ``grads`` and returns the mean loss."""
        m = self.modules
        logits, (enc, cache) = self._forward(batch)
        value = self.loss_fn.forward(logits, batch.tgt_out, mask=self._target_mask(batch))
        d_ht = m["out"].backward(self.loss_fn.backward())
        if self.attention:
            d_h, d_enc = self._attend_backward(d_ht, cache, enc)
        else:
            d_h, d_enc = d_ht, np.zeros_like(enc["out"])
        m["tgt_embed"].backward(m["decoder"].backward(d_h))
        # the decoder's ∂initial-state is the gradient of the encoder's final state, via the bridge
        d_state = self._bridge_backward(m["decoder"].grad_initial_state)
        m["src_embed"].backward(m["encoder"].backward(d_enc, d_state=d_state))
        return value

    def evaluate_batch(self, batch: Seq2SeqBatch) -> dict:
        """Summed ``loss`` (nats) and ``accuracy`` (correct tokens) over the target steps, and their ``count``."""
        logits = self.logits(batch)
        keep = self._target_mask(batch)
        n = int(keep.sum())
        value = self.loss_fn.forward(logits, batch.tgt_out, mask=keep)
        correct = int(((logits.argmax(-1) == batch.tgt_out) & keep).sum())
        return {"loss": value * n, "accuracy": correct, "count": n}

    def fit(self, src_seqs, tgt_seqs, *, epochs: int = 10, batch_size: int = 32, optimizer=None,
            valid=None, **kwargs):
        """Train with ``rnnlab.models.training.fit``; ``valid`` = (src_seqs, tgt_seqs) or None.

        ``optimizer`` defaults to ``nn.Adam(1e-3)``; other keyword arguments go to ``training.fit``.
        """
        from rnnlab.models.training import fit

        valid_batches = self.batches(*valid, batch_size, shuffle=False) if valid is not None else None
        return fit(self, self.batches(src_seqs, tgt_seqs, batch_size), epochs=epochs,
                   optimizer=optimizer or nn.Adam(1e-3), valid_batches=valid_batches, **kwargs)

    # -- decoding -------------------------------------------------------------------------------
    def _start(self, src, src_lengths, max_len):
        if src_lengths is None:
            src, src_lengths = _pad(list(src), self.pad_id, self.src_vocab_size, "source")
        else:
            src, src_lengths = np.asarray(src), np.asarray(src_lengths)
            _pad(list(src), self.pad_id, self.src_vocab_size, "source")  # validates the ids
        if max_len is None:
            max_len = 2 * int(src_lengths.max()) + 10
        if not isinstance(max_len, (int, np.integer)) or max_len < 1:
            raise RnnlabError(f"max_len must be a positive integer, got {max_len!r}.")
        return src, src_lengths, int(max_len)

    def _step(self, tok, state, enc):
        """One decoder step from ``state`` on tokens (N,) → log-probabilities (N, V_t) float64, new state."""
        m = self.modules
        h, state = m["decoder"].forward(m["tgt_embed"].forward(tok[:, None]), initial_state=state)
        ht = self._attend(h, enc)[0] if self.attention else h
        return log_softmax(m["out"].forward(ht)[:, 0].astype(np.float64)), state

    def _strip(self, row) -> list:
        row = [int(t) for t in row]
        row = row[:row.index(self.eos_id)] if self.eos_id in row else row
        return [t for t in row if t != self.pad_id]

    def greedy_decode(self, src, src_lengths=None, max_len: int | None = None) -> list:
        """Most probable token at each step.

        Parameters
        ----------
        src : (B, S) int array with ``src_lengths`` (B,), or a list of id sequences (lengths None)
        max_len : int, optional
            Most tokens generated per sequence; default 2·max(src_lengths) + 10.

        Returns
        -------
        list of B lists of ids, without bos and eos.
        """
        src, src_lengths, max_len = self._start(src, src_lengths, max_len)
        was = self.training
        self.eval()
        try:
            enc = self._encode(src, src_lengths)
            B = len(src)
            tok, state, done = np.full(B, self.bos_id), enc["state"], np.zeros(B, bool)
            out = np.full((B, max_len), self.pad_id)
            for t in range(max_len):
                logp, state = self._step(tok, state, enc)
                tok = np.where(done, self.pad_id, logp.argmax(1))
                out[:, t] = tok
                done |= tok == self.eos_id
                if done.all():
                    break
        finally:
            self.train(was)
        return [self._strip(r) for r in out]

    def beam_search(self, src, src_lengths=None, beam_width: int = 4, max_len: int | None = None,
                    length_penalty: float = 0.0, return_scores: bool = False):
        """Keep the ``beam_width`` most probable prefixes per sequence; return the best finished one.

        Parameters
        ----------
        src, src_lengths, max_len : as ``greedy_decode``
        beam_width : int
            K hypotheses per sequence; K = 1 is greedy decoding.
        length_penalty : float, default 0
            α in the final ranking score log p(y|x) / |y|^α (|y| counts the eos); α = 0 ranks by
            probability, α = 1 by per-token probability, favouring longer outputs.
        return_scores : bool
            Also return the B ranking scores.

        Notes
        -----
        All B·K hypotheses advance in one decoder call per step. A finished hypothesis stays in
        the beam with its score frozen (it extends only by pad, at log-probability 0), so it
        competes with the running ones by log-probability until the search stops: every beam
        finished or ``max_len`` reached.
        """
        if not isinstance(beam_width, (int, np.integer)) or beam_width < 1:
            raise RnnlabError(f"beam_width must be a positive integer, got {beam_width!r}.")
        if not isinstance(length_penalty, (int, float, np.floating)) or not length_penalty >= 0:
            raise RnnlabError(f"length_penalty must be a number ≥ 0, got {length_penalty!r}.")
        src, src_lengths, max_len = self._start(src, src_lengths, max_len)
        B, K, V = len(src), int(beam_width), self.tgt_vocab_size
        was = self.training
        self.eval()
        try:
            enc = self._encode(src, src_lengths)
            rows = np.repeat(np.arange(B), K)
            enc = {k: v[rows] for k, v in enc.items() if k != "state"} | {
                "state": self._map_state(enc["state"], rows)}
            score = np.zeros((B, K))
            score[:, 1:] = -np.inf  # one live hypothesis at the start, or the K beams would be copies
            hist = np.zeros((B, K, 0), np.int64)
            done, length = np.zeros((B, K), bool), np.zeros((B, K))
            tok, state = np.full(B * K, self.bos_id), enc["state"]
            for _ in range(max_len):
                logp, state = self._step(tok, state, enc)
                logp = logp.reshape(B, K, V)
                logp[done] = -np.inf
                logp[done, self.pad_id] = 0.0
                cand = (score[:, :, None] + logp).reshape(B, K * V)
                # stable sort: among equal scores the lower (beam, token) wins, as argmax does
                top = np.argsort(-cand, axis=1, kind="stable")[:, :K]
                beam, tok2 = top // V, top % V
                score = np.take_along_axis(cand, top, 1)
                hist = np.concatenate([np.take_along_axis(hist, beam[..., None], 1), tok2[..., None]], 2)
                was_done = np.take_along_axis(done, beam, 1)
                length = np.take_along_axis(length, beam, 1) + ~was_done
                done = was_done | (tok2 == self.eos_id)
                state = self._map_state(state, (np.arange(B)[:, None] * K + beam).ravel())
                tok = tok2.ravel()
                if done.all():
                    break
        finally:
            self.train(was)
        ranked = score / np.maximum(length, 1) ** length_penalty
        best = ranked.argmax(1)
        seqs = [self._strip(hist[b, best[b]]) for b in range(B)]
        return (seqs, ranked[np.arange(B), best]) if return_scores else seqs

    def _map_state(self, state, rows):
        """Select batch rows of a decoder state (L, N, H) or (h, c)."""
        return tuple(s[:, rows] for s in state) if self._lstm else state[:, rows]
