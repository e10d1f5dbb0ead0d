r"""Which steps or tokens a classifier's decision rests on: gradient × input and occlusion.

Both explain the log-probability of one class k (the predicted one unless given), computed in
eval mode (no dropout) with the engine's own forward and backward:

* gradient × input (Denil et al. 2014; Shrikumar et al. 2016): s_t = Σ_j x_{t,j} ∂log p_k/∂x_{t,j},
  where x_t is the embedding vector of token t for a text model and the input features otherwise.
  It is the first-order Taylor estimate of what removing x_t (setting it to 0) would cost.
  ∂log p_k/∂logits is onehot(k) - softmax (cross-entropy) or 1 - σ(z) / -σ(z) (a single logit),
  and ``backward`` of every layer above the embedding carries it down.
* occlusion (Zeiler & Fergus 2014): s_t = log p_k(x) - log p_k(x with step t replaced), where a
  token becomes ``<unk>`` and a series step becomes 0 (the training mean after standardising).
  Exact rather than first-order, one forward pass per step (all steps of an input in one batch).

Positive scores support class k, negative ones speak against it. Text models are drawn as coloured
tokens (``saliency.html`` and ``saliency.png``, red for support, blue against, each input scaled to
its largest |s|), series as both scores over time under the input (``saliency.png``); every
score is in ``saliency.csv`` (input, label, t, token, grad_x_input, occlusion).
"""
from __future__ import annotations

import csv
import html
from pathlib import Path

import numpy as np

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.nn.functional import log_softmax, sigmoid
from rnnlab.viz import inputs as vin


def _log_prob_and_grad(model, out, target):
    """log p_target (N,) and ∂Σ log p_target/∂out, for cross-entropy logits (N, K) or one logit (N, 1)."""
    N = len(out)
    if isinstance(model.loss, nn.CrossEntropyLoss):
        logp = log_softmax(out.astype(np.float64))
        d = -np.exp(logp)
        d[np.arange(N), target] += 1.0  # ∂log p_k/∂z = onehot(k) - softmax(z)
        return logp[np.arange(N), target], d
    z = out[:, 0].astype(np.float64)
    sign = np.where(target == 1, 1.0, -1.0)
    # log σ(±z) = -log(1 + e^{∓z}),  ∂/∂z log σ(±z) = ±(1 - σ(±z))
    logp = -np.logaddexp(0.0, -sign * z)
    return logp, (sign * (1 - sigmoid(sign * z)))[:, None]


def _targets(model, X, lengths, target):
    if not vin.is_classifier(model):
        raise RnnlabError("saliency explains a classifier (one output per sequence, cross_entropy or bce); "
                          "this model has per-step outputs or an mse loss.")
    model.eval()
    out = model.forward(X, lengths)
    pred = out.argmax(-1) if isinstance(model.loss, nn.CrossEntropyLoss) else (out[:, 0] > 0).astype(np.int64)
    k = pred if target is None else np.broadcast_to(np.asarray(target, np.int64), pred.shape)
    return out, np.asarray(k, np.int64)


def _valid(lengths, N, T):
    return np.ones((N, T), bool) if lengths is None else np.arange(T)[None] < np.asarray(lengths)[:, None]


def gradient_x_input(model, X, lengths=None, target=None):
    """Gradient × input per step.

    Parameters
    ----------
    model : Sequential classifier
    X : array (N, T) ids or (N, T, F)
    lengths : int array (N,) or None
    target : int, array (N,) or None
        Class to explain; default the predicted one.

    Returns
    -------
    scores : array (N, T), 0 on padding
    target : array (N,)
    """
    out, k = _targets(model, X, lengths, target)
    _, d = _log_prob_and_grad(model, out, k)
    x = np.asarray(X, np.float32)
    for layer in reversed(model.layers):
        if isinstance(layer, nn.Embedding):
            x = layer.params["weight"][np.asarray(X)]  # the vectors the recurrent layer read
            break
        d = layer.backward(d)
    scores = (np.asarray(d, np.float64) * x).sum(-1)
    return np.where(_valid(lengths, *scores.shape), scores, 0.0), k


