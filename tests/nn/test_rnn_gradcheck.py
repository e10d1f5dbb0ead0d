"""Finite differences prove every hand-written backward pass: cell × option × kernel path, in float64.

The checks themselves live in ``rnnlab.nn.checks`` so that ``rnnlab check`` runs exactly these.
"""
import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.nn import checks, kernels


@pytest.mark.parametrize("option", list(checks.OPTIONS))
@pytest.mark.parametrize("cell", checks.CELLS)
def test_backward_matches_finite_differences(cell, option, kernel_path):
    errors = checks.gradcheck_errors(cell, option)
    bad = {k: f"{e:.1e}" for k, e in errors.items() if not e < checks.GRAD_TOL}
    assert not bad, f"{cell}/{option} on {kernel_path}: relative error ≥ {checks.GRAD_TOL} for {bad}"


def test_gradcheck_covers_input_every_parameter_and_initial_state():
    errors = checks.gradcheck_errors("lstm", "everything")
    layer = checks.make_layer("lstm", 3, 3, rng=np.random.default_rng(0), num_layers=2,
                              bidirectional=True)
    assert set(errors) == {"dx", "h0", "c0", *layer.params}


def test_gradcheck_row_and_table(kernel_path):
    row = checks.gradcheck("gru", "lengths", kernel_path, max_entries=8)
    assert row.passed and row.path == kernel_path and row.error < row.tol == checks.GRAD_TOL
    failing = row._replace(name="made-up failure", error=1.0, passed=False)
    table = checks.format_table([row, failing])
    assert "gradcheck gru lengths" in table and "FAIL" in table
    assert table.splitlines()[-1] == "1/2 checks passed, 1 FAILED"


def test_kernel_path_context_restores_the_previous_setting():
    before = kernels.ENABLED
    with checks.kernel_path("numpy"):
        assert not kernels.ENABLED
    assert kernels.ENABLED == before


def test_unknown_option_is_refused():
    with pytest.raises(RnnlabError, match="option must be one of"):
        checks.gradcheck_errors("lstm", "sideways")
