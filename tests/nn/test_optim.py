"""Optimisers and gradient clipping: torch parity, penalties, state dict round trips, input errors."""
import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.nn.optim import SGD, Adam, AdamW, RMSprop, apply_max_norm, clip_grad_norm

SHAPES = {"0.weight_ih_l0": (6, 3), "0.bias_ih_l0": (6,), "1.weight": (2, 4)}


def _params(rng):
    return {k: rng.standard_normal(s) for k, s in SHAPES.items()}


def _grads(rng):
    return {k: rng.standard_normal(s) for k, s in SHAPES.items()}


# (id, our optimiser, torch class name, torch kwargs)
CONFIGS = [
    ("sgd", lambda: SGD(0.1), "SGD", dict(lr=0.1)),
    ("sgd-momentum", lambda: SGD(0.1, momentum=0.9), "SGD", dict(lr=0.1, momentum=0.9)),
    ("sgd-nesterov-l2", lambda: SGD(0.05, momentum=0.8, nesterov=True, l2=0.01), "SGD",
     dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("rmsprop", lambda: RMSprop(0.01), "RMSprop", dict(lr=0.01)),
    ("rmsprop-momentum-l2", lambda: RMSprop(0.01, alpha=0.9, eps=1e-6, momentum=0.5, l2=0.1), "RMSprop",
     dict(lr=0.01, alpha=0.9, eps=1e-6, momentum=0.5, weight_decay=0.1)),
    ("adam", lambda: Adam(0.01), "Adam", dict(lr=0.01)),
    ("adam-l2", lambda: Adam(0.01, betas=(0.8, 0.99), eps=1e-6, l2=0.05), "Adam",
     dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    ("adamw", lambda: AdamW(0.01, weight_decay=0.1), "AdamW", dict(lr=0.01, weight_decay=0.1)),
]


@pytest.mark.parametrize("make, torch_name, torch_kw", [c[1:] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
def test_steps_match_torch(make, torch_name, torch_kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    params = _params(rng)
    tparams = [torch.tensor(p, requires_grad=True) for p in params.values()]
    opt, topt = make(), getattr(torch.optim, torch_name)(tparams, **torch_kw)
    for step in range(5):
        if step == 3:  # a schedule changing lr mid-run must act the same way
            opt.lr /= 2
            topt.param_groups[0]["lr"] /= 2
        grads = _grads(rng)
        for tp, g in zip(tparams, grads.values()):
            tp.grad = torch.from_numpy(g.copy())
        opt.step(params, grads)
        topt.step()
        for p, tp in zip(params.values(), tparams):
            np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_l1_adds_sign_of_weight_to_gradient():
    rng = np.random.default_rng(1)
    params, grads = _params(rng), _grads(rng)
    expected = {k: p - 0.1 * (grads[k] + 0.3 * np.sign(p)) for k, p in params.items()}
    SGD(0.1, l1=0.3).step(params, grads)
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=1e-15)


@pytest.mark.parametrize("make", [c[1] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
def test_step_leaves_gradients_unchanged(make):
    rng = np.random.default_rng(2)
    params, grads = _params(rng), _grads(rng)
    before = {k: g.copy() for k, g in grads.items()}
    opt = make()
    for _ in range(2):
        opt.step(params, grads)
    for k in grads:
        np.testing.assert_array_equal(grads[k], before[k])


@pytest.mark.parametrize("make", [c[1] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
def test_state_dict_round_trip_gives_identical_steps(make):
    rng = np.random.default_rng(3)
    params = _params(rng)
    opt = make()
    for _ in range(2):
        opt.step(params, _grads(rng))
    state = opt.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values()) and int(state["step"]) == 2
    resumed = make()
    resumed.load_state_dict(state)
    copy = {k: p.copy() for k, p in params.items()}
    for _ in range(3):
        grads = _grads(rng)
        opt.step(params, grads)
        resumed.step(copy, grads)
    for k in params:
        np.testing.assert_array_equal(params[k], copy[k])


def test_state_dict_is_a_copy():
    rng = np.random.default_rng(4)
    params = _params(rng)
    opt = Adam(0.01)
    opt.step(params, _grads(rng))
    state = opt.state_dict()
    saved = state["exp_avg.0.weight_ih_l0"].copy()
    opt.step(params, _grads(rng))
    np.testing.assert_array_equal(state["exp_avg.0.weight_ih_l0"], saved)


def test_state_dict_survives_safetensors(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(5)
    params = _params(rng)
    opt = AdamW(0.01)
    opt.step(params, _grads(rng))
    st_numpy.save_file(opt.state_dict(), str(tmp_path / "opt.safetensors"))
    resumed = AdamW(0.01)
    resumed.load_state_dict(st_numpy.load_file(str(tmp_path / "opt.safetensors")))
    copy = {k: p.copy() for k, p in params.items()}
    grads = _grads(rng)
    opt.step(params, grads)
    resumed.step(copy, grads)
    for k in params:
        np.testing.assert_array_equal(params[k], copy[k])


def test_parameters_without_gradients_are_left_alone():
    rng = np.random.default_rng(6)
    params, grads = _params(rng), _grads(rng)
    frozen = params["1.weight"].copy()
    del grads["1.weight"]
    Adam(0.1).step(params, grads)
    np.testing.assert_array_equal(params["1.weight"], frozen)


def test_load_state_dict_rejects_foreign_keys():
    rng = np.random.default_rng(7)
    params = _params(rng)
    sgd = SGD(0.1, momentum=0.9)
    sgd.step(params, _grads(rng))
    with pytest.raises(RnnlabError, match=r"unexpected keys \['momentum_buffer\..*another optimiser"):
        Adam().load_state_dict(sgd.state_dict())


def test_load_state_dict_requires_step():
    with pytest.raises(RnnlabError, match="missing the 'step' entry"):
        Adam().load_state_dict({})


def test_step_rejects_mismatched_gradients():
    rng = np.random.default_rng(8)
    params, grads = _params(rng), _grads(rng)
    grads["1.weight"] = np.zeros((4, 2))
    grads["2.bias"] = np.zeros(3)
    with pytest.raises(RnnlabError, match=r"'2.bias' has no parameter; .*'1.weight' has shape \(4, 2\)"):
        SGD(0.1).step(params, grads)


def test_bad_hyperparameters_are_reported_together():
    expected = r"lr must be .* got -1; eps .*; beta2 must be a number in \[0, 1\)"
    with pytest.raises(RnnlabError, match=expected):
        Adam(lr=-1, betas=(0.9, 1.0), eps="x")


def test_nesterov_without_momentum_is_an_error():
    with pytest.raises(RnnlabError, match="nesterov=True needs momentum > 0"):
        SGD(0.1, nesterov=True)


# -- clip_grad_norm -------------------------------------------------------------------------------
@pytest.mark.parametrize("max_norm", [0.5, 1e3], ids=["clipped", "unclipped"])
def test_clip_grad_norm_matches_torch(max_norm):
    torch = pytest.importorskip("torch")
    grads = _grads(np.random.default_rng(9))
    tparams = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
    for tp, g in zip(tparams, grads.values()):
        tp.grad = torch.from_numpy(g.copy())
    norm = clip_grad_norm(grads, max_norm)
    tnorm = torch.nn.utils.clip_grad_norm_(tparams, max_norm)
    assert norm == pytest.approx(tnorm.item(), rel=1e-12)
    for g, tp in zip(grads.values(), tparams):
        np.testing.assert_allclose(g, tp.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_leaves_non_finite_gradients_alone():
    grads = _grads(np.random.default_rng(10))
    grads["1.weight"][0, 0] = np.inf
    before = {k: g.copy() for k, g in grads.items()}
    assert clip_grad_norm(grads, 1.0) == np.inf
    for k in grads:
        np.testing.assert_array_equal(grads[k], before[k])


@pytest.mark.parametrize("max_norm", [0, -1.0, np.inf, "1"])
def test_clip_grad_norm_rejects_bad_max_norm(max_norm):
    with pytest.raises(RnnlabError, match="max_norm must be a positive finite number"):
        clip_grad_norm({}, max_norm)


# -- max-norm ---------------------------------------------------------------------------------------------
def _recurrent_params(rng):
    return {"0.weight_hh_l0": rng.standard_normal((8, 2)) * 2, "0.weight_hh_l0_reverse": rng.standard_normal((8, 2)),
            "0.weight_ih_l0": rng.standard_normal((8, 3)) * 5, "0.bias_hh_l0": rng.standard_normal(8) * 5}


def test_max_norm_bounds_each_row_of_matching_parameters_and_nothing_else():
    params = _recurrent_params(np.random.default_rng(11))
    before = {k: v.copy() for k, v in params.items()}
    assert apply_max_norm(params, 1.5) == ["0.weight_hh_l0", "0.weight_hh_l0_reverse"]
    for k in ("0.weight_hh_l0", "0.weight_hh_l0_reverse"):
        old, norms = np.linalg.norm(before[k], axis=1), np.linalg.norm(params[k], axis=1)
        assert np.all(norms <= 1.5 + 1e-12)
        np.testing.assert_allclose(norms[old > 1.5], 1.5, rtol=1e-12)              # projected onto the sphere
        np.testing.assert_array_equal(params[k][old <= 1.5], before[k][old <= 1.5])  # inside: untouched
        np.testing.assert_allclose(params[k] / np.linalg.norm(params[k], axis=1, keepdims=True),
                                   before[k] / old[:, None], rtol=1e-12)            # directions kept
    for k in ("0.weight_ih_l0", "0.bias_hh_l0"):
        np.testing.assert_array_equal(params[k], before[k])


def test_max_norm_pattern_selects_other_parameters():
    params = _recurrent_params(np.random.default_rng(12))
    assert apply_max_norm(params, 1.0, pattern="*weight_ih*") == ["0.weight_ih_l0"]
    assert np.linalg.norm(params["0.weight_ih_l0"], axis=1).max() <= 1.0 + 1e-12
    assert apply_max_norm(params, 1.0, pattern="*bias*") == ["0.bias_hh_l0"]  # a vector is one row
    assert np.linalg.norm(params["0.bias_hh_l0"]) == pytest.approx(1.0)


@pytest.mark.parametrize("make", [lambda c: SGD(0.1, max_norm_recurrent=c), lambda c: AdamW(0.1, max_norm_recurrent=c)],
                         ids=["sgd", "adamw"])
def test_optimizer_max_norm_recurrent_projects_after_each_step(make):
    rng = np.random.default_rng(13)
    params, grads = _recurrent_params(rng), {k: rng.standard_normal(v.shape) for k, v in _recurrent_params(rng).items()}
    free = {k: v.copy() for k, v in params.items()}
    make(1.0).step(params, grads)
    make(None).step(free, grads)
    apply_max_norm(free, 1.0)
    for k in params:
        np.testing.assert_array_equal(params[k], free[k], err_msg=k)


@pytest.mark.parametrize("c", [0, -1.0, np.inf, "1"])
def test_bad_max_norm_is_refused(c):
    with pytest.raises(RnnlabError, match="max_norm_recurrent must be None or a positive finite number"):
        Adam(max_norm_recurrent=c)
    with pytest.raises(RnnlabError, match="max_norm must be a positive finite number"):
        apply_max_norm({}, c)
