"""The policy-gradient loss: finite differences in float64, unit rewards give the MLE gradient, the baseline."""
import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.gan.generator import make_generator
from rnnlab.gan.policy_gradient import advantages, policy_gradient_loss
from rnnlab.gan.sequences import with_start
from rnnlab.models.language import LMBatch
from rnnlab.nn.gradcheck import numerical_grad_sampled, rel_error, sample_indices


def _generator(cell):
    lm = make_generator(9, 4, 5, cell=cell, seed=2, dtype="float64", start_token=1)
    for p in lm.params.values():
        p *= 2.0  # larger gradients, well above the finite-difference noise
    return lm


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gradient_matches_finite_differences(cell):
    rng = np.random.default_rng(0)
    lm = _generator(cell)
    seqs, rewards = rng.integers(0, 9, (3, 6)), rng.random((3, 6)) - 0.3  # fixed rewards, some negative
    policy_gradient_loss(lm, seqs, rewards)
    analytic = {k: g.copy() for k, g in lm.grads.items()}
    for name, p in lm.params.items():
        idx = sample_indices(p.size, 12, rng)
        num = numerical_grad_sampled(lambda: policy_gradient_loss(lm, seqs, rewards, backward=False), p, idx)
        assert rel_error(analytic[name].reshape(-1)[idx], num) < 1e-6, name


def test_unit_rewards_give_the_maximum_likelihood_loss_and_gradient():
    lm = _generator("lstm")
    seqs = np.random.default_rng(1).integers(0, 9, (4, 5))
    value = policy_gradient_loss(lm, seqs, np.ones(seqs.shape))
    pg = {k: g.copy() for k, g in lm.grads.items()}
    mle = lm.train_step_loss(LMBatch(with_start(seqs, 1), seqs, True))
    assert value == pytest.approx(mle, rel=1e-12)
    for k, g in lm.grads.items():
        np.testing.assert_allclose(pg[k], g, rtol=1e-10, atol=1e-12, err_msg=k)


def test_mean_baseline_centres_each_step_over_the_batch():
    q = np.random.default_rng(2).random((6, 4))
    a = advantages(q, "mean")
    np.testing.assert_allclose(a.mean(axis=0), 0, atol=1e-15)
    np.testing.assert_allclose(q - a, np.broadcast_to(q.mean(0), q.shape))
    assert advantages(q, "none") is q


def test_rewards_of_the_wrong_shape_are_one_error():
    with pytest.raises(RnnlabError, match=r"rewards must be finite with the sequences' shape \(2, 3\)"):
        policy_gradient_loss(_generator("lstm"), np.zeros((2, 3), int), np.zeros((3, 2)))
