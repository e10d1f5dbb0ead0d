"""``GanConfig``: every option of a SeqGAN run, with the paper's synthetic experiment as defaults.

The defaults follow the authors' code (LantaoYu/SeqGAN, ``sequence_gan.py``): generator embedding
and hidden size 32, batches of 64, Adam at 0.01 with the gradient norm clipped to 5, 120 epochs of
MLE pretraining, 50 discriminator pretraining rounds, 200 adversarial batches, each one generator
update with 16 roll-outs, a roll-out policy updated at rate 0.8, then 5 discriminator rounds of 3
epochs on 10,000 fresh negatives and as many real sequences. On one CPU core that schedule takes
many hours; ``benchmarks/seqgan_oracle.py`` documents the shorter one it runs.

Ours differs in one place by design: the discriminator is recurrent (LSTM over embeddings,
bidirectional by default), not the paper's CNN, so its size and learning rate are our choices:
embedding and hidden size 64, dropout 0.25 before the output (the paper keeps 0.75), Adam at 0.01,
which on short budgets reached a higher held-out accuracy than 1e-3 (docs/seqgan.md).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from rnnlab.errors import RnnlabError

CELLS = ("lstm", "gru", "rnn")
BASELINES = ("none", "mean")
CHOICES = {"cell": CELLS, "d_cell": CELLS, "baseline": BASELINES}


@dataclass
class GanConfig:
    """Options of ``run_gan`` and ``rnnlab gan``; the CLI builds one flag per field.

    data: real sequences, one a line, token ids separated by spaces (instead of --oracle)
    oracle: .npz of an oracle LSTM whose samples are the real data (instead of --data)
    out: output folder
    seed: seed of every random choice
    vocab_size: number of token ids (default: the oracle's, or the data's largest id + 1)
    seq_len: tokens per sequence (longer lines of --data are cut)
    num_samples: oracle sequences to train on, and sequences written to samples.txt and scored
    valid_fraction: share of --data held out for the held-out NLL (an oracle draws its own)
    cell: generator cell
    emb: generator embedding size
    hidden: generator hidden size
    batch_size: sequences per batch (generator and discriminator)
    lr: generator learning rate (Adam), MLE and adversarial
    pretrain_epochs: generator MLE epochs
    d_pretrain_rounds: discriminator rounds before adversarial training
    adversarial_steps: adversarial batches (generator updates)
    rollouts: Monte Carlo roll-outs per token
    rollout_update_rate: r in roll-out weights ← r·roll-out + (1-r)·generator
    baseline: reward baseline: none (the paper) or mean (batch mean per step)
    d_steps: discriminator rounds per generator update, each on fresh negatives
    d_epochs: epochs per discriminator round
    d_samples: generated (and as many real) sequences per discriminator round
    d_cell: discriminator cell
    d_emb: discriminator embedding size
    d_hidden: discriminator hidden size
    d_bidirectional: bidirectional discriminator
    d_dropout: dropout before the discriminator's output
    d_lr: discriminator learning rate (Adam)
    eval_every: measure the curves every N epochs / adversarial steps
    eval_samples: generated sequences per point of the curves
    progress: show progress bars
    """

    data: str | None = None
    oracle: str | None = None
    out: str = "runs/gan"
    seed: int = 0
    vocab_size: int | None = None
    seq_len: int = 20
    num_samples: int = 10000
    valid_fraction: float = 0.1
    cell: str = "lstm"
    emb: int = 32
    hidden: int = 32
    batch_size: int = 64
    lr: float = 0.01
    pretrain_epochs: int = 120
    d_pretrain_rounds: int = 50
    adversarial_steps: int = 200
    rollouts: int = 16
    rollout_update_rate: float = 0.8
    baseline: str = "none"
    d_steps: int = 5
    d_epochs: int = 3
    d_samples: int = 10000
    d_cell: str = "lstm"
    d_emb: int = 64
    d_hidden: int = 64
    d_bidirectional: bool = True
    d_dropout: float = 0.25
    d_lr: float = 0.01
    eval_every: int = 5
    eval_samples: int = 2000
    progress: bool = True

    def problems(self) -> list[str]:
        """Every invalid value, so one error reports them all."""
        out = []
        if (self.data is None) == (self.oracle is None):
            out.append("give exactly one of data (a sequence file) and oracle (an oracle .npz)")
        positive = ("seq_len", "num_samples", "emb", "hidden", "batch_size", "rollouts", "d_epochs", "d_samples",
                    "d_emb", "d_hidden", "eval_every", "eval_samples")
        non_negative = ("pretrain_epochs", "d_pretrain_rounds", "adversarial_steps", "d_steps", "seed")
        for name in positive + non_negative + ("vocab_size",):
            v = getattr(self, name)
            if name == "vocab_size" and v is None:
                continue
            low = 0 if name in non_negative else 1
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                out.append(f"{name} must be an integer ≥ {low}, got {v!r}")
        ranges = {"lr": (0, None, "> 0"), "d_lr": (0, None, "> 0"), "rollout_update_rate": (0, 1, "in [0, 1]"),
                  "d_dropout": (0, 1, "in [0, 1)"), "valid_fraction": (0, 1, "in [0, 1)")}
        for name, (lo, hi, text) in ranges.items():
            v = getattr(self, name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            ok = ok and (v > lo if name in ("lr", "d_lr") else v >= lo)
            ok = ok and (hi is None or (v <= hi if name == "rollout_update_rate" else v < hi))
            if not ok:
                out.append(f"{name} must be a number {text}, got {v!r}")
        out += [f"{name} must be one of {', '.join(options)}, got {getattr(self, name)!r}"
                for name, options in CHOICES.items() if getattr(self, name) not in options]
        return out

    def validate(self) -> GanConfig:
        problems = self.problems()
        if problems:
            raise RnnlabError("gan: " + "; ".join(problems) + ".")
        return self

    def asdict(self) -> dict:
        return dataclasses.asdict(self)
