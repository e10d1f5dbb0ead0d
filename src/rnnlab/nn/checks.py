"""Self-checks for the recurrent layers: finite-difference gradients and parity with PyTorch.

The test suite (``tests/nn/test_rnn_gradcheck.py``, ``tests/nn/test_rnn_parity.py``) and the
``rnnlab check`` command run the same functions, so what a user checks on their machine is what
CI checks on every commit. Two kinds of check, each on both kernel paths ('numpy' and, when Numba
imports, 'numba'):

* ``gradcheck_errors(cell, option)``: float64 central differences (eps 1e-6) of the random linear
  functional ``L = Σ R ⊙ out + Σ_k R_k ⊙ state_k`` against ``backward``: ∂L/∂x, every parameter
  gradient and ∂L/∂(initial state); relative error (``gradcheck.rel_error``) below 1e-6.
* ``parity_errors(case)``: load our ``state_dict`` into ``torch.nn.RNN/LSTM/GRU`` (random weights
  and random non-zero biases), run both on the same input, lengths (``pack_padded_sequence``) and
  initial state, and compare outputs, final states and all gradients; 1e-10 in float64, 1e-4 in
  float32. Cases with ``layer_norm`` compare against ``rnnlab.torch.LayerNormRNN/LSTM/GRU``.

Options with random masks (dropout, zoneout) are checked with the layer's generator re-seeded
before every forward call, so that the finite differences see the same masks as ``backward``.

Every check reduces to a ``Row(name, path, error, tol, passed)``; ``run_all`` collects them and
``format_table`` prints them.

Examples
--------
>>> rows = run_all(quick=True)                       # doctest: +SKIP
>>> print(format_table(rows))                        # doctest: +SKIP
>>> gradcheck_errors("gru", "bidirectional")["weight_hh_l0_reverse"] < GRAD_TOL   # doctest: +SKIP
True
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.nn import kernels
from rnnlab.nn.gradcheck import numerical_grad, numerical_grad_sampled, rel_error, sample_indices
from rnnlab.nn.rnn import GRU, LSTM, RNN

CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
_LAYERS = {"rnn_tanh": (RNN, {"nonlinearity": "tanh"}), "rnn_relu": (RNN, {"nonlinearity": "relu"}),
           "lstm": (LSTM, {}), "gru": (GRU, {})}

# option -> (layer keyword arguments, uses lengths, passes an explicit random initial state)
OPTIONS = {
    "plain": ({}, False, False),
    "lengths": ({}, True, False),
    "bidirectional": ({"bidirectional": True}, False, False),
    "stacked": ({"num_layers": 2}, False, False),
    "stateful": ({"stateful": True}, False, False),
    "last": ({"return_sequences": False}, False, False),
    "initial_state": ({}, False, True),
    "everything": ({"num_layers": 2, "bidirectional": True}, True, True),
    "everything_last": ({"num_layers": 2, "bidirectional": True, "return_sequences": False}, True, True),
    # the layer options: each alone on a bidirectional layer with lengths, then all of them together
    "input_dropout": ({"input_dropout": 0.3, "bidirectional": True}, True, False),
    "recurrent_dropout": ({"recurrent_dropout": 0.3, "bidirectional": True}, True, False),
    "zoneout": ({"zoneout": 0.3, "bidirectional": True}, True, False),
    "zoneout_inference": ({"zoneout": 0.3, "bidirectional": True, "training": False}, True, False),
    "layer_norm": ({"layer_norm": True, "bidirectional": True}, True, True),
    "regularised_everything": ({"layer_norm": True, "input_dropout": 0.2, "recurrent_dropout": 0.2, "zoneout": 0.2,
                                "dropout": 0.2, "num_layers": 2, "bidirectional": True}, True, True),
}
_RANDOM_MASKS = ("dropout", "input_dropout", "recurrent_dropout", "zoneout")

GRAD_EPS = 1e-6
GRAD_TOL = 1e-6
PARITY_TOL = {"float64": 1e-10, "float32": 1e-4}


class Row(NamedTuple):
    """One check: what was compared, on which kernel path, the worst relative error and the verdict."""
    name: str
    path: str
    error: float
    tol: float
    passed: bool


# -- kernel paths ---------------------------------------------------------------------------------
def kernel_paths() -> list[str]:
    """The kernel paths this machine can run: 'numpy' always, 'numba' when Numba imports."""
    return ["numpy", "numba"] if kernels.AVAILABLE else ["numpy"]


@contextlib.contextmanager
def kernel_path(path: str):
    """Run the body on one kernel path, then restore whatever setting was there before."""
    if path not in ("numpy", "numba"):
        raise RnnlabError(f"kernel path must be 'numpy' or 'numba', got {path!r}.")
    if path == "numba" and not kernels.AVAILABLE:
        raise RnnlabError("kernel path 'numba' needs Numba; install rnnlab[fast] or check path 'numpy' only.")
    prev = kernels.use(path == "numba")
    try:
        yield
    finally:
        kernels.use(prev)


# -- layers with random weights ---------------------------------------------------------------------
def make_layer(cell: str, input_size: int, hidden_size: int, *, rng: np.random.Generator,
               dtype=np.float64, scale: float = 0.5, **kw):
    """A layer of kind ``cell`` (one of CELLS) whose every parameter, biases included, is U(-scale, scale).

    Random non-zero biases matter: with zero biases a layer that writes one bias into both torch
    slots, or swaps them, still agrees with torch.
    """
    if cell not in _LAYERS:
        raise RnnlabError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}.")
    cls, cell_kw = _LAYERS[cell]
    layer = cls(input_size, hidden_size, seed=rng, dtype=dtype, **cell_kw, **kw)
    layer.load_state_dict({k: rng.uniform(-scale, scale, v.shape) for k, v in layer.params.items()})
    return layer


def _as_list(state):
    return list(state) if isinstance(state, tuple) else [state]


def _as_state(arrays):
    return tuple(arrays) if len(arrays) == 2 else arrays[0]


def _state_names(n_states):
    return ("h0", "c0")[:n_states]


# -- finite differences --------------------------------------------------------------------------
def gradcheck_errors(cell: str, option: str, seed: int = 0, eps: float = GRAD_EPS,
                     max_entries: int | None = None) -> dict[str, float]:
    """Relative error of every analytic gradient against central differences, on the current kernel path.

    Keys are 'dx', the ``state_dict`` names and 'h0' (and 'c0' for the LSTM) for the initial state.
    ``max_entries`` samples that many entries of larger arrays (faster, for ``quick`` runs).
    For option 'stateful' the checked call is the second of two chunks; its finite differences hold
    the carried state fixed, which is what truncated BPTT differentiates.
    """
    if option not in OPTIONS:
        raise RnnlabError(f"option must be one of {', '.join(OPTIONS)}, got {option!r}.")
    layer_kw, use_lengths, explicit_state = OPTIONS[option]
    layer_kw = dict(layer_kw)
    training = layer_kw.pop("training", True)
    rng = np.random.default_rng(seed)
    B, T, I, H = 3, 4, 3, 3
    layer = make_layer(cell, I, H, rng=rng, dtype=np.float64, **layer_kw).train(training)
    masks = training and any(layer_kw.get(k) for k in _RANDOM_MASKS)
    LD = layer.num_layers * layer.num_directions
    x = rng.standard_normal((B, T, I))
    lengths = np.array([3, T, 1]) if use_lengths else None  # unsorted, one full, one of length 1
    x_first = rng.standard_normal((B, 2, I)) if layer.stateful else None
    original = layer.state_dict()

    def forward(initial_state):
        if masks:  # the same masks on every call
            layer.rng = np.random.default_rng(seed + 1000)
        if layer.stateful:  # first chunk with the unperturbed weights: the carry is a constant
            current = layer.state_dict()
            layer.load_state_dict(original)
            layer.reset_states()
            layer.forward(x_first)
            layer.load_state_dict(current)
        return layer.forward(x, lengths=lengths, initial_state=initial_state)

    s_init = [0.5 * rng.standard_normal((LD, B, H)) for _ in range(layer.n_states)]
    init_arg = _as_state(s_init) if explicit_state else None
    out, state = forward(init_arg)
    R_out = rng.standard_normal(out.shape)
    R_state = [rng.standard_normal(s.shape) for s in _as_list(state)]

    def loss(out, state):
        return float(np.sum(R_out * out) + sum(np.sum(r * s) for r, s in zip(R_state, _as_list(state))))

    dx = layer.backward(R_out, _as_state(R_state))
    analytic = {"dx": dx, **{k: g.copy() for k, g in layer.grads.items()}}
    analytic.update(zip(_state_names(layer.n_states), _as_list(layer.grad_initial_state)))

    # the point where ∂L/∂(initial state) is taken: the explicit state, the carry, or zeros
    if explicit_state:
        s_base = s_init
    elif layer.stateful:
        s_base = _first_chunk_state(layer, original, x_first)
    else:
        s_base = [np.zeros((LD, B, H)) for _ in range(layer.n_states)]
    f = lambda: loss(*forward(init_arg))  # noqa: E731
    f_state = lambda: loss(*forward(_as_state(s_base)))  # noqa: E731
    wrt = {"dx": (f, x), **{k: (f, p) for k, p in layer.params.items()},
           **{n: (f_state, s) for n, s in zip(_state_names(layer.n_states), s_base)}}
    return _compare(analytic, wrt, eps, max_entries, np.random.default_rng(seed + 1))


def _compare(analytic, wrt, eps, max_entries, rng):
    """rel_error of each analytic gradient against central differences of its (loss, array) in ``wrt``."""
    errors = {}
    for key, (f, arr) in wrt.items():
        if max_entries is None or arr.size <= max_entries:
            num, ana = numerical_grad(f, arr, eps), analytic[key]
        else:  # a random subset of entries: quick runs on larger arrays
            idx = sample_indices(arr.size, max_entries, rng)
            num, ana = numerical_grad_sampled(f, arr, idx, eps), analytic[key].reshape(-1)[idx]
        errors[key] = rel_error(ana, num)
    return errors


def _first_chunk_state(layer, params, x_first):
    """Final state of the first chunk under ``params``: the carry the second chunk starts from."""
    current = layer.state_dict()
    layer.load_state_dict(params)
    layer.reset_states()
    _, state = layer.forward(x_first)
    layer.load_state_dict(current)
    return [s.copy() for s in _as_list(state)]


def gradcheck(cell: str, option: str, path: str, seed: int = 0, max_entries: int | None = None) -> Row:
    """``gradcheck_errors`` on kernel path ``path``, reduced to one Row."""
    with kernel_path(path):
        errors = gradcheck_errors(cell, option, seed=seed, max_entries=max_entries)
    worst = max(errors.values())
    return Row(f"gradcheck {cell} {option}", path, worst, GRAD_TOL, bool(worst < GRAD_TOL))


# -- parity with torch ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParityCase:
    cell: str
    batch: int
    time: int
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bidirectional: bool = False
    lengths: tuple | None = None
    initial_state: bool = False
    dtype: str = "float64"
    seed: int = 0
    layer_norm: bool = False

    @property
    def name(self) -> str:
        parts = [self.cell, f"B{self.batch}T{self.time}I{self.input_size}H{self.hidden_size}",
                 f"L{self.num_layers}", "bi" if self.bidirectional else "uni"]
        if self.lengths is not None:
            parts.append("len" + "-".join(map(str, self.lengths)))
        if self.initial_state:
            parts.append("h0")
        if self.layer_norm:
            parts.insert(1, "ln")
        return "_".join(parts + [self.dtype])


_STRUCTURES = [(1, False, False), (1, False, True), (1, True, True), (2, False, True), (2, True, False),
               (2, True, True)]  # (num_layers, bidirectional, lengths)
_LN_STRUCTURES = [(1, False, False), (1, True, True), (2, False, True), (2, True, True)]
_EDGE_SHAPES = [(1, 1), (1, 5), (4, 1)]  # B=1 and T=1 come first, the rest are drawn


def parity_cases(seed: int = 0, dtypes=("float64", "float32"), per_cell: int | None = None) -> list[ParityCase]:
    """Seeded random cases: every cell × stacking × direction × lengths, B=1 and T=1 included."""
    rng = np.random.default_rng(seed)
    cases = []
    for cell in CELLS:
        structures = _STRUCTURES[:per_cell] if per_cell else _STRUCTURES
        for n, (num_layers, bidirectional, use_lengths) in enumerate(structures):
            B, T = _EDGE_SHAPES[n] if n < len(_EDGE_SHAPES) else (int(rng.integers(2, 6)), int(rng.integers(2, 7)))
            I, H = int(rng.integers(1, 5)), int(rng.integers(1, 6))
            lengths = None
            if use_lengths and B == 1:  # a lone short sequence: padding with nothing beside it
                lengths = (int(rng.integers(1, T)) if T > 1 else 1,)
            elif use_lengths:  # unsorted, with one full row
                lengths = rng.integers(1, T + 1, size=B)
                lengths[rng.integers(B)] = T
                lengths = tuple(int(v) for v in lengths)
            init = bool(rng.integers(2))
            case_seed = int(rng.integers(2**31))
            cases.extend(ParityCase(cell, B, T, I, H, num_layers, bidirectional, lengths, init, dt, case_seed)
                         for dt in dtypes)
    return cases


def ln_parity_cases(seed: int = 0, dtypes=("float64", "float32")) -> list[ParityCase]:
    """Seeded cases for ``layer_norm=True`` against ``rnnlab.torch``: every cell × 1-2 layers × direction."""
    rng = np.random.default_rng(seed + 7)
    cases = []
    for cell in CELLS:
        for n, (num_layers, bidirectional, use_lengths) in enumerate(_LN_STRUCTURES):
            B, T = (1, 1) if n == 0 else (int(rng.integers(2, 5)), int(rng.integers(2, 6)))
            lengths = None
            if use_lengths and B > 1:
                lengths = rng.integers(1, T + 1, size=B)
                lengths[0] = T
                lengths = tuple(int(v) for v in lengths)
            case_seed = int(rng.integers(2**31))
            # I ≥ 2 and H ≥ 3: with one input or two units per block LN's output barely depends on scale
            cases.extend(ParityCase(cell, B, T, int(rng.integers(2, 5)), int(rng.integers(3, 7)), num_layers,
                                    bidirectional, lengths, bool(n % 2), dt, case_seed, layer_norm=True)
                         for dt in dtypes)
    return cases


def _torch_reference(case: ParityCase, torch):
    """The torch module a case compares against: torch.nn's, or rnnlab.torch's with layer norm."""
    kw = {"nonlinearity": _LAYERS[case.cell][1]["nonlinearity"]} if case.cell.startswith("rnn") else {}
    I, H = case.input_size, case.hidden_size
    if case.layer_norm:
        from rnnlab.torch import layer_norm as tln
        cls = {"lstm": tln.LayerNormLSTM, "gru": tln.LayerNormGRU}.get(case.cell, tln.LayerNormRNN)
    else:
        cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(case.cell, torch.nn.RNN)
    ref = cls(I, H, num_layers=case.num_layers, bidirectional=case.bidirectional, batch_first=True, **kw)
    return ref.to(getattr(torch, case.dtype))


def parity_errors(case: ParityCase) -> dict[str, float]:
    """Relative error of outputs, final states and every gradient against torch, on the current kernel path."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    rng = np.random.default_rng(case.seed)
    dtype = np.dtype(case.dtype)
    B, T, I, H = case.batch, case.time, case.input_size, case.hidden_size
    layer = make_layer(case.cell, I, H, rng=rng, dtype=dtype, num_layers=case.num_layers,
                       bidirectional=case.bidirectional, layer_norm=case.layer_norm)
    ref = _torch_reference(case, torch)
    ref.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in layer.state_dict().items()})

    LD = layer.num_layers * layer.num_directions
    x = rng.standard_normal((B, T, I)).astype(dtype)
    s0 = [(0.5 * rng.standard_normal((LD, B, H))).astype(dtype) for _ in range(layer.n_states)]
    if not case.initial_state:  # ours starts from its default; torch gets explicit zeros to return ∂L/∂h0
        s0 = [np.zeros_like(s) for s in s0]
    lengths = None if case.lengths is None else np.array(case.lengths)

    out, state = layer.forward(x, lengths=lengths, initial_state=_as_state(s0) if case.initial_state else None)
    R_out = rng.standard_normal(out.shape).astype(dtype)
    R_state = [rng.standard_normal((LD, B, H)).astype(dtype) for _ in range(layer.n_states)]
    dx = layer.backward(R_out, _as_state(R_state))
    ours = {"out": out, **{f"{n}_n": s for n, s in zip("hc", _as_list(state))}, "dx": dx,
            **layer.grads, **dict(zip(_state_names(layer.n_states), _as_list(layer.grad_initial_state)))}

    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in s0]
    if case.layer_norm:  # rnnlab.torch takes lengths directly
        out_t, state_t = ref(xt, _as_state(st), lengths=None if lengths is None else torch.tensor(lengths))
    else:
        inp = xt if lengths is None else pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True,
                                                              enforce_sorted=False)
        out_t, state_t = ref(inp, _as_state(st))
        if lengths is not None:
            out_t, _ = pad_packed_sequence(out_t, batch_first=True, total_length=T)
    state_t = _as_list(state_t)
    loss = (out_t * torch.from_numpy(R_out)).sum() + sum(
        (s * torch.from_numpy(r)).sum() for s, r in zip(state_t, R_state))
    loss.backward()
    theirs = {"out": out_t, **{f"{n}_n": s for n, s in zip("hc", state_t)}, "dx": xt.grad,
              **{k: p.grad for k, p in ref.named_parameters()},
              **dict(zip(_state_names(layer.n_states), (s.grad for s in st)))}
    return {k: rel_error(ours[k], v.detach().numpy()) for k, v in theirs.items()}


