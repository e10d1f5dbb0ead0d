"""Sequential: learning, masking of padded sequences, validation, predictions and input errors."""
import numpy as np
import pytest

from rnnlab import nn
from rnnlab.errors import NotFittedError, RnnlabError
from rnnlab.models import LambdaCallback, Sequential, arrays


@pytest.fixture(scope="module")
def digits():
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    return (d.images / 16.0).astype(np.float32), d.target


def _padded(rng, N, T, I=None, V=None, min_len=1):
    """Right-padded random sequences: features (N, T, I) with zero padding or ids (N, T) padded with 0."""
    L = rng.integers(min_len, T + 1, N)
    L[0] = T  # one full-length row keeps the padded width at T
    valid = np.arange(T)[None, :] < L[:, None]
    X = rng.integers(1, V, (N, T)) * valid if V else rng.standard_normal((N, T, I)) * valid[..., None]
    return X.astype(np.int64 if V else np.float32), L


def _fitted(model, X, y, lengths=None, loss="cross_entropy"):
    model.compile(loss, lr=1e-2)
    model.fit(X, y, epochs=1, lengths=lengths, progress=False)
    return model


# -- learning ---------------------------------------------------------------------------------------
def test_lstm_reads_digits_row_by_row_to_93_percent(digits):
    """8 steps of 8 pixels; ~1 s on one core. Typical held-out accuracy 0.96-0.98."""
    X, y = digits
    perm = np.random.default_rng(0).permutation(len(X))
    train, test = perm[:1347], perm[1347:]
    model = Sequential([nn.LSTM(8, 64, return_sequences=False, seed=0), nn.Dense(64, 10, seed=1)])
    model.compile("cross_entropy", "adam", lr=1e-2)
    h = model.fit(X[train], y[train], epochs=12, batch_size=32, progress=False)
    assert h[-1, "loss"] < h[0, "loss"] / 5
    assert model.evaluate(X[test], y[test])["accuracy"] >= 0.93
    assert (model.predict_classes(X[test]) == y[test]).mean() >= 0.93


def test_feedback_rnn_learns_one_step_ahead_sine():
    rng = np.random.default_rng(0)
    t = np.linspace(0, 12, 40)
    Y = np.sin(t[None, :, None] + rng.uniform(0, 2 * np.pi, (64, 1, 1))).astype(np.float32)
    model = Sequential([nn.FeedbackRNN(1, 16, seed=0)])
    model.compile("mse", lr=1e-2)
    h = model.fit(Y, Y, epochs=15, batch_size=16, progress=False)
    assert h[-1, "loss"] < h[0, "loss"] / 10


def test_fit_returns_and_keeps_the_history():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 4, 2)).astype(np.float32), rng.integers(0, 2, 20)
    model = Sequential([nn.GRU(2, 4, return_sequences=False, seed=0), nn.Dense(4, 2, seed=1)])
    model.compile("cross_entropy")
    h = model.fit(X, y, epochs=2, validation_split=0.25, progress=False)
    assert h is model.history_ and h[:, "epoch"] == [1, 2] and "val_accuracy" in h[-1]


# -- variable lengths -------------------------------------------------------------------------------
ARCHS = {
    "bilstm2_last": (lambda: [nn.LSTM(3, 6, num_layers=2, bidirectional=True, return_sequences=False, seed=0),
                              nn.Dense(12, 2, seed=1)], "features", "cross_entropy"),
    "emb_gru_gru_last": (lambda: [nn.Embedding(9, 4, padding_idx=0, seed=0), nn.GRU(4, 5, seed=1),
                                  nn.GRU(5, 5, bidirectional=True, return_sequences=False, seed=2),
                                  nn.Dense(10, 3, seed=3)], "ids", "cross_entropy"),
    "rnn_per_step": (lambda: [nn.RNN(3, 6, seed=0), nn.Dropout(0.2, seed=1), nn.Dense(6, 1, seed=2)],
                     "features", "mse"),
    "feedback": (lambda: [nn.FeedbackRNN(3, 6, seed=0)], "features", "mse"),
}


