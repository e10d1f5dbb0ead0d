"""Embedding, Dense and Dropout: finite-difference gradients, torch layout, modes and input errors."""
import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.nn.gradcheck import numerical_grad, rel_error
from rnnlab.nn.layers import Dense, Dropout, Embedding


def _loss_and_grads(layer, x, rng):
    """L = Σ out ⊙ R for a fixed random R: every output element gets a distinct weight."""
    out = layer.forward(x)
    R = rng.standard_normal(out.shape)
    f = lambda: float(np.sum(layer.forward(x) * R))  # noqa: E731
    layer.forward(x)
    dx = layer.backward(R)
    return f, dx


# -- Embedding ------------------------------------------------------------------------------------
def test_embedding_forward_gathers_rows_with_trailing_axis():
    emb = Embedding(7, 3, seed=0)
    ids = np.array([[1, 2, 6], [0, 0, 5]])
    out = emb.forward(ids)
    assert out.shape == (2, 3, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[1, 2], emb.params["weight"][5])


def test_embedding_padding_row_starts_at_zero():
    emb = Embedding(6, 4, padding_idx=-1, seed=0)
    assert emb.padding_idx == 5
    assert not emb.params["weight"][5].any() and emb.params["weight"][:5].all()


@pytest.mark.parametrize("padding_idx", [None, 0], ids=["no_pad", "pad0"])
def test_embedding_weight_grad_matches_finite_differences(padding_idx):
    rng = np.random.default_rng(1)
    emb = Embedding(5, 3, padding_idx=padding_idx, seed=2, dtype=np.float64)
    ids = rng.integers(0, 5, size=(3, 4))  # 12 draws from 5 ids: repeats are certain
    f, d_ids = _loss_and_grads(emb, ids, rng)
    assert d_ids is None
    num = numerical_grad(f, emb.params["weight"])
    if padding_idx is not None:
        num[padding_idx] = 0.0  # the padding row is frozen, whatever the loss says
    assert rel_error(emb.grads["weight"], num) < 1e-6


def test_embedding_padding_row_gets_zero_gradient():
    rng = np.random.default_rng(3)
    emb = Embedding(4, 2, padding_idx=1, seed=0)
    emb.forward(np.array([[1, 1, 2]]))
    emb.backward(rng.standard_normal((1, 3, 2)))
    assert not emb.grads["weight"][1].any() and emb.grads["weight"][2].any()


def test_embedding_scatter_equals_np_add_at():
    rng = np.random.default_rng(4)
    emb = Embedding(50, 8, seed=0, dtype=np.float64)
    ids = rng.integers(0, 50, size=(16, 20))
    d = rng.standard_normal((16, 20, 8))
    emb.forward(ids)
    emb.backward(d)
    ref = np.zeros((50, 8))
    np.add.at(ref, ids.ravel(), d.reshape(-1, 8))
    np.testing.assert_allclose(emb.grads["weight"], ref, rtol=1e-12, atol=1e-12)


def test_embedding_rejects_out_of_range_ids():
    with pytest.raises(RnnlabError, match=r"\[0, 5\)"):
        Embedding(5, 2, seed=0).forward(np.array([[0, 5]]))


def test_embedding_rejects_float_ids():
    with pytest.raises(RnnlabError, match="integer ids"):
        Embedding(5, 2, seed=0).forward(np.array([0.0, 1.0]))


def test_embedding_rejects_bad_sizes_all_at_once():
    with pytest.raises(RnnlabError, match="num_embeddings.*embedding_dim"):
        Embedding(0, -2)


# -- Dense --------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 5), (1, 5), (3, 2, 5), (2, 1, 5)], ids=lambda s: "x".join(map(str, s)))
def test_dense_grads_match_finite_differences(shape):
    rng = np.random.default_rng(5)
    layer = Dense(5, 3, seed=6, dtype=np.float64)
    layer.params["bias"][...] = rng.standard_normal(3)  # non-zero bias, unlike the initialiser
    x = rng.standard_normal(shape)
    f, dx = _loss_and_grads(layer, x, rng)
    assert rel_error(dx, numerical_grad(f, x)) < 1e-6
    for name in ("weight", "bias"):
        assert rel_error(layer.grads[name], numerical_grad(f, layer.params[name])) < 1e-6


