"""The Forecaster on the PyTorch engine computes what the NumPy engine computes, and trains alike.

For cells LSTM, GRU, RNN and the output-feedback RNN, modes recursive/direct/seq, ensembles of 1
and 2: each network's outputs, the ensemble's prediction, the training loss, its gradients and the
validation sums of a batch built by ``Forecaster`` agree within 1e-5 in float32 and 1e-10 in
float64, in both directions of conversion and through model folders; ``fit(engine="torch")``
follows ``fit()`` step for step, and its forecasts are the NumPy model's with those weights.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnlab import nn  # noqa: E402
from rnnlab.errors import RnnlabError  # noqa: E402
from rnnlab.models import Forecaster, load, save  # noqa: E402
from rnnlab.torch import TorchForecaster, from_torch, load_torch, save_torch, to_torch, torch_train  # noqa: E402

TOL = {"float32": 1e-5, "float64": 1e-10}
CASES = {f"{cell}-{mode}": (cell, mode) for cell in ("lstm", "gru", "rnn", "feedback")
         for mode in ("recursive", "direct", "seq") if not (cell == "feedback" and mode == "direct")}


def series(T=90, seed=0):
    """Two noisy seasonal series, (T, 2)."""
    t = np.arange(T)[:, None]
    noise = np.random.default_rng(seed).standard_normal((T, 2))
    return np.sin(2 * np.pi * t / [11, 17]) + 0.1 * noise


def forecaster(case, ensemble=2, dtype="float32", seed=0, **kw):
    """A Forecaster for two series with random non-zero weights and biases (2 layers where allowed)."""
    cell, mode = CASES[case]
    model = Forecaster(cell=cell, mode=mode, hidden_size=5, window=6, horizon=3 if mode == "direct" else 1,
                       num_layers=1 if cell == "feedback" else 2, ensemble=ensemble, n_series=2, seed=seed,
                       dtype=dtype, **kw)
    rng = np.random.default_rng(seed)
    for p in model.params.values():
        p[...] = rng.standard_normal(p.shape) * 0.5
    model.meta.update(mean=[0.1, -0.2], std=[0.8, 1.1])
    return model


def batches(model, s=None, n=12):
    """A training batch and a validation batch (whose mask keeps only targets past the split)."""
    train, valid = model._samples(model._scale(series() if s is None else s), 70)
    return model._take(train, np.arange(n)), model._take(valid, np.arange(len(valid[0])))


def perturb(net, seed=3):
    """New weights on the torch side only."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5)


def outputs(net, X):
    with torch.no_grad():
        return net(net.values(X)).numpy()


def assert_same_batch_results(model, net, tol):
    """Every network's outputs, the training loss and gradients, the mean prediction and the validation sums."""
    train, valid = batches(model)
    X, _, _ = train
    model.eval(), net.eval()
    ours = outputs(net, X)
    for j in range(model.ensemble):
        np.testing.assert_allclose(ours[j], model._member(j, X), atol=tol, rtol=0, err_msg=f"network {j}")
    np.testing.assert_allclose(net.predict(X), model._predict_batch(X), atol=tol, rtol=0)
    model.train(), net.train()
    expected = model.train_step_loss(train)
    net.zero_grad()
    total, count = net.loss_sums(train)
    (total / count).backward()
    assert abs(float(total.detach() / count) - expected) < tol * max(1.0, expected)
    for name, p in net.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), model.grads[name], atol=tol, rtol=0, err_msg=name)
    model.eval(), net.eval()
    theirs, ours = model.evaluate_batch(valid), net.evaluate_batch(valid)
    assert ours["count"] == theirs["count"] > 0
    assert ours["loss"] == pytest.approx(theirs["loss"], rel=tol)


# ---------------------------------------------------------------- one batch, both directions

@pytest.mark.parametrize("ensemble", [1, 2])
@pytest.mark.parametrize("case", list(CASES))
def test_batch_outputs_loss_and_gradients_match_numpy(case, ensemble):
    model = forecaster(case, ensemble)
    net = to_torch(model)
    assert isinstance(net, TorchForecaster)
    assert_same_batch_results(model, net, TOL["float32"])


@pytest.mark.parametrize("case", list(CASES))
def test_float64_models_agree_to_1e_10(case):
    model = forecaster(case, 2, "float64")
    net = to_torch(model)
    assert next(net.parameters()).dtype == torch.float64
    assert_same_batch_results(model, net, TOL["float64"])


@pytest.mark.parametrize("case", ["lstm-recursive", "gru-direct", "rnn-seq", "feedback-seq"])
def test_torch_to_numpy_after_perturbing(case):
    template = forecaster(case)
    net = to_torch(template).eval()
    perturb(net)
    model = from_torch(net)
    assert isinstance(model, Forecaster) and model is not template and model.meta == template.meta
    X = batches(template)[0][0]
    assert not np.allclose(model._predict_batch(X), template._predict_batch(X))
    assert_same_batch_results(model, net, TOL["float32"])
    # with a template the architecture is the template's, the weights the module's
    with_template = from_torch(net, template).params
    for name, p in model.params.items():
        np.testing.assert_array_equal(with_template[name], p, err_msg=name)


def test_state_dict_keys_are_the_model_params():
    for case in ("lstm-seq", "feedback-recursive"):
        model = forecaster(case)
        assert set(to_torch(model).state_dict()) == set(model.params)


def test_a_forecaster_without_networks_is_refused_in_one_sentence():
    with pytest.raises(RnnlabError, match="call fit"):
        to_torch(Forecaster(hidden_size=4, window=5))
    with pytest.raises(RnnlabError, match="engine must be 'numpy' or 'torch'"):
        Forecaster(hidden_size=4, window=5).fit(series(), epochs=1, engine="jax")


