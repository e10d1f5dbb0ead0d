"""Saving and loading a Sequential: bit-identical round trips, damaged folders, atomic replacement."""
import json
import shutil

import numpy as np
import pytest

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.models import Sequential, load, save
from rnnlab.models import io as model_io


def _ids(rng, N=24, T=9, V=12):
    L = rng.integers(2, T + 1, N)
    return (rng.integers(1, V, (N, T)) * (np.arange(T)[None, :] < L[:, None])).astype(np.int64)


def _bigru_text(rng):
    X = _ids(rng)
    model = Sequential([nn.Embedding(12, 6, padding_idx=0, seed=0),
                        nn.GRU(6, 8, num_layers=2, bidirectional=True, dropout=0.2, seed=1),
                        nn.GRU(16, 8, bidirectional=True, return_sequences=False, seed=2),
                        nn.Dense(16, 3, seed=3)])
    return model, "cross_entropy", X, rng.integers(0, 3, len(X))


def _lstm_classifier(rng):
    X = rng.standard_normal((24, 6, 4)).astype(np.float32)
    model = Sequential([nn.LSTM(4, 8, return_sequences=False, seed=0), nn.Dropout(0.3, seed=1),
                        nn.Dense(8, 1, seed=2)])
    return model, "bce", X, rng.integers(0, 2, 24).astype(np.float32)


def _rnn_per_step_float64(rng):
    X = rng.standard_normal((24, 6, 2))
    model = Sequential([nn.RNN(2, 5, nonlinearity="relu", seed=0, dtype=np.float64),
                        nn.Dense(5, 2, seed=1, dtype=np.float64)])
    return model, "mse", X, rng.standard_normal((24, 6, 2))


def _feedback(rng):
    X = rng.standard_normal((24, 6, 1)).astype(np.float32)
    return Sequential([nn.FeedbackRNN(1, 6, seed=0)]), "mse", X, X


ARCHS = {"bigru_stacked_embedding": _bigru_text, "lstm_classifier": _lstm_classifier,
         "rnn_per_step_float64": _rnn_per_step_float64, "feedback": _feedback}


def _trained(make, seed=0):
    model, loss, X, y = make(np.random.default_rng(seed))
    model.compile(loss, lr=1e-2)
    model.fit(X, y, epochs=2, batch_size=8, progress=False)
    return model, X, y


@pytest.mark.parametrize("arch", ARCHS)
def test_round_trip_predicts_bit_identically(arch, tmp_path):
    model, X, y = _trained(ARCHS[arch])
    save(model, tmp_path / "m", metrics={"note": 1})
    back = load(tmp_path / "m")
    assert isinstance(back, Sequential) and back.get_config() == model.get_config()
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    assert back.evaluate(X, y) == model.evaluate(X, y)
    assert type(back.loss) is type(model.loss) and back.metrics == model.metrics
    assert all(back.params[k].dtype == v.dtype for k, v in model.params.items())


def test_loaded_model_keeps_training(tmp_path):
    model, X, y = _trained(_lstm_classifier)
    save(model, tmp_path / "m")
    back = load(tmp_path / "m")
    h = back.fit(X, y, epochs=1, progress=False)
    assert np.isfinite(h[-1, "loss"])


def test_compile_settings_travel_with_the_model(tmp_path):
    model, X, y = _trained(_bigru_text)
    model.compile(nn.CrossEntropyLoss(ignore_index=2), "rmsprop", lr=0.003, metrics=[])
    save(model, tmp_path / "m")
    back = load(tmp_path / "m")
    assert back.loss.ignore_index == 2 and isinstance(back.optimizer, nn.RMSprop)
    assert back.optimizer.lr == 0.003 and back.metrics == []


# -- damaged folders ------------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    model, X, _ = _trained(_bigru_text)
    return save(model, tmp_path / "m"), model, X


def test_corrupted_weights_file(saved):
    path, _, _ = saved
    (path / model_io.WEIGHTS).write_bytes(b"\x00garbage" * 10)
    with pytest.raises(RnnlabError, match="not a readable safetensors file"):
        load(path)


def test_truncated_weights_file(saved):
    path, _, _ = saved
    w = path / model_io.WEIGHTS
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    with pytest.raises(RnnlabError, match="safetensors"):
        load(path)


def test_missing_weights_file(saved):
    path, _, _ = saved
    (path / model_io.WEIGHTS).unlink()
    with pytest.raises(RnnlabError, match="has no weights.safetensors"):
        load(path)


def test_missing_config(saved):
    path, _, _ = saved
    (path / model_io.CONFIG).unlink()
    with pytest.raises(RnnlabError, match="has no config.json"):
        load(path)


def test_config_that_is_not_json(saved):
    path, _, _ = saved
    (path / model_io.CONFIG).write_text("{layers: ")
    with pytest.raises(RnnlabError, match="not valid JSON"):
        load(path)


def _edit_config(path, edit):
    header = json.loads((path / model_io.CONFIG).read_text())
    edit(header["config"])
    (path / model_io.CONFIG).write_text(json.dumps(header))


