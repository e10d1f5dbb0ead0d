"""Hidden-state recordings: what a trained recurrent layer does, step by step, on given inputs.

After one forward pass the workspace of each ``Recurrent`` holds the states of every step
(``ws.S[0]``, h_t) and the gate activations (``ws.G``: i, f, g, o for the LSTM, r, z, n for the
GRU); the LSTM also keeps tanh(c_t) (``ws.TC``). ``record`` copies them out for the top
recurrent layer's forward direction, cut to each input's length. From them:

* ``hidden_heatmap.png``: hidden units × time for the first input (``hidden.csv``: every input);
* ``gates.png``: input, forget and output gates (LSTM) or reset and update gates (GRU), units × time;
* ``pca_trajectory.png``: the hidden states of all inputs projected on their first two principal
  components (numpy SVD of the centred states), one path per input, points coloured by time;
  a classifier shows one input per predicted class (``pca.csv``);
* ``saturation.csv``: the fraction of saturated values, σ < 0.05 or σ > 0.95 for sigmoid gates and
  |·| > 0.95 for tanh units (the LSTM's tanh(c_t), the candidates, the RNN's and GRU's h_t).
  A saturated unit passes almost no gradient (σ' ≤ 0.048, tanh' ≤ 0.098 there).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.nn import batch_threads
from rnnlab.viz import inputs as vin

GATE_NAMES = {"lstm": ("input", "forget", "cell candidate", "output"), "gru": ("reset", "update", "candidate")}
SIGMOID = {"input", "forget", "output", "reset", "update"}
PLOTTED_GATES = {"lstm": ("input", "forget", "output"), "gru": ("reset", "update")}


@dataclass
class Recording:
    """Per-step activity of one recurrent layer on N inputs.

    kind : "rnn", "lstm", "gru" or "feedback"
    hidden : list of N arrays (T_i, H), h_t after each step
    gates : name → list of N arrays (T_i, H): the gates, candidates and (LSTM) "tanh(c)"
    activation : name → "sigmoid", "tanh" or "relu", for every entry of ``gates`` and for "h"
    """
    kind: str
    hidden: list
    gates: dict = field(default_factory=dict)
    activation: dict = field(default_factory=dict)


def _top_layer(model):
    rec = [layer for layer in model.layers if isinstance(layer, (nn.RNNBase, nn.FeedbackRNN))]
    if not rec:
        raise RnnlabError("this model has no recurrent layer to record.")
    return rec[-1]


def record(model, X, lengths=None) -> Recording:
    """Run ``model`` (a Sequential) on X in eval mode and copy out its top recurrent layer's activity.

    Parameters
    ----------
    model : Sequential
    X : array (N, T) of ids or (N, T, F)
    lengths : int array (N,) or None

    Returns
    -------
    Recording
        Of the top layer's forward direction (the one that reads the sequence left to right).
    """
    layer = _top_layer(model)
    model.eval()
    with batch_threads.threads(1):  # the recording reads the layer's one workspace
        model.forward(X, lengths)
    if isinstance(layer, nn.FeedbackRNN):
        run, kind, act = layer._rec, "feedback", layer.nonlinearity
    else:
        run, kind = layer._runs[(layer.num_layers - 1) * layer.num_directions], layer.kind
        act = getattr(layer, "nonlinearity", "tanh")
    ws = run.ws
    N, T = ws.B, ws.T
    Ls = [T] * N if lengths is None else [int(v) for v in lengths]
    cut = lambda A: [np.array(A[:L, b]) for b, L in enumerate(Ls)]  # noqa: E731  (T, B, H) → per input (L, H)
    rec = Recording(kind, cut(ws.S[0][1:]))
    if kind in GATE_NAMES:
        blocks = np.split(ws.G, len(GATE_NAMES[kind]), axis=2)
        for name, block in zip(GATE_NAMES[kind], blocks):
            rec.gates[name] = cut(block)
            rec.activation[name] = "sigmoid" if name in SIGMOID else "tanh"
        if kind == "lstm":
            rec.gates["tanh(c)"], rec.activation["tanh(c)"] = cut(ws.TC), "tanh"
    if kind != "lstm":  # the LSTM's h = o ⊙ tanh(c) is not an activation of its own
        rec.activation["h"] = "tanh" if kind == "gru" else act
    return rec


def saturation(rec: Recording, low_high=(0.05, 0.95), tanh_level=0.95) -> list[dict]:
    """Fraction of saturated values per gate or unit type, over every step of every input.

    Sigmoid values count as low below 0.05 and high above 0.95; tanh values beyond ∓0.95; relu
    units have no saturation and are left out.
    """
    rows = []
    for name, act in rec.activation.items():
        v = np.concatenate([a.ravel() for a in (rec.hidden if name == "h" else rec.gates[name])])
        if act == "sigmoid":
            low, high = v < low_high[0], v > low_high[1]
        elif act == "tanh":
            low, high = v < -tanh_level, v > tanh_level
        else:
            continue
        rows.append({"quantity": name, "activation": act, "values": int(v.size), "low": float(low.mean()),
                     "high": float(high.mean()), "saturated": float((low | high).mean())})
    return rows


def pca(states: list, k: int = 2):
    """Project the states of all inputs on their first ``k`` principal components.

    Parameters
    ----------
    states : list of arrays (T_i, H)

    Returns
    -------
    projections : list of arrays (T_i, k)
    explained : array (k,), the share of variance of each component
    """
    A = np.concatenate(states).astype(np.float64)
    centred = A - A.mean(axis=0)
    # centred = U S Vᵀ: the rows of Vᵀ are the principal directions, S² / Σ S² their variance shares
    _, S, Vt = np.linalg.svd(centred, full_matrices=False)
    k = min(k, Vt.shape[0])
    P = centred @ Vt[:k].T
    if k < 2:  # one state in all: pad a zero component so the plot still has two axes
        P = np.pad(P, ((0, 0), (0, 2 - k)))
    var = S ** 2
    explained = var[:k] / var.sum() if var.sum() > 0 else np.zeros(k)
    return np.split(P, np.cumsum([len(s) for s in states])[:-1]), explained


# -- pictures ---------------------------------------------------------------------------------------
def _time_ticks(ax, tokens, T):
    if tokens is not None and T <= 60:
        ax.set_xticks(range(T), tokens[:T], rotation=90, fontsize=7)


def plot_heatmap(hidden, path, tokens=None, title="") -> np.ndarray:
    """Units × time image of one input's h_t (T, H); returns the plotted array (H, T)."""
    from rnnlab.viz.plots import _plt

    plt = _plt()
    T, H = hidden.shape
    fig, ax = plt.subplots(figsize=(min(max(5, 2 + 0.18 * T), 16), min(max(3, 1.5 + 0.12 * H), 10)))
    lim = max(1.0, float(np.abs(hidden).max()))
    im = ax.imshow(hidden.T, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="h")
    _time_ticks(ax, tokens, T)
    ax.set_xlabel("time step")
    ax.set_ylabel("hidden unit")
    ax.set_title(title or "hidden state h_t")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return np.asarray(im.get_array())


