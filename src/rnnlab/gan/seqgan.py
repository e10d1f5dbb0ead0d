"""SeqGAN's adversarial loop (Yu et al., AAAI 2017, Algorithm 1), one ``step`` per adversarial batch.

::

    for each adversarial batch:
        y ~ G_θ (B sequences)                                       # the policy acts
        Q = roll-out rewards of y under D (N roll-outs per token)   # rollout.py
        θ ← Adam(θ, ∇ -(1/BT) Σ (Q - b) log G_θ(y_t | y_<t))         # policy_gradient.py
        θ_β ← r θ_β + (1 - r) θ                                     # the roll-out policy follows
        repeat d_steps times:                                       # the discriminator follows
            fresh negatives ~ G_θ, as many real sequences; fit D for d_epochs epochs

The generator and the discriminator must read the same vocabulary; that is checked here once.
"""
from __future__ import annotations

import numpy as np

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.gan import discriminator as disc
from rnnlab.gan.policy_gradient import advantages, policy_gradient_loss
from rnnlab.gan.rollout import Rollout
from rnnlab.gan.sampling import generate
from rnnlab.gan.sequences import check_sequences
from rnnlab.models.language import LanguageModel
from rnnlab.nn.optim import clip_grad_norm


class SeqGAN:
    """A pretrained generator, a discriminator and the roll-out policy, trained against each other.

    Parameters
    ----------
    generator : LanguageModel
        The policy G_θ, updated in place.
    discriminator : Sequential
        From ``make_discriminator`` (or any compiled one-logit classifier over the same ids).
    seq_len : int
        T, the length of every sequence.
    rollouts : int, default 16
        N roll-outs per token.
    d_steps, d_epochs, d_samples : int, default 5, 3, 10000
        Discriminator rounds per generator update, epochs per round, negatives per round.
    rollout_update_rate : float, default 0.8
    baseline : {"none", "mean"}, default "none"
    batch_size : int, default 64
        Sequences per generator update and per discriminator batch.
    lr : float, default 0.01
        Adam's rate for the generator (a fresh optimiser, as in the authors' code).
    clip_norm : float, default 5.0
    seed : int or numpy.random.Generator
    """

    def __init__(self, generator: LanguageModel, discriminator, seq_len: int, *, rollouts: int = 16,
                 d_steps: int = 5, d_epochs: int = 3, d_samples: int = 10000, rollout_update_rate: float = 0.8,
                 baseline: str = "none", batch_size: int = 64, lr: float = 0.01, clip_norm: float = 5.0,
                 seed=0):
        Vg, Vd = generator.vocab_size, disc.vocab_size(discriminator)
        if Vg != Vd:
            raise RnnlabError(f"the generator emits {Vg} token ids but the discriminator reads {Vd}; build both "
                              "for the same vocabulary size.")
        advantages(np.zeros((1, 1)), baseline)  # an unknown baseline fails now, not after the first roll-outs
        self.generator, self.discriminator = generator, discriminator
        self.seq_len, self.rollouts, self.baseline = int(seq_len), int(rollouts), baseline
        self.d_steps, self.d_epochs, self.d_samples = int(d_steps), int(d_epochs), int(d_samples)
        self.batch_size, self.clip_norm = int(batch_size), clip_norm
        self.rollout = Rollout(generator, rollout_update_rate)
        self.optimizer = nn.Adam(lr)
        self.rng = np.random.default_rng(seed)

    def prob_real(self, seqs) -> np.ndarray:
        return disc.prob_real(self.discriminator, seqs)

    def generator_step(self) -> dict:
        """One policy-gradient update on a fresh batch; the batch's mean reward and D(y)."""
        g = self.generator
        y = generate(g, self.batch_size, self.seq_len, self.rng, start_token=g.meta.get("start_token", 0))
        q = self.rollout.rewards(y, self.prob_real, self.rollouts, self.rng)
        g.train()
        loss = policy_gradient_loss(g, y, advantages(q, self.baseline))
        clip_grad_norm(g.grads, self.clip_norm)
        self.optimizer.step(g.params, g.grads)
        g.eval()
        return {"pg_loss": loss, "reward": float(q.mean()), "d_fake": float(q[:, -1].mean())}

    def discriminator_round(self, real) -> float:
        """Fit D on ``d_samples`` fresh negatives and as many real sequences; its training loss."""
        real = check_sequences(real, self.generator.vocab_size, "real sequences")
        g, n = self.generator, self.d_samples
        fake = generate(g, n, self.seq_len, self.rng, start_token=g.meta.get("start_token", 0))
        # all real sequences when there are n of them, else n drawn (with replacement only if too few)
        pos = real[self.rng.choice(len(real), n, replace=len(real) < n)]
        return disc.train_discriminator(self.discriminator, pos, fake, epochs=self.d_epochs,
                                        batch_size=self.batch_size, seed=int(self.rng.integers(2**31)))

    def pretrain_discriminator(self, real, rounds: int) -> list[float]:
        """``rounds`` discriminator rounds against the (pretrained) generator, before any adversarial step."""
        return [self.discriminator_round(real) for _ in range(rounds)]

    def step(self, real) -> dict:
        """One adversarial batch: a generator update, the roll-out policy update, ``d_steps`` D rounds."""
        row = self.generator_step()
        self.rollout.update(self.generator)
        losses = [self.discriminator_round(real) for _ in range(self.d_steps)]
        row["d_loss"] = float(np.mean(losses)) if losses else float("nan")
        return row
