"""Outputs, final states and every gradient agree with torch.nn.RNN/LSTM/GRU on random weights.

Seeded random cases (``checks.parity_cases``) cover each cell, 1-2 layers, both directions, lengths
through ``pack_padded_sequence(enforce_sorted=False)``, B=1 and T=1, float64 and float32.
"""
import numpy as np
import pytest

from rnnlab.nn import checks

torch = pytest.importorskip("torch")

CASES = checks.parity_cases(seed=0)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_forward_and_grads_match_torch(case, kernel_path):
    errors = checks.parity_errors(case)
    tol = checks.PARITY_TOL[case.dtype]
    bad = {k: f"{e:.1e}" for k, e in errors.items() if not e < tol}
    assert not bad, f"{case.name} on {kernel_path}: relative error ≥ {tol} for {bad}"


def test_cases_include_the_edges():
    shapes = {(c.batch, c.time) for c in CASES}
    assert (1, 1) in shapes and any(b == 1 for b, _ in shapes) and any(t == 1 for _, t in shapes)
    assert {c.cell for c in CASES} == set(checks.CELLS) and {c.dtype for c in CASES} == {"float64", "float32"}
    assert {(c.num_layers, c.bidirectional, c.lengths is None) for c in CASES} >= {
        (1, False, True), (1, False, False), (2, True, True), (2, True, False)}
    # padding somewhere: at least one case whose lengths mask real steps
    assert any(c.lengths and min(c.lengths) < c.time for c in CASES)


def test_parity_compares_every_gradient():
    case = checks.ParityCase("lstm", 2, 3, 2, 3, num_layers=2, bidirectional=True, lengths=(3, 1))
    errors = checks.parity_errors(case)
    layer = checks.make_layer("lstm", 2, 3, rng=np.random.default_rng(0), num_layers=2,
                              bidirectional=True)
    assert set(errors) == {"out", "h_n", "c_n", "dx", "h0", "c0", *layer.params}
