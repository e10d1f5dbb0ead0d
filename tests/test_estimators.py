"""RNNClassifier / RNNRegressor: scikit-learn's estimator checks, grid search, and rnnlab's own contracts."""
import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, train_test_split  # noqa: E402
from sklearn.utils.estimator_checks import check_regressors_train, parametrize_with_checks  # noqa: E402

from rnnlab.errors import NotFittedError, RnnlabError  # noqa: E402
from rnnlab.estimators import RNNClassifier, RNNRegressor  # noqa: E402

# The checks fit dozens of times: two epochs keep the whole run to a few seconds.
FAST = {"epochs": 2}

# Each entry is documented in the class docstrings and in docs/estimators.md.
EXPECTED_FAILURES = {
    "RNNRegressor": {
        "check_regressors_train": "with epochs=2 the R² on the check's 10-feature regression is 0.23, below "
                                  "the 0.5 asked; the default epochs=20 passes (test_regressor_passes_"
                                  "check_regressors_train_with_default_epochs)",
    },
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks([RNNClassifier(**FAST), RNNRegressor(**FAST)],
                         expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_regressor_passes_check_regressors_train_with_default_epochs():
    check_regressors_train("RNNRegressor", RNNRegressor())


@pytest.fixture
def seqs():
    """64 sequences (64, 6, 2); class 1 when the first feature sums above zero."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 6, 2))
    return X, (X[:, :, 0].sum(1) > 0).astype(int)


def test_grid_search_on_digits_read_row_by_row():
    # 8 rows of 8 pixels = 8 steps of 8 features; 450 training images, 300 held out
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 8, 8)
    Xtr, Xte, ytr, yte = train_test_split(X, y, train_size=450, test_size=300, random_state=0, stratify=y)
    grid = {"hidden_size": [8, 32], "cell": ["lstm", "gru"], "lr": [3e-3, 2e-2]}
    gs = GridSearchCV(RNNClassifier(epochs=12), grid, cv=3).fit(Xtr, ytr)
    assert set(gs.best_params_) == set(grid)
    assert gs.best_score_ > 0.8
    assert gs.score(Xte, yte) > 0.85  # 0.94 with this seed: gru, hidden 32, lr 2e-2


def test_cross_val_score_on_next_value_of_a_noisy_sine():
    rng = np.random.default_rng(0)
    s = np.sin(np.arange(330) * 2 * np.pi / 25) + 0.1 * rng.normal(size=330)
    X = np.lib.stride_tricks.sliding_window_view(s[:-1], 12)[:, :, None]   # (319, 12, 1)
    y = s[12:]
    scores = cross_val_score(RNNRegressor(hidden_size=16, epochs=10), X, y, cv=KFold(3))
    assert scores.min() > 0.9  # R²; noise alone caps it near 0.98


def test_two_d_input_is_read_with_n_features_per_step(seqs):
    X, y = seqs
    flat = RNNClassifier(hidden_size=8, epochs=3, n_features_per_step=2).fit(X.reshape(64, 12), y)
    seq = RNNClassifier(hidden_size=8, epochs=3).fit(X, y)
    assert flat.n_features_in_ == seq.n_features_in_ == 12
    assert (flat.n_steps_, flat.n_features_per_step_) == (6, 2)
    np.testing.assert_array_equal(flat.predict_proba(X.reshape(64, 12)), seq.predict_proba(X))


def test_three_d_input_accepts_other_lengths_but_not_other_features(seqs):
    X, y = seqs
    clf = RNNClassifier(hidden_size=8, epochs=2).fit(X, y)
    assert clf.predict(X[:, :4]).shape == (64,)
    with pytest.raises(RnnlabError, match="2 features per step"):
        clf.predict(X[:, :, :1])


def test_string_labels_come_back_from_predict(seqs):
    X, y = seqs
    labels = np.array(["neg", "pos"])[y]
    clf = RNNClassifier(hidden_size=8, epochs=5).fit(X, labels)
    assert list(clf.classes_) == ["neg", "pos"]
    assert set(clf.predict(X)) <= {"neg", "pos"}
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[clf.predict_proba(X).argmax(1)])


def test_score_with_labels_unseen_in_training_is_an_error(seqs):
    X, y = seqs
    clf = RNNClassifier(hidden_size=8, epochs=2).fit(X, y)
    with pytest.raises(RnnlabError, match=r"never saw in training.*\[0, 1\]"):
        clf.score(X, np.where(y == 1, 7, 0))


def test_every_bad_parameter_is_reported_at_once(seqs):
    X, y = seqs
    bad = RNNClassifier(cell="lstn", hidden_size=0, lr=-1, early_stopping=True)
    with pytest.raises(RnnlabError) as e:
        bad.fit(X, y)
    msg = str(e.value)
    assert "cell" in msg and "hidden_size" in msg and "lr" in msg and "validation_fraction > 0" in msg


def test_set_params_suggests_the_near_miss():
    with pytest.raises(RnnlabError, match="did you mean 'hidden_size'"):
        RNNClassifier().set_params(hiden_size=8)


def test_unfitted_predict_raises_not_fitted(seqs):
    with pytest.raises(NotFittedError, match="call fit"):
        RNNRegressor().predict(seqs[0])


def test_early_stopping_stops_and_history_has_validation(seqs):
    X, y = seqs
    clf = RNNClassifier(hidden_size=8, epochs=40, lr=5e-2, validation_fraction=0.25, early_stopping=True,
                        patience=2).fit(X, y)
    assert len(clf.history_) < 40
    assert "val_accuracy" in clf.history_[-1]


def test_partial_fit_continues_and_pickle_keeps_the_optimiser(seqs):
    X, y = seqs
    clf = RNNClassifier(hidden_size=8).partial_fit(X, y, classes=[0, 1])
    clf.partial_fit(X, y)
    assert clf.history_[:, "epoch"] == [1, 2]
    twin = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(twin.predict_proba(X), clf.predict_proba(X))
    clf.partial_fit(X, y)
    twin.partial_fit(X, y)  # same weights, Adam moments and step count → the same third epoch
    np.testing.assert_array_equal(twin.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(RnnlabError, match="classes=..."):
        clone(clf).partial_fit(X, y)


def test_regressor_multi_output_and_target_scaling():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(96, 5, 1))
    Y = np.stack([1000 + 50 * X[:, :, 0].sum(1), X[:, -1, 0]], axis=1)
    reg = RNNRegressor(hidden_size=16, epochs=30).fit(X, Y)
    assert reg.predict(X).shape == (96, 2)
    np.testing.assert_allclose(reg.y_mean_, Y.mean(0))
    assert reg.score(X, Y) > 0.8
