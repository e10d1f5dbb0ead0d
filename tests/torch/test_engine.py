"""The PyTorch engine computes what the NumPy engine computes, and weights move both ways.

Every cell (RNN tanh/relu, LSTM, GRU), 1-2 layers, uni/bidirectional, with and without lengths,
return_sequences True/False, Embedding front-ends, the output-feedback RNN: NumPy → torch and
torch → NumPy agree within 1e-5 in float32, and a model folder written by one engine loads in
the other with the same predictions.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnlab import nn  # noqa: E402
from rnnlab.errors import RnnlabError  # noqa: E402
from rnnlab.models import Sequential, load, save  # noqa: E402
from rnnlab.torch.device import autocast, resolve_device  # noqa: E402
from rnnlab.torch.engine import TorchSequential, from_torch, load_torch, save_torch, to_torch  # noqa: E402

TOL = 1e-5
CELLS = {"rnn_tanh": (nn.RNN, {"nonlinearity": "tanh"}), "rnn_relu": (nn.RNN, {"nonlinearity": "relu"}),
         "lstm": (nn.LSTM, {}), "gru": (nn.GRU, {})}
STACKS = {"1-uni": (1, False), "1-bi": (1, True), "2-uni": (2, False), "2-bi": (2, True)}
LENGTHS = np.array([6, 2, 5, 1])


def randomize(model, seed=0, scale=0.4):
    """Random non-zero weights and biases everywhere (zero biases would hide bias-layout mistakes)."""
    rng = np.random.default_rng(seed)
    for name, p in model.params.items():
        p[...] = rng.standard_normal(p.shape) * scale
    return model


def recurrent_model(cell, stack, return_sequences, n_out=3, dtype=np.float32, seed=0):
    cls, kw = CELLS[cell]
    L, bi = STACKS[stack]
    H = 5
    layers = [cls(3, H, num_layers=L, bidirectional=bi, return_sequences=return_sequences, dtype=dtype, seed=seed,
                  **kw),
              nn.Dense(H * (2 if bi else 1), n_out, dtype=dtype, seed=seed + 1)]
    model = randomize(Sequential(layers), seed)
    return model.compile(loss="mse").eval()


def features(B=4, T=6, seed=1, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal((B, T, 3)).astype(dtype)


def forward_torch(net, X, lengths=None):
    with torch.no_grad():
        x, lb = net.as_tensors(X, lengths)
        return net(x, lb).numpy()


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("return_sequences", [True, False], ids=["seq", "last"])
@pytest.mark.parametrize("stack", list(STACKS))
@pytest.mark.parametrize("cell", list(CELLS))
def test_numpy_to_torch_same_outputs(cell, stack, return_sequences, lengths):
    model = recurrent_model(cell, stack, return_sequences)
    X = features()
    net = to_torch(model).eval()
    np.testing.assert_allclose(forward_torch(net, X, lengths), model.forward(X, lengths), atol=TOL, rtol=0)


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_torch_to_numpy_same_outputs(cell, lengths):
    template = recurrent_model(cell, "2-bi", True)
    net = to_torch(template).eval()
    with torch.no_grad():  # weights changed on the torch side only
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.4)
    X = features()
    model = from_torch(net, template)
    assert model is not template and not np.allclose(model.forward(X), template.forward(X))
    np.testing.assert_allclose(model.forward(X, lengths), forward_torch(net, X, lengths), atol=TOL, rtol=0)
    # without a template the architecture comes from the TorchSequential itself
    np.testing.assert_allclose(from_torch(net).forward(X, lengths), model.forward(X, lengths), atol=0, rtol=0)


def test_state_dict_keys_are_the_file_keys():
    model = recurrent_model("lstm", "2-bi", True)
    net = to_torch(model)
    assert set(net.state_dict()) == set(model.state_dict())
    assert "0.weight_hh_l1_reverse" in net.state_dict() and isinstance(net, TorchSequential)


def embedding_model(cell="lstm", per_step=False, seed=0):
    cls, kw = CELLS[cell]
    layers = [nn.Embedding(12, 4, padding_idx=0, seed=seed),
              cls(4, 6, num_layers=2, bidirectional=True, dropout=0.2, seed=seed, **kw),
              nn.Dropout(0.3, seed=seed),
              cls(12, 5, return_sequences=per_step, seed=seed, **kw),
              nn.Dense(5, 3, seed=seed)]
    model = randomize(Sequential(layers), seed)
    return model.compile(loss="cross_entropy", metrics=["accuracy"]).eval()


def padded_ids(lengths=(7, 3, 5, 1, 6), T=7, seed=2):
    X = np.random.default_rng(seed).integers(1, 12, (len(lengths), T))
    for i, n in enumerate(lengths):
        X[i, n:] = 0
    return X


@pytest.mark.parametrize("per_step", [False, True], ids=["per-sequence", "per-step"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
def test_embedding_model_predictions_match(cell, per_step):
    model = embedding_model(cell, per_step)
    model._fitted = True
    X = padded_ids()
    net = to_torch(model)
    np.testing.assert_allclose(net.predict(X), model.predict(X), atol=TOL, rtol=0)


@pytest.mark.parametrize("mode", ["mean", "max", "meanmax"])
def test_masked_pool_heads_match_and_ignore_padding(mode):
    from rnnlab.nn.pooling import MaskedPool

    layers = [nn.GRU(3, 5, bidirectional=True, return_sequences=True, seed=0), MaskedPool(mode),
              nn.Dense(10 * (2 if mode == "meanmax" else 1), 2, seed=1)]
    model = randomize(Sequential(layers), seed=2).compile(loss="cross_entropy").eval()
    X = features()
    X[1, LENGTHS[1]:] = 1e3                    # large padding: any leak into the pool would show
    net = to_torch(model)
    np.testing.assert_allclose(forward_torch(net, X, LENGTHS), model.forward(X, LENGTHS), atol=TOL, rtol=0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_folder_saved_by_numpy_loads_in_torch(tmp_path, cell):
    model = embedding_model(cell, per_step=True)
    save(model, tmp_path / "m")
    net = load_torch(tmp_path / "m")
    assert not net.training
    X = padded_ids()
    np.testing.assert_allclose(net.predict(X), load(tmp_path / "m").predict(X), atol=TOL, rtol=0)


def test_folder_saved_by_torch_loads_in_numpy(tmp_path):
    model = embedding_model("gru")
    model.meta = {"vocab": ["<pad>", "a", "b"]}
    net = to_torch(model)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    save_torch(net, tmp_path / "m")
    back = load(tmp_path / "m")
    X = padded_ids()
    assert back.meta == model.meta and back.get_config() == model.get_config()
    np.testing.assert_allclose(back.predict(X), net.predict(X), atol=TOL, rtol=0)


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
def test_feedback_rnn_matches_both_ways(lengths):
    model = randomize(Sequential([nn.RNN(3, 4, seed=0), nn.FeedbackRNN(4, 5, nonlinearity="tanh", seed=1)]))
    model.compile(loss="mse").eval()
    X = features()
    net = to_torch(model).eval()
    assert {"1.weight_yy", "1.weight_yh", "1.bias_y", "1.weight_hy", "1.weight_hh", "1.bias_h"} <= set(net.state_dict())
    np.testing.assert_allclose(forward_torch(net, X, lengths), model.forward(X, lengths), atol=TOL, rtol=0)
    with torch.no_grad():
        net.get_submodule("1").weight_yh.mul_(-1.5)
    np.testing.assert_allclose(from_torch(net, model).forward(X, lengths), forward_torch(net, X, lengths),
                               atol=TOL, rtol=0)


@pytest.mark.parametrize("layer", [
    lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True, layer_norm=True, seed=0),
    lambda: nn.GRU(3, 4, layer_norm=True, seed=0),
    lambda: nn.RNN(3, 4, nonlinearity="sigmoid", bidirectional=True, seed=0)], ids=["ln-lstm", "ln-gru", "sigmoid"])
def test_layers_without_cudnn_kernel_run_as_torch_loops(layer):
    layer = layer()
    model = randomize(Sequential([layer, nn.Dense(layer.hidden_size * layer.num_directions, 2, seed=1)]))
    model.eval()
    X = features()
    net = to_torch(model).eval()
    np.testing.assert_allclose(forward_torch(net, X, LENGTHS), model.forward(X, LENGTHS), atol=TOL, rtol=0)


def test_float64_models_match_to_double_precision():
    model = recurrent_model("lstm", "2-bi", False, dtype=np.float64)
    X = features(dtype=np.float64)
    net = to_torch(model).eval()
    assert next(net.parameters()).dtype == torch.float64
    np.testing.assert_allclose(forward_torch(net, X, LENGTHS), model.forward(X, LENGTHS), atol=1e-12, rtol=0)


def test_unsupported_options_are_refused_all_at_once():
    model = Sequential([nn.LSTM(3, 4, zoneout=0.1, seed=0), nn.GRU(4, 4, recurrent_dropout=0.2, seed=0)])
    with pytest.raises(RnnlabError, match=r"layer 0 \(LSTM\) uses zoneout=0.1.*layer 1 \(GRU\) uses recurrent_dropout"):
        to_torch(model)


def test_from_torch_without_template_needs_a_torch_sequential():
    with pytest.raises(RnnlabError, match="needs a template Sequential"):
        from_torch(torch.nn.LSTM(3, 4))


def test_wrong_weights_are_a_clear_error():
    net = to_torch(recurrent_model("gru", "1-uni", True))
    other = recurrent_model("gru", "2-uni", True)
    with pytest.raises(RnnlabError, match="do not match the architecture"):
        from_torch(net, other)


def test_device_selection():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(RnnlabError, match="device must be one of"):
        resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(RnnlabError, match="use --device cpu"):
            resolve_device("cuda")
        with pytest.raises(RnnlabError, match="bf16 autocast runs on CUDA only"):
            autocast("cpu", bf16=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_predictions_match_numpy():
    model = embedding_model("lstm", per_step=True)
    model._fitted = True
    X = padded_ids()
    net = to_torch(model, device="cuda")
    np.testing.assert_allclose(net.predict(X), model.predict(X), atol=1e-4, rtol=0)  # TF32/cuDNN rounding
    bf16 = net.predict(X, bf16=True)
    assert bf16.dtype == np.float32 and np.abs(bf16 - model.predict(X)).max() < 0.05


def test_import_rnnlab_without_torch_and_clear_error_for_the_engine():
    code = textwrap.dedent("""
        import sys

        class NoTorch:  # as if torch were not installed (sys.modules["torch"] = None upsets scipy)
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "torch":
                    raise ModuleNotFoundError(f"No module named {name!r}")

        sys.meta_path.insert(0, NoTorch())
        import rnnlab, rnnlab.models, rnnlab.torch
        assert "torch" not in sys.modules
        from rnnlab.errors import RnnlabError
        try:
            import rnnlab.torch.engine
        except RnnlabError as e:
            assert isinstance(e, ImportError), type(e)
            print(e)
        else:
            raise SystemExit("no error")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install rnnlab[torch]" in out.stdout