def occlusion(model, X, lengths=None, target=None, fill=None):
    """log p_k(x) - log p_k(x with step t replaced by ``fill``), per step.

    ``fill`` defaults to the vocabulary's ``<unk>`` id for token ids and to zeros for features.
    Returns (scores (N, T), target (N,)), 0 on padding.
    """
    out, k = _targets(model, X, lengths, target)
    base, _ = _log_prob_and_grad(model, out, k)
    X = np.asarray(X)
    N, T = X.shape[:2]
    if fill is None:
        fill = vin.unknown_id(model) if model.ids_input else 0.0
    scores = np.zeros((N, T))
    for i in range(N):
        L = T if lengths is None else int(lengths[i])
        batch = np.repeat(X[i:i + 1, :L], L, axis=0)   # row t has step t occluded
        batch[np.arange(L), np.arange(L)] = fill
        occ = model.forward(batch)
        logp, _ = _log_prob_and_grad(model, occ, np.full(L, k[i]))
        scores[i, :L] = base[i] - logp
    return scores, k


# -- pictures ---------------------------------------------------------------------------------------
def _rgba(s: float) -> tuple:
    """Red for support (s > 0), blue against, opacity |s| (s scaled to [-1, 1])."""
    a = float(min(abs(s), 1.0))
    return (0.84, 0.15, 0.16, a) if s > 0 else (0.13, 0.40, 0.80, a)


def _scaled(s):
    m = float(np.abs(s).max()) if len(s) else 0.0
    return s / m if m > 0 else s


def html_tokens(tokens_list, scores: dict, titles) -> str:
    """An HTML page with each input's tokens on a background coloured by each method's scores."""
    parts = ["<!doctype html><meta charset='utf-8'><title>saliency</title>",
             "<style>body{font-family:sans-serif;max-width:60em}span.t{padding:1px 2px;margin:1px;"
             "border-radius:3px;display:inline-block}h3{margin-bottom:.2em}</style>",
             "<p>Red: the token supports the explained class; blue: it speaks against it. "
             "Each row is scaled to its largest |score|.</p>"]
    for i, (tokens, title) in enumerate(zip(tokens_list, titles)):
        parts.append(f"<h3>{html.escape(title)}</h3>")
        for method, S in scores.items():
            s = _scaled(S[i][:len(tokens)])
            spans = "".join(f"<span class='t' style='background:rgba({int(255 * r)},{int(255 * g)},{int(255 * b)},"
                            f"{a:.2f})' title='{v:.4g}'>{html.escape(tok)}</span>"
                            for tok, v, (r, g, b, a) in zip(tokens, S[i], map(_rgba, s)))
            parts.append(f"<p><b>{html.escape(method)}</b>: {spans}</p>")
    return "\n".join(parts) + "\n"


def plot_tokens(tokens_list, scores: dict, titles, path, width: int = 90) -> dict:
    """Coloured tokens, wrapped at ``width`` characters; returns {(input, method): scores drawn}."""
    from rnnlab.viz.plots import _plt

    plt = _plt()
    layout, plotted = [], {}
    for i, (tokens, title) in enumerate(zip(tokens_list, titles)):
        layout.append(("title", title))
        for method, S in scores.items():
            s = _scaled(S[i][:len(tokens)])
            line, col = [], 0
            layout.append(("method", method))
            for tok, v in zip(tokens, s):
                if col + len(tok) > width and line:
                    layout.append(("tokens", line))
                    line, col = [], 0
                line.append((col, tok, v))
                col += len(tok) + 1
            layout.append(("tokens", line))
            plotted[(i, method)] = np.asarray(S[i][:len(tokens)], np.float64)
    n = len(layout)
    fig = plt.figure(figsize=(width * 0.095 + 0.5, 0.28 * n + 0.4))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-1, width + 1)
    ax.set_ylim(n, -0.5)
    ax.axis("off")
    for row, (what, item) in enumerate(layout):
        if what == "title":
            ax.text(0, row, item, fontsize=10, weight="bold", va="center")
        elif what == "method":
            ax.text(0, row, item, fontsize=8, style="italic", va="center", color="0.3")
        else:
            for col, tok, v in item:
                ax.text(col, row, tok, family="monospace", fontsize=9, va="center",
                        bbox=dict(boxstyle="square,pad=0.1", fc=_rgba(v), ec="none"))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return plotted