def test_dense_without_bias_has_only_weight():
    layer = Dense(4, 2, bias=False, seed=0)
    assert list(layer.params) == ["weight"] and layer.num_parameters() == 8


def test_dense_time_distributed_equals_per_step():
    rng = np.random.default_rng(7)
    layer = Dense(4, 3, seed=0, dtype=np.float64)
    x = rng.standard_normal((2, 5, 4))
    y = layer.forward(x)
    for t in range(5):
        np.testing.assert_allclose(y[:, t], layer.forward(x[:, t]), rtol=1e-12)


def test_dense_matches_torch_linear():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    layer = Dense(6, 4, seed=9, dtype=np.float64)
    layer.params["bias"][...] = rng.standard_normal(4)
    lin = torch.nn.Linear(6, 4).double()
    lin.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    x, d = rng.standard_normal((3, 2, 6)), rng.standard_normal((3, 2, 4))
    xt = torch.tensor(x, requires_grad=True)
    yt = lin(xt)
    yt.backward(torch.from_numpy(d))
    np.testing.assert_allclose(layer.forward(x), yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.backward(d), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.grads["weight"], lin.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], lin.bias.grad.numpy(), rtol=1e-12)


def test_dense_glorot_bound_and_zero_bias():
    layer = Dense(30, 20, seed=0)
    a = np.sqrt(6 / 50)
    assert np.abs(layer.params["weight"]).max() <= a and not layer.params["bias"].any()


def test_dense_rejects_wrong_feature_size():
    with pytest.raises(RnnlabError, match=r"Dense expected input \(\.\.\., 8\) but got \(32, 3\)"):
        Dense(8, 2, seed=0).forward(np.zeros((32, 3)))


def test_dense_backward_rejects_wrong_gradient_shape():
    layer = Dense(3, 2, seed=0)
    layer.forward(np.zeros((4, 3)))
    with pytest.raises(RnnlabError, match=r"expected d_out \(4, 2\)"):
        layer.backward(np.zeros((4, 3)))


def test_dense_backward_before_forward_is_an_error():
    with pytest.raises(RnnlabError, match="before forward"):
        Dense(3, 2, seed=0).backward(np.zeros((1, 2)))


# -- Dropout -------------------------------------------------------------------------------------
def test_dropout_grad_matches_finite_differences():
    rng = np.random.default_rng(10)
    x, R = rng.standard_normal((4, 3, 5)), rng.standard_normal((4, 3, 5))
    # a fresh layer with the same seed draws the same mask, which makes the map deterministic
    f = lambda: float(np.sum(Dropout(0.3, seed=11, dtype=np.float64).forward(x) * R))  # noqa: E731
    layer = Dropout(0.3, seed=11, dtype=np.float64)
    layer.forward(x)
    assert rel_error(layer.backward(R), numerical_grad(f, x)) < 1e-6


def test_dropout_scales_kept_units_by_inverse_keep_probability():
    x = np.ones((200, 50))
    y = Dropout(0.25, seed=0).forward(x)
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs(y.mean() - 1.0) < 0.02


def test_dropout_backward_uses_forward_mask():
    layer = Dropout(0.5, seed=0)
    y = layer.forward(np.ones((6, 7)))
    np.testing.assert_array_equal(layer.backward(np.ones((6, 7))), y)


@pytest.mark.parametrize("p, training", [(0.5, False), (0.0, True)], ids=["eval", "p0"])
def test_dropout_is_identity_in_eval_or_p_zero(p, training):
    x = np.random.default_rng(12).standard_normal((3, 4)).astype(np.float32)
    layer = Dropout(p, seed=0).train(training)
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)


def test_dropout_same_seed_same_mask():
    x = np.ones((5, 5))
    np.testing.assert_array_equal(Dropout(0.5, seed=3).forward(x), Dropout(0.5, seed=3).forward(x))


@pytest.mark.parametrize("p", [1.0, -0.1, "0.5", True])
def test_dropout_rejects_bad_probability(p):
    with pytest.raises(RnnlabError, match=r"p must be a probability in \[0, 1\)"):
        Dropout(p)
