"""Long-term memory benchmark: each cell trained on the adding problem and the copy task at each
length with one fixed budget of optimiser steps; a table of final error against length and a plot.

Every (task, length) pair draws its training and test data once from ``seed``, shared by all cells,
and every model starts from the same ``seed``. The budget is the number of Adam steps (batch 64,
lr 1e-2, global-norm clip 1.0), each on fresh sequences (one pass over budget × 64 of them), so a
longer sequence costs more time but not more updates. Errors are measured on held-out sequences:

* adding: test MSE; always answering 1 scores 1/6 ≈ 0.167 (the dashed line);
* copy: the fraction of wrongly recalled symbols over the copy steps; guessing scores 7/8.

How the output-feedback RNN takes part is in ``viz/memory_tasks.py``. The defaults (T = 10, 20,
40, 80; 600 steps) took 44 s of CPU, 108 s of wall time on two busy shared cores. The cost grows
with budget × Σ lengths, so a bigger run that gives the gated cells room to separate on the copy
task takes roughly 12× that (about 10-15 minutes on a quiet core)::

    from rnnlab.viz.memory import run_memory
    run_memory(lengths=(25, 50, 100, 200), budget=3000, out="runs/memory_big", progress=True)
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.viz import memory_tasks as mt
from rnnlab.viz.gradient_flow import write_csv

LENGTHS, BUDGET, HIDDEN, BATCH, N_TEST, LR = (10, 20, 40, 80), 600, 32, 64, 512, 1e-2
FIELDS = ["task", "length", "cell", "error", "baseline", "budget_steps", "seconds"]


def _task_seed(seed: int, task: str, length: int) -> np.random.Generator:
    # one data stream per (task, length), the same for every cell
    return np.random.default_rng([seed, mt.TASKS.index(task), length])


def measure(cell: str, task: str, length: int, seed: int = 0, budget: int = BUDGET, hidden: int = HIDDEN,
            n_test: int = N_TEST) -> dict:
    """Train one cell on one task and length; returns a table row (see ``FIELDS``)."""
    rng = _task_seed(seed, task, length)
    X, y, _ = mt.make_data(task, budget * BATCH, length, rng)
    X_test, y_test, m_test = mt.make_data(task, n_test, length, rng)
    model = mt.build_model(cell, task, hidden, seed, LR)
    t0 = time.perf_counter()
    mt.train(model, X, y, budget, BATCH, seed)
    err = mt.task_error(task, mt.outputs(model, X_test, y_test), y_test, m_test)
    return {"task": task, "length": length, "cell": cell, "error": err, "baseline": mt.BASELINES[task],
            "budget_steps": budget, "seconds": round(time.perf_counter() - t0, 2)}


def plot(rows, path) -> dict:
    """One panel per task: error against length, one line per cell, chance level dashed.

    Returns the plotted data read back from the figure, ``{(task, cell): (lengths, errors)}``.
    """
    from rnnlab.viz.plots import _plt

    plt = _plt()
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    cells = list(dict.fromkeys(r["cell"] for r in rows))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    plotted = {}
    for ax, task in zip(axes[0], tasks):
        for cell in cells:
            pts = sorted((r["length"], r["error"]) for r in rows if r["task"] == task and r["cell"] == cell)
            x, e = map(np.asarray, zip(*pts))
            line, = ax.plot(x, e, "o-", label=cell)
            plotted[(task, cell)] = (np.asarray(line.get_xdata()), np.asarray(line.get_ydata()))
        ax.axhline(mt.BASELINES[task], color="0.5", ls="--", lw=1, label="chance")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({r["length"] for r in rows}), [str(v) for v in sorted({r["length"] for r in rows})])
        ax.minorticks_off()
        ax.set_xlabel("length T" if task == "adding" else "delay T")
        ax.set_ylabel(mt.ERROR_NAMES[task])
        ax.set_title(task)
        ax.legend()
    fig.suptitle(f"Long-term memory: final error after {rows[0]['budget_steps']} Adam steps")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return plotted


def format_table(rows) -> str:
    """Markdown: one table per task, a row per length, a column per cell."""
    out = []
    for task in dict.fromkeys(r["task"] for r in rows):
        cells = list(dict.fromkeys(r["cell"] for r in rows if r["task"] == task))
        lengths = sorted({r["length"] for r in rows if r["task"] == task})
        err = {(r["length"], r["cell"]): r["error"] for r in rows if r["task"] == task}
        out += [f"{task} ({mt.ERROR_NAMES[task]}, chance {mt.BASELINES[task]:.3f}):", "",
                "| T | " + " | ".join(cells) + " |", "|---" * (len(cells) + 1) + "|"]
        out += [f"| {T} | " + " | ".join(f"{err[T, c]:.4f}" for c in cells) + " |" for T in lengths]
        out.append("")
    return "\n".join(out).rstrip()


def run_memory(cells=mt.CELLS, lengths=LENGTHS, tasks=mt.TASKS, out="runs/memory", seed: int = 0,
               budget: int = BUDGET, hidden: int = HIDDEN, progress: bool = False) -> dict:
    """Train every cell on every task at every length; write ``memory.csv`` and ``memory.png`` to ``out``.

    Parameters
    ----------
    cells : sequence of {"rnn", "lstm", "gru", "feedback"}
    lengths : sequence of int >= 2
        Adding-problem lengths and copy-task delays.
    tasks : sequence of {"adding", "copy"}
    out : path
    seed : int
    budget : int
        Adam steps per model.
    hidden : int
    progress : bool
        Print one line per trained model.

    Returns
    -------
    dict
        ``rows`` (task, length, cell, error, baseline, budget_steps, seconds), ``csv``, ``png`` and
        ``plotted`` (the points read back from the figure).
    """
    cells = mt.check_choices("cells", cells, mt.CELLS)
    tasks = mt.check_choices("tasks", tasks, mt.TASKS)
    lengths = tuple(lengths)
    bad = [v for v in lengths if not isinstance(v, (int, np.integer)) or v < 2]
    if bad or not lengths or not isinstance(budget, int) or budget < 1:
        raise RnnlabError(f"lengths must be integers >= 2 and budget a positive integer; got lengths "
                          f"{list(lengths)} and budget {budget!r}.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with mt.one_blas_thread():
        for task in tasks:
            for length in lengths:
                for cell in cells:
                    rows.append(measure(cell, task, int(length), seed, budget, hidden))
                    if progress:
                        r = rows[-1]
                        print(f"{task} T={length} {cell}: {r['error']:.4f} ({r['seconds']:.1f} s)", flush=True)
    csv_path = write_csv(rows, out / "memory.csv", FIELDS)
    png = out / "memory.png"
    plotted = plot(rows, png)
    return {"rows": rows, "csv": csv_path, "png": png, "plotted": plotted}
