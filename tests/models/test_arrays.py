"""Array checks and batching: lengths from padding, bucketing, trimming and the validation split."""
import numpy as np
import pytest

from rnnlab.errors import DataScaleWarning, RnnlabError
from rnnlab.models import arrays


def _lengths(n=400, T=40, seed=0):
    return np.random.default_rng(seed).integers(1, T + 1, n)


@pytest.mark.parametrize("bucket", [False, True], ids=["random", "bucketed"])
def test_batches_cover_every_index_once(bucket):
    L = _lengths()
    batches = arrays.batch_indices(400, 32, np.random.default_rng(1), lengths=L, bucket=bucket)
    assert sorted(len(b) for b in batches) == [16] + [32] * 12
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(400))


def test_bucketing_cuts_padding_and_still_changes_between_epochs():
    L, rng = _lengths(), np.random.default_rng(2)

    def padding(batches):  # padded steps when each batch is cut to its longest sequence
        return sum(int(L[b].max() * len(b) - L[b].sum()) for b in batches)

    random = arrays.batch_indices(400, 32, rng)
    e1 = arrays.batch_indices(400, 32, rng, lengths=L, bucket=True)
    e2 = arrays.batch_indices(400, 32, rng, lengths=L, bucket=True)
    assert padding(e1) < padding(random) / 5
    assert any(not np.array_equal(a, b) for a, b in zip(e1, e2))


def test_unshuffled_batches_keep_the_order():
    np.testing.assert_array_equal(np.concatenate(arrays.batch_indices(10, 4, shuffle=False)), np.arange(10))


def test_take_cuts_to_the_longest_sequence_and_drops_lengths_without_padding():
    X = np.arange(2 * 5).reshape(2, 5)
    y = np.arange(2 * 5).reshape(2, 5) * 10
    Xb, yb, Lb = arrays.take(np.array([0, 1]), X, y, np.array([3, 2]), per_step=True)
    assert Xb.shape == (2, 3) and yb.shape == (2, 3) and Lb.tolist() == [3, 2]
    Xb, yb, Lb = arrays.take(np.array([1]), X, y[:, 0], np.array([3, 2]))
    assert Xb.shape == (1, 2) and yb.shape == (1,) and Lb is None


def test_lengths_from_right_padding():
    X = np.array([[4, 5, 0], [6, 0, 0], [1, 2, 3]])
    assert arrays.lengths_from_padding(X, 0).tolist() == [2, 1, 3]
    assert arrays.lengths_from_padding(X[2:], 0) is None       # nothing padded


@pytest.mark.parametrize("X, match", [
    (np.array([[0, 5, 6]]), "right-padded"),
    (np.array([[4, 0, 6]]), "right-padded"),
    (np.array([[1, 2], [0, 0]]), "only padding"),
], ids=["left", "inside", "empty_row"])
def test_lengths_from_padding_rejects(X, match):
    with pytest.raises(RnnlabError, match=match):
        arrays.lengths_from_padding(X, 0)


@pytest.mark.parametrize("lengths, match", [
    ([1, 2], "expected 3 integers"),
    ([1.0, 2.0, 3.0], "expected 3 integers"),
    ([1, 0, 2], "length 0"),
    ([1, 2, 9], "only 4 steps"),
], ids=["count", "floats", "zero", "too_long"])
def test_check_lengths_rejects(lengths, match):
    with pytest.raises(RnnlabError, match=match):
        arrays.check_lengths(lengths, 3, 4)


def test_split_is_keras_sized_disjoint_and_seeded():
    tr, va = arrays.split_validation(10, 0.25, np.random.default_rng(3))
    assert len(tr) == int(10 * 0.75) and len(va) == 3
    assert sorted(np.r_[tr, va].tolist()) == list(range(10))
    tr2, va2 = arrays.split_validation(10, 0.25, np.random.default_rng(3))
    np.testing.assert_array_equal(va, va2)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, "0.2", True])
def test_split_rejects_bad_fractions(fraction):
    with pytest.raises(RnnlabError, match="validation_split"):
        arrays.split_validation(10, fraction, np.random.default_rng(0))


def test_targets_without_a_trailing_unit_axis_are_accepted():
    y = arrays.check_targets(np.zeros(4), N=4, T=3, per_step=False, n_outputs=1, loss="mse")
    assert y.shape == (4, 1)
    y = arrays.check_targets(np.zeros((4, 3)), N=4, T=3, per_step=True, n_outputs=1, loss="bce")
    assert y.shape == (4, 3, 1)


def test_class_ids_are_checked_only_on_valid_steps():
    y = np.array([[1, 1, 99], [0, 99, 99]])      # 99 in the padding
    arrays.check_targets(y, N=2, T=3, per_step=True, n_outputs=2, loss="cross_entropy",
                         lengths=np.array([2, 1]))
    with pytest.raises(RnnlabError, match=r"\[0, 2\)"):
        arrays.check_targets(y, N=2, T=3, per_step=True, n_outputs=2, loss="cross_entropy")


# -- scale warning ------------------------------------------------------------------------------
def _fit_warnings(X, lengths=None):
    import warnings

    from rnnlab import nn
    from rnnlab.models import Sequential

    model = Sequential([nn.GRU(X.shape[2], 4, return_sequences=False, seed=0), nn.Dense(4, 2, seed=1)])
    model.compile("cross_entropy", "adam")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, np.arange(len(X)) % 2, lengths=lengths, epochs=1, progress=False)
    return [w for w in caught if issubclass(w.category, DataScaleWarning)]


@pytest.mark.parametrize("scale, warned", [(1.0, False), (1e3, True), (1e-4, False)])
def test_fit_warns_about_a_feature_far_above_unit_scale(scale, warned):
    X = np.random.default_rng(0).standard_normal((16, 5, 3)).astype(np.float32)
    X[:, :, 1] *= scale           # one tiny feature among normal ones is fine (a dark image border)
    found = _fit_warnings(X)
    assert bool(found) == warned
    if warned:
        assert "feature 1" in str(found[0].message) and "standardise" in str(found[0].message)


def test_fit_warns_when_every_feature_is_tiny():
    X = 1e-4 * np.random.default_rng(0).standard_normal((16, 5, 3)).astype(np.float32)
    assert _fit_warnings(X)


def test_the_scale_is_measured_on_valid_steps_only():
    X = 0.15 * np.random.default_rng(0).standard_normal((16, 400, 2)).astype(np.float32)
    X[:, 1:] = 0.0        # 399 padded zeros would bring the root mean square down to 0.0075
    assert not _fit_warnings(X, lengths=np.full(16, 1))
