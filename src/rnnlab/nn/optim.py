"""Optimisers that update NumPy parameters in place, with ``torch.optim``'s exact formulas.

``opt.step(params, grads)`` takes two dicts keyed by qualified parameter names (for example
``"0.weight_ih_l0"``) and keeps its state (moments, step counts) per name, under torch's state
names. ``state_dict()`` is a flat dict of NumPy arrays (``"exp_avg.0.weight_ih_l0"`` plus a global
``"step"``) that can be written with safetensors and restored by ``load_state_dict``; the
hyperparameters are not part of it (``opt.lr`` is a plain attribute that schedules set).

Every optimiser accepts ``l1`` and ``l2`` penalties, added to the gradient before the update:
g ← g + l2·θ + l1·sign(θ). ``l2`` is torch's ``weight_decay`` for SGD, RMSprop and Adam;
``AdamW`` has its own decoupled ``weight_decay`` on top. ``max_norm_recurrent=c`` projects each row
of every recurrent matrix (``weight_hh``) back onto ‖w‖ ≤ c after each step (``apply_max_norm``).
"""
from __future__ import annotations

import fnmatch
import math

import numpy as np

from rnnlab.errors import RnnlabError


def _is_real(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _out_of_range(name: str, v, lo: float, hi: float = math.inf, hi_open: bool = False) -> list[str]:
    """[] if lo ≤ v ≤ hi (or < hi when ``hi_open``), else one problem sentence."""
    if _is_real(v) and lo <= v and (v < hi if hi_open else v <= hi):
        return []
    span = f"≥ {lo:g}" if hi == math.inf else f"in [{lo:g}, {hi:g}" + (")" if hi_open else "]")
    return [f"{name} must be a number {span}, got {v!r}"]


class Optimizer:
    """Base class: validation, L1/L2 penalties, per-name state and its state dict.

    Parameters
    ----------
    lr : float
        Learning rate; a plain attribute, so a schedule may change it between steps.
    l1, l2 : float, default 0
        Penalty coefficients added to the gradient: g + l2·θ + l1·sign(θ).
    max_norm_recurrent : float or None, default None
        After each step, rescale every row of the parameters named ``*weight_hh*`` (one unit's
        recurrent weights) to L2 norm at most this value; see ``apply_max_norm``.
    """

    #: names of the per-parameter state arrays, as in torch's ``optimizer.state[p]``
    state_keys: tuple[str, ...] = ()

    def __init__(self, lr: float, l1: float = 0.0, l2: float = 0.0, max_norm_recurrent=None):
        self.lr, self.l1, self.l2, self.max_norm_recurrent = lr, l1, l2, max_norm_recurrent
        problems = self._problems()
        if problems:
            raise RnnlabError(f"{type(self).__name__}: " + "; ".join(problems) + ".")
        self.lr, self.l1, self.l2 = float(lr), float(l1), float(l2)
        self.max_norm_recurrent = None if max_norm_recurrent is None else float(max_norm_recurrent)
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.steps = 0

    def _problems(self) -> list[str]:
        """Every invalid hyperparameter, so one error reports them all."""
        p = (_out_of_range("lr", self.lr, 0.0) + _out_of_range("l1", self.l1, 0.0)
             + _out_of_range("l2", self.l2, 0.0))
        c = self.max_norm_recurrent
        if c is not None and not (_is_real(c) and 0 < c < math.inf):
            p.append(f"max_norm_recurrent must be None or a positive finite number, got {c!r}")
        return p

    # -- stepping -------------------------------------------------------------------------------
    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update every parameter that has a gradient, in place.

        Parameters
        ----------
        params : dict of str to float ndarray
            Parameters keyed by qualified name; updated in place.
        grads : dict of str to ndarray
            Gradients with the same names and shapes (left unchanged). Parameters without a
            gradient are skipped (frozen).
        """
        problems = [f"gradient {k!r} has no parameter" for k in grads if k not in params]
        for k, g in grads.items():
            p = params.get(k)
            if p is None:
                continue
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                problems.append(f"parameter {k!r} must be a float ndarray to update in place")
            elif np.shape(g) != p.shape:
                problems.append(f"gradient {k!r} has shape {np.shape(g)} but its parameter {p.shape}")
        if problems:
            raise RnnlabError(f"{type(self).__name__}.step: " + "; ".join(problems) + ".")
        for name, p in params.items():
            if name not in grads:
                continue
            g = np.asarray(grads[name], dtype=p.dtype)
            # g ← g + l2·θ + l1·sign(θ); a new array, so the caller's gradient is never modified
            if self.l2:
                g = g + self.l2 * p
            if self.l1:
                g = g + self.l1 * np.sign(p)
            self._update(p, g, self._state_for(name, p))
        if self.max_norm_recurrent is not None:
            apply_max_norm({k: params[k] for k in grads}, self.max_norm_recurrent)
        self.steps += 1

    def _state_for(self, name: str, p: np.ndarray) -> dict:
        st = self.state.get(name)
        if st is None:
            st = self.state[name] = self._init_state(p)
        for k, v in st.items():
            if k != "step" and v.shape != p.shape:
                raise RnnlabError(f"{type(self).__name__}: state {k}.{name} has shape {v.shape} but the "
                                  f"parameter has {p.shape}; load a state_dict saved for this model.")
        return st

    def _init_state(self, p: np.ndarray) -> dict:
        return {}

    def _update(self, p: np.ndarray, g: np.ndarray, st: dict) -> None:
        raise NotImplementedError

    # -- state dict -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat copy of the state: ``"step"`` (number of ``step`` calls) and ``"<key>.<param>"``."""
        out = {"step": np.array(self.steps, dtype=np.int64)}
        for name, st in self.state.items():
            for k, v in st.items():
                out[f"{k}.{name}"] = np.array(v, copy=True)
        return out

    def load_state_dict(self, state: dict) -> None:
        """Restore a ``state_dict()``; later steps are then identical to the saved optimiser's."""
        cls = type(self).__name__
        if "step" not in state:
            raise RnnlabError(f"{cls}.load_state_dict: missing the 'step' entry; pass the dict that "
                              "state_dict() returned.")
        new, bad = {}, []
        for key, v in state.items():
            if key == "step":
                continue
            k, sep, name = key.partition(".")  # state keys have no dot; parameter names may
            if not sep or k not in self.state_keys:
                bad.append(key)
            else:
                new.setdefault(name, {})[k] = np.array(v, copy=True)
        if bad:
            want = "|".join(self.state_keys) or "no per-parameter state"
            raise RnnlabError(f"{cls}.load_state_dict: unexpected keys {bad}; expected 'step' and "
                              f"'<{want}>.<parameter>'; was it saved by another optimiser?")
        self.state, self.steps = new, int(state["step"])


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    Notes
    -----
    b₁ = g₁, b_t = μ b_{t-1} + g_t;  d = g_t + μ b_t (Nesterov) or b_t;  θ ← θ - lr·d
    """

    state_keys = ("momentum_buffer",)

    def __init__(self, lr: float, momentum: float = 0.0, nesterov: bool = False, l1=0.0, l2=0.0,
                 max_norm_recurrent=None):
        self.momentum, self.nesterov = momentum, bool(nesterov)
        super().__init__(lr, l1, l2, max_norm_recurrent)
        self.momentum = float(momentum)

    def _problems(self):
        p = super()._problems() + _out_of_range("momentum", self.momentum, 0.0)
        if self.nesterov and not (_is_real(self.momentum) and self.momentum > 0):
            p.append("nesterov=True needs momentum > 0")
        return p

    def _update(self, p, g, st):
        if self.momentum:
            buf = st.get("momentum_buffer")
            if buf is None:  # torch starts the buffer at the first gradient, not at zero
                buf = st["momentum_buffer"] = g.copy()
            else:
                # b_t = μ b_{t-1} + g_t
                buf *= self.momentum
                buf += g
            # d = g + μ b (Nesterov) or b
            g = g + self.momentum * buf if self.nesterov else buf
        # θ ← θ - lr·d
        p -= self.lr * g


class RMSprop(Optimizer):
    """RMSprop (uncentred) with optional momentum, as ``torch.optim.RMSprop``.

    Notes
    -----
    v ← α v + (1-α) g²;  with momentum: b ← μ b + g/(√v + ε), θ ← θ - lr·b;  else θ ← θ - lr·g/(√v + ε)
    """

    state_keys = ("square_avg", "momentum_buffer")

    def __init__(self, lr: float = 1e-3, alpha: float = 0.99, eps: float = 1e-8, momentum: float = 0.0,
                 l1=0.0, l2=0.0, max_norm_recurrent=None):
        self.alpha, self.eps, self.momentum = alpha, eps, momentum
        super().__init__(lr, l1, l2, max_norm_recurrent)
        self.alpha, self.eps, self.momentum = float(alpha), float(eps), float(momentum)

    def _problems(self):
        return (super()._problems() + _out_of_range("alpha", self.alpha, 0.0, 1.0)
                + _out_of_range("eps", self.eps, 0.0) + _out_of_range("momentum", self.momentum, 0.0))

    def _init_state(self, p):
        st = {"square_avg": np.zeros_like(p)}
        if self.momentum > 0:
            st["momentum_buffer"] = np.zeros_like(p)
        return st

    def _update(self, p, g, st):
        v = st["square_avg"]
        # v ← α v + (1-α) g²
        v *= self.alpha
        v += (1 - self.alpha) * (g * g)
        # ε outside the square root, as torch
        avg = np.sqrt(v)
        avg += self.eps
        if self.momentum > 0:
            buf = st.setdefault("momentum_buffer", np.zeros_like(p))
            # b ← μ b + g/(√v + ε);  θ ← θ - lr·b
            buf *= self.momentum
            buf += g / avg
            p -= self.lr * buf
        else:
            # θ ← θ - lr·g/(√v + ε)
            p -= self.lr * (g / avg)


class Adam(Optimizer):
    """Adam with bias correction, as ``torch.optim.Adam`` (``amsgrad=False``).

    Notes
    -----
    m ← β₁ m + (1-β₁) g;  v ← β₂ v + (1-β₂) g²;  θ ← θ - lr/(1-β₁ᵗ) · m / (√v/√(1-β₂ᵗ) + ε)
    """

    state_keys = ("exp_avg", "exp_avg_sq", "step")

    def __init__(self, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, l1=0.0, l2=0.0,
                 max_norm_recurrent=None):
        self.betas, self.eps = betas, eps
        super().__init__(lr, l1, l2, max_norm_recurrent)
        self.betas, self.eps = (float(betas[0]), float(betas[1])), float(eps)

    def _problems(self):
        p = super()._problems() + _out_of_range("eps", self.eps, 0.0)
        b = self.betas
        if not (isinstance(b, (tuple, list)) and len(b) == 2):
            return p + [f"betas must be a pair (beta1, beta2), got {b!r}"]
        return p + _out_of_range("beta1", b[0], 0.0, 1.0, True) + _out_of_range("beta2", b[1], 0.0, 1.0, True)

    def _init_state(self, p):
        # the step count is per parameter, as torch, so a parameter added later gets its own bias correction
        return {"exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p), "step": np.array(0, np.int64)}

    def _update(self, p, g, st):
        b1, b2 = self.betas
        m, v = st["exp_avg"], st["exp_avg_sq"]
        st["step"] = np.array(int(st["step"]) + 1, np.int64)
        t = int(st["step"])
        # m ← β₁ m + (1-β₁) g, in torch's lerp form m + (1-β₁)(g - m)
        m += (1 - b1) * (g - m)
        # v ← β₂ v + (1-β₂) g²
        v *= b2
        v += (1 - b2) * (g * g)
        step_size = self.lr / (1 - b1 ** t)
        # θ ← θ - lr/(1-β₁ᵗ) · m / (√v/√(1-β₂ᵗ) + ε): ε is added after the correction, as torch
        denom = np.sqrt(v)
        denom /= (1 - b2 ** t) ** 0.5
        denom += self.eps
        p -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    Notes
    -----
    θ ← θ (1 - lr·λ), then the Adam update. ``l2`` would instead add λθ to the gradient.
    """

    def __init__(self, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 l1=0.0, l2=0.0, max_norm_recurrent=None):
        self.weight_decay = weight_decay
        super().__init__(lr, betas, eps, l1, l2, max_norm_recurrent)
        self.weight_decay = float(weight_decay)

    def _problems(self):
        return super()._problems() + _out_of_range("weight_decay", self.weight_decay, 0.0)

    def _update(self, p, g, st):
        # θ ← θ (1 - lr·λ), before and independent of the adaptive step
        if self.weight_decay:
            p *= 1 - self.lr * self.weight_decay
        super()._update(p, g, st)


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale all gradients in place so that their global L2 norm is at most ``max_norm``.

    Parameters
    ----------
    grads : dict of str to ndarray
        Gradients, modified in place.
    max_norm : float
        Positive bound on ‖g‖ = sqrt(Σ ‖g_k‖²).

    Returns
    -------
    float
        The norm before clipping. When it is NaN or infinite the gradients are left as they are,
        so the caller can see and skip the step.
    """
    if not (_is_real(max_norm) and 0 < max_norm < math.inf):
        raise RnnlabError(f"clip_grad_norm max_norm must be a positive finite number, got {max_norm!r}.")
    not_arrays = [k for k, g in grads.items() if not isinstance(g, np.ndarray)]
    if not_arrays:
        raise RnnlabError(f"clip_grad_norm needs ndarray gradients to scale in place; got others for "
                          f"{not_arrays}.")
    # hypot of the per-array norms: no overflow from squaring large norms
    total = math.hypot(*(float(np.linalg.norm(g.ravel())) for g in grads.values()))
    if not math.isfinite(total):
        return total
    # coef = max_norm / (‖g‖ + 1e-6), applied only when below 1: torch.nn.utils.clip_grad_norm_
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads.values():
            g *= coef
    return total


def apply_max_norm(params: dict[str, np.ndarray], max_norm: float, pattern: str = "*weight_hh*") -> list[str]:
    """Max-norm constraint (Srivastava et al. 2014): rows of matching parameters rescaled to ‖w‖ ≤ c, in place.

    Parameters
    ----------
    params : dict of str to float ndarray
        Parameters by name; those whose name matches ``pattern`` (``fnmatch``, case-sensitive) are
        constrained. A row of a matrix is one unit's incoming weights in torch's (out, in) layout,
        so for ``weight_hh`` (n_gates*H, H) each gate unit's recurrent weights are bounded apart; a
        1-D parameter is one vector.
    max_norm : float
        The bound c > 0.
    pattern : str, default "*weight_hh*"
        Which names to constrain: the recurrent matrices of every layer and direction by default.

    Returns
    -------
    list of str
        The names that matched (an empty list says the pattern missed).

    Notes
    -----
    w ← w · min(1, c / ‖w‖): rows already inside the ball are left exactly as they are.
    """
    if not (_is_real(max_norm) and 0 < max_norm < math.inf):
        raise RnnlabError(f"apply_max_norm max_norm must be a positive finite number, got {max_norm!r}.")
    if not isinstance(pattern, str):
        raise RnnlabError(f"apply_max_norm pattern must be a glob string such as '*weight_hh*', got {pattern!r}.")
    names = [k for k in params if fnmatch.fnmatchcase(k, pattern)]
    for k in names:
        w = params[k]
        rows = w.reshape(1, -1) if w.ndim == 1 else w.reshape(w.shape[0], -1)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        # w ← w · min(1, c/‖w‖), only where ‖w‖ > c
        scale = np.where(norms > max_norm, max_norm / np.maximum(norms, np.finfo(w.dtype).tiny), 1.0)
        w *= scale.astype(w.dtype).reshape((rows.shape[0],) + (1,) * (w.ndim - 1))
    return names