def _data_for(model, kind, loss, rng, N=12, T=7):
    X, L = _padded(rng, N, T, I=3, V=9 if kind == "ids" else None)
    if model.per_step:
        y = rng.standard_normal((N, T, model.n_outputs)).astype(np.float32)
    else:
        y = rng.integers(0, model.n_outputs, N)
    return X, y, L


@pytest.mark.parametrize("arch", ARCHS)
def test_padded_batch_predicts_like_each_sequence_alone(arch):
    make, kind, loss = ARCHS[arch]
    rng = np.random.default_rng(1)
    model = Sequential(make())
    X, y, L = _data_for(model, kind, loss, rng)
    lengths = None if kind == "ids" else L          # ids: lengths come from padding_idx
    _fitted(model, X, y, lengths, loss)
    batch = model.predict(X, lengths)
    for i in range(len(X)):
        alone = model.predict(X[i:i + 1, :L[i]])
        if model.per_step:
            np.testing.assert_allclose(batch[i, :L[i]], alone[0], rtol=1e-5, atol=1e-6)
            assert not batch[i, L[i]:].any()       # zero past the end of the sequence
        else:
            np.testing.assert_allclose(batch[i], alone[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("per_step", [False, True], ids=["last", "per_step"])
def test_padding_content_changes_neither_loss_nor_gradients(per_step):
    rng = np.random.default_rng(2)
    model = Sequential([nn.LSTM(3, 5, return_sequences=per_step, seed=0), nn.Dense(5, 2, seed=1)])
    model.compile("mse")
    X, L = _padded(rng, 6, 8, I=3)
    y = rng.standard_normal((6, 8, 2) if per_step else (6, 2)).astype(np.float32)
    losses, grads = [], []
    for garbage in (0.0, 7.0):
        Xg, yg = X.copy(), y.copy()
        pad = np.arange(8)[None, :] >= L[:, None]
        Xg[pad] = garbage
        if per_step:
            yg[pad] = garbage
        losses.append(model.train_step_loss((Xg, yg, L)))
        grads.append({k: g.copy() for k, g in model.grads.items()})
    assert losses[0] == losses[1]
    for k in grads[0]:
        np.testing.assert_array_equal(grads[0][k], grads[1][k])


def test_lengths_from_padding_idx_equal_explicit_lengths():
    rng = np.random.default_rng(3)
    X, L = _padded(rng, 10, 6, V=9)
    model = _fitted(Sequential([nn.Embedding(9, 4, padding_idx=0, seed=0),
                                nn.LSTM(4, 4, return_sequences=False, seed=1), nn.Dense(4, 2, seed=2)]),
                    X, rng.integers(0, 2, 10))
    np.testing.assert_array_equal(model.predict(X), model.predict(X, lengths=L))


def test_per_step_evaluation_counts_only_valid_steps():
    rng = np.random.default_rng(4)
    X, L = _padded(rng, 16, 6, V=9)
    y = rng.integers(0, 3, (16, 6))
    model = _fitted(Sequential([nn.Embedding(9, 4, padding_idx=0, seed=0), nn.GRU(4, 6, seed=1),
                                nn.Dense(6, 3, seed=2)]), X, y)
    valid = np.arange(6)[None, :] < L[:, None]
    acc = (model.predict_classes(X) == y)[valid].mean()
    assert model.evaluate(X, y)["accuracy"] == pytest.approx(acc)


def test_bucketing_trains_on_batches_cut_to_their_longest_sequence():
    rng = np.random.default_rng(5)
    X, L = _padded(rng, 64, 20, V=9)
    widths = []
    probe = LambdaCallback(on_batch_end=lambda t: widths.append(
        (t.batch[0].shape[1], int((t.batch[0] != 0).sum(1).max()))))
    model = Sequential([nn.Embedding(9, 4, padding_idx=0, seed=0), nn.LSTM(4, 4, return_sequences=False,
                                                                              seed=1), nn.Dense(4, 2, seed=2)])
    model.compile("cross_entropy")
    model.fit(X, rng.integers(0, 2, 64), epochs=1, batch_size=8, bucket_by_length=True, callbacks=[probe],
              progress=False)
    assert len(widths) == 8 and all(w == longest for w, longest in widths)
    assert sum(w for w, _ in widths) < 8 * 20 * 0.8  # shorter than padding every batch to 20


def test_validation_split_holds_out_the_last_fraction_after_a_seeded_shuffle():
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((40, 5, 2)).astype(np.float32), rng.integers(0, 2, 40)
    model = Sequential([nn.RNN(2, 4, return_sequences=False, seed=0), nn.Dense(4, 2, seed=1)])
    model.compile("cross_entropy")
    h = model.fit(X, y, epochs=2, validation_split=0.25, seed=11, progress=False)
    _, held_out = arrays.split_validation(40, 0.25, np.random.default_rng(11).spawn(2)[0])
    assert len(held_out) == 10
    assert h[-1, "val_loss"] == pytest.approx(model.evaluate(X[held_out], y[held_out])["loss"], rel=1e-6)


def test_validation_data_with_lengths():
    rng = np.random.default_rng(7)
    X, L = _padded(rng, 20, 6, I=2)
    y = rng.integers(0, 2, 20)
    model = Sequential([nn.LSTM(2, 4, return_sequences=False, seed=0), nn.Dense(4, 2, seed=1)])
    model.compile("cross_entropy")
    h = model.fit(X[:15], y[:15], lengths=L[:15], validation_data=(X[15:], y[15:], L[15:]), epochs=1,
                  progress=False)
    assert h[-1, "val_loss"] == pytest.approx(model.evaluate(X[15:], y[15:], lengths=L[15:])["loss"])


# -- predictions ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(8)
    return rng.standard_normal((30, 5, 3)).astype(np.float32), rng.integers(0, 3, 30)


def test_cross_entropy_predicts_probabilities_and_classes(small):
    X, y = small
    model = _fitted(Sequential([nn.GRU(3, 4, return_sequences=False, seed=0), nn.Dense(4, 3, seed=1)]), X, y)
    p = model.predict(X, batch_size=7)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model.predict_classes(X), p.argmax(1))


def test_bce_predicts_probabilities_and_01_classes(small):
    X, y = small
    model = _fitted(Sequential([nn.GRU(3, 4, return_sequences=False, seed=0), nn.Dense(4, 1, seed=1)]),
                    X, (y > 0).astype(np.float32), loss="bce")
    p = model.predict(X)
    assert p.shape == (30, 1) and ((p > 0) & (p < 1)).all()
    np.testing.assert_array_equal(model.predict_classes(X), (p[:, 0] > 0.5).astype(int))


def test_mse_predicts_raw_outputs(small):
    X, y = small
    model = _fitted(Sequential([nn.GRU(3, 4, return_sequences=False, seed=0), nn.Dense(4, 2, seed=1)]),
                    X, np.c_[y, -10.0 * y].astype(np.float32), loss="mse")
    model.eval()
    np.testing.assert_array_equal(model.predict(X), model.forward(X))
    with pytest.raises(RnnlabError, match="classification loss"):
        model.predict_classes(X)


def test_dropout_is_off_in_predict(small):
    X, y = small
    model = _fitted(Sequential([nn.LSTM(3, 8, seed=0), nn.Dropout(0.5, seed=1),
                                nn.GRU(8, 4, return_sequences=False, seed=2), nn.Dense(4, 3, seed=3)]), X, y)
    np.testing.assert_array_equal(model.predict(X), model.predict(X))


def test_summary_lists_layers_shapes_and_totals():
    model = Sequential([nn.Embedding(50, 8, padding_idx=0), nn.LSTM(8, 16, bidirectional=True),
                        nn.GRU(32, 8, return_sequences=False), nn.Dense(8, 3)])
    text = model.summary()
    for part in ("Embedding(50, 8, padding_idx=0)", "(B, T, 32)", "(B, 8)", "(B, 3)",
                 f"Total parameters: {model.num_parameters():,}", f"{model.layers[1].num_parameters():,}"):
        assert part in text


# -- errors -----------------------------------------------------------------------------------------
def _feature_model():
    m = Sequential([nn.LSTM(3, 4, return_sequences=False, seed=0), nn.Dense(4, 2, seed=1)])
    return m.compile("cross_entropy")


def _ids_model(loss="bce"):
    m = Sequential([nn.Embedding(10, 4, padding_idx=0, seed=0), nn.LSTM(4, 4, return_sequences=False, seed=1),
                    nn.Dense(4, 1, seed=2)])
    return m.compile(loss)


_X = np.zeros((4, 5, 3), np.float32)
_Y = np.array([0, 1, 0, 1])
_IDS = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [1, 1, 1, 1, 1], [2, 0, 0, 0, 0]])
_YB = np.array([0.0, 1.0, 1.0, 0.0])
BAD = {
    "y_too_short": (_feature_model, _X, _Y[:3], {}, "X has 4 sequences but y has 3"),
    "nan_in_X": (_feature_model, np.where(np.eye(4, 5)[..., None] > 0, np.nan, _X), _Y, {}, "NaN"),
    "nan_in_y": (_ids_model, _IDS, np.array([0.0, np.nan, 1.0, 0.0]), {}, "y contains NaN"),
    "empty_X": (_feature_model, _X[:0], _Y[:0], {}, "X is empty"),
    "zero_time_steps": (_feature_model, _X[:, :0], _Y, {}, "length 0"),
    "zero_length": (_feature_model, _X, _Y, {"lengths": [5, 0, 3, 2]}, "length 0"),
    "only_padding": (_ids_model, np.r_[_IDS[:3], [[0] * 5]], _YB, {}, "only padding"),
    "lengths_too_long": (_feature_model, _X, _Y, {"lengths": [5, 6, 3, 2]}, "only 5 steps"),
    "string_X": (_ids_model, np.array([["a", "b"]] * 4), _YB, {}, "strings"),
    "string_y": (_feature_model, _X, np.array(["cat", "dog", "cat", "dog"]), {}, "strings"),
    "float_labels": (_feature_model, _X, _Y.astype(float), {}, "integer class ids"),
    "label_out_of_range": (_feature_model, _X, np.array([0, 1, 2, 1]), {}, r"\[0, 2\)"),
    "y_wrong_shape": (_feature_model, _X, np.zeros((4, 2), int), {}, "shape"),
    "wrong_feature_size": (_feature_model, np.zeros((4, 5, 2), np.float32), _Y, {}, r"\(samples, time, 3\)"),
    "ragged_lists": (_ids_model, [[1, 2], [3], [4, 5, 6], [7]], _YB, {}, "ragged"),
    "left_padding": (_ids_model, _IDS[:, ::-1], _YB, {}, "right-padded"),
    "out_of_vocabulary": (_ids_model, np.where(_IDS == 5, 99, _IDS), _YB, {}, r"\[0, 10\)"),
    "float_ids": (_ids_model, _IDS.astype(float), _YB, {}, "integer token ids"),
    "bce_target_range": (_ids_model, _IDS, np.array([0.0, 2.0, 1.0, 0.0]), {}, r"\[0, 1\]"),
    "bucket_without_lengths": (_feature_model, _X, _Y, {"bucket_by_length": True}, "bucket_by_length"),
    "bad_batch_size": (_feature_model, _X, _Y, {"batch_size": 0}, "batch_size"),
    "split_and_data": (_feature_model, _X, _Y, {"validation_split": 0.5, "validation_data": (_X, _Y)},
                       "not both"),
    "split_too_large": (_feature_model, _X, _Y, {"validation_split": 0.9}, "empty training"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_fails_before_training_with_one_sentence(case):
    make, X, y, kw, match = BAD[case]
    model = make()
    before = model.state_dict()
    with pytest.raises(RnnlabError, match=match) as e:
        model.fit(X, y, epochs=1, progress=False, **kw)
    assert "\n" not in str(e.value) and str(e.value).endswith(".")
    assert all(np.array_equal(before[k], v) for k, v in model.params.items())


@pytest.mark.parametrize("call", ["predict", "evaluate", "predict_classes"])
def test_using_an_untrained_model_raises_not_fitted(call):
    model = _feature_model()
    args = (_X, _Y) if call == "evaluate" else (_X,)
    with pytest.raises(NotFittedError, match="call fit"):
        getattr(model, call)(*args)


def test_fit_before_compile_says_to_compile():
    model = Sequential([nn.LSTM(3, 4, return_sequences=False), nn.Dense(4, 2)])
    with pytest.raises(NotFittedError, match="call compile"):
        model.fit(_X, _Y, progress=False)


def test_layer_chain_problems_are_reported_together():
    with pytest.raises(RnnlabError) as e:
        Sequential([nn.LSTM(3, 4), nn.Embedding(10, 4), nn.Dense(5, 2)])
    assert "must be the first layer" in str(e.value) and "expects 5 input features" in str(e.value)


@pytest.mark.parametrize("layers, match", [
    (lambda: [nn.LSTM(3, 4, return_sequences=False), nn.GRU(4, 4)], "set return_sequences=True"),
    (lambda: [nn.LSTM(3, 4, stateful=True)], "stateful"),
    (lambda: [nn.FeedbackRNN(1, 4, input_size=2)], "exogenous"),
    (lambda: [nn.Dropout(0.1)], "at least one layer with weights"),
    (lambda: ["Dense"], "not supported"),
    (lambda: [], "non-empty list"),
], ids=["after_last_step", "stateful", "feedback_exogenous", "no_weights", "not_a_layer", "empty"])
def test_invalid_stacks(layers, match):
    with pytest.raises(RnnlabError, match=match):
        Sequential(layers())


def test_the_same_layer_twice_is_rejected():
    lstm = nn.LSTM(4, 4)
    with pytest.raises(RnnlabError, match="more than once"):
        Sequential([lstm, lstm])


@pytest.mark.parametrize("kw, match", [
    ({"loss": "crossentropy"}, "did you mean 'cross_entropy'"),
    ({"optimizer": "adm"}, "did you mean 'adam'"),
    ({"loss": "mse", "metrics": ["accuracy"]}, "needs loss bce or cross_entropy"),
    ({"loss": "bce", "metrics": ["f1"]}, "unknown metric"),
], ids=["loss_typo", "optimizer_typo", "accuracy_with_mse", "unknown_metric"])
def test_compile_errors_suggest_the_fix(kw, match):
    with pytest.raises(RnnlabError, match=match):
        Sequential([nn.GRU(3, 4, return_sequences=False), nn.Dense(4, 2)]).compile(**kw)


def test_cross_entropy_needs_two_outputs():
    with pytest.raises(RnnlabError, match="use loss='bce'"):
        Sequential([nn.GRU(3, 4, return_sequences=False), nn.Dense(4, 1)]).compile("cross_entropy")


def test_compile_accepts_instances_and_lr_overrides():
    opt = nn.SGD(lr=0.5, momentum=0.9)
    model = Sequential([nn.GRU(3, 4, return_sequences=False), nn.Dense(4, 2)])
    model.compile(nn.CrossEntropyLoss(), opt, lr=0.05)
    assert model.optimizer is opt and opt.lr == 0.05 and model.metrics == ["accuracy"]
    assert model.compile("mse").metrics == []     # the default accuracy is dropped for regression
