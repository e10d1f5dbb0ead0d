"""Hidden-state recordings: the workspace copied out faithfully, and the files drawn from it."""
import csv

import numpy as np
import pytest

from rnnlab import nn
from rnnlab.models import Sequential
from rnnlab.viz import recordings as rc


def _sequential(layer):
    return Sequential([layer, nn.Dense(layer.hidden_size, 2, seed=9)]).compile("cross_entropy", "adam")


def test_recorded_lstm_gates_reproduce_h_equals_o_tanh_c():
    X = np.random.default_rng(0).standard_normal((3, 7, 4)).astype(np.float32)
    rec = rc.record(_sequential(nn.LSTM(4, 6, return_sequences=False, seed=0)), X)
    for h, o, tc in zip(rec.hidden, rec.gates["output"], rec.gates["tanh(c)"]):
        np.testing.assert_allclose(h, o * tc, rtol=1e-6, atol=1e-7)


def test_recording_cuts_each_input_to_its_length():
    X = np.random.default_rng(1).standard_normal((3, 9, 2)).astype(np.float32)
    lengths = np.array([9, 4, 6])
    rec = rc.record(_sequential(nn.GRU(2, 5, return_sequences=False, seed=0)), X, lengths)
    assert [h.shape for h in rec.hidden] == [(9, 5), (4, 5), (6, 5)]
    assert [g.shape[0] for g in rec.gates["update"]] == [9, 4, 6]


def test_saturation_counts_the_values_beyond_the_thresholds():
    gate = np.array([[0.01, 0.5, 0.97, 0.96]])          # 1 low, 2 high of 4
    unit = np.array([[-0.99, 0.0, 0.2, 0.5]])           # 1 low of 4
    rec = rc.Recording("gru", [unit], {"update": [gate]}, {"update": "sigmoid", "h": "tanh"})
    rows = {r["quantity"]: r for r in rc.saturation(rec)}
    assert (rows["update"]["low"], rows["update"]["high"], rows["update"]["saturated"]) == (0.25, 0.5, 0.75)
    assert rows["h"]["saturated"] == 0.25


def test_pca_components_are_uncorrelated_and_ordered_by_variance():
    rng = np.random.default_rng(2)
    states = [rng.standard_normal((20, 6)) * [5, 3, 1, 1, 1, 1] for _ in range(3)]
    projections, explained = rc.pca(states)
    P = np.concatenate(projections)
    cov = np.cov(P.T)
    assert abs(cov[0, 1]) < 1e-9 * cov[0, 0] and cov[0, 0] > cov[1, 1]
    assert explained[0] == pytest.approx(cov[0, 0] / np.cov(np.concatenate(states).T).trace(), rel=1e-9)


def test_inspect_picks_one_input_per_predicted_class(key_classifier_dir, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("the good of a\nthe a of and\na bad to in\nthe of good\n")
    result = rc.run_inspect(key_classifier_dir, str(texts), tmp_path / "out", saliency=False, verbose=False)
    assert result["labels"] == ["neutral (#1)", "positive (#0)", "negative (#2)"]


def _csv(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def test_inspect_images_plot_the_numbers_in_the_csvs(key_classifier_dir, tmp_path, check_png):
    pytest.importorskip("matplotlib")
    texts = tmp_path / "texts.txt"
    texts.write_text("the good of a and\nthe a of\na bad to in the of\n")
    result = rc.run_inspect(key_classifier_dir, str(texts), tmp_path / "out", saliency=False, verbose=False)
    for name in ("heatmap_png", "gates_png", "pca_png"):
        check_png(result[name])
    plotted = result["plotted"]
    hidden = [r for r in _csv(result["hidden_csv"]) if r["input"] == "0"]
    units = [k for k in hidden[0] if k.startswith("u")]
    np.testing.assert_allclose(plotted["heatmap"], [[float(r[u]) for r in hidden] for u in units], rtol=1e-6)
    gates = _csv(result["gates_csv"])
    for gate, image in plotted["gates"].items():
        mine = [r for r in gates if r["input"] == "0" and r["gate"] == gate]
        np.testing.assert_allclose(image, [[float(r[u]) for r in mine] for u in units], rtol=1e-6)
    pcs = _csv(result["pca_csv"])
    for label, offsets in plotted["pca"].items():
        mine = [r for r in pcs if r["label"] == label]
        np.testing.assert_allclose(offsets, [[float(r["pc1"]), float(r["pc2"])] for r in mine], rtol=1e-9)
