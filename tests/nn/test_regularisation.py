"""Layer options, one property per test: variational dropout, zoneout, layer norm, their errors.

Their finite-difference checks are options of ``checks.OPTIONS`` (``test_rnn_gradcheck.py``) and the
layer-norm parity with torch is ``tests/torch/test_layer_norm.py``.
"""
import numpy as np
import pytest

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.nn import checks
from rnnlab.nn.cells import ElmanCell
from rnnlab.nn.functional import sigmoid

CELLS = ("rnn_tanh", "lstm", "gru")
close = dict(rtol=1e-10, atol=1e-12)


def _pair(cell, rng, **options):
    """A layer with ``options`` and a plain one with the same weights (float64, random biases)."""
    layer = checks.make_layer(cell, 3, 4, rng=rng, **options)
    plain = checks.make_layer(cell, 3, 4, rng=rng, **{k: v for k, v in options.items()
                                                        if k in ("num_layers", "bidirectional")})
    plain.load_state_dict({k: v for k, v in layer.state_dict().items() if not k.startswith("ln_")})
    return layer, plain


def _states(state):
    return list(state) if isinstance(state, tuple) else [state]


def _one_step(plain, x_t, state):
    """S'_t: one step of the plain layer from ``state`` (list of (1, B, H) arrays)."""
    _, new = plain.forward(x_t[:, None], initial_state=tuple(state) if len(state) == 2 else state[0])
    return _states(new)


# -- options off ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_options_at_zero_change_nothing(cls, kernel_path):
    kw = dict(num_layers=2, bidirectional=True, seed=4, dtype=np.float64)
    layer = cls(3, 5, input_dropout=0.0, recurrent_dropout=0.0, zoneout=0.0, layer_norm=False, **kw)
    plain = cls(3, 5, **kw)
    assert layer.params.keys() == plain.params.keys()
    x = np.random.default_rng(0).standard_normal((2, 6, 3))
    out = layer.forward(x, lengths=[6, 4])[0]
    np.testing.assert_array_equal(out, plain.forward(x, lengths=[6, 4])[0])
    d_out = np.ones_like(out)
    np.testing.assert_array_equal(layer.backward(d_out), plain.backward(d_out))


@pytest.mark.parametrize("cls, extra", [(nn.RNN, ()), (nn.GRU, ()), (nn.LSTM, ("ln_c_weight", "ln_c_bias"))],
                         ids=["rnn", "gru", "lstm"])
def test_layer_norm_parameters_are_named_torch_style_with_gain_one_bias_zero(cls, extra):
    layer = cls(3, 5, num_layers=2, bidirectional=True, layer_norm=True, seed=0)
    G = layer._runs[0].cell.n_gates * 5
    names = ("ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias") + extra
    for sfx in ("_l0", "_l0_reverse", "_l1", "_l1_reverse"):
        for name in names:
            p = layer.params[name + sfx]
            assert p.shape == ((5,) if name.startswith("ln_c") else (G,)), name + sfx
            np.testing.assert_array_equal(p, 1.0 if name.endswith("weight") else 0.0)
    plain = cls(3, 5, num_layers=2, bidirectional=True, seed=0)
    assert set(layer.params) - set(plain.params) == {n + s for n in names for s in ("_l0", "_l0_reverse", "_l1",
                                                                                    "_l1_reverse")}
    for k, v in plain.params.items():  # LN draws nothing: the other weights are those of the plain layer
        np.testing.assert_array_equal(layer.params[k], v, err_msg=k)


# -- dropout ------------------------------------------------------------------------------------------
def test_dropout_masks_are_per_sequence_inverted_and_seeded():
    p_in, p_rec = 0.25, 0.5
    make = lambda: nn.GRU(3, 16, input_dropout=p_in, recurrent_dropout=p_rec, bidirectional=True, seed=3,  # noqa: E731
                          dtype=np.float64)
    a, b = make(), make()
    x = np.ones((400, 2, 3))
    a.forward(x)
    b.forward(x)
    first = a.noise
    assert len(first) == 2 and first[0].input.shape == (400, 3) and first[0].recurrent.shape == (400, 16)
    for n, p in ((first[0].input, p_in), (first[1].recurrent, p_rec)):
        assert set(np.unique(n)) <= {0.0, 1 / (1 - p)}
        assert abs(n.mean() - 1) < 0.05 and abs((n == 0).mean() - p) < 0.05  # E[m] = 1: inverted scaling
    assert not np.array_equal(first[0].input, first[1].input)  # each direction draws its own
    for na, nb in zip(first, b.noise):  # same seed, same masks
        np.testing.assert_array_equal(na.input, nb.input)
        np.testing.assert_array_equal(na.recurrent, nb.recurrent)
    a.forward(x)
    assert not np.array_equal(a.noise[0].input, first[0].input)  # a fresh mask each call


