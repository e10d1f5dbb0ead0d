r"""Gradient flow through time: ‖∂L/∂h_t‖ for every step t, read from the caches ``Recurrent`` keeps.

The loss sits at the end of the sequence, so ∂L/∂h_t measures how much step t can still learn
from it. Backpropagation multiplies one Jacobian ∂h_{t+1}/∂h_t per step; for the plain tanh RNN
each is W_hhᵀ diag(1 - h²), whose norm is usually below 1, and the product shrinks
exponentially with the distance to the loss (Bengio et al. 1994; Pascanu et al. 2013). The
LSTM's cell path multiplies by the forget gate alone and the GRU's by its update gate z, which
can sit near 1, so their gradients hold up.

No training code changes and no hook is needed: after ``backward`` the workspace of the top
recurrent layer holds ∂L/∂A_t, the gradient of every step's recurrent pre-activation
A_t = h_{t-1} W_hhᵀ (``ws.d_products[1]``, (T, B, G)), and the gates (``ws.G``). Every path from h_t to
the loss goes through the output at t, through A_{t+1}, or (GRU only) through the carry
z_{t+1} ⊙ h_t, so, from the last step back::

    g_T = ∂L/∂out_T
    g_t = ∂L/∂out_t + ∂L/∂A_{t+1} W_hh + [GRU] z_{t+1} ⊙ g_{t+1}

This is the quantity Recurrent's own backward loop carries (``dh_tot``), recomputed with one
product over all steps; ``tests/viz/test_gradient_flow.py`` checks it against the engine's
gradient with respect to a state restarted at step t.

The engine computes in float32, whose smallest positive number is 1.4e-45: a trained tanh RNN's
gradient can fall that far within 100 steps, and its curve then stops where it underflowed to 0.
Measured with the defaults (adding problem, T=100, seed 0, 600 Adam steps), mean ‖∂L/∂h_t‖ at the
end and 50 steps before it::

    cell  stage        at end   50 back   factor/step   test MSE
    rnn   init         4.34     4.4e-3    0.870
    rnn   trained      0.559    8.2e-28   0.310         0.154 (chance 0.167)
    lstm  init         3.13     2.7e-2    0.940
    lstm  trained      0.126    9.3e-4    0.976         0.0033
    gru   init         2.43     6.1e-7    0.748
    gru   trained      0.066    4.7e-2    0.995         0.0006

The gated cells are *not* better at initialisation (the GRU, with z ≈ 0.5, loses the most per
step); they hold the gradient once training has pushed their forget and update gates towards 1,
while training drives the tanh RNN's decay from 0.87 to 0.31 per step.
"""
from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.nn import batch_threads
from rnnlab.nn.cells import GRUCell
from rnnlab.viz import memory_tasks as mt

GRADFLOW_CELLS = ("rnn", "lstm", "gru")
BATCH, PROBE, HIDDEN, LR = 64, 256, 32, 2e-2


def _top_recurrent(model) -> int:
    idx = [i for i, layer in enumerate(model.layers) if isinstance(layer, nn.RNNBase)]
    if not idx:
        raise RnnlabError("gradient flow needs a model with an RNN, LSTM or GRU layer; this one has "
                          f"{[type(layer).__name__ for layer in model.layers]}.")
    rnn = model.layers[idx[-1]]
    if rnn.zoneout:
        raise RnnlabError("gradient flow reads the plain state recursion; build the layer with zoneout=0.")
    return idx[-1]


