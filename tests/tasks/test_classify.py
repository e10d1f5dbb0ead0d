"""The shared series-classification recipe: padding, pooling, scaling, subsets, merged ensembles, files."""
import dataclasses

import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.models import load, save
from rnnlab.tasks.classify import (ClassifyConfig, build_classifier, channel_scaler, check_config, merge_members,
                                   pad_series, pool_steps, predict_proba, read_series_file, stratified_subset,
                                   train_classifier)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _series(rng, lengths, C=3):
    return [rng.normal(size=(T, C)).astype(np.float32) for T in lengths]


def test_pooling_a_padded_batch_equals_pooling_each_series_alone(rng):
    series = _series(rng, [7, 3, 10, 1])
    X, L = pad_series(series)
    P, PL = pool_steps(X, L, 3)
    assert PL.tolist() == [3, 1, 4, 1]
    for s, p, n in zip(series, P, PL):
        alone, _ = pool_steps(s[None], None, 3)
        np.testing.assert_allclose(p[:n], alone[0], rtol=1e-6)


def test_channel_scaler_ignores_padding(rng):
    series = _series(rng, [5, 2, 8])
    X, L = pad_series(series)
    X[0, 5:] = 1e6   # whatever the padding holds
    mean, std = channel_scaler(X, L)
    rows = np.concatenate(series)
    np.testing.assert_allclose(mean, rows.mean(0), rtol=1e-5)
    np.testing.assert_allclose(std, rows.std(0), rtol=1e-5)


def test_stratified_subset_keeps_every_class_of_a_class_sorted_file():
    y = np.repeat([0, 1, 2, 3], 10)   # sorted by class, like BasicMotions
    idx = stratified_subset(y, 8, np.random.default_rng(1))
    assert len(idx) == 8 and np.all(np.diff(idx) > 0)
    assert np.bincount(y[idx]).tolist() == [2, 2, 2, 2]


@pytest.mark.parametrize("kw", [dict(cell="lstm"),
                                dict(cell="gru", bidirectional=True, layers=2, projection=2, readout="meanmax"),
                                dict(cell="rnn", readout="mean", dropout=0.2),
                                dict(cell="lstm", layers=3, bidirectional=True, readout="max")],
                         ids=["lstm", "bigru-2-proj-meanmax", "rnn-mean", "bilstm-3-max"])
def test_merged_members_give_exactly_the_mean_of_their_logits(rng, kw):
    cfg = ClassifyConfig(hidden=4, **kw)
    members = []
    for m in range(3):
        model = build_classifier(dataclasses.replace(cfg, seed=m), 3, 2)
        model.load_state_dict({k: 0.5 * rng.normal(size=v.shape) for k, v in model.state_dict().items()})
        members.append(model.eval())
    merged = merge_members(members, cfg, 3, 2).eval()
    X, L = pad_series(_series(rng, [7, 3, 5, 1, 6]))
    expected = np.mean([m.forward(X, L) for m in members], 0)
    np.testing.assert_allclose(merged.forward(X, L), expected, atol=1e-6)


@pytest.fixture(scope="module")
def ensemble():
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    series = [(rng.normal(size=(T, 2)) + (1.5 if k else -1.5)).astype(np.float32)
              for T, k in zip(rng.integers(4, 12, size=40), y)]
    cfg = ClassifyConfig(hidden=6, epochs=3, lr=0.02, batch_size=8, ensemble=3, pool=2, progress=False)
    return (*train_classifier(cfg, series, y, ["a", "b"], task="toy"), series, y)


def test_an_ensemble_is_one_network_with_a_mean_history(ensemble):
    model, history, n_fit, n_valid, series, y = ensemble
    assert model.layers[0].hidden_size == 18 and (n_fit, n_valid) == (32, 8)
    assert all(row["members"] >= 1 for row in history) and history[0]["members"] == 3
    assert (predict_proba(model, series).argmax(1) == y).mean() >= 0.9


def test_saved_model_reloads_with_identical_predictions(ensemble, tmp_path):
    model, _, _, _, series, _ = ensemble
    save(model, tmp_path / "m")
    again = load(tmp_path / "m")
    assert again.meta == model.meta
    np.testing.assert_array_equal(predict_proba(again, series), predict_proba(model, series))


def test_check_config_reports_every_problem_at_once():
    cfg = ClassifyConfig(hidden=0, dropout=1.5, cell="tcn", ensemble=0, hybrid="stack")
    with pytest.raises(RnnlabError) as e:
        check_config(cfg)
    assert all(k in str(e.value) for k in ("--hidden", "--dropout", "--cell", "--ensemble", "--hybrid"))


