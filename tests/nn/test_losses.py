"""MSE, BCE-with-logits and cross-entropy: finite-difference gradients, masks, torch values, errors."""
import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.nn.gradcheck import numerical_grad, rel_error
from rnnlab.nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss


def _data(kind, shape, rng):
    """(pred, target) for a loss kind; pred has ``shape`` (classes last for CE)."""
    pred = rng.standard_normal(shape) * 2
    if kind == "mse":
        return pred, rng.standard_normal(shape)
    if kind == "bce":
        return pred, rng.random(shape)  # soft labels exercise the full formula
    return pred, rng.integers(0, shape[-1], size=shape[:-1])


LOSSES = {"mse": MSELoss, "bce": BCEWithLogitsLoss, "ce": CrossEntropyLoss}
CASES = [  # (kind, pred shape, mask shape or None)
    ("mse", (4, 3), None), ("mse", (3, 5, 2), (3, 5)), ("mse", (6,), (6,)),
    ("bce", (5, 1), None), ("bce", (3, 4, 2), (3, 4)), ("bce", (4, 3), (4,)),
    ("ce", (5, 4), None), ("ce", (4, 3), (4,)), ("ce", (3, 5, 4), None), ("ce", (3, 5, 4), (3, 5)),
]


def _case_id(case):
    kind, shape, mask = case
    return f"{kind}-{'x'.join(map(str, shape))}" + ("-masked" if mask else "")


def _mask(shape, rng):
    m = rng.random(shape) < 0.6
    m.flat[0] = True  # at least one kept position
    return m


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_gradient_matches_finite_differences(case):
    kind, shape, mask_shape = case
    rng = np.random.default_rng(0)
    pred, target = _data(kind, shape, rng)
    mask = None if mask_shape is None else _mask(mask_shape, rng)
    loss = LOSSES[kind]()
    loss.forward(pred, target, mask)
    grad = loss.backward()
    assert grad.shape == pred.shape
    num = numerical_grad(lambda: loss.forward(pred, target, mask), pred)
    assert rel_error(grad, num) < 1e-6


@pytest.mark.parametrize("case", [c for c in CASES if c[2]], ids=_case_id)
def test_masked_value_is_the_mean_over_kept_positions_only(case):
    kind, shape, mask_shape = case
    rng = np.random.default_rng(1)
    pred, target = _data(kind, shape, rng)
    mask = _mask(mask_shape, rng)
    loss = LOSSES[kind]()
    value = loss.forward(pred, target, mask)
    assert not loss.backward()[~mask].any()
    # boolean indexing by the leading-axes mask keeps (n, trailing...) positions: the same mean
    assert value == pytest.approx(LOSSES[kind]().forward(pred[mask], target[mask]), rel=1e-12)


def test_ce_ignore_index_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    z, y = _data("ce", (3, 6, 5), rng)
    y[rng.random(y.shape) < 0.3] = -100
    y[0, 0] = 1
    loss = CrossEntropyLoss(ignore_index=-100)
    loss.forward(z, y)
    num = numerical_grad(lambda: loss.forward(z, y), z)
    assert rel_error(loss.backward(), num) < 1e-6


def test_ce_ignore_index_equals_mask():
    rng = np.random.default_rng(3)
    z, y = _data("ce", (4, 5, 3), rng)
    pad = rng.random(y.shape) < 0.4
    a = CrossEntropyLoss().forward(z, y, ~pad)
    b = CrossEntropyLoss(ignore_index=7).forward(z, np.where(pad, 7, y))
    assert a == pytest.approx(b, rel=1e-12)


@pytest.mark.parametrize("kind", ["mse", "bce", "ce"])
def test_value_and_grad_match_torch(kind):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(4)
    pred, target = _data(kind, (6, 4), rng)
    if kind == "ce":
        target[1] = -100  # torch's default ignore_index
    loss = {"mse": MSELoss(), "bce": BCEWithLogitsLoss(), "ce": CrossEntropyLoss(ignore_index=-100)}[kind]
    value = loss.forward(pred, target)
    pt = torch.tensor(pred, requires_grad=True)
    fn = {"mse": F.mse_loss, "bce": F.binary_cross_entropy_with_logits, "ce": F.cross_entropy}[kind]
    ref = fn(pt, torch.from_numpy(target))
    ref.backward()
    assert value == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), pt.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("kind", ["bce", "ce"])
