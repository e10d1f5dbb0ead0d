"""rnnlab.torch.LayerNorm*: the engine's layer_norm=True layers agree with their torch twins.

Outputs, final states and every gradient (input, weights, biases, LN gains and biases, initial
state) within 1e-10 in float64, on seeded random cases (``checks.ln_parity_cases``): every cell,
1-2 layers, both directions, lengths, B=1 and T=1, on both kernel paths.
"""
import subprocess
import sys

import numpy as np
import pytest

from rnnlab.nn import checks

torch = pytest.importorskip("torch")
from rnnlab.torch import layer_norm as tln  # noqa: E402

CASES = checks.ln_parity_cases(seed=0, dtypes=("float64",))
TORCH_TWIN = {"rnn_tanh": tln.LayerNormRNN, "rnn_relu": tln.LayerNormRNN, "lstm": tln.LayerNormLSTM,
              "gru": tln.LayerNormGRU}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_forward_and_grads_match_the_torch_twin(case, kernel_path):
    errors = checks.parity_errors(case)
    bad = {k: f"{e:.1e}" for k, e in errors.items() if not e < checks.PARITY_TOL["float64"]}
    assert not bad, f"{case.name} on {kernel_path}: relative error ≥ 1e-10 for {bad}"


def test_float32_lstm_matches_within_float32_tolerance(kernel_path):
    case = checks.ParityCase("lstm", 3, 6, 4, 5, 2, True, (6, 2, 4), True, "float32", seed=3, layer_norm=True)
    errors = checks.parity_errors(case)
    assert max(errors.values()) < checks.PARITY_TOL["float32"], errors


def test_cases_cover_cells_structures_and_every_gradient():
    assert {c.cell for c in CASES} == set(checks.CELLS) and all(c.layer_norm for c in CASES)
    assert {(c.num_layers, c.bidirectional) for c in CASES} == {(1, False), (1, True), (2, False), (2, True)}
    assert any(c.lengths and min(c.lengths) < c.time for c in CASES) and (1, 1) in {(c.batch, c.time) for c in CASES}
    case = checks.ParityCase("lstm", 2, 3, 2, 3, num_layers=2, bidirectional=True, lengths=(3, 1), layer_norm=True)
    layer = checks.make_layer("lstm", 2, 3, rng=np.random.default_rng(0), num_layers=2, bidirectional=True,
                              layer_norm=True)
    assert set(checks.parity_errors(case)) == {"out", "h_n", "c_n", "dx", "h0", "c0", *layer.params}


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
def test_parameter_names_and_shapes_equal_ours(cell):
    layer = checks.make_layer(cell, 3, 5, rng=np.random.default_rng(1), num_layers=2, bidirectional=True,
                              layer_norm=True)
    twin = TORCH_TWIN[cell](3, 5, num_layers=2, bidirectional=True)
    assert {k: tuple(v.shape) for k, v in twin.state_dict().items()} == {k: v.shape for k, v in layer.params.items()}
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})  # strict: no key left over


@pytest.mark.parametrize("cell", ["rnn_relu", "lstm", "gru"])
def test_without_layer_norm_the_twin_is_torch_nn(cell):
    """The twin's own loop, directions and lengths, checked against torch.nn with packed sequences."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    torch.manual_seed(0)
    kw = {"nonlinearity": "relu"} if cell == "rnn_relu" else {}
    ref_cls = {"rnn_relu": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    ref = ref_cls(3, 4, num_layers=2, bidirectional=True, batch_first=True, **kw).double()
    twin = TORCH_TWIN[cell](3, 4, num_layers=2, bidirectional=True, layer_norm=False, **kw).double()
    twin.load_state_dict(ref.state_dict())
    x, lengths = torch.randn(3, 5, 3, dtype=torch.float64), torch.tensor([5, 2, 4])
    out, state = twin(x, lengths=lengths)
    packed, ref_state = ref(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    ref_out, _ = pad_packed_sequence(packed, batch_first=True, total_length=5)
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    for s, r in zip(state if isinstance(state, tuple) else (state,),
                    ref_state if isinstance(ref_state, tuple) else (ref_state,)):
        torch.testing.assert_close(s, r, rtol=1e-12, atol=1e-12)


def test_importing_rnnlab_torch_does_not_import_torch():
    code = "import sys, rnnlab.torch; assert 'torch' not in sys.modules; print(rnnlab.torch.__all__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "LayerNormLSTM" in done.stdout
