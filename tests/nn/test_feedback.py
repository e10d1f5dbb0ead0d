"""FeedbackRNN: gradients, torch parity, masking, free running, learning, errors."""
from __future__ import annotations

import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.nn.feedback import FeedbackRNN
from rnnlab.nn.functional import ACTIVATIONS
from rnnlab.nn.gradcheck import numerical_grad, rel_error

K, H = 2, 3


def make_net(nonlinearity="tanh", input_size=0, hidden_size=H, seed=0):
    """float64 net with random, non-zero weights and biases (zeros would hide bias mistakes)."""
    net = FeedbackRNN(K, hidden_size, input_size, nonlinearity, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 100)
    for p in net.params.values():
        p[...] = rng.uniform(-0.6, 0.6, p.shape)
    return net


def make_data(B, T, input_size, seed=1):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((B, T, K))
    x = rng.standard_normal((B, T, input_size)) if input_size else None
    y0, h0 = rng.standard_normal((B, K)), rng.standard_normal((B, H))
    return y, x, y0, h0


def predict(net, y_prev, h):
    """ŷ_t = W_yy y_{t-1} + W_yh h_{t-1} + b_y, written out again."""
    p = net.params
    return y_prev @ p["weight_yy"].T + h @ p["weight_yh"].T + p["bias_y"]


def update(net, h, y_t, x_t):
    """h_t = f(W_hy y_t + W_hx x_t + W_hh h_{t-1} + b_h), written out again."""
    p = net.params
    z = y_t @ p["weight_hy"].T + x_t @ p["weight_hx"].T + h @ p["weight_hh"].T + p["bias_h"]
    return ACTIVATIONS[net.nonlinearity](z)


GRAD_CASES = [(nl, I, lens) for nl in ("tanh", "relu") for I in (0, 2) for lens in (None, [4, 2, 1])]


@pytest.mark.parametrize("nl,I,lengths", GRAD_CASES,
                         ids=[f"{nl}-I{I}-{'lengths' if ln else 'full'}" for nl, I, ln in GRAD_CASES])
def test_backward_matches_finite_differences(nl, I, lengths):
    net = make_net(nl, I)
    y, x, y0, h0 = make_data(3, 4, I)
    rng = np.random.default_rng(2)
    c_y, c_h = rng.standard_normal((3, 4, K)), rng.standard_normal((3, H))

    def loss():  # a random linear functional of y_hat and h_n
        y_hat, h_n = net.forward(y, x, lengths, (y0, h0))
        return float(np.sum(c_y * y_hat) + np.sum(c_h * h_n))

    loss()
    dy = net.backward(c_y, c_h)
    analytic = {"y": dy, "y0": net.grad_initial_state[0], "h0": net.grad_initial_state[1],
                **{k: g.copy() for k, g in net.grads.items()}}
    wrt = {"y": y, "y0": y0, "h0": h0, **net.params}
    if I:
        analytic["x"], wrt["x"] = net.grad_x, x
    for name, arr in wrt.items():
        assert rel_error(analytic[name], numerical_grad(loss, arr)) < 1e-6, name


def test_backward_matches_finite_differences_single_step():
    net = make_net("tanh", 1)
    y, x, y0, h0 = make_data(1, 1, 1)

    def loss():
        y_hat, h_n = net.forward(y, x, initial_state=(y0, h0))
        return float(np.sum(y_hat * [1.0, -2.0]) + h_n.sum())

    loss()
    dy = net.backward(np.array([[[1.0, -2.0]]]), np.ones((1, H)))
    for name, a, arr in [("y", dy, y), ("x", net.grad_x, x), ("h0", net.grad_initial_state[1], h0),
                         ("weight_hx", net.grads["weight_hx"].copy(), net.params["weight_hx"])]:
        assert rel_error(a, numerical_grad(loss, arr)) < 1e-6, name


def test_recurrent_dropout_backward_matches_finite_differences(kernel_path):
    net = make_net("tanh", 2)
    net.recurrent_dropout = 0.4
    y, x, y0, h0 = make_data(3, 4, 2)
    c_y = np.random.default_rng(7).standard_normal(y.shape)

    def loss():
        net.rng = np.random.default_rng(5)  # the same mask on every call
        return float(np.sum(c_y * net.forward(y, x, [4, 2, 3], (y0, h0))[0]))

    loss()
    assert net.h_mask.shape == (3, H) and set(np.unique(net.h_mask)) <= {0.0, 1 / 0.6}
    dy = net.backward(c_y)
    analytic = {"y": dy, "x": net.grad_x, "h0": net.grad_initial_state[1],
                **{k: g.copy() for k, g in net.grads.items()}}
    for name, arr in {"y": y, "x": x, "h0": h0, **net.params}.items():
        assert rel_error(analytic[name], numerical_grad(loss, arr)) < 1e-6, name


