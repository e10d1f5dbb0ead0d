"""``torch_fit`` trains with rnnlab's loop: same losses, same gradients, same History, callbacks work."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnlab import nn  # noqa: E402
from rnnlab.errors import NotFittedError, RnnlabError  # noqa: E402
from rnnlab.models import LambdaCallback, Sequential, StepLR  # noqa: E402
from rnnlab.torch.engine import to_torch  # noqa: E402
from rnnlab.torch.training import TorchModel, torch_fit  # noqa: E402


def model_for(loss, per_step, dtype=np.float64, seed=0):
    n_out = {"mse": 2, "bce": 2, "cross_entropy": 3}[loss]
    layers = [nn.GRU(3, 4, num_layers=2, bidirectional=True, return_sequences=per_step, dtype=dtype, seed=seed),
              nn.Dense(8, n_out, dtype=dtype, seed=seed)]
    model = Sequential(layers).compile(loss=loss, metrics=["accuracy"] if loss != "mse" else ["mae"])
    rng = np.random.default_rng(seed)
    for p in model.params.values():
        p[...] = rng.standard_normal(p.shape) * 0.4
    return model


def batch_for(loss, per_step, B=4, T=5, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, T, 3))
    lengths = np.array([5, 2, 4, 1])
    lead = (B, T) if per_step else (B,)
    if loss == "cross_entropy":
        y = rng.integers(0, 3, lead)
    else:
        y = rng.random(lead + (2,)) if loss == "bce" else rng.standard_normal(lead + (2,))
    return X, y, lengths


@pytest.mark.parametrize("per_step", [False, True], ids=["sequence", "per-step"])
@pytest.mark.parametrize("loss", ["mse", "bce", "cross_entropy"])
def test_one_step_loss_gradients_and_metrics_match_numpy(loss, per_step):
    model = model_for(loss, per_step)
    batch = batch_for(loss, per_step)
    value = model.train_step_loss(batch)
    net = to_torch(model).train()
    tmodel = TorchModel(net, model._compile_config, model.metrics, torch.device("cpu"), bf16=False)
    assert tmodel.train_step_loss(batch) == pytest.approx(value, rel=1e-10)
    for name, g in tmodel.grads.items():
        np.testing.assert_allclose(g, model.grads[name], atol=1e-10, rtol=1e-8, err_msg=name)
    ours, theirs = model.evaluate_batch(batch), tmodel.evaluate_batch(batch)
    assert ours.keys() == theirs.keys()
    for k in ours:
        assert theirs[k] == pytest.approx(ours[k], rel=1e-9), k


def toy_task(n=240, T=10, seed=0):
    """Label 1 when token 3 occurs at least twice; right-padded ids with id 0."""
    rng = np.random.default_rng(seed)
    X = rng.integers(1, 8, (n, T))
    lengths = rng.integers(3, T + 1, n)
    for i, k in enumerate(lengths):
        X[i, k:] = 0
    y = ((X == 3).sum(1) >= 2).astype(np.int64)
    return X, y


def test_torch_fit_learns_and_writes_the_weights_back():
    X, y = toy_task()
    model = Sequential([nn.Embedding(8, 8, padding_idx=0, seed=0), nn.GRU(8, 16, return_sequences=False, seed=1),
                        nn.Dense(16, 2, seed=2)]).compile(loss="cross_entropy", lr=2e-2)
    seen = []
    history = torch_fit(model, X, y, epochs=6, batch_size=32, validation_split=0.25, device="cpu", progress=False,
                        callbacks=[StepLR(step_size=3, gamma=0.5),
                                   LambdaCallback(on_grad_computed=lambda t: seen.append(t.grad_norm))])
    assert len(history) == 6 and history[:, "lr"] == [2e-2] * 3 + [1e-2] * 3
    assert {"loss", "val_loss", "val_accuracy", "grad_norm", "seconds", "val_loss_best"} <= set(history[-1])
    assert history[-1, "loss"] < 0.7 * history[0, "loss"]
    assert seen and seen[0] is None  # on_grad_computed runs after backward, before clipping
    # the NumPy model now holds the trained weights: its own evaluation agrees with the last epoch's
    assert model.history_ is history
    assert model.evaluate(X, y)["loss"] < history[0, "loss"]


def test_torch_fit_needs_a_compiled_model():
    model = Sequential([nn.LSTM(3, 4, seed=0), nn.Dense(4, 1, seed=0)])
    with pytest.raises(NotFittedError, match="compile"):
        torch_fit(model, np.zeros((2, 3, 3)), np.zeros((2, 3)), device="cpu")


def test_torch_fit_refuses_optimiser_options_without_a_twin():
    model = Sequential([nn.LSTM(3, 4, seed=0), nn.Dense(4, 1, seed=0)])
    model.compile(loss="mse", optimizer=nn.Adam(l1=1e-4))
    X = np.zeros((4, 3, 3), np.float32)
    with pytest.raises(RnnlabError, match="l1=0.0001"):
        torch_fit(model, X, np.zeros((4, 3)), device="cpu", progress=False)

