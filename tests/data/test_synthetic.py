"""Synthetic tasks: the adding problem and the copy task follow their published layouts."""
import numpy as np
import pytest

from rnnlab.data.synthetic import adding_problem, copy_task
from rnnlab.errors import RnnlabError


def test_adding_problem_marks_one_value_in_each_half_and_sums_them():
    X, y = adding_problem(500, 21, np.random.default_rng(0))
    assert X.shape == (500, 21, 2) and y.shape == (500, 1) and X.dtype == y.dtype == np.float32
    markers = X[..., 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert (markers[:, :10].sum(1) == 1).all() and (markers[:, 10:].sum(1) == 1).all()
    np.testing.assert_allclose(y[:, 0], (X[..., 0] * markers).sum(1), rtol=1e-6)
    assert ((X[..., 0] >= 0) & (X[..., 0] < 1)).all()


def test_adding_problem_constant_baseline_is_one_sixth():
    _, y = adding_problem(20000, 10, np.random.default_rng(1))
    assert float(((y - 1) ** 2).mean()) == pytest.approx(1 / 6, abs=0.01)


def test_same_generator_state_gives_the_same_data():
    a = adding_problem(5, 8, np.random.default_rng(3))
    b = adding_problem(5, 8, np.random.default_rng(3))
    assert all(np.array_equal(u, v) for u, v in zip(a, b))


def test_copy_task_layout():
    X, y = copy_task(50, 7, 5, np.random.default_rng(0), copy_length=4)
    assert X.shape == y.shape == (50, 7 + 8) and X.dtype == np.int64
    symbols = X[:, :4]
    assert ((symbols >= 1) & (symbols <= 5)).all()
    assert (X[:, 4:10] == 0).all() and (X[:, 10] == 6).all() and (X[:, 11:] == 0).all()
    assert (y[:, :11] == 0).all() and np.array_equal(y[:, 11:], symbols)


@pytest.mark.parametrize("call, match", [
    (lambda: adding_problem(0, 10, np.random.default_rng(0)), "n must be a positive integer"),
    (lambda: adding_problem(5, 1, np.random.default_rng(0)), "T >= 2"),
    (lambda: adding_problem(5, 10, 0), "numpy.random.Generator"),
    (lambda: copy_task(5, 10, 0, np.random.default_rng(0)), "n_symbols"),
], ids=["n", "short_T", "seed_not_rng", "symbols"])
def test_bad_arguments(call, match):
    with pytest.raises(RnnlabError, match=match):
        call()
