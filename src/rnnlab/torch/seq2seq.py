"""``TorchSeq2Seq``: the ``Seq2Seq`` encoder-decoder on torch.nn, computing what the NumPy model computes.

::

    e = Encoder(SrcEmbed(x))                         # packed by source length; (B, S, D·H), s_enc
    s_0 = s_enc  or  W_b [s_fwd; s_bwd] + b_b        # bidirectional: one Dense "bridge" per layer, h (and c)
    h_t = Decoder(TgtEmbed(y_{t-1}), s_{t-1})        # teacher forcing, packed by target length
    α_ts = softmax_s(h_t · W_a e_s)  ("general"; h_t · e_s for "dot"), padded s excluded
    h̃_t = tanh(W_c [Σ_s α_ts e_s; h_t])              # without attention h̃_t = h_t
    p(y_t | y_<t, x) = softmax(W_o h̃_t + b_o)

Children are named like the model's modules ("src_embed", "encoder", "bridge", "tgt_embed",
"decoder", "attn", "combine", "out"), so ``state_dict()`` keys are its flat ``params`` keys.
Padded decoder steps output zeros in both engines, so even the logits there agree.
"""
from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.models.seq2seq import Seq2Seq
from rnnlab.torch.kinds import TorchKind, run_recurrent
from rnnlab.torch.optional import require_torch
from rnnlab.torch.training import masked_sum

torch = require_torch()


