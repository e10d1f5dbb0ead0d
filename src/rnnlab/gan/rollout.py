r"""Monte Carlo roll-outs: the reward of each token of a sampled sequence (Yu et al. 2017, eq. 4).

For y (B, T) and a prefix length t < T, N completions of y_{1..t} are sampled with the roll-out
policy G_β; the reward of token t is the discriminator's mean probability of "real" over them,
and the last token's reward is that of the whole sequence:

.. math::
    Q(y_{1..t-1}, y_t) = \frac{1}{N} \sum_{n=1}^{N} D(\mathrm{MC}^{G_β}_n(y_{1..t})),\quad t < T;
    \qquad Q(y_{1..T-1}, y_T) = D(y_{1..T})

G_β is a delayed copy of the generator, θ_β ← r θ_β + (1 - r) θ (r = 0.8 in the authors' code), so
the rewards change more slowly than the policy they score.

Cost: one pass along the prefixes collects the state after each of them; for each t the B·N
completions then run together, T - t steps each (a batch of 64 · 16 = 1024 rows in the paper).
The discriminator scores all B·N·(T-1) completions in a few large batches.
"""
from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.gan.sampling import continue_sequences, repeat_state, step, zero_state
from rnnlab.gan.sequences import check_sequences
from rnnlab.models.language import LanguageModel


class Rollout:
    """The roll-out policy G_β: a copy of the generator, moved towards it by ``update``.

    Parameters
    ----------
    generator : LanguageModel
    update_rate : float in [0, 1]
        r in θ_β ← r θ_β + (1 - r) θ; 0 copies the generator at every update, 1 never moves.
    """

    def __init__(self, generator: LanguageModel, update_rate: float = 0.8):
        if not isinstance(update_rate, (int, float, np.floating)) or not 0 <= update_rate <= 1:
            raise RnnlabError(f"rollout update rate must be a number in [0, 1], got {update_rate!r}.")
        self.update_rate = float(update_rate)
        self.policy = LanguageModel.from_config(generator.get_config())
        self.policy.load_state_dict(generator.state_dict())
        self.policy.meta = dict(generator.meta)
        self.policy.eval()

    def update(self, generator: LanguageModel) -> None:
        """θ_β ← r θ_β + (1 - r) θ for every parameter (embedding and output layer included)."""
        r = self.update_rate
        theta = generator.params
        for k, p in self.policy.params.items():
            p *= r
            p += (1 - r) * theta[k]

    def prefix_states(self, seqs: np.ndarray) -> list:
        """The roll-out policy's state after reading start, y_0, ..., y_{t-2}, for t = 1 .. T-1.

        Continuing from the t-th state with input y_{t-1} samples y_t, y_{t+1}, ... after the prefix y_{<t}.
        """
        B, T = seqs.shape
        ids, state = np.full(B, self.policy.meta.get("start_token", 0), np.int64), zero_state(self.policy, B)
        states = []
        for t in range(1, T):
            _, state = step(self.policy, ids, state)
            states.append(state)
            ids = seqs[:, t - 1]
        return states

    def rewards(self, seqs, prob_real, n_rollouts: int, rng: np.random.Generator) -> np.ndarray:
        """Q (B, T): per-token rewards of seqs (B, T) from ``prob_real`` ((n, T) ids → (n,) P(real)).

        Row b of the completions for prefix t is sequence b // N: N roll-outs of each, side by side.
        """
        if not isinstance(n_rollouts, (int, np.integer)) or n_rollouts < 1:
            raise RnnlabError(f"the number of roll-outs must be a positive integer, got {n_rollouts!r}.")
        seqs = check_sequences(seqs, self.policy.vocab_size)
        B, T, N = *seqs.shape, int(n_rollouts)
        completed = []
        try:
            for t, state in enumerate(self.prefix_states(seqs), start=1):
                # keep y_{<t}, then sample y_t .. y_{T-1} from the state after y_{<t-1}, fed y_{t-1}
                rows = np.repeat(seqs, N, axis=0)
                rows[:, t:] = continue_sequences(self.policy, rows[:, t - 1], repeat_state(state, N), T - t, rng)
                completed.append(rows)
        finally:
            self.policy.reset_states()
        q = np.empty((B, T))
        scores = np.asarray(prob_real(np.concatenate(completed)), np.float64)
        # Q_t = mean over the N completions of prefix t; Q_T = D(y) itself
        q[:, :T - 1] = scores.reshape(T - 1, B, N).mean(axis=2).T
        q[:, T - 1] = np.asarray(prob_real(seqs), np.float64)
        return q