def parity(case: ParityCase, path: str) -> Row:
    """``parity_errors`` on kernel path ``path``, reduced to one Row."""
    with kernel_path(path):
        errors = parity_errors(case)
    worst, tol = max(errors.values()), PARITY_TOL[case.dtype]
    return Row(f"torch {case.name}", path, worst, tol, bool(worst < tol))


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


# -- everything ---------------------------------------------------------------------------------------
def run_all(quick: bool = True, rng_seed: int = 0) -> list[Row]:
    """Every gradcheck (cell × option) and, when torch imports, every parity case, on every kernel path.

    ``quick`` samples at most 24 entries per array for the finite differences and runs three parity
    structures per cell instead of six.
    """
    rows = []
    max_entries, per_cell = (24, 3) if quick else (None, None)
    for path in kernel_paths():
        for cell in CELLS:
            for option in OPTIONS:
                rows.append(gradcheck(cell, option, path, seed=rng_seed, max_entries=max_entries))
        if torch_available():
            rows.extend(parity(case, path) for case in parity_cases(rng_seed, per_cell=per_cell))
            ln_cases = ln_parity_cases(rng_seed)
            rows.extend(parity(case, path) for case in (ln_cases[::4] if quick else ln_cases))
    return rows


def format_table(rows: list[Row]) -> str:
    """Rows as an aligned text table with a closing summary line."""
    header = ("check", "path", "max rel err", "tol", "result")
    body = [(r.name, r.path, f"{r.error:.2e}", f"{r.tol:.0e}", "ok" if r.passed else "FAIL") for r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    fmt = lambda line: "  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()  # noqa: E731
    failed = sum(not r.passed for r in rows)
    summary = f"{len(rows) - failed}/{len(rows)} checks passed" + (f", {failed} FAILED" if failed else "")
    return "\n".join([fmt(header), fmt(tuple("-" * w for w in widths)), *map(fmt, body), summary])
