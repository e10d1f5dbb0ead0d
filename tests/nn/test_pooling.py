"""MaskedPool: finite-difference gradients, padding never counts, padded batch = sequences alone, errors."""
import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.nn.gradcheck import numerical_grad, rel_error
from rnnlab.nn.pooling import MaskedPool

SHAPES = [(3, 5, 4), (1, 1, 2), (2, 7, 1)]  # (B, T, F), including T=1 and B=1


def _lengths(rng, B, T):
    L = rng.integers(1, T + 1, B)
    L[0] = T  # one full-length row, so the batch is really as long as T
    return L


@pytest.mark.parametrize("mode", ["meanmax", "mean", "max"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "B{}_T{}_F{}".format(*s))
def test_backward_matches_finite_differences(mode, shape):
    rng = np.random.default_rng(sum(shape))
    B, T, F = shape
    x = rng.standard_normal(shape)  # continuous draws: no ties for the max
    L = _lengths(rng, B, T)
    pool = MaskedPool(mode, dtype=np.float64)
    R = rng.standard_normal((B, pool.output_size(F)))
    f = lambda: float(np.sum(pool.forward(x, L) * R))  # noqa: E731
    pool.forward(x, L)
    dx = pool.backward(R)
    assert rel_error(dx, numerical_grad(f, x)) < 1e-6


def test_meanmax_is_mean_then_max_of_the_valid_steps():
    x = np.array([[[1.0, -1.0], [3.0, -5.0], [100.0, 100.0]]])
    out = MaskedPool("meanmax", dtype=np.float64).forward(x, np.array([2]))
    np.testing.assert_allclose(out, [[2.0, -3.0, 3.0, -1.0]])


def test_padded_batch_equals_each_sequence_alone():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 2))
    x[1, 4:] = 1e6  # garbage in the padding must not leak into mean or max
    L = np.array([6, 4, 1])
    pool = MaskedPool("meanmax", dtype=np.float64)
    batched = pool.forward(x, L)
    for b in range(3):
        np.testing.assert_allclose(batched[b], pool.forward(x[b:b + 1, :L[b]])[0])


def test_padded_steps_get_zero_gradient_and_max_goes_to_one_step():
    x = np.random.default_rng(1).standard_normal((2, 5, 3))
    L = np.array([5, 2])
    pool = MaskedPool("max", dtype=np.float64)
    pool.forward(x, L)
    dx = pool.backward(np.ones((2, 3)))
    assert not dx[1, 2:].any()
    np.testing.assert_array_equal((dx != 0).sum(1), np.ones((2, 3)))


def test_no_lengths_pools_over_all_steps():
    x = np.random.default_rng(2).standard_normal((2, 4, 3)).astype(np.float32)
    out = MaskedPool("meanmax").forward(x)
    np.testing.assert_allclose(out, np.concatenate([x.mean(1), x.max(1)], 1), rtol=1e-6)
    assert out.dtype == np.float32


@pytest.mark.parametrize("call, match", [
    (lambda p: MaskedPool("median"), "mode must be one of"),
    (lambda p: p.forward(np.zeros((2, 3))), r"expected input \(batch, time, features\)"),
    (lambda p: p.forward(np.zeros((2, 3, 1)), np.array([1, 4])), r"lie in \[1, 3\]"),
    (lambda p: p.forward(np.zeros((2, 3, 1)), np.array([1.0, 2.0])), "integer array of shape"),
    (lambda p: p.backward(np.zeros((2, 2))), "before forward"),
], ids=["mode", "rank", "too_long", "float_lengths", "backward_first"])
def test_bad_input_raises_one_clear_error(call, match):
    with pytest.raises(RnnlabError, match=match):
        call(MaskedPool())