@pytest.mark.parametrize("cell", CELLS)
def test_input_dropout_equals_the_plain_layer_on_masked_input(cell, kernel_path):
    rng = np.random.default_rng(1)
    layer, plain = _pair(cell, rng, input_dropout=0.4)
    x = rng.standard_normal((3, 5, 3))
    out, state = layer.forward(x, lengths=[5, 2, 4])
    m = layer.noise[0].input[:, None, :]  # one mask per sequence, the same at every step
    ref, ref_state = plain.forward(x * m, lengths=[5, 2, 4])
    np.testing.assert_allclose(out, ref, **close)
    d_out = rng.standard_normal(out.shape)
    np.testing.assert_allclose(layer.backward(d_out), plain.backward(d_out) * m, **close)


def _recurrent_dropout_reference(cell, layer, x, m):
    """The cell equations once more, with h_{t-1} ⊙ m inside W_hh h_{t-1} only."""
    p = layer.params
    W_ih, W_hh, b_ih, b_hh = p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"]
    B, T, _ = x.shape
    H = layer.hidden_size
    h, c, out = np.zeros((B, H)), np.zeros((B, H)), []
    for t in range(T):
        zx, zh = x[:, t] @ W_ih.T + b_ih, (h * m) @ W_hh.T + b_hh
        if cell == "lstm":
            z = zx + zh
            i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sigmoid(z[:, 3 * H:])
            c = f * c + i * g
            h = o * np.tanh(c)
        elif cell == "gru":
            r, u = sigmoid(zx[:, :H] + zh[:, :H]), sigmoid(zx[:, H:2 * H] + zh[:, H:2 * H])
            n = np.tanh(zx[:, 2 * H:] + r * zh[:, 2 * H:])
            h = (1 - u) * n + u * h  # the carry sees h_{t-1} unmasked
        else:
            h = np.tanh(zx + zh)
        out.append(h)
    return np.stack(out, 1)


@pytest.mark.parametrize("cell", CELLS)
def test_recurrent_dropout_masks_h_inside_the_recurrent_product(cell, kernel_path):
    rng = np.random.default_rng(2)
    layer = checks.make_layer(cell, 3, 4, rng=rng, recurrent_dropout=0.5)
    x = rng.standard_normal((3, 5, 3))
    out, _ = layer.forward(x)
    np.testing.assert_allclose(out, _recurrent_dropout_reference(cell, layer, x, layer.noise[0].recurrent), **close)


@pytest.mark.parametrize("cell", CELLS)
def test_dropout_is_off_at_inference(cell, kernel_path):
    rng = np.random.default_rng(3)
    layer, plain = _pair(cell, rng, input_dropout=0.5, recurrent_dropout=0.5, num_layers=2)
    x = rng.standard_normal((2, 4, 3))
    layer.eval()
    np.testing.assert_array_equal(layer.forward(x)[0], plain.forward(x)[0])


# -- zoneout ------------------------------------------------------------------------------------------
def _zoneout_reference(layer, plain, x, keep):
    """S_t = d_t ⊙ S_{t-1} + (1 - d_t) ⊙ S'_t with S'_t one plain step from S_{t-1}; keep(t) gives d_t."""
    B, T, _ = x.shape
    state = [np.zeros((1, B, layer.hidden_size)) for _ in range(layer.n_states)]
    out = []
    for t in range(T):
        new = _one_step(plain, x[:, t], state)
        state = [d * s + (1 - d) * n for d, s, n in zip(keep(t), state, new)]
        out.append(state[0][0])
    return np.stack(out, 1), state


@pytest.mark.parametrize("cell", CELLS)
def test_zoneout_at_inference_is_the_expectation_and_deterministic(cell, kernel_path):
    rng, p = np.random.default_rng(4), 0.3
    layer, plain = _pair(cell, rng, zoneout=p)
    layer.eval()
    x = rng.standard_normal((3, 5, 3))
    out, state = layer.forward(x)
    np.testing.assert_array_equal(layer.forward(x)[0], out)
    # h_t = p h_{t-1} + (1 - p) h'_t (and c_t likewise for the LSTM)
    ref, ref_state = _zoneout_reference(layer, plain, x, lambda t: [p] * layer.n_states)
    np.testing.assert_allclose(out, ref, **close)
    for s, r in zip(_states(state), ref_state):
        np.testing.assert_allclose(s, r, **close)


