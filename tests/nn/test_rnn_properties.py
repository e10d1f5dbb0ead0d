"""Properties of the recurrent layers, one per test: direction, masking, statefulness, seeds, dropout, dtype."""
import numpy as np
import pytest

from rnnlab import nn
from rnnlab.nn import checks
from rnnlab.nn.gradcheck import numerical_grad, rel_error

CELLS = checks.CELLS
close = dict(rtol=1e-10, atol=1e-12)  # float64: only summation order may differ


def _flip(a, lengths=None):
    """Reverse each sequence (axis 1) within its own length; padding stays where it is."""
    a = np.array(a)
    for b, n in enumerate(lengths if lengths is not None else [a.shape[1]] * a.shape[0]):
        a[b, :n] = a[b, :n][::-1].copy()
    return a


def _states(state):
    return list(state) if isinstance(state, tuple) else [state]


def _pack(arrays):
    """The inverse of ``_states``: (h, c) for the LSTM, h otherwise."""
    return tuple(arrays) if len(arrays) == 2 else arrays[0]


def _direction(bi, cell, reverse, **kw):
    """A unidirectional layer holding one direction's weights of the bidirectional layer ``bi``."""
    uni = checks.make_layer(cell, bi.input_size, bi.hidden_size, rng=np.random.default_rng(99), **kw)
    sd = bi.state_dict()
    uni.load_state_dict({k.replace("_reverse", ""): v for k, v in sd.items() if k.endswith("_reverse") == reverse})
    return uni


@pytest.mark.parametrize("lengths", [None, [5, 2, 4]], ids=["full", "lengths"])
@pytest.mark.parametrize("cell", CELLS)
def test_reverse_direction_equals_flipping_input_and_output(cell, lengths, kernel_path):
    rng = np.random.default_rng(1)
    bi = checks.make_layer(cell, 3, 4, rng=rng, bidirectional=True)
    rev = _direction(bi, cell, reverse=True)
    x = rng.standard_normal((3, 5, 3))
    out, state = bi.forward(x, lengths=lengths)
    out_r, state_r = rev.forward(_flip(x, lengths), lengths=lengths)
    np.testing.assert_allclose(out[..., 4:], _flip(out_r, lengths), **close)
    for s, s_r in zip(_states(state), _states(state_r)):
        np.testing.assert_allclose(s[1], s_r[0], **close)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell", CELLS)
def test_masked_tail_equals_the_shorter_sequence_alone(cell, bidirectional, kernel_path):
    rng = np.random.default_rng(2)
    layer = checks.make_layer(cell, 3, 4, rng=rng, bidirectional=bidirectional)
    x, lengths, n = rng.standard_normal((3, 6, 3)), np.array([6, 3, 5]), 3  # row 1 is the short one
    out, state = layer.forward(x, lengths=lengths)
    # upstream gradient only on row 1, its padded tail included: the layer must ignore that part
    d_out = np.zeros_like(out)
    d_out[1] = rng.standard_normal(out.shape[1:])
    d_state = [np.zeros_like(s) for s in _states(state)]
    for d in d_state:
        d[:, 1] = rng.standard_normal(d[:, 1].shape)
    dx = layer.backward(d_out, _pack(d_state))
    grads = {k: g.copy() for k, g in layer.grads.items()}
    g0 = [g.copy() for g in _states(layer.grad_initial_state)]

    out1, state1 = layer.forward(x[1:2, :n])
    dx1 = layer.backward(d_out[1:2, :n], _pack([d[:, 1:2] for d in d_state]))
    np.testing.assert_allclose(out[1:2, :n], out1, **close)
    assert not out[1, n:].any() and not dx[1, n:].any() and not dx[[0, 2]].any()
    np.testing.assert_allclose(dx[1:2, :n], dx1, **close)
    for s, s1 in zip(_states(state), _states(state1)):
        np.testing.assert_allclose(s[:, 1:2], s1, **close)
    for k, g in grads.items():
        np.testing.assert_allclose(g, layer.grads[k], **close, err_msg=k)
    for g, g1 in zip(g0, _states(layer.grad_initial_state)):
        np.testing.assert_allclose(g[:, 1:2], g1, **close)


@pytest.mark.parametrize("cell", CELLS)
def test_two_stateful_calls_equal_one_long_call(cell, kernel_path):
    rng = np.random.default_rng(3)
    layer = checks.make_layer(cell, 3, 4, rng=rng, num_layers=2, stateful=True)
    whole = checks.make_layer(cell, 3, 4, rng=rng, num_layers=2)
    whole.load_state_dict(layer.state_dict())
    x = rng.standard_normal((2, 7, 3))
    out1, _ = layer.forward(x[:, :3])
    out2, state2 = layer.forward(x[:, 3:])
    out, state = whole.forward(x)
    np.testing.assert_allclose(np.concatenate([out1, out2], axis=1), out, **close)
    for s2, s in zip(_states(state2), _states(state)):
        np.testing.assert_allclose(s2, s, **close)