def test_large_logits_stay_finite(kind):
    pred = np.array([[1e4, -1e4], [-1e4, 1e4]])
    target = np.array([[0.0, 1.0], [1.0, 0.0]]) if kind == "bce" else np.array([1, 0])
    loss = LOSSES[kind]()
    value = loss.forward(pred, target)
    assert np.isfinite(value) and value > 1e3 and np.all(np.isfinite(loss.backward()))


@pytest.mark.parametrize("kind", ["mse", "bce", "ce"])
def test_fully_masked_batch_gives_zero_value_and_gradient(kind):
    pred, target = _data(kind, (3, 4, 2), np.random.default_rng(5))
    loss = LOSSES[kind]()
    assert loss.forward(pred, target, np.zeros((3, 4), bool)) == 0.0
    assert not loss.backward().any()


@pytest.mark.parametrize("kind", ["mse", "bce", "ce"])
def test_float32_pred_gives_float_value_and_float32_gradient(kind):
    pred, target = _data(kind, (4, 3), np.random.default_rng(6))
    loss = LOSSES[kind]()
    assert isinstance(loss.forward(pred.astype(np.float32), target), float)
    assert loss.backward().dtype == np.float32


def test_bce_accepts_column_logits_with_flat_labels():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((5, 1)), (rng.random(5) < 0.5).astype(float)
    loss = BCEWithLogitsLoss()
    assert loss.forward(x, y) == pytest.approx(BCEWithLogitsLoss().forward(x, y[:, None]), rel=1e-15)
    assert loss.backward().shape == (5, 1)


PRED = np.random.default_rng(8).standard_normal((3, 4))


@pytest.mark.parametrize("kind, check", [
    ("mse", lambda p: np.array_equal(p, PRED)),
    ("bce", lambda p: np.allclose(p, 1 / (1 + np.exp(-PRED)))),
    ("ce", lambda p: np.allclose(p.sum(-1), 1) and np.array_equal(p.argmax(-1), PRED.argmax(-1))),
])
def test_predict_transform_maps_outputs_to_predictions(kind, check):
    assert check(LOSSES[kind]().predict_transform(PRED))


def test_ce_rejects_out_of_range_targets():
    with pytest.raises(RnnlabError, match=r"targets must lie in \[0, 3\).*ignore_index"):
        CrossEntropyLoss().forward(np.zeros((2, 3)), np.array([0, 3]))


def test_ce_rejects_float_targets():
    with pytest.raises(RnnlabError, match="integer class ids"):
        CrossEntropyLoss().forward(np.zeros((2, 3)), np.array([0.0, 1.0]))


def test_ce_rejects_mismatched_shapes():
    with pytest.raises(RnnlabError, match=r"logits \(2, 5, 3\) and targets \(2, 4\)"):
        CrossEntropyLoss().forward(np.zeros((2, 5, 3)), np.zeros((2, 4), int))


def test_mse_rejects_mismatched_target():
    with pytest.raises(RnnlabError, match=r"shape \(4, 3\) but got \(4, 2\)"):
        MSELoss().forward(np.zeros((4, 3)), np.zeros((4, 2)))


def test_bce_rejects_targets_outside_unit_interval():
    with pytest.raises(RnnlabError, match=r"\[0, 1\]"):
        BCEWithLogitsLoss().forward(np.zeros(3), np.array([0.0, 2.0, 1.0]))


def test_rejects_mask_of_wrong_shape():
    with pytest.raises(RnnlabError, match=r"mask .* but got \(3, 5\)"):
        MSELoss().forward(np.zeros((3, 4, 2)), np.zeros((3, 4, 2)), np.ones((3, 5)))


def test_backward_before_forward_is_an_error():
    with pytest.raises(RnnlabError, match="before forward"):
        MSELoss().backward()
