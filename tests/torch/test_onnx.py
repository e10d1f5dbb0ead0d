"""An exported ONNX graph, run by onnxruntime, computes what the NumPy engine computes.

RNN (tanh, relu), LSTM and GRU; uni- and bidirectional; stacked; return_sequences True/False;
variable lengths within a batch through the real ``sequence_lens`` input; Embedding front-ends;
the output-feedback RNN (teacher-forced); one graph run on two different (batch, time) shapes. The
checker passes on every file; layers without an ONNX operator are refused with a clear message.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from rnnlab import nn  # noqa: E402
from rnnlab.errors import RnnlabError  # noqa: E402
from rnnlab.models import Sequential, save  # noqa: E402
from rnnlab.torch.onnx_export import build_onnx, export_model, export_onnx, run_onnx  # noqa: E402

TOL = 1e-5
CELLS = {"rnn_tanh": (nn.RNN, {"nonlinearity": "tanh"}), "rnn_relu": (nn.RNN, {"nonlinearity": "relu"}),
         "lstm": (nn.LSTM, {}), "gru": (nn.GRU, {})}
STACKS = {"1-uni": (1, False), "1-bi": (1, True), "2-uni": (2, False), "2-bi": (2, True)}


def randomize(model, seed=0, scale=0.4):
    """Random non-zero weights and biases: a gate-order or bias-layout mistake cannot hide."""
    rng = np.random.default_rng(seed)
    for p in model.params.values():
        p[...] = rng.standard_normal(p.shape) * scale
    model._fitted = True
    return model


def feature_model(cell, stack, return_sequences, loss="mse"):
    cls, kw = CELLS[cell]
    L, bi = STACKS[stack]
    layers = [cls(3, 5, num_layers=L, bidirectional=bi, return_sequences=return_sequences, seed=0, **kw),
              nn.Dense(5 * (2 if bi else 1), 2, seed=1)]
    return randomize(Sequential(layers).compile(loss=loss)).eval()


def features(B=5, T=7, seed=1):
    return np.random.default_rng(seed).standard_normal((B, T, 3)).astype(np.float32)


def lengths_for(B, T, seed=2):
    lengths = np.random.default_rng(seed).integers(1, T + 1, B)
    lengths[0] = T  # the longest sequence fills the time axis; the others are padded
    return lengths


def check_matches(model, path, X, lengths):
    got = run_onnx(path, X, lengths)
    np.testing.assert_allclose(got["output"], model.forward(X, lengths), atol=TOL, rtol=0)
    np.testing.assert_allclose(got["prediction"], model.predict(X, lengths), atol=TOL, rtol=0)


@pytest.mark.parametrize("return_sequences", [True, False], ids=["seq", "last"])
@pytest.mark.parametrize("stack", list(STACKS))
@pytest.mark.parametrize("cell", list(CELLS))
def test_onnxruntime_matches_numpy_with_variable_lengths(tmp_path, cell, stack, return_sequences):
    model = feature_model(cell, stack, return_sequences)
    path = export_model(model, tmp_path / "m.onnx")
    X = features()
    check_matches(model, path, X, lengths_for(*X.shape[:2]))
    check_matches(model, path, X, np.full(X.shape[0], X.shape[1]))  # nothing padded


@pytest.mark.parametrize("cell", list(CELLS))
def test_one_graph_runs_on_two_batch_and_time_shapes(tmp_path, cell):
    model = feature_model(cell, "2-bi", True)
    path = export_model(model, tmp_path / "m.onnx")
    for B, T in [(3, 4), (8, 11)]:
        X = features(B, T, seed=B)
        check_matches(model, path, X, lengths_for(B, T, seed=T))


def embedding_model(cell, per_step, loss):
    cls, kw = CELLS[cell]
    n_out = 1 if loss == "bce" else 3
    layers = [nn.Embedding(15, 4, padding_idx=0, seed=0),
              cls(4, 6, num_layers=2, bidirectional=True, dropout=0.3, seed=0, **kw),
              nn.Dropout(0.2, seed=0),
              cls(12, 5, return_sequences=per_step, seed=1, **kw),
              nn.Dense(5, n_out, seed=2)]
    return randomize(Sequential(layers).compile(loss=loss)).eval()


def padded_ids(lengths, T, seed=3):
    X = np.random.default_rng(seed).integers(1, 15, (len(lengths), T))
    for i, n in enumerate(lengths):
        X[i, n:] = 0
    return X


@pytest.mark.parametrize("per_step,loss", [(False, "cross_entropy"), (False, "bce"), (True, "cross_entropy")],
                         ids=["sequence-ce", "sequence-bce", "per-step-ce"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
def test_embedding_front_end_from_a_saved_folder(tmp_path, cell, per_step, loss):
    model = embedding_model(cell, per_step, loss)
    save(model, tmp_path / "m")
    path = export_onnx(tmp_path / "m", tmp_path / "m.onnx")
    X = padded_ids([8, 3, 6, 1], 8)
    got = run_onnx(path, X)  # sequence_lens from padding_idx, as Sequential.predict derives lengths
    np.testing.assert_allclose(got["prediction"], model.predict(X), atol=TOL, rtol=0)
    Xs = padded_ids([4, 2], 4, seed=4)  # a second (batch, time) on the same graph
    np.testing.assert_allclose(run_onnx(path, Xs)["prediction"], model.predict(Xs), atol=TOL, rtol=0)


def test_graph_passes_the_checker_and_declares_dynamic_axes(tmp_path):
    model = embedding_model("lstm", True, "cross_entropy")
    path = export_model(model, tmp_path / "m.onnx")
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    inputs = {i.name: i.type.tensor_type for i in proto.graph.input}
    assert inputs["sequence_lens"].elem_type == onnx.TensorProto.INT32
    assert [d.dim_param for d in inputs["input"].shape.dim] == ["batch", "time"]
    assert {n.op_type for n in proto.graph.node} >= {"LSTM", "Gather", "MatMul", "Add", "Softmax"}
    assert [o.name for o in proto.graph.output] == ["output", "prediction"]
    assert {p.key for p in proto.metadata_props} >= {"rnnlab_config", "rnnlab_meta", "rnnlab_padding_idx"}


def test_gru_uses_torch_reset_placement():
    model = feature_model("gru", "1-uni", True)
    gru = next(n for n in build_onnx(model).graph.node if n.op_type == "GRU")
    assert {a.name: a.i for a in gru.attribute if a.name == "linear_before_reset"} == {"linear_before_reset": 1}


def test_uncompiled_model_exports_only_the_output(tmp_path):
    model = randomize(Sequential([nn.LSTM(3, 4, seed=0), nn.Dense(4, 2, seed=0)])).eval()
    model._fitted = False
    path = export_model(model, tmp_path / "m.onnx")
    X, lengths = features(), lengths_for(5, 7)
    got = run_onnx(path, X, lengths)
    assert list(got) == ["output"]
    np.testing.assert_allclose(got["output"], model.forward(X, lengths), atol=TOL, rtol=0)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "sigmoid"])
def test_feedback_rnn_exports_teacher_forced(tmp_path, nonlinearity):
    layers = [nn.GRU(3, 4, bidirectional=True, seed=0), nn.Dense(8, 2, seed=1),
              nn.FeedbackRNN(2, 5, nonlinearity=nonlinearity, seed=2)]
    model = randomize(Sequential(layers).compile(loss="mse")).eval()
    save(model, tmp_path / "fb")
    path = export_onnx(tmp_path / "fb", tmp_path / "fb.onnx")
    assert "RNN" in {n.op_type for n in onnx.load(str(path)).graph.node}
    for B, T in [(5, 7), (2, 1)]:  # T = 1: the shifted sequences are all zeros
        X = features(B, T, seed=B)
        check_matches(model, path, X, lengths_for(B, T))


def test_layer_norm_is_refused():
    model = Sequential([nn.LSTM(3, 4, layer_norm=True, seed=0), nn.Dense(4, 1, seed=0)])
    with pytest.raises(RnnlabError, match="layer_norm=True"):
        build_onnx(model)


def test_a_hybrid_task_model_is_refused_rather_than_exported_by_half():
    model = feature_model("gru", "1-uni", False)
    build_onnx(model)   # the network alone exports
    model.meta = {"hybrid": "combine", "linear": {"coef": [[0.0]]}}
    with pytest.raises(RnnlabError, match="--hybrid none"):
        build_onnx(model)


def test_missing_onnx_is_a_clear_error(tmp_path):
    save(feature_model("gru", "1-uni", False), tmp_path / "m")
    code = textwrap.dedent(f"""
        import sys

        class NoOnnx:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "onnx":
                    raise ModuleNotFoundError(f"No module named {{name!r}}")

        sys.meta_path.insert(0, NoOnnx())
        from rnnlab.errors import RnnlabError
        from rnnlab.torch.onnx_export import export_onnx
        try:
            export_onnx({str(tmp_path / "m")!r}, {str(tmp_path / "m.onnx")!r})
        except RnnlabError as e:
            print(e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install rnnlab[onnx]" in out.stdout
