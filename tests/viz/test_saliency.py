"""Saliency: the engine's own gradients, and both methods point at the token the answer rests on."""
import csv

import numpy as np
import pytest

from rnnlab import nn
from rnnlab.models import Sequential, save
from rnnlab.viz import saliency as sal


def test_occlusion_changes_the_output_most_at_the_key_word(key_classifier, held_out_sentences):
    # without its key word a sentence is neutral: replacing it by <unk> must cost the most
    X, pos = held_out_sentences
    scores, _ = sal.occlusion(key_classifier, X)
    assert (scores.argmax(axis=1) == pos).all()


def test_gradient_x_input_is_largest_at_the_key_word(key_classifier, held_out_sentences):
    X, pos = held_out_sentences
    scores, _ = sal.gradient_x_input(key_classifier, X)
    assert (scores.argmax(axis=1) == pos).mean() >= 0.95


def test_gradient_x_input_is_the_input_times_finite_difference_gradients():
    # a float64 series classifier in eval mode: Σ_j x_tj ∂log p_k/∂x_tj against central differences
    rng = np.random.default_rng(3)
    model = Sequential([nn.RNN(2, 4, return_sequences=False, seed=0, dtype=np.float64),
                        nn.Dense(4, 3, seed=1, dtype=np.float64)]).compile("cross_entropy", "adam")
    X = rng.standard_normal((2, 5, 2))
    scores, k = sal.gradient_x_input(model, X)
    eps, expected = 1e-6, np.zeros((2, 5))
    for t in range(5):
        for j in range(2):
            up, down = X.copy(), X.copy()
            up[:, t, j] += eps
            down[:, t, j] -= eps
            diff = sal._log_prob_and_grad(model, model.forward(up), k)[0] - \
                sal._log_prob_and_grad(model, model.forward(down), k)[0]
            expected[:, t] += X[:, t, j] * diff / (2 * eps)
    np.testing.assert_allclose(scores, expected, rtol=1e-6, atol=1e-9)


def test_text_saliency_colours_every_token_in_html_and_png(key_classifier_dir, tmp_path, check_png):
    pytest.importorskip("matplotlib")
    result = sal.run_saliency(key_classifier_dir, "the a bad of and", tmp_path)
    check_png(result["png"])
    page = result["html"].read_text()
    assert page.count("<span class='t'") == 2 * 5  # both methods, five tokens
    rows = list(csv.DictReader(result["csv"].open()))
    assert [r["token"] for r in rows] == ["the", "a", "bad", "of", "and"]
    for (i, method), drawn in result["plotted"].items():
        column = "grad_x_input" if method.startswith("gradient") else "occlusion"
        np.testing.assert_allclose(drawn, [float(r[column]) for r in rows if r["input"] == str(i)], rtol=1e-12)


def test_series_saliency_plot_matches_the_csv(tmp_path, check_png):
    pytest.importorskip("matplotlib")
    model = Sequential([nn.GRU(3, 6, return_sequences=False, seed=0), nn.Dense(6, 2, seed=1)])
    model.compile("cross_entropy", "adam")
    model.meta = {"labels": ["left", "right"]}
    folder = save(model, tmp_path / "series_model")
    series = tmp_path / "series.npy"
    np.save(series, np.random.default_rng(4).standard_normal((4, 30, 3)).astype(np.float32))
    result = sal.run_saliency(folder, str(series), tmp_path / "out")
    check_png(result["png"])
    rows = list(csv.DictReader(result["csv"].open()))
    for (i, method), drawn in result["plotted"].items():
        column = "grad_x_input" if method.startswith("gradient") else "occlusion"
        np.testing.assert_allclose(drawn, [float(r[column]) for r in rows if r["input"] == str(i)], rtol=1e-6)
    assert "html" not in result