class TorchSeq2Seq(TorchKind):
    """A rnnlab ``Seq2Seq`` as a ``torch.nn.Module``; build it with ``to_torch`` or ``load_torch``.

    ``forward(src, src_lengths, tgt_in, tgt_lengths)`` takes tensors (ids on the module's device,
    lengths (B,) int64 on the CPU) and returns the teacher-forced logits (B, T, V_t);
    ``logits(batch)`` does the same for a ``Seq2SeqBatch`` of NumPy arrays.
    """

    rnnlab_kind = "seq2seq"

    def __init__(self, model):
        super().__init__(model)
        self.attention, self.bidirectional, self.lstm = model.attention, model.bidirectional, model._lstm
        self.pad_id, self.bos_id, self.eos_id = model.pad_id, model.bos_id, model.eos_id
        self.src_vocab_size, self.tgt_vocab_size = model.src_vocab_size, model.tgt_vocab_size

    # -- encoder, bridge, attention -------------------------------------------------------------
    def _bridge(self, state):
        """Encoder final state (L·D, B, H) → decoder initial state (L, B, H), for h (and c)."""
        if not self.bidirectional:
            return state

        def one(s):
            LD, B, H = s.shape
            # (2L, B, H) → (L, B, 2H): [s_fwd; s_bwd] per layer, index k = 2·layer + direction
            x = s.reshape(LD // 2, 2, B, H).transpose(1, 2).reshape(LD // 2, B, 2 * H)
            # s_0 = W_b [s_fwd; s_bwd] + b_b, the same map for h and c
            return self.bridge(x)

        return tuple(one(s) for s in state) if self.lstm else one(state)

    def encode(self, src, src_lengths) -> dict:
        """src (B, S) ids, src_lengths (B,) CPU int64 → encoder outputs, attention keys, mask, decoder state."""
        enc_out, state = self.encoder(self.src_embed(src), src_lengths)            # (B, S, D·H)
        # k_s = W_a e_s ("general") or e_s ("dot"), computed once per source
        keys = self.attn(enc_out) if self.attention == "general" else enc_out
        S = src.shape[1]
        mask = torch.arange(S, device=src.device)[None, :] < src_lengths.to(src.device)[:, None]  # (B, S)
        return {"out": enc_out, "keys": keys, "mask": mask, "state": self._bridge(state)}

    def attend(self, h, enc):
        """Decoder outputs h (B, T, H) → h̃ (B, T, H)."""
        # score_ts = h_t · k_s;  padded source steps get -inf, hence α_ts = 0
        scores = (h @ enc["keys"].transpose(1, 2)).masked_fill(~enc["mask"][:, None, :], float("-inf"))
        # α_t = softmax_s(score_t);  c_t = Σ_s α_ts e_s
        ctx = torch.softmax(scores, dim=-1) @ enc["out"]                             # (B, T, D·H)
        # h̃_t = tanh(W_c [c_t; h_t])
        return torch.tanh(self.combine(torch.cat([ctx, h], dim=-1)))

    # -- teacher forcing ------------------------------------------------------------------------
    def forward(self, src, src_lengths, tgt_in, tgt_lengths):
        enc = self.encode(src, src_lengths)
        h, _ = run_recurrent(self.decoder, self.tgt_embed(tgt_in), tgt_lengths, enc["state"])  # (B, T, H)
        return self.out(self.attend(h, enc) if self.attention else h)              # (B, T, V_t)

    def logits(self, batch):
        """Teacher-forced logits (B, T, V_t) of a ``Seq2SeqBatch`` (NumPy arrays)."""
        if batch.tgt_in is None:
            raise RnnlabError("Seq2Seq training and evaluation need targets; build the batch with "
                              "make_batch(src_seqs, tgt_seqs).")
        return self(self.ids(batch.src), self.cpu_lengths(batch.src_lengths), self.ids(batch.tgt_in),
                    self.cpu_lengths(batch.tgt_lengths))

    def _scored(self, batch):
        z, y = self.logits(batch), self.ids(batch.tgt_out)
        keep = (torch.arange(y.shape[1], device=y.device)[None, :]
                < self.cpu_lengths(batch.tgt_lengths).to(y.device)[:, None])     # (B, T): y_1 .. y_n, eos
        total, count, keep = masked_sum(z, y, keep, "cross_entropy")
        return z, y, total, count, keep

    def loss_sums(self, batch):
        """(Σ cross-entropy over the target steps y_1 .. y_n, eos of every sequence, their count)."""
        return self._scored(batch)[2:4]

    @torch.no_grad()
    def evaluate_batch(self, batch) -> dict:
        """Summed ``loss`` (nats), ``accuracy`` (correct tokens) and ``count`` over the target steps."""
        z, y, total, count, keep = self._scored(batch)
        return {"loss": float(total), "accuracy": int(((z.argmax(-1) == y) & keep).sum()), "count": int(count)}

    # -- decoding -------------------------------------------------------------------------------
    @torch.no_grad()
    def greedy_decode(self, src, src_lengths=None, max_len: int | None = None) -> list:
        """Most probable token at each step, as ``Seq2Seq.greedy_decode`` (same arguments, same lists)."""
        # the NumPy model's input checks and output trimming read only the ids and sizes we keep too
        src, src_lengths, max_len = Seq2Seq._start(self, src, src_lengths, max_len)
        was = self.training
        self.eval()
        try:
            enc = self.encode(self.ids(src), self.cpu_lengths(src_lengths))
            B, dev = len(src), self.device
            tok = torch.full((B,), self.bos_id, dtype=torch.int64, device=dev)
            state, done = enc["state"], torch.zeros(B, dtype=torch.bool, device=dev)
            out = torch.full((B, max_len), self.pad_id, dtype=torch.int64, device=dev)
            for t in range(max_len):
                h, state = run_recurrent(self.decoder, self.tgt_embed(tok[:, None]), state=state)
                z = self.out(self.attend(h, enc) if self.attention else h)[:, 0]   # (B, V_t)
                # argmax of the logits = argmax of the log-probabilities the NumPy model ranks
                tok = torch.where(done, self.pad_id, z.argmax(1))
                out[:, t] = tok
                done |= tok == self.eos_id
                if bool(done.all()):
                    break
        finally:
            self.train(was)
        return [Seq2Seq._strip(self, row) for row in out.cpu().numpy().astype(np.int64)]