def test_config_lying_about_shapes(saved):
    path, _, _ = saved
    _edit_config(path, lambda c: (c["layers"][1].update(hidden_size=9), c["layers"][2].update(input_size=18)))
    with pytest.raises(RnnlabError, match="misshapen"):
        load(path)


def test_config_with_an_extra_layer(saved):
    path, _, _ = saved
    _edit_config(path, lambda c: c["layers"].append({"class": "Dense", "in_features": 3, "out_features": 3}))
    with pytest.raises(RnnlabError, match="missing"):
        load(path)


@pytest.mark.parametrize("edit, match", [
    (lambda c: c["layers"].__setitem__(1, {"class": "Transformer"}), "unknown layer 'Transformer'"),
    (lambda c: c["layers"][3].update(units=4), "does not match its arguments"),
    (lambda c: c["layers"][2].update(input_size=5), "expects 5 input features"),
    (lambda c: c.pop("layers"), "\"layers\" list"),
], ids=["unknown_class", "unknown_argument", "broken_chain", "no_layers"])
def test_config_that_does_not_describe_a_model(saved, edit, match):
    path, _, _ = saved
    _edit_config(path, edit)
    with pytest.raises(RnnlabError, match=match):
        load(path)


# -- replacing ------------------------------------------------------------------------------------
def test_saving_over_an_existing_model_replaces_it(tmp_path):
    a, X, _ = _trained(_bigru_text, seed=0)
    b, _, _ = _trained(_bigru_text, seed=1)
    save(a, tmp_path / "m")
    save(b, tmp_path / "m")
    np.testing.assert_array_equal(load(tmp_path / "m").predict(X), b.predict(X))
    assert [p.name for p in tmp_path.iterdir()] == ["m"]      # no temporary folders left


def test_a_failed_save_leaves_the_previous_model_intact(tmp_path, monkeypatch):
    a, X, _ = _trained(_bigru_text, seed=0)
    b, _, _ = _trained(_bigru_text, seed=1)
    save(a, tmp_path / "m")
    import safetensors.numpy

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.numpy, "save_file", disk_full)
    with pytest.raises(RnnlabError, match="could not save"):
        save(b, tmp_path / "m")
    np.testing.assert_array_equal(load(tmp_path / "m").predict(X), a.predict(X))
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


# -- hostile folders: nothing outside the folder is read, nothing in it is executed ---------------
def test_weights_linked_from_outside_the_folder_are_refused(saved, tmp_path):
    path, _, _ = saved
    outside = tmp_path / "elsewhere.safetensors"
    shutil.move(path / model_io.WEIGHTS, outside)
    (path / model_io.WEIGHTS).symlink_to(outside)
    with pytest.raises(RnnlabError, match="points outside the model folder"):
        load(path)


def test_config_linked_from_outside_the_folder_is_refused(saved, tmp_path):
    path, _, _ = saved
    outside = tmp_path / "config.json"
    shutil.move(path / model_io.CONFIG, outside)
    (path / model_io.CONFIG).symlink_to(outside)
    with pytest.raises(RnnlabError, match="points outside the model folder"):
        load(path)


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "__import__('os')", None, 3])
def test_a_model_kind_is_a_registry_name_never_an_import_path(saved, kind):
    path, _, _ = saved
    header = json.loads((path / model_io.CONFIG).read_text())
    header["kind"] = kind
    (path / model_io.CONFIG).write_text(json.dumps(header))
    with pytest.raises(RnnlabError, match="unknown model kind"):
        load(path)


def _rewrite_weights(path, change):
    from safetensors.numpy import load_file, save_file

    w = load_file(str(path / model_io.WEIGHTS))
    change(w)
    save_file(w, str(path / model_io.WEIGHTS))


@pytest.mark.parametrize("change, match", [
    (lambda w: w.update({k: v.astype(np.int32) for k, v in list(w.items())[:1]}), "non-float arrays"),
    (lambda w: next(iter(w.values())).__setitem__((0,) * next(iter(w.values())).ndim, np.nan), "NaN or infinite"),
], ids=["integer_weights", "nan_weight"])
def test_weights_of_the_wrong_kind_are_refused(saved, change, match):
    path, _, _ = saved
    _rewrite_weights(path, change)
    with pytest.raises(RnnlabError, match=match):
        load(path)


def test_a_safetensors_header_claiming_huge_sizes_is_refused(saved):
    path, _, _ = saved
    header = json.dumps({"w": {"dtype": "F32", "shape": [1 << 20, 1 << 20], "data_offsets": [0, 1 << 42]}}).encode()
    (path / model_io.WEIGHTS).write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 16)
    with pytest.raises(RnnlabError, match="safetensors"):
        load(path)


def test_meta_that_is_not_an_object_is_refused(saved):
    path, _, _ = saved
    header = json.loads((path / model_io.CONFIG).read_text())
    header["meta"] = ["task", "digits"]
    (path / model_io.CONFIG).write_text(json.dumps(header))
    with pytest.raises(RnnlabError, match="not a JSON object"):
        load(path)
