"""The logistic regression kept as plain numbers predicts what scikit-learn predicts."""
import numpy as np
import pytest

from rnnlab.tasks.linear import fit_logistic, linear_proba

pytest.importorskip("sklearn")


@pytest.mark.parametrize("classes", [2, 4])
def test_linear_proba_equals_sklearn(classes):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(classes)
    X, y = rng.normal(size=(80, 6)), np.arange(80) % classes
    X[:, 0] += y   # something to learn, so the probabilities are far from uniform
    params = fit_logistic(X, y, seed=0)
    expected = LogisticRegression(max_iter=2000, random_state=0).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(linear_proba(params, X, classes), expected, atol=1e-12)
    assert np.ptp(expected) > 0.5


def test_a_class_never_seen_in_training_gets_probability_zero():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), np.where(np.arange(30) % 2, 2, 0)   # classes 0 and 2 of 0, 1, 2
    p = linear_proba(fit_logistic(X, y, seed=0), X, 3)
    assert p.shape == (30, 3) and np.all(p[:, 1] == 0)
    np.testing.assert_allclose(p.sum(1), 1)
