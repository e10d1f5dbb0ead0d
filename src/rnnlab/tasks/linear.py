"""Logistic regression on flattened series: the series tasks' baseline, and the linear half of ``--hybrid combine``.

scikit-learn fits it (L-BFGS, L2 penalty C = 1, as ``LogisticRegression`` defaults); what a saved
model needs to predict is kept as plain numbers (``coef``, ``intercept``, ``classes``) in the
model's JSON meta, so ``linear_proba`` computes the probabilities in NumPy without scikit-learn
and equals ``LogisticRegression.predict_proba`` (tested).
"""
from __future__ import annotations

import numpy as np

from rnnlab.nn.functional import softmax


def fit_logistic(X: np.ndarray, y: np.ndarray, seed: int) -> dict:
    """{"coef": (K', D), "intercept": (K',), "classes": class ids seen} of logistic regression on X (N, D)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=2000, random_state=seed).fit(X, y)
    return {"coef": clf.coef_.tolist(), "intercept": clf.intercept_.tolist(), "classes": clf.classes_.tolist()}


def linear_proba(params: dict, X: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities (N, n_classes) of X (N, D); classes absent from training get 0."""
    coef, b = np.asarray(params["coef"], np.float64), np.asarray(params["intercept"], np.float64)
    # z = W x + b
    z = np.asarray(X, np.float64) @ coef.T + b
    if coef.shape[0] == 1:  # two classes: one score, p(second class) = σ(z)
        z = np.concatenate([np.zeros_like(z), z], axis=1)
    # p = softmax(z)
    p = np.zeros((len(z), n_classes))
    p[:, np.asarray(params["classes"], np.int64)] = softmax(z, axis=1)
    return p