# ---------------------------------------------------------------- folders

@pytest.mark.parametrize("case", ["gru-recursive", "feedback-seq"])
def test_folders_load_in_either_engine(tmp_path, case):
    model = Forecaster(cell=CASES[case][0], mode=CASES[case][1], hidden_size=5, window=6, ensemble=2,
                       transform="log1p", difference=True)
    s = series() + 2.0
    model.fit(s, epochs=1)
    save(model, tmp_path / "numpy")
    net = load_torch(tmp_path / "numpy")
    assert isinstance(net, TorchForecaster) and not net.training and net.meta == model.meta
    X = batches(model, s)[0][0]
    np.testing.assert_allclose(net.predict(X), model._predict_batch(X), atol=TOL["float32"], rtol=0)
    perturb(net)
    save_torch(net, tmp_path / "torch")
    back = load(tmp_path / "torch")
    np.testing.assert_allclose(back._predict_batch(X), net.predict(X), atol=TOL["float32"], rtol=0)
    # the scaling and the stored tail came along: a forecast needs nothing else
    np.testing.assert_array_equal(back.forecast(7), from_torch(net).forecast(7))
    assert not np.allclose(back.forecast(7), model.forecast(7))


# ---------------------------------------------------------------- training

TRAIN = {"lstm-recursive": 2, "gru-direct": 2, "rnn-seq": 1, "feedback-recursive": 2}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(TRAIN))
def test_torch_fit_follows_numpy_fit(case, dtype):
    """Same initial weights, same batches (same seed), same Adam steps with clipping: the same weights."""
    cell, mode = CASES[case]
    kw = dict(cell=cell, mode=mode, hidden_size=6, window=8, horizon=2 if mode == "direct" else 1,
              ensemble=TRAIN[case], dtype=dtype)
    ours, theirs = Forecaster(**kw), Forecaster(**kw)
    args = dict(epochs=3, batch_size=16, optimizer=nn.Adam(2e-2), clip_norm=1.0, validation_fraction=0.2, seed=4)
    h1 = ours.fit(series(120), engine="torch", device="cpu", **args)
    args["optimizer"] = nn.Adam(2e-2)
    h2 = theirs.fit(series(120), **args)
    tol = 1e-8 if dtype == "float64" else 1e-4
    for name, p in theirs.params.items():
        np.testing.assert_allclose(ours.params[name], p, atol=tol, rtol=0, err_msg=name)
    for key in ("loss", "grad_norm", "val_loss"):
        np.testing.assert_allclose(h1[:, key], h2[:, key], rtol=tol, err_msg=key)
    assert ours.meta["residual_std"] == pytest.approx(theirs.meta["residual_std"], rel=tol)
    assert not ours.training and h1[-1, "loss"] < h1[0, "loss"]
    np.testing.assert_allclose(ours.forecast(6), theirs.forecast(6), atol=10 * tol, rtol=0)


def test_torch_trained_model_learns_and_forecasts_like_numpy_with_its_weights(tmp_path):
    s = series(200)
    model = Forecaster(cell="lstm", hidden_size=12, window=12, ensemble=2)
    history = model.fit(s[:180], epochs=15, lr=1e-2, engine="torch", device="cpu", out_dir=tmp_path / "run")
    assert history[-1, "loss"] < 0.3 * history[0, "loss"]
    assert np.sqrt(np.mean((model.forecast(20) - s[180:]) ** 2)) < 0.3  # the weights came back, and are good
    # one step ahead: the torch twin's prediction on the stored context is the NumPy forecast
    net = to_torch(model)
    ctx, _ = model._context(None)
    z = net.predict(ctx[None])                                       # (1, K): one step, standardised
    np.testing.assert_allclose(model._unscale(z, None), model.forecast(1), atol=1e-5, rtol=0)
    # the folder written from the torch weights (fit's out_dir) loads in NumPy
    best = load(tmp_path / "run" / "best")
    assert isinstance(best, Forecaster) and (tmp_path / "run" / "history.csv").is_file()


def test_torch_train_takes_a_forecasters_batches_directly():
    """torch_train(model, train_batches) with batches the model built: the loss falls."""
    model = Forecaster(cell="gru", hidden_size=8, window=10, mode="seq")
    model.fit(series(), epochs=1)  # builds the networks and the scaling
    train, _ = model._samples(model._scale(series()), 10**6)

    def train_batches(rng):
        order = rng.permutation(len(train[0]))
        return [model._take(train, order[i:i + 16]) for i in range(0, len(order), 16)]

    everything = model._take(train, np.arange(len(train[0])))
    before = model.evaluate_batch(everything)["loss"]
    history = torch_train(model, train_batches, epochs=6, optimizer=nn.Adam(1e-2), device="cpu", progress=False)
    assert history[-1, "loss"] < 0.5 * history[0, "loss"]
    assert model.evaluate_batch(everything)["loss"] < 0.5 * before  # the trained weights are back in NumPy


def test_torch_fit_checkpoints_and_resumes_like_an_uninterrupted_run(tmp_path):
    """fit's checkpoint options reach torch_train: 2 epochs, then resume to 3, equal 3 in one go."""
    kw, s = dict(cell="gru", hidden_size=5, window=6, dtype="float64"), series()
    whole = Forecaster(**kw)
    whole.fit(s, epochs=3, engine="torch", device="cpu")
    part = Forecaster(**kw)
    part.fit(s, epochs=2, engine="torch", device="cpu", checkpoint_dir=tmp_path)
    resumed = Forecaster(**kw)
    history = resumed.fit(s, epochs=3, engine="torch", device="cpu", checkpoint_dir=tmp_path, resume=True)
    assert len(history) == 3
    for name, p in whole.params.items():
        np.testing.assert_array_equal(resumed.params[name], p, err_msg=name)