def state_gradients(rnn: nn.RNNBase, d_out) -> np.ndarray:
    """∂L/∂h_t (T, B, H) of the top layer's forward direction, after ``rnn.backward(d_out)``.

    Parameters
    ----------
    rnn : RNN, LSTM or GRU
        Its last call was ``forward`` then ``backward(d_out)`` without ``lengths`` (so no step is padded).
    d_out : array (B, T, D*H) or (B, D*H)
        What ``backward`` received: per-step outputs, or the last step's with ``return_sequences=False``.

    Returns
    -------
    array (T, B, H)
        g[t] = ∂L/∂h_{t+1}, time-major (h_1 ... h_T are the outputs of steps 0 ... T-1).
    """
    H, L, D = rnn.hidden_size, rnn.num_layers, rnn.num_directions
    run = rnn._runs[(L - 1) * D]
    ws = run.ws
    if ws is None:
        raise RnnlabError("state_gradients reads one workspace, but the last call split the batch over threads; "
                          "run forward and backward inside rnnlab.nn.batch_threads.threads(1).")
    T, B = ws.T, ws.B
    d_out = np.asarray(d_out, np.float64)
    dH = np.zeros((T, B, H))
    if rnn.return_sequences:
        dH += d_out[:, :, :H].transpose(1, 0, 2)
    else:
        dH[T - 1] += d_out[:, :H]
    w_hh = rnn.params[f"weight_hh_l{L - 1}"].astype(np.float64)
    # ∂L/∂h_t through the next step's recurrent product: ∂A_{t+1} W_hh, all steps in one product
    through_next = ws.d_products[1][1:].astype(np.float64) @ w_hh
    carry = ws.G[1:, :, H:2 * H].astype(np.float64) if isinstance(run.cell, GRUCell) else None
    g = np.empty_like(dH)
    g[T - 1] = dH[T - 1]
    for t in range(T - 2, -1, -1):
        g[t] = dH[t] + through_next[t]
        if carry is not None:  # h_{t+1} = ... + z_{t+1} ⊙ h_t
            g[t] += carry[t] * g[t + 1]
    return g


def hidden_grad_norms(model, X, y, loss_mask=None) -> np.ndarray:
    """Mean over sequences of ‖∂L_b/∂h_t‖ for each step t, in eval mode (no dropout).

    Parameters
    ----------
    model : Sequential
        Compiled; the last RNN/LSTM/GRU layer in it is measured (top layer, forward direction).
    X : array (B, T, F) or (B, T) ids
    y : targets as for ``model.loss``
    loss_mask : array (B, T) of 0/1, optional
        Positions of a per-step output that count in the loss (e.g. only the copy steps).

    Returns
    -------
    array (T,)
        Entry t is the gradient with respect to the state after step t. L_b is sequence b's own
        loss (the batch mean times B), so the numbers do not depend on the batch size.
    """
    idx = _top_recurrent(model)
    was_training = model.training
    model.eval()
    try:
        with batch_threads.threads(1):  # state_gradients reads the layer's one workspace
            out = model.forward(X)
            model.loss.forward(out, y, loss_mask)
            d = model.loss.backward()
            for layer in reversed(model.layers[idx + 1:]):
                d = layer.backward(d)
            model.layers[idx].backward(d)
        g = state_gradients(model.layers[idx], d)
    finally:
        model.train(was_training)
    return np.linalg.norm(g * X.shape[0], axis=2).mean(axis=1)


def decay_per_step(norms, window: int = 50) -> float:
    """Geometric mean ratio ‖g_{t-1}‖ / ‖g_t‖ over the last ``window`` steps before the end.

    exp of the slope of a least-squares line through log ‖g_t‖: 0.9 means 10% lost per step.
    """
    n = np.asarray(norms, np.float64)[-window:]
    n = np.maximum(n, np.finfo(np.float64).tiny)
    dist = np.arange(len(n))[::-1]  # steps before the end
    return float(np.exp(np.polyfit(dist, np.log(n), 1)[0]))


def summarise(cell: str, stage: str, norms, error: float, seconds: float, back: int = 50) -> dict:
    """One summary row: the norm at the end and ``back`` steps before it, their ratio, the per-step factor."""
    back = min(back, len(norms) - 1)
    end, far = float(norms[-1]), float(norms[-1 - back])
    return {"cell": cell, "stage": stage, "back": back, "norm_at_end": end, "norm_back": far,
            "ratio_end_to_back": end / max(far, 1e-300), "factor_per_step": decay_per_step(norms, back + 1),
            "test_error": error, "seconds": round(seconds, 2)}


def plot(rows, path, title="") -> dict:
    """One panel per stage, ‖∂L/∂h_t‖ (log) against steps before the end, one curve per cell.

    ``rows`` are dicts with cell, stage, steps_before_end, grad_norm. Returns the plotted data
    read back from the figure, ``{(stage, cell): (x, y)}``.
    """
    from rnnlab.viz.plots import _plt

    plt = _plt()
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    cells = list(dict.fromkeys(r["cell"] for r in rows))
    fig, axes = plt.subplots(1, len(stages), figsize=(5.5 * len(stages), 4), squeeze=False, sharey=True)
    plotted = {}
    for ax, stage in zip(axes[0], stages):
        for cell in cells:
            pts = [(r["steps_before_end"], r["grad_norm"]) for r in rows if r["stage"] == stage and r["cell"] == cell]
            x, yv = map(np.asarray, zip(*pts))
            line, = ax.semilogy(x, yv, label=cell)
            plotted[(stage, cell)] = (np.asarray(line.get_xdata()), np.asarray(line.get_ydata()))
        ax.set_xlabel("steps before the loss")
        ax.set_title(stage)
        ax.invert_xaxis()
        ax.grid(True, which="major", alpha=0.3)
        ax.legend()
    axes[0][0].set_ylabel("mean ‖∂L/∂h_t‖")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return plotted