@pytest.mark.parametrize("cell", CELLS)
def test_stateful_gradient_stops_at_the_chunk_boundary(cell, kernel_path):
    """Truncated BPTT: chunk 2's gradients are those of chunk 2 started from a constant state."""
    rng = np.random.default_rng(4)
    layer = checks.make_layer(cell, 3, 4, rng=rng, num_layers=2, stateful=True)
    ref = checks.make_layer(cell, 3, 4, rng=rng, num_layers=2)
    ref.load_state_dict(layer.state_dict())
    x1, x2 = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 3, 3))
    _, carry = layer.forward(x1)
    out, state = layer.forward(x2)
    d_out = rng.standard_normal(out.shape)
    d_state = _pack([rng.standard_normal(s.shape) for s in _states(state)])
    dx = layer.backward(d_out, d_state)
    ref.forward(x2, initial_state=carry)
    np.testing.assert_allclose(dx, ref.backward(d_out, d_state), **close)
    assert dx.shape == x2.shape
    for k in layer.grads:
        np.testing.assert_allclose(layer.grads[k], ref.grads[k], **close, err_msg=k)
    for g, g_ref in zip(_states(layer.grad_initial_state), _states(ref.grad_initial_state)):
        np.testing.assert_allclose(g, g_ref, **close)  # reported for the carry, never sent into chunk 1


def test_reset_states_starts_a_fresh_stream():
    rng = np.random.default_rng(5)
    layer = checks.make_layer("lstm", 3, 4, rng=rng, stateful=True)
    x = rng.standard_normal((2, 3, 3))
    first = layer.forward(x)[0].copy()
    assert not np.allclose(layer.forward(x)[0], first)  # carried state changes the answer
    layer.reset_states()
    np.testing.assert_array_equal(layer.forward(x)[0], first)


@pytest.mark.parametrize("cell", CELLS)
def test_bidirectional_equals_concatenation_of_its_two_directions(cell, kernel_path):
    rng = np.random.default_rng(6)
    bi = checks.make_layer(cell, 3, 4, rng=rng, bidirectional=True)
    fwd, rev = _direction(bi, cell, reverse=False), _direction(bi, cell, reverse=True)
    x, lengths = rng.standard_normal((3, 6, 3)), [4, 6, 1]
    out, state = bi.forward(x, lengths=lengths)
    out_f, state_f = fwd.forward(x, lengths=lengths)
    out_r, state_r = rev.forward(_flip(x, lengths), lengths=lengths)
    np.testing.assert_allclose(out, np.concatenate([out_f, _flip(out_r, lengths)], axis=2), **close)
    for s, sf, sr in zip(_states(state), _states(state_f), _states(state_r)):
        np.testing.assert_allclose(s, np.concatenate([sf, sr]), **close)

    d_out = rng.standard_normal(out.shape)
    d_state = [rng.standard_normal(s.shape) for s in _states(state)]
    dx = bi.backward(d_out, _pack(d_state))
    dx_f = fwd.backward(d_out[..., :4], _pack([d[:1] for d in d_state]))
    dx_r = rev.backward(_flip(d_out[..., 4:], lengths), _pack([d[1:] for d in d_state]))
    np.testing.assert_allclose(dx, dx_f + _flip(dx_r, lengths), **close)
    for k, g in bi.grads.items():
        one = rev if k.endswith("_reverse") else fwd
        np.testing.assert_allclose(g, one.grads[k.replace("_reverse", "")], **close, err_msg=k)


@pytest.mark.parametrize("cell", CELLS)
def test_last_output_is_the_top_layer_final_states(cell):
    rng = np.random.default_rng(7)
    seq = checks.make_layer(cell, 3, 4, rng=rng, num_layers=2, bidirectional=True)
    last = checks.make_layer(cell, 3, 4, rng=rng, num_layers=2, bidirectional=True, return_sequences=False)
    last.load_state_dict(seq.state_dict())
    x, lengths = rng.standard_normal((3, 5, 3)), np.array([5, 2, 3])
    out, _ = seq.forward(x, lengths=lengths)
    y, _ = last.forward(x, lengths=lengths)
    # forward direction ends at each row's last valid step, the reverse one at step 0
    expected = np.concatenate([out[np.arange(3), lengths - 1, :4], out[:, 0, 4:]], axis=1)
    np.testing.assert_allclose(y, expected, **close)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_same_seed_same_init_different_seed_different(cls):
    kw = dict(num_layers=2, bidirectional=True)
    a, b, c = cls(3, 5, seed=7, **kw), cls(3, 5, seed=7, **kw), cls(3, 5, seed=8, **kw)
    assert a.params.keys() == b.params.keys() == c.params.keys()
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)
        if k.startswith("weight"):
            assert not np.array_equal(a.params[k], c.params[k]), k


