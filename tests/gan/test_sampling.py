"""Batched generation: the inverse-CDF draw follows the softmax, steps equal teacher forcing, seeds fix everything."""
import numpy as np
import pytest

from rnnlab.gan.generator import make_generator, sequence_logits
from rnnlab.gan.sampling import categorical, generate, step, zero_state
from rnnlab.nn.functional import softmax


@pytest.mark.parametrize("V", [2, 7, 50, 101])
def test_categorical_frequencies_follow_the_softmax(V):
    rng = np.random.default_rng(V)
    z = (rng.standard_normal(V) * 2).astype(np.float32)
    n = 200_000
    counts = np.bincount(categorical(np.tile(z, (n, 1)), rng), minlength=V)
    p = softmax(z.astype(np.float64))
    # every frequency within 5 binomial standard deviations of its probability
    assert np.all(np.abs(counts / n - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-9)


def test_categorical_never_draws_an_id_of_probability_zero():
    z = np.full((1000, 30), -np.inf)
    z[:, [3, 29]] = 0.0  # two ids, one at the end of the last (padded) block
    ids = categorical(z, np.random.default_rng(0))
    assert set(ids.tolist()) == {3, 29}


def test_categorical_draws_each_row_from_its_own_logits():
    z = np.full((4, 9), -50.0)
    z[np.arange(4), [8, 0, 4, 2]] = 50.0
    np.testing.assert_array_equal(categorical(z, np.random.default_rng(0)), [8, 0, 4, 2])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_step_by_step_logits_equal_the_teacher_forced_ones(cell):
    lm = make_generator(13, 5, 6, cell=cell, seed=1, dtype="float64", start_token=2)
    seqs = np.random.default_rng(0).integers(0, 13, (3, 5))
    ids, state, steps = np.full(3, 2), zero_state(lm, 3), []
    for t in range(5):
        z, state = step(lm, ids, state)
        steps.append(z)
        ids = seqs[:, t]
    np.testing.assert_allclose(np.stack(steps, 1), sequence_logits(lm, seqs), rtol=1e-12, atol=1e-12)


def test_generate_is_fixed_by_its_seed(tiny_oracle):
    a, b = generate(tiny_oracle, 50, 6, rng=4), generate(tiny_oracle, 50, 6, rng=4)
    assert a.shape == (50, 6) and a.dtype == np.int64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, generate(tiny_oracle, 50, 6, rng=5))


def test_generate_leaves_no_carried_state(tiny_oracle):
    seqs = np.random.default_rng(0).integers(0, 20, (3, 4))
    before = sequence_logits(tiny_oracle, seqs)
    generate(tiny_oracle, 3, 4, rng=0)
    np.testing.assert_array_equal(sequence_logits(tiny_oracle, seqs), before)