def test_recurrent_dropout_masks_h_in_the_state_update_only():
    net = make_net("tanh", 0)
    net.recurrent_dropout = 0.5
    y, _, y0, h0 = make_data(2, 5, 0)
    y_hat, h_n = net.forward(y, initial_state=(y0, h0))
    p, m = net.params, net.h_mask
    y_prev, h = y0, h0
    for t in range(5):
        np.testing.assert_allclose(y_hat[:, t], predict(net, y_prev, h), rtol=1e-12)  # ŷ sees h whole
        # h_t = tanh(W_hy y_t + W_hh (h_{t-1} ⊙ m_h) + b_h)
        h = np.tanh(y[:, t] @ p["weight_hy"].T + (h * m) @ p["weight_hh"].T + p["bias_h"])
        y_prev = y[:, t]
    np.testing.assert_allclose(h_n, h, rtol=1e-12)


def test_recurrent_dropout_is_off_at_inference():
    net, plain = make_net("tanh", 0), make_net("tanh", 0)
    net.recurrent_dropout = 0.5
    y = make_data(2, 5, 0)[0]
    net.eval()
    np.testing.assert_array_equal(net.forward(y)[0], plain.forward(y)[0])
    assert net.h_mask is None


@pytest.mark.parametrize("nl", ["tanh", "relu"])
@pytest.mark.parametrize("use_lengths", [False, True], ids=["full", "lengths"])
def test_forward_and_grads_match_torch(nl, use_lengths):
    torch = pytest.importorskip("torch")
    B, T, I = 3, 6, 2
    net = make_net(nl, I)
    y, x, y0, h0 = make_data(B, T, I)
    lengths = np.array([6, 3, 1]) if use_lengths else None
    rng = np.random.default_rng(3)
    c_y, c_h = rng.standard_normal((B, T, K)), rng.standard_normal((B, H))
    y_hat, h_n = net.forward(y, x, lengths, (y0, h0))
    dy = net.backward(c_y, c_h)

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    ty, tx, ty0, th0 = (torch.tensor(a, requires_grad=True) for a in (y, x, y0, h0))
    f = {"tanh": torch.tanh, "relu": torch.relu}[nl]
    y_prev, h, outs = ty0, th0, []
    for t in range(T):
        m = torch.ones(B, 1, dtype=torch.float64) if lengths is None else \
            torch.tensor((t < lengths).astype(np.float64))[:, None]
        outs.append(m * (y_prev @ tp["weight_yy"].T + h @ tp["weight_yh"].T + tp["bias_y"]))
        h_new = f(ty[:, t] @ tp["weight_hy"].T + tx[:, t] @ tp["weight_hx"].T + h @ tp["weight_hh"].T + tp["bias_h"])
        h = m * h_new + (1 - m) * h
        y_prev = ty[:, t]
    t_yhat = torch.stack(outs, 1)
    (torch.sum(t_yhat * torch.tensor(c_y)) + torch.sum(h * torch.tensor(c_h))).backward()

    np.testing.assert_allclose(y_hat, t_yhat.detach().numpy(), atol=1e-10, rtol=0)
    np.testing.assert_allclose(h_n, h.detach().numpy(), atol=1e-10, rtol=0)
    for k in net.params:
        np.testing.assert_allclose(net.grads[k], tp[k].grad.numpy(), atol=1e-10, rtol=0, err_msg=k)
    for ours, theirs in [(dy, ty), (net.grad_x, tx), (net.grad_initial_state[0], ty0),
                         (net.grad_initial_state[1], th0)]:
        np.testing.assert_allclose(ours, theirs.grad.numpy(), atol=1e-10, rtol=0)