def plot_series(X, scores: dict, titles, path) -> dict:
    """Per input: its channels over time and, below, each method's scores; returns {(input, method): y}."""
    from rnnlab.viz.plots import _plt

    plt = _plt()
    n = len(titles)
    fig, axes = plt.subplots(2 * n, 1, figsize=(9, 3.2 * n), squeeze=False, sharex=True)
    plotted = {}
    for i, title in enumerate(titles):
        top, bottom = axes[2 * i, 0], axes[2 * i + 1, 0]
        L = X[i]["length"]
        top.plot(np.arange(L), X[i]["x"][:L], lw=0.8)
        top.set_title(title)
        top.set_ylabel("input")
        for method, S in scores.items():
            line, = bottom.plot(np.arange(L), S[i][:L], label=method)
            plotted[(i, method)] = np.asarray(line.get_ydata())
        bottom.axhline(0, color="0.5", lw=0.6)
        bottom.set_ylabel("saliency")
        bottom.legend(fontsize=8)
    axes[-1, 0].set_xlabel("time step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return plotted


def run_saliency(model, source, out="runs/saliency", labels=None, max_inputs: int = 8) -> dict:
    """Gradient × input and occlusion for a classifier, drawn and written to ``out``.

    Parameters
    ----------
    model : Sequential or path
        A classifier, or the folder it was saved in.
    source : str or viz.inputs.Inputs
        A text or a file (as ``run_inspect``), or inputs already prepared.
    out : path
    labels : list of str, optional
        A title per input; default the predicted class and the input's index.
    max_inputs : int
        With a ``source`` to read: one input per predicted class, at most this many.

    Returns
    -------
    dict
        ``grad_x_input`` and ``occlusion`` (arrays (N, T)), ``target`` (classes explained),
        ``probability`` (p of that class), ``rows`` (the CSV), ``csv``, ``png`` and, for text, ``html``.
    """
    if not hasattr(model, "layers"):
        model = vin.load_sequential(model)
    if not isinstance(source, vin.Inputs):
        source, labels = vin.pick(model, vin.read_inputs(model, source), max_inputs)
    inp = source
    gxi, k = gradient_x_input(model, inp.X, inp.lengths)
    occ, _ = occlusion(model, inp.X, inp.lengths, target=k)
    model.eval()
    logp, _ = _log_prob_and_grad(model, model.forward(inp.X, inp.lengths), k)
    names = vin.class_names(model)
    labels = labels or [f"#{i}" for i in range(len(inp))]
    titles = [f"{lab}: explaining '{names[c]}' (p = {np.exp(lp):.3f})" for lab, c, lp in zip(labels, k, logp)]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scores = {"gradient × input": gxi, "occlusion": occ}
    rows = [{"input": i, "label": labels[i], "t": t,
             "token": "" if inp.tokens[i] is None else inp.tokens[i][t],
             "grad_x_input": float(gxi[i, t]), "occlusion": float(occ[i, t])}
            for i in range(len(inp)) for t in range(inp.length(i))]
    result = {"grad_x_input": gxi, "occlusion": occ, "target": k, "probability": np.exp(logp), "rows": rows,
              "csv": out / "saliency.csv", "png": out / "saliency.png"}
    with result["csv"].open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    if model.ids_input:
        tokens = [inp.tokens[i][:inp.length(i)] for i in range(len(inp))]
        result["html"] = out / "saliency.html"
        result["html"].write_text(html_tokens(tokens, scores, titles), encoding="utf-8")
        result["plotted"] = plot_tokens(tokens, scores, titles, result["png"])
    else:
        series = [{"x": inp.X[i], "length": inp.length(i)} for i in range(len(inp))]
        result["plotted"] = plot_series(series, scores, titles, result["png"])
    return result