@pytest.fixture(scope="module")
def hybrid():
    rng = np.random.default_rng(2)
    y = np.arange(30) % 3
    series = [(rng.normal(size=(T, 2)) + k - 1).astype(np.float32) for T, k in zip(rng.integers(3, 9, size=30), y)]
    cfg = ClassifyConfig(hidden=4, epochs=2, batch_size=8, pool=2, hybrid="combine", progress=False)
    return train_classifier(cfg, series, y, ["a", "b", "c"], task="toy")[0], series


def test_a_hybrid_predicts_the_mean_of_its_network_and_its_logistic_regression(hybrid):
    model, series = hybrid
    net, lin = (predict_proba(model, series, part=p) for p in ("network", "linear"))
    assert not np.allclose(net, lin, atol=0.05)   # two different halves, so the mean is a real test
    np.testing.assert_allclose(predict_proba(model, series), (net + lin) / 2, rtol=1e-6)


def test_a_hybrid_reloads_with_its_linear_half(hybrid, tmp_path):
    model, series = hybrid
    save(model, tmp_path / "m")
    again = load(tmp_path / "m")
    assert again.meta["hybrid"] == "combine" and len(again.meta["linear"]["coef"]) == 3
    np.testing.assert_array_equal(predict_proba(again, series), predict_proba(model, series))


def test_without_hybrid_the_model_carries_no_linear_half(ensemble):
    model, *_, series, _ = ensemble
    assert "linear" not in model.meta and "hybrid" not in model.meta
    with pytest.raises(ValueError, match="part"):
        predict_proba(model, series, part="linear")


def test_training_refuses_a_single_class(rng):
    with pytest.raises(RnnlabError, match="one class"):
        train_classifier(ClassifyConfig(progress=False), _series(rng, [4, 4]), np.zeros(2, int), ["a"])


def test_read_series_file_takes_npy_and_checks_channels(tmp_path, rng):
    np.save(tmp_path / "one.npy", rng.normal(size=(6, 3)))
    X, L = read_series_file(tmp_path / "one.npy", 3)
    assert X.shape == (1, 6, 3) and L is None
    with pytest.raises(RnnlabError, match="channels"):
        read_series_file(tmp_path / "one.npy", 4)
    np.save(tmp_path / "nan.npy", np.full((2, 6, 3), np.nan))
    with pytest.raises(RnnlabError, match="finite"):
        read_series_file(tmp_path / "nan.npy", 3)


def test_the_task_recipe_scales_raw_series_so_fit_never_sees_them_unscaled():
    import warnings

    from rnnlab.errors import DataScaleWarning

    rng = np.random.default_rng(1)
    y = np.arange(24) % 2
    series = [(1e4 * (rng.normal(size=(6, 2)) + (2.0 if k else -2.0)) + 5e4).astype(np.float32) for k in y]
    cfg = ClassifyConfig(hidden=4, epochs=1, batch_size=8, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataScaleWarning)
        model, *_ = train_classifier(cfg, series, y, ["a", "b"], task="toy")
    assert np.max(np.abs(model.meta["scale_mean"])) > 1e4   # the raw scale was seen, and undone


@pytest.mark.parametrize("options", [dict(zoneout=0.1), dict(layer_norm=True), dict(recurrent_dropout=0.2),
                                     dict(input_dropout=0.3, zoneout=0.05, layer_norm=True)])
def test_regularisation_flags_reach_the_recurrent_layer(options):
    model = build_classifier(ClassifyConfig(cell="gru", **options), n_channels=3, n_classes=2)
    layer = model.layers[0]
    for name, value in options.items():
        assert getattr(layer, name) == value, name


@pytest.mark.parametrize("options, match", [
    (dict(zoneout=1.0), "--zoneout must be in"),
    (dict(recurrent_dropout=-0.1), "--recurrent-dropout must be in"),
    (dict(layer_norm=True, ensemble=3), "--layer-norm cannot be merged"),
    (dict(weight_decay=-1.0), "--weight-decay must be >= 0"),
])
def test_bad_regularisation_flags_are_named(options, match):
    with pytest.raises(RnnlabError, match=match):
        check_config(ClassifyConfig(**options))


def test_sentiment_builds_its_layer_with_the_same_flags():
    from rnnlab.tasks.sentiment import SentimentConfig, build_model

    cfg = SentimentConfig(zoneout=0.1, layer_norm=True, recurrent_dropout=0.2, weight_decay=0.01, hidden=4)
    model = build_model(cfg, np.zeros((10, 5), np.float32), 2)
    rnn = model.layers[1]
    assert (rnn.zoneout, rnn.layer_norm, rnn.recurrent_dropout) == (0.1, True, 0.2)
    assert type(model.optimizer).__name__ == "AdamW" and model.optimizer.weight_decay == 0.01