def write_csv(rows, path, fields) -> Path:
    path = Path(path)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def run_gradflow(cells=GRADFLOW_CELLS, steps: int = 100, task: str = "adding", out="runs/gradflow",
                 seed: int = 0, train_steps: int = 600, hidden: int = HIDDEN, lr: float = LR) -> dict:
    """Measure ‖∂L/∂h_t‖ per step for each cell, at initialisation and after ``train_steps`` Adam steps.

    Parameters
    ----------
    cells : sequence of {"rnn", "lstm", "gru"}
    steps : int
        Sequence length of the adding problem, or the delay of the copy task.
    task : {"adding", "copy"}
        The loss is the last step's MSE (adding) or the cross-entropy of the copy steps at the end (copy).
    out : path
        Folder for ``gradflow.csv`` (cell, stage, t, steps_before_end, grad_norm), ``gradflow.png``
        and ``gradflow_summary.csv``.
    seed : int
        Same data, probe batch and initial weights for every cell.
    train_steps : int
        Adam steps (batch 64, global-norm clip 1) between the two measurements; 0 measures at init only.
    hidden, lr : int, float
        Hidden units of every cell; Adam's learning rate.

    Returns
    -------
    dict
        ``rows`` (the CSV rows), ``summary`` (per cell and stage: the norm at the end and ``back``
        = min(50, T-1) steps before it, their ratio, the per-step factor and the test error),
        ``plotted`` (the curves read back from the figure), ``csv``, ``png``, ``summary_csv``.
    """
    cells = mt.check_choices("cells", cells, GRADFLOW_CELLS)
    mt.check_choices("task", task, mt.TASKS)
    if not isinstance(steps, int) or steps < 2 or not isinstance(train_steps, int) or train_steps < 0:
        raise RnnlabError(f"steps must be an integer >= 2 and train_steps >= 0, got {steps!r} and {train_steps!r}.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data_rng = np.random.default_rng(seed)
    Xp, yp, mp = mt.make_data(task, PROBE, steps, data_rng)
    Xt, yt, _ = mt.make_data(task, max(train_steps, 1) * BATCH, steps, data_rng)
    rows, summary = [], []
    stages = [("initialisation", 0)] + ([(f"after {train_steps} steps", train_steps)] if train_steps else [])
    with mt.one_blas_thread():
        for cell in cells:
            model = mt.build_model(cell, task, hidden, seed, lr)
            for stage, n_steps in stages:
                t0 = time.perf_counter()
                if n_steps:
                    mt.train(model, Xt, yt, n_steps, BATCH, seed)
                norms = hidden_grad_norms(model, Xp, yp, mp)
                error = mt.task_error(task, mt.outputs(model, Xp, yp), yp, mp)
                rows += [{"cell": cell, "stage": stage, "t": t, "steps_before_end": len(norms) - 1 - t,
                          "grad_norm": float(v)} for t, v in enumerate(norms)]
                summary.append(summarise(cell, stage, norms, error, time.perf_counter() - t0))
    fields = ["cell", "stage", "t", "steps_before_end", "grad_norm"]
    csv_path = write_csv(rows, out / "gradflow.csv", fields)
    summary_path = write_csv(summary, out / "gradflow_summary.csv", list(summary[0]))
    png = out / "gradflow.png"
    plotted = plot(rows, png, title=f"{task}, T={steps}: gradient of the final loss w.r.t. each hidden state")
    return {"rows": rows, "summary": summary, "csv": csv_path, "png": png, "summary_csv": summary_path,
            "plotted": plotted}


def format_summary(summary) -> str:
    """A Markdown table of ``run_gradflow``'s summary."""
    lines = [f"| cell | stage | ‖g‖ at end | ‖g‖ {summary[0]['back']} steps back | ratio | factor/step | test error |",
             "|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['cell']} | {s['stage']} | {s['norm_at_end']:.3g} | {s['norm_back']:.3g} | "
                     f"{s['ratio_end_to_back']:.3g} | {s['factor_per_step']:.3f} | {s['test_error']:.4f} |")
    return "\n".join(lines)