def plot_gates(gates: dict, path, tokens=None, title="") -> dict:
    """One units × time panel per gate (values in [0, 1]); returns {gate: plotted array (H, T)}."""
    from rnnlab.viz.plots import _plt

    plt = _plt()
    names = list(gates)
    T, H = gates[names[0]].shape
    fig, axes = plt.subplots(len(names), 1, figsize=(min(max(5, 2 + 0.18 * T), 16),
                                                     len(names) * min(1.2 + 0.1 * H, 4)), squeeze=False)
    plotted = {}
    for ax, name in zip(axes[:, 0], names):
        im = ax.imshow(gates[name].T, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        fig.colorbar(im, ax=ax)
        ax.set_ylabel("unit")
        ax.set_title(f"{name} gate")
        _time_ticks(ax, tokens, T)
        plotted[name] = np.asarray(im.get_array())
    axes[-1, 0].set_xlabel("time step")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return plotted


def plot_trajectories(projections, labels, explained, path, title="") -> dict:
    """PC1-PC2 paths, one per input, points coloured by time; returns {label: plotted (T, 2)}."""
    from rnnlab.viz.plots import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 5))
    T_max = max(len(p) for p in projections)
    plotted, sc = {}, None
    for k, (P, label) in enumerate(zip(projections, labels)):
        color = f"C{k % 10}"
        ax.plot(P[:, 0], P[:, 1], "-", color=color, lw=1, alpha=0.7, label=label)
        sc = ax.scatter(P[:, 0], P[:, 1], c=np.arange(len(P)), cmap="viridis", vmin=0, vmax=T_max - 1, s=14,
                        edgecolors=color, linewidths=0.6, zorder=3)
        ax.scatter(P[-1:, 0], P[-1:, 1], marker="*", s=140, color=color, edgecolors="k", zorder=4)
        plotted[label] = np.asarray(sc.get_offsets())
    fig.colorbar(sc, ax=ax, label="time step")
    ax.set_xlabel(f"PC1 ({explained[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({explained[1]:.0%} of variance)" if len(explained) > 1 else "PC2")
    ax.set_title(title or "hidden-state trajectories (★ = last step)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return plotted


# -- files ------------------------------------------------------------------------------------------
def _write(path, header, rows) -> Path:
    with Path(path).open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return Path(path)


def _token(tokens, t):
    return "" if tokens is None else tokens[t]


def write_recording(rec: Recording, inp: vin.Inputs, labels, projections, out: Path) -> dict:
    """hidden.csv, gates.csv (gated cells), pca.csv and saturation.csv; returns their paths."""
    H = rec.hidden[0].shape[1]
    units = [f"u{j}" for j in range(H)]
    paths = {"hidden_csv": _write(out / "hidden.csv", ["input", "label", "t", "token"] + units, [
        [i, labels[i], t, _token(inp.tokens[i], t), *map(float, h)]
        for i, hs in enumerate(rec.hidden) for t, h in enumerate(hs)])}
    if rec.gates:
        paths["gates_csv"] = _write(out / "gates.csv", ["input", "label", "t", "gate"] + units, [
            [i, labels[i], t, name, *map(float, g)]
            for name, per in rec.gates.items() for i, gs in enumerate(per) for t, g in enumerate(gs)])
    paths["pca_csv"] = _write(out / "pca.csv", ["input", "label", "t", "token", "pc1", "pc2"], [
        [i, labels[i], t, _token(inp.tokens[i], t), float(p[0]), float(p[1])]
        for i, P in enumerate(projections) for t, p in enumerate(P)])
    sat = saturation(rec)
    paths["saturation_csv"] = _write(out / "saturation.csv", list(sat[0]) if sat else ["quantity"],
                                     [list(r.values()) for r in sat])
    return paths


def format_saturation(rows) -> str:
    lines = ["quantity        activation  low     high    saturated"]
    lines += [f"{r['quantity']:<15} {r['activation']:<10} {r['low']:7.1%} {r['high']:7.1%} {r['saturated']:7.1%}"
              for r in rows]
    return "\n".join(lines)


def run_inspect(model_dir, input, out="runs/inspect", max_inputs: int = 8, saliency: bool = True,
                verbose: bool = True) -> dict:
    """Record a saved model on an input and draw what its recurrent layer does.

    Parameters
    ----------
    model_dir : path
        A folder written by ``rnnlab.models.save`` holding a ``Sequential``.
    input : str
        A text (text models), or a file: text lines, a ``.npy`` array or a ``.ts`` file (see ``viz.inputs``).
    out : path
        Output folder (created).
    max_inputs : int
        How many inputs to overlay in the PCA plot; a classifier takes the first input of each
        predicted class.
    saliency : bool
        For a classifier, also run ``viz.saliency.run_saliency`` into the same folder.
    verbose : bool
        Print the saturation table.

    Returns
    -------
    dict
        ``kind``, ``labels``, ``saturation`` (rows), ``explained`` (PC variance shares), the paths of
        every file written (``*_png``, ``*_csv``), ``plotted`` (the data read back from the figures:
        ``heatmap`` (H, T), ``gates`` {gate: (H, T)}, ``pca`` {label: (T, 2)}, all of the first input
        except the PCA) and ``saliency`` (its result) for a classifier.
    """
    model = vin.load_sequential(model_dir)
    inp, labels = vin.pick(model, vin.read_inputs(model, input), max_inputs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rec = record(model, inp.X, inp.lengths)
    projections, explained = pca(rec.hidden)
    result = {"kind": rec.kind, "labels": labels, "saturation": saturation(rec), "explained": explained.tolist()}
    result.update(write_recording(rec, inp, labels, projections, out))
    tokens0, plotted = inp.tokens[0], {}
    result["heatmap_png"] = out / "hidden_heatmap.png"
    plotted["heatmap"] = plot_heatmap(rec.hidden[0], result["heatmap_png"], tokens0,
                                      title=f"{rec.kind} hidden state h_t, input {labels[0]}")
    if rec.kind in PLOTTED_GATES:
        result["gates_png"] = out / "gates.png"
        plotted["gates"] = plot_gates({g: rec.gates[g][0] for g in PLOTTED_GATES[rec.kind]}, result["gates_png"],
                                      tokens0, title=f"{rec.kind} gates, input {labels[0]}")
    result["pca_png"] = out / "pca_trajectory.png"
    plotted["pca"] = plot_trajectories(projections, labels, explained, result["pca_png"])
    result["plotted"] = plotted
    if verbose:
        print(f"{rec.kind}: saturated values over {len(labels)} input(s)\n" + format_saturation(result["saturation"]))
    if saliency and vin.is_classifier(model):
        from rnnlab.viz.saliency import run_saliency

        result["saliency"] = run_saliency(model, inp, out, labels=labels)
    return result