@pytest.mark.parametrize("cell", CELLS)
def test_zoneout_in_training_keeps_or_replaces_each_unit_by_a_fresh_mask_per_step(cell, kernel_path):
    rng = np.random.default_rng(5)
    layer, plain = _pair(cell, rng, zoneout=0.5)
    x = rng.standard_normal((3, 6, 3))
    out, _ = layer.forward(x)
    d = layer.noise[0].zoneout  # per state: (T, B, H) of 0/1
    assert len(d) == layer.n_states and d[0].shape == (6, 3, 4) and set(np.unique(d[0])) == {0.0, 1.0}
    assert not all(np.array_equal(d[0][0], d[0][t]) for t in range(1, 6))  # a fresh draw per step
    ref, _ = _zoneout_reference(layer, plain, x, lambda t: [dk[t][None] for dk in d])
    np.testing.assert_allclose(out, ref, **close)


def test_zoneout_on_lstm_draws_separate_masks_for_h_and_c():
    layer = nn.LSTM(2, 32, zoneout=0.5, seed=0, dtype=np.float64)
    layer.forward(np.ones((8, 5, 2)))
    d_h, d_c = layer.noise[0].zoneout
    assert not np.array_equal(d_h, d_c)


@pytest.mark.parametrize("cell", CELLS)
def test_zoneout_padding_still_carries_the_state(cell, kernel_path):
    rng = np.random.default_rng(6)
    layer = checks.make_layer(cell, 3, 4, rng=rng, zoneout=0.3).eval()
    x = rng.standard_normal((2, 5, 3))
    out, state = layer.forward(x, lengths=[5, 2])
    short, short_state = layer.forward(x[1:, :2])
    np.testing.assert_allclose(out[1:, :2], short, **close)
    assert not out[1, 2:].any()
    for s, r in zip(_states(state), _states(short_state)):
        np.testing.assert_allclose(s[:, 1:], r, **close)


# -- layer norm ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
def test_layer_norm_makes_the_output_blind_to_the_scale_of_each_product(cell, kernel_path):
    rng = np.random.default_rng(7)
    layer = checks.make_layer(cell, 3, 6, rng=rng, layer_norm=True, scale=5.0)  # σ² ≫ ε
    x = rng.standard_normal((2, 5, 3))
    out = layer.forward(x)[0].copy()
    layer.params["weight_ih_l0"] *= 3.0
    layer.params["weight_hh_l0"] *= 0.5
    # LN(s·a) = LN(a), up to ε in √(σ² + ε)
    np.testing.assert_allclose(layer.forward(x)[0], out, rtol=1e-4, atol=1e-6)


def test_layer_norm_keeps_the_forget_gate_bias():
    """Biases sit after the LN: a constant forget bias still opens the forget gate."""
    layer = nn.LSTM(2, 8, layer_norm=True, seed=0, dtype=np.float64)
    x = np.random.default_rng(8).standard_normal((4, 6, 2))
    closed = layer.forward(x)[1][1].copy()
    layer.params["bias_ih_l0"][8:16] += 5.0  # forget gate
    assert np.abs(layer.forward(x)[1][1]).mean() > 1.5 * np.abs(closed).mean()


# -- errors -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [1.0, -0.1, 1.5, "0.2", True, None], ids=repr)
@pytest.mark.parametrize("option", ["input_dropout", "recurrent_dropout", "zoneout"])
@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_probability_outside_zero_one_is_refused_by_name(cls, option, value):
    with pytest.raises(RnnlabError, match=rf"{option} must be a probability in \[0, 1\)"):
        cls(3, 4, **{option: value})


def test_every_bad_option_is_reported_at_once():
    with pytest.raises(RnnlabError, match="input_dropout.*recurrent_dropout.*zoneout.*layer_norm"):
        nn.LSTM(3, 4, input_dropout=1, recurrent_dropout=-1, zoneout=2, layer_norm="yes")


def test_layer_norm_for_a_cell_without_it_is_refused():
    class PlainCell(ElmanCell):
        supports_layer_norm = False

    class PlainRNN(nn.RNN):
        cell_class = PlainCell

    assert PlainRNN(3, 4, seed=0).num_parameters() == nn.RNN(3, 4).num_parameters()
    with pytest.raises(RnnlabError, match="layer_norm is not supported by PlainCell"):
        PlainRNN(3, 4, layer_norm=True)