def test_masked_tail_equals_shorter_sequence():
    net = make_net("tanh", 2)
    y, x, y0, h0 = make_data(2, 5, 2)
    L, rng = 3, np.random.default_rng(4)
    d_y, d_h = rng.standard_normal((2, 5, K)), rng.standard_normal((2, H))
    y_hat, h_n = net.forward(y, x, [5, L], (y0, h0))
    dy = net.backward(d_y, d_h)
    grads, dx = {k: g.copy() for k, g in net.grads.items()}, net.grad_x
    # the same two sequences run separately, the second cut to its length
    y_a, h_a = net.forward(y[:1], x[:1], initial_state=(y0[:1], h0[:1]))
    net.backward(d_y[:1], d_h[:1])
    grads_a = {k: g.copy() for k, g in net.grads.items()}
    y_b, h_b = net.forward(y[1:, :L], x[1:, :L], initial_state=(y0[1:], h0[1:]))
    dy_b = net.backward(d_y[1:, :L], d_h[1:])
    np.testing.assert_allclose(y_hat[:1], y_a, atol=1e-12)
    np.testing.assert_allclose(y_hat[1:, :L], y_b, atol=1e-12)
    assert np.all(y_hat[1, L:] == 0)
    np.testing.assert_allclose(h_n, np.concatenate([h_a, h_b]), atol=1e-12)
    np.testing.assert_allclose(dy[1:, :L], dy_b, atol=1e-12)
    np.testing.assert_allclose(dx[1:, :L], net.grad_x, atol=1e-12)
    assert np.all(dy[1, L:] == 0) and np.all(dx[1, L:] == 0)
    for k in grads:
        np.testing.assert_allclose(grads[k], grads_a[k] + net.grads[k], atol=1e-12, err_msg=k)


def test_generate_without_noise_equals_the_equations_step_by_step():
    net = make_net("tanh", 2)
    y_ctx, x_ctx, _, _ = make_data(2, 4, 2)
    x_free = np.random.default_rng(5).standard_normal((2, 6, 2))
    out = net.generate(6, y_context=y_ctx, x=x_free, x_context=x_ctx)
    y_prev, h = np.zeros((2, K)), np.zeros((2, H))
    for t in range(4):  # teacher-forced warm-up
        h, y_prev = update(net, h, y_ctx[:, t], x_ctx[:, t]), y_ctx[:, t]
    for t in range(6):  # running free: the prediction is the next input
        y_t = predict(net, y_prev, h)
        np.testing.assert_allclose(out[:, t], y_t, atol=1e-12)
        h, y_prev = update(net, h, y_t, x_free[:, t]), y_t


def test_generate_without_noise_is_a_fixed_point_of_forward():
    net = make_net("relu", 0)
    y_ctx = make_data(3, 5, 0)[0]
    out = net.generate(4, y_context=y_ctx)
    y_hat, _ = net.forward(np.concatenate([y_ctx, out], axis=1))
    np.testing.assert_allclose(y_hat[:, 5:], out, atol=1e-12)


def test_generate_with_the_same_seed_is_reproducible():
    net = make_net("tanh", 0)
    a = net.generate(8, noise_std=0.3, rng=7, batch_size=2)
    b = net.generate(8, noise_std=0.3, rng=np.random.default_rng(7), batch_size=2)
    assert a.shape == (2, 8, K)
    np.testing.assert_array_equal(a, b)


def test_generate_with_noise_differs_from_without():
    net = make_net("tanh", 0)
    y_ctx = make_data(1, 3, 0)[0]
    clean = net.generate(5, y_context=y_ctx)
    noisy = net.generate(5, y_context=y_ctx, noise_std=0.1, rng=0)
    assert np.all(np.abs(noisy - clean).sum(axis=2) > 1e-3)


def test_generate_does_not_disturb_a_pending_backward():
    net = make_net("tanh", 0)
    y = make_data(2, 4, 0)[0]
    net.forward(y)
    dy = net.backward(np.ones((2, 4, K)))
    net.forward(y)
    net.generate(3, y_context=y[:, :2])
    np.testing.assert_array_equal(net.backward(np.ones((2, 4, K))), dy)


def test_parameter_names_shapes_and_seeded_init():
    a, b = FeedbackRNN(2, 5, 3, seed=11), FeedbackRNN(2, 5, 3, seed=11)
    shapes = {k: v.shape for k, v in a.params.items()}
    assert shapes == {"weight_yy": (2, 2), "weight_yh": (2, 5), "bias_y": (2,), "weight_hy": (5, 2),
                      "weight_hx": (5, 3), "weight_hh": (5, 5), "bias_h": (5,)}
    assert all(np.array_equal(a.params[k], b.params[k]) for k in shapes)
    assert not np.any(a.params["bias_y"]) and not np.any(a.params["bias_h"])
    np.testing.assert_allclose(a.params["weight_hh"] @ a.params["weight_hh"].T, np.eye(5), atol=1e-5)
    assert "weight_hx" not in FeedbackRNN(2, 5).params


