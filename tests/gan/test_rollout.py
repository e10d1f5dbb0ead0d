"""Roll-out rewards: prefixes kept, Q_T = D(y), rewards line up with their tokens; the delayed policy update."""
import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.gan.generator import make_generator
from rnnlab.gan.rollout import Rollout
from rnnlab.gan.sampling import generate


def _seqs(lm, n=5, T=6):
    return generate(lm, n, T, rng=0)


def test_every_completion_keeps_its_prefix(tiny_oracle):
    seqs, seen = _seqs(tiny_oracle), []

    def prob_real(x):
        seen.append(x.copy())
        return np.full(len(x), 0.5)

    Rollout(tiny_oracle).rewards(seqs, prob_real, n_rollouts=3, rng=np.random.default_rng(0))
    completions = seen[0].reshape(5, 5, 3, 6)  # (prefix length t - 1, sequence, roll-out, step)
    for t in range(1, 6):
        np.testing.assert_array_equal(completions[t - 1, :, :, :t], np.broadcast_to(seqs[:, None, :t], (5, 3, t)))
    np.testing.assert_array_equal(seen[1], seqs)  # the last call scores the sequences themselves


def test_reward_of_a_token_is_the_mean_score_of_its_completions(tiny_oracle):
    seqs = _seqs(tiny_oracle)
    # D reads only y_0, so every completion of every prefix has the sequence's own score
    q = Rollout(tiny_oracle).rewards(seqs, lambda x: x[:, 0] / 20, n_rollouts=4, rng=np.random.default_rng(1))
    np.testing.assert_allclose(q, np.broadcast_to(seqs[:, :1] / 20, q.shape))


def test_last_reward_is_the_score_of_the_whole_sequence(tiny_oracle):
    seqs = _seqs(tiny_oracle)
    q = Rollout(tiny_oracle).rewards(seqs, lambda x: x[:, -1] / 20, n_rollouts=2, rng=np.random.default_rng(2))
    np.testing.assert_allclose(q[:, -1], seqs[:, -1] / 20)
    assert q.shape == seqs.shape and np.all((q >= 0) & (q < 1))


def test_rewards_are_fixed_by_the_generator_seed(tiny_oracle):
    seqs, ro = _seqs(tiny_oracle), Rollout(tiny_oracle)
    score = lambda x: x.sum(1) / 200  # noqa: E731
    a = ro.rewards(seqs, score, 3, np.random.default_rng(7))
    np.testing.assert_array_equal(a, ro.rewards(seqs, score, 3, np.random.default_rng(7)))


@pytest.mark.parametrize("rate", [0.0, 0.8, 1.0])
def test_update_moves_the_rollout_policy_towards_the_generator_at_its_rate(rate):
    g = make_generator(11, 4, 5, seed=0, dtype="float64")
    ro = Rollout(g, update_rate=rate)
    old = {k: v.copy() for k, v in ro.policy.params.items()}
    for p in g.params.values():
        p += 1.0
    ro.update(g)
    for k, p in ro.policy.params.items():
        np.testing.assert_allclose(p, rate * old[k] + (1 - rate) * g.params[k], err_msg=k)


def test_rollout_policy_is_a_copy_not_the_generator():
    g = make_generator(11, 4, 5, seed=0)
    ro = Rollout(g)
    g.params["out.bias"] += 1.0
    assert not np.array_equal(ro.policy.params["out.bias"], g.params["out.bias"])


@pytest.mark.parametrize("rate", [-0.1, 1.5, "0.8"])
def test_update_rate_outside_zero_one_is_one_error(rate):
    with pytest.raises(RnnlabError, match="rollout update rate must be a number in"):
        Rollout(make_generator(5, 2, 2), update_rate=rate)