def test_dropout_acts_only_in_training_and_follows_the_seed():
    x = np.random.default_rng(8).standard_normal((4, 5, 3))
    a, b = (nn.GRU(3, 8, num_layers=2, dropout=0.5, seed=3) for _ in range(2))
    plain = nn.GRU(3, 8, num_layers=2, seed=3)  # dropout does not draw from the init stream
    first = a.forward(x)[0].copy()
    np.testing.assert_array_equal(first, b.forward(x)[0])       # same seed, same masks
    assert not np.allclose(a.forward(x)[0], first)              # a fresh mask each training call
    a.eval()
    np.testing.assert_array_equal(a.forward(x)[0], plain.forward(x)[0])
    single = nn.GRU(3, 8, dropout=0.5, seed=3)                  # between layers only: none with one layer
    np.testing.assert_array_equal(single.forward(x)[0], nn.GRU(3, 8, seed=3).forward(x)[0])


def test_dropout_backward_uses_the_forward_mask(kernel_path):
    rng = np.random.default_rng(9)
    layer = checks.make_layer("lstm", 2, 3, rng=rng, num_layers=2, dropout=0.4)
    x = rng.standard_normal((2, 3, 2))

    def forward():
        layer.rng = np.random.default_rng(11)  # the same mask on every call
        return layer.forward(x)[0]

    R = rng.standard_normal(forward().shape)
    dx = layer.backward(R)
    f = lambda: float(np.sum(forward() * R))  # noqa: E731
    assert rel_error(dx, numerical_grad(f, x)) < 1e-6
    assert rel_error(layer.grads["weight_ih_l0"].copy(), numerical_grad(f, layer.params["weight_ih_l0"])) < 1e-6


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_float32_is_the_default_dtype_throughout(cls):
    layer = cls(3, 4, bidirectional=True)
    x = np.random.default_rng(10).standard_normal((2, 5, 3))  # float64 in, float32 out
    out, state = layer.forward(x, lengths=[5, 3])
    dx = layer.backward(np.ones(out.shape))
    arrays = [out, dx, *_states(state), *_states(layer.grad_initial_state), *layer.params.values(),
              *layer.grads.values()]
    assert {a.dtype for a in arrays} == {np.dtype(np.float32)}


@pytest.mark.parametrize("cell", CELLS)
def test_output_survives_the_next_forward_call(cell):
    rng = np.random.default_rng(12)
    layer = checks.make_layer(cell, 3, 4, rng=rng)
    out, _ = layer.forward(rng.standard_normal((1, 5, 3)))
    kept = out.copy()
    layer.forward(rng.standard_normal((1, 5, 3)))
    np.testing.assert_array_equal(out, kept)


def test_backward_leaves_d_out_unchanged():
    rng = np.random.default_rng(13)
    layer = checks.make_layer("gru", 3, 4, rng=rng, dtype=np.float32)
    out, _ = layer.forward(rng.standard_normal((1, 5, 3)), lengths=[3])
    d_out = rng.standard_normal(out.shape).astype(np.float32)
    kept = d_out.copy()
    layer.backward(d_out)
    np.testing.assert_array_equal(d_out, kept)


@pytest.mark.parametrize("H", [5, 1])  # H = 1: W_hhᵀ of shape (1, 4) is contiguous as it stands
def test_numpy_lstm_halved_weights_give_the_direct_sigmoids_results(H, monkeypatch):
    # the NumPy step folds the ½ of σ(z) = ½ + ½ tanh(z/2) into copies of W_ih, W_hh and the biases
    # (exact halving) and takes one tanh over all four gates; outputs, states and gradients equal
    # those of σ applied to the full product to the last bit of tanh, and the parameters stay as they were
    from rnnlab.nn import kernels
    from rnnlab.nn.cells.lstm import LSTMCell

    kernels.use(False)
    rng = np.random.default_rng(3)
    x, d_out = rng.standard_normal((3, 7, 4)), rng.standard_normal((3, 7, 2 * H))
    weights = {k: rng.standard_normal(v.shape)
               for k, v in nn.LSTM(4, H, num_layers=2, bidirectional=True).state_dict().items()}

    def run(folds):
        layer = nn.LSTM(4, H, num_layers=2, bidirectional=True, dtype=np.float64)
        layer.load_state_dict(weights)
        results = []
        for _ in range(2):  # a second call sees the same weights
            out, (h, c) = layer.forward(x, lengths=[7, 3, 5])
            assert (layer._runs[0].ws.gate_scale is not None) == folds
            results += [out, h, c, layer.backward(d_out), *layer.grads.values()]
        for k, v in layer.state_dict().items():
            np.testing.assert_array_equal(v, weights[k])
        return results

    folded = run(folds=True)
    monkeypatch.setattr(LSTMCell, "step_prescale", lambda self, dtype: None)
    direct = run(folds=False)
    for a, b in zip(folded, direct):
        np.testing.assert_allclose(a, b, **close)