def test_learns_one_step_ahead_prediction_of_a_noisy_sine():
    rng = np.random.default_rng(0)
    B, T, noise = 16, 40, 0.05
    t = np.arange(T)[None, :] * 0.3 + rng.uniform(0, 2 * np.pi, (B, 1))
    y = (np.sin(t) + noise * rng.standard_normal((B, T)))[:, :, None]
    net = FeedbackRNN(1, 12, seed=0, dtype=np.float64)
    var = y[:, 1:].var()
    mse = lambda: float(((net.forward(y)[0] - y)[:, 1:] ** 2).mean())  # noqa: E731 (step 0 is unpredictable)
    start = mse()
    m = {k: np.zeros_like(p) for k, p in net.params.items()}
    v = {k: np.zeros_like(p) for k, p in net.params.items()}
    lr, b1, b2 = 0.01, 0.9, 0.999
    for step in range(1, 301):  # Adam, written inline
        y_hat, _ = net.forward(y)
        err = (y_hat - y)
        err[:, 0] = 0
        net.backward(2 * err / err[:, 1:].size)
        for k, p in net.params.items():
            g = net.grads[k]
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            p -= lr * (m[k] / (1 - b1**step)) / (np.sqrt(v[k] / (1 - b2**step)) + 1e-8)
    end = mse()
    naive = float(((y[:, 1:] - y[:, :-1]) ** 2).mean())  # "tomorrow equals today"
    assert end < 0.03 * var, (start / var, end / var)   # noise floor is about 0.005 * var
    assert end < naive / 2 and end < start / 5


def _bad_calls():
    net = FeedbackRNN(2, 3, seed=0)
    net_x = FeedbackRNN(2, 3, input_size=4, seed=0)
    y = np.zeros((2, 5, 2))
    nan_y = y.copy()
    nan_y[0, 1, 0] = np.nan
    return [
        ("output_size", lambda: FeedbackRNN(0, 3)),
        ("input_size", lambda: FeedbackRNN(2, 3, input_size=-1)),
        ("nonlinearity", lambda: FeedbackRNN(2, 3, nonlinearity="gelu")),
        (r"recurrent_dropout must be a probability in \[0, 1\)", lambda: FeedbackRNN(2, 3, recurrent_dropout=1.0)),
        (r"y \(batch, time, 2\)", lambda: net.forward(np.zeros((2, 5)))),
        (r"y \(batch, time, 2\)", lambda: net.forward(np.zeros((2, 5, 3)))),
        ("y contains NaN", lambda: net.forward(nan_y)),
        (r"x \(2, 5, 4\)", lambda: net_x.forward(y)),
        (r"x \(2, 5, 4\)", lambda: net_x.forward(y, np.zeros((2, 4, 4)))),
        ("input_size=0", lambda: net.forward(y, np.zeros((2, 5, 1)))),
        (r"lengths must lie in \[1, 5\]", lambda: net.forward(y, lengths=[0, 5])),
        (r"lengths must lie in \[1, 5\]", lambda: net.forward(y, lengths=[6, 5])),
        (r"lengths expected an integer array of shape \(2,\)", lambda: net.forward(y, lengths=[1.5, 2.0])),
        (r"h0 of shape \(2, 3\)", lambda: net.forward(y, initial_state=(None, np.zeros((3,))))),
        (r"d_yhat expected shape \(2, 5, 2\)", lambda: (net.forward(y), net.backward(np.zeros((2, 4, 2))))),
        (r"d_state expected shape \(2, 3\)",
         lambda: (net.forward(y), net.backward(np.zeros((2, 5, 2)), np.zeros(3)))),
        ("backward called before forward", lambda: FeedbackRNN(2, 3).backward(np.zeros((1, 1, 2)))),
        ("steps", lambda: net.generate(0)),
        ("noise_std", lambda: net.generate(3, noise_std=-1.0)),
        (r"x \(1, 3, 4\)", lambda: net_x.generate(3)),
        (r"x_context \(1, 2, 4\)", lambda: net_x.generate(3, np.zeros((1, 2, 2)), np.zeros((1, 3, 4)))),
        (r"y_context \(batch, time, 2\)", lambda: net.generate(3, y_context=np.zeros((1, 2)))),
    ]


@pytest.mark.parametrize("match,call", _bad_calls(), ids=[f"{i}-{m[:20]}" for i, (m, _) in enumerate(_bad_calls())])
def test_bad_input_raises_rnnlab_error_naming_the_argument(match, call):
    with pytest.raises(RnnlabError, match=match):
        call()
