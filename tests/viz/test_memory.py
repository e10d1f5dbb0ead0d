"""The long-term memory benchmark: its table, its picture and the feedback RNN's readout."""
import csv

import numpy as np
import pytest

from rnnlab.viz import memory
from rnnlab.viz import memory_tasks as mt

LENGTHS, BUDGET = (5, 10), 300


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """Every cell on both tasks at T = 5 and 10, 300 Adam steps each."""
    return memory.run_memory(lengths=LENGTHS, budget=BUDGET, out=tmp_path_factory.mktemp("memory"), seed=0)


def test_table_has_one_row_per_task_length_and_cell(small_run):
    keys = [(r["task"], r["length"], r["cell"]) for r in small_run["rows"]]
    assert sorted(keys) == sorted((t, T, c) for t in mt.TASKS for T in LENGTHS for c in mt.CELLS)
    assert all(0 <= r["error"] and r["budget_steps"] == BUDGET for r in small_run["rows"])


@pytest.mark.parametrize("task", mt.TASKS)
def test_gated_cells_are_at_least_as_good_as_the_rnn_at_the_longer_length(small_run, task):
    # measured at T=10, seed 0: adding MSE rnn 0.0147, lstm 0.0007, gru 0.0004; copy error rate
    # (chance 0.875) rnn 0.650, lstm 0.570, gru 0.576. (At T=5 the RNN learns to copy first: 0.02.)
    # The copy task at this budget is close: with the biases added in another order (last-bit
    # rounding only) the same run gave rnn 0.576, lstm 0.538, gru 0.576, so copy gets a margin of
    # 0.03 (a gated cell clearly worse than the RNN still fails); adding's gap is 20x and stays strict.
    err = {r["cell"]: r["error"] for r in small_run["rows"] if r["task"] == task and r["length"] == max(LENGTHS)}
    margin = 0.03 if task == "copy" else 0.0
    assert err["lstm"] <= err["rnn"] + margin and err["gru"] <= err["rnn"] + margin


def test_memory_png_and_csv_hold_the_same_points(small_run, check_png):
    check_png(small_run["png"])
    with small_run["csv"].open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(small_run["rows"])
    for (task, cell), (x, y) in small_run["plotted"].items():
        mine = sorted((int(r["length"]), float(r["error"])) for r in rows if r["task"] == task and r["cell"] == cell)
        np.testing.assert_array_equal(x, [m[0] for m in mine])
        np.testing.assert_allclose(y, [m[1] for m in mine], rtol=1e-12)


def test_feedback_readout_on_the_adding_problem_sees_the_last_input_step():
    # ŷ_t sees only x_{<t}; the appended blank step is what lets the answer depend on x_{T-1}
    X, y, _ = mt.make_data("adding", 4, 6, np.random.default_rng(0))
    model = mt.build_model("feedback", "adding", 8, 0, 1e-2)
    changed = X.copy()
    changed[:, -1, 0] += 1.0
    assert np.abs(mt.outputs(model, changed, y) - mt.outputs(model, X, y)).min() > 1e-6
