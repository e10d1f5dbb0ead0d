"""Bad input raises RnnlabError with a message that names the argument at fault."""
import numpy as np
import pytest

from rnnlab import nn
from rnnlab.errors import RnnlabError


@pytest.fixture
def lstm():
    return nn.LSTM(3, 4, num_layers=2, seed=0)


def _x(B=2, T=5, I=3):
    return np.random.default_rng(0).standard_normal((B, T, I))


# -- input ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 3), (3,), (1, 2, 5, 3)], ids=["2d", "1d", "4d"])
def test_wrong_rank_names_the_expected_input(lstm, shape):
    with pytest.raises(RnnlabError, match=r"expected input \(batch, time, 3\)"):
        lstm.forward(np.zeros(shape))


def test_wrong_feature_size_names_input_size(lstm):
    with pytest.raises(RnnlabError, match=r"input_size.*got \(2, 5, 4\)|got \(2, 5, 4\).*input_size"):
        lstm.forward(_x(I=4))


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_non_finite_input_is_refused(lstm, bad):
    x = _x()
    x[1, 2, 0] = bad
    with pytest.raises(RnnlabError, match="x contains NaN or infinite"):
        lstm.forward(x)


def test_non_numeric_input_is_refused(lstm):
    with pytest.raises(RnnlabError, match="x must be numeric"):
        lstm.forward(np.full((2, 5, 3), "a"))


# -- lengths ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("lengths", [[0, 5], [5, 6], [-1, 3]], ids=["zero", "too_long", "negative"])
def test_lengths_out_of_range(lstm, lengths):
    with pytest.raises(RnnlabError, match=r"lengths must lie in \[1, 5\]"):
        lstm.forward(_x(), lengths=lengths)


@pytest.mark.parametrize("lengths", [[5], [5, 5, 5], [[5, 5]], 5], ids=["short", "long", "2d", "scalar"])
def test_lengths_of_wrong_shape(lstm, lengths):
    with pytest.raises(RnnlabError, match=r"lengths expected an integer array of shape \(2,\)"):
        lstm.forward(_x(), lengths=lengths)


@pytest.mark.parametrize("lengths", [[5.0, 3.0], [True, True]], ids=["float", "bool"])
def test_lengths_must_be_integers(lstm, lengths):
    with pytest.raises(RnnlabError, match="lengths expected an integer array"):
        lstm.forward(_x(), lengths=lengths)


# -- initial state ----------------------------------------------------------------------------------
def test_initial_state_of_wrong_shape_names_h0():
    gru = nn.GRU(3, 4, num_layers=2, seed=0)
    with pytest.raises(RnnlabError, match=r"initial_state h0 expected shape .* \(2, 2, 4\) but got \(1, 2, 4\)"):
        gru.forward(_x(), initial_state=np.zeros((1, 2, 4)))


def test_lstm_initial_state_of_wrong_shape_names_c0(lstm):
    with pytest.raises(RnnlabError, match="initial_state c0 expected shape"):
        lstm.forward(_x(), initial_state=(np.zeros((2, 2, 4)), np.zeros((2, 3, 4))))


def test_lstm_initial_state_must_be_a_pair():
    with pytest.raises(RnnlabError, match=r"initial_state must be a tuple \(h0, c0\)"):
        nn.LSTM(3, 4, seed=0).forward(_x(), initial_state=np.zeros((1, 2, 4)))


def test_non_finite_initial_state_is_refused():
    with pytest.raises(RnnlabError, match="initial_state"):
        nn.GRU(3, 4, seed=0).forward(_x(), initial_state=np.full((1, 2, 4), np.nan))


# -- backward ---------------------------------------------------------------------------------------
def test_d_out_of_wrong_shape_names_d_out(lstm):
    lstm.forward(_x())
    with pytest.raises(RnnlabError, match=r"d_out expected shape \(2, 5, 4\)"):
        lstm.backward(np.zeros((2, 5, 3)))


def test_backward_before_forward_says_to_call_forward():
    with pytest.raises(RnnlabError, match="forward"):
        nn.GRU(3, 4, seed=0).backward(np.zeros((2, 5, 4)))


# -- state dict -------------------------------------------------------------------------------------
def test_state_dict_missing_key_is_named(lstm):
    sd = lstm.state_dict()
    del sd["weight_hh_l1"]
    with pytest.raises(RnnlabError, match="missing weight_hh_l1"):
        lstm.load_state_dict(sd)


def test_state_dict_extra_key_is_named(lstm):
    sd = {**lstm.state_dict(), "weight_hh_l2": np.zeros((16, 4))}
    with pytest.raises(RnnlabError, match="unexpected weight_hh_l2"):
        lstm.load_state_dict(sd)


def test_state_dict_misshapen_key_is_named_with_both_shapes(lstm):
    sd = lstm.state_dict()
    sd["bias_ih_l0"] = np.zeros(12)
    with pytest.raises(RnnlabError, match=r"misshapen bias_ih_l0: expected \(16,\), got \(12,\)"):
        lstm.load_state_dict(sd)


def test_failed_load_leaves_the_parameters_unchanged(lstm):
    before = lstm.state_dict()
    sd = {k: np.ones_like(v) for k, v in before.items()}
    sd["bias_hh_l1"] = np.zeros(3)
    with pytest.raises(RnnlabError):
        lstm.load_state_dict(sd)
    for k, v in before.items():
        np.testing.assert_array_equal(lstm.params[k], v, err_msg=k)


# -- constructor ------------------------------------------------------------------------------------
BAD_ARGS = [dict(input_size=0), dict(input_size=2.5), dict(input_size=True), dict(hidden_size=-1),
            dict(hidden_size="4"), dict(num_layers=0), dict(dropout=1.0), dict(dropout=-0.1), dict(dropout="0.5")]


@pytest.mark.parametrize("kwargs", BAD_ARGS, ids=lambda kw: "-".join(f"{k}={v!r}" for k, v in kw.items()))
@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_bad_constructor_argument_is_named(cls, kwargs):
    (name,) = kwargs
    with pytest.raises(RnnlabError, match=name):
        cls(**{"input_size": 3, "hidden_size": 4, **kwargs})


def test_every_bad_constructor_argument_is_reported_at_once():
    with pytest.raises(RnnlabError, match="input_size.*hidden_size.*num_layers.*dropout"):
        nn.GRU(0, 0, num_layers=0, dropout=2.0)


def test_unknown_nonlinearity_is_named():
    with pytest.raises(RnnlabError, match="nonlinearity must be 'tanh', 'relu' or 'sigmoid', got 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")


def test_integer_dtype_is_refused():
    with pytest.raises(RnnlabError, match="dtype"):
        nn.LSTM(3, 4, dtype=np.int32)


def test_bad_seed_is_named():
    with pytest.raises(RnnlabError, match="seed"):
        nn.GRU(3, 4, seed="abc")
