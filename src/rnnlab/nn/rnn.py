"""Recurrent layers with PyTorch's interface and weight layout: ``RNN``, ``LSTM``, ``GRU``.

Stacking, bidirectionality, variable lengths, dropout between layers and stateful (truncated
BPTT) use all live here; the time loop itself is ``Recurrent``. A plain-NumPy reference of
what ``LSTM.forward`` computes for one layer and direction, without lengths::

    h, c = h0, c0
    for t in range(T):
        z = x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2H]), tanh(z[:, 2H:3H]), sigmoid(z[:, 3H:])
        c = f * c + i * g
        h = o * tanh(c)
        out[:, t] = h

With ``lengths``, the reverse direction starts at each sequence's own last step and padded
outputs are zero, exactly as ``torch.nn.utils.rnn.pack_padded_sequence(enforce_sorted=False)``.

Regularisation and normalisation options (``docs/regularisation.md``), all off by default:

* ``input_dropout=p``, ``recurrent_dropout=p``: variational dropout (Gal & Ghahramani 2016), one
  inverted mask per sequence and layer direction on the layer's inputs x_t and on h_{t-1} inside
  W_hh h_{t-1}, the same at every step; training only. ``dropout=p`` (between layers) is unchanged.
* ``zoneout=p`` (Krueger et al. 2017): in training each unit of h (and c) keeps its previous value
  with probability p, a fresh draw per step; at inference h_t = p h_{t-1} + (1 - p) h'_t.
* ``layer_norm=True`` (Ba et al. 2016): LN per gate block on x W_ihᵀ and on h W_hhᵀ, and on c_t
  before its tanh in the LSTM, with gains ``ln_*_weight`` (init 1) and biases ``ln_*_bias`` (init 0);
  the equations, and why b_ih and b_hh stay after the LN, are in ``cells/lstm.py``.

Masks come from the layer's generator ``rng`` (seeded by ``seed``); those of the last training call
are in ``noise``, one ``Noise`` per layer direction (index layer * num_directions + direction).
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from rnnlab.errors import RnnlabError, check_finite
from rnnlab.nn import init
from rnnlab.nn.cells import ElmanCell, GRUCell, LSTMCell
from rnnlab.nn.cells.base import LayerNormParams
from rnnlab.nn.module import Module
from rnnlab.nn.recurrent import Recurrent

PROBABILITIES = ("dropout", "input_dropout", "recurrent_dropout", "zoneout")


class Noise(NamedTuple):
    """The masks of one layer direction in one call: inverted dropout masks (B, I) and (B, H), and
    per state the zoneout keep indicators (T, B, H) in time order of that direction (p at inference)."""
    input: Optional[np.ndarray]
    recurrent: Optional[np.ndarray]
    zoneout: Optional[list]


def is_probability(p) -> bool:
    return isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool) and 0 <= p < 1


class RNNBase(Module):
    """Shared machinery; use ``RNN``, ``LSTM`` or ``GRU``."""

    cell_class = None
    kind = ""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 bidirectional: bool = False, dropout: float = 0.0, return_sequences: bool = True,
                 stateful: bool = False, seed=None, dtype=np.float32, input_dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, zoneout: float = 0.0, layer_norm: bool = False, **cell_kwargs):
        super().__init__(dtype)
        errors = []
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                errors.append(f"{name} must be a positive integer, got {v!r}")
        probabilities = dict(zip(PROBABILITIES, (dropout, input_dropout, recurrent_dropout, zoneout)))
        errors += [f"{k} must be a probability in [0, 1), got {v!r}" for k, v in probabilities.items()
                   if not is_probability(v)]
        if not isinstance(layer_norm, (bool, np.bool_)):
            errors.append(f"layer_norm must be True or False, got {layer_norm!r}")
        elif layer_norm and not self.cell_class.supports_layer_norm:
            errors.append(f"layer_norm is not supported by {self.cell_class.__name__}; "
                          "use RNN, LSTM or GRU, or leave layer_norm=False")
        if errors:
            raise RnnlabError(f"{type(self).__name__}: " + "; ".join(errors) + ".")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bidirectional, self.num_directions = bool(bidirectional), 2 if bidirectional else 1
        self.dropout, self.return_sequences, self.stateful = float(dropout), return_sequences, stateful
        self.input_dropout, self.recurrent_dropout = float(input_dropout), float(recurrent_dropout)
        self.zoneout, self.layer_norm = float(zoneout), bool(layer_norm)
        self.bias = bias
        self.rng = self.make_rng(seed)
        self.cell_kwargs = cell_kwargs
        cell = self.cell_class(hidden_size, layer_norm=self.layer_norm, **cell_kwargs)
        self.n_states = cell.n_states
        self._runs = [Recurrent(self.cell_class(hidden_size, layer_norm=self.layer_norm, **cell_kwargs))
                      for _ in range(self.num_layers * self.num_directions)]
        self._init_params(cell)
        self.noise = []
        self._carry = None
        self._cache = None
        self.grad_initial_state = None

    # -- parameters -------------------------------------------------------------------------
    @staticmethod
    def _suffix(layer, direction):
        return f"_l{layer}" + ("_reverse" if direction else "")

    def _names(self, layer, direction):
        return tuple(n + self._suffix(layer, direction) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def _init_params(self, cell):
        H, rng, n_gates = self.hidden_size, self.rng, cell.n_gates
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else H * self.num_directions
            for d in range(self.num_directions):
                w_ih, w_hh, b_ih, b_hh = self._names(layer, d)
                # Glorot per gate block for inputs, orthogonal per gate block for the recurrence
                self.add_param(w_ih, np.concatenate(
                    [init.glorot_uniform(rng, (H, in_size), self.dtype) for _ in range(n_gates)]))
                self.add_param(w_hh, init.recurrent_orthogonal(rng, n_gates, H, self.dtype))
                if self.bias:
                    # two biases so that weights load into torch unchanged
                    self.add_param(b_ih, self.initial_bias(n_gates))
                    self.add_param(b_hh, np.zeros(n_gates * H, self.dtype))
                if self.layer_norm:  # gains 1, biases 0: LN starts as plain standardisation
                    for name, size in cell.norm_parameters().items():
                        fill = np.ones if name.endswith("_weight") else np.zeros
                        self.add_param(name + self._suffix(layer, d), fill(size, self.dtype))

    def initial_bias(self, n_gates):
        return np.zeros(n_gates * self.hidden_size, self.dtype)

    def _weights(self, layer, d):
        w_ih, w_hh, b_ih, b_hh = (self.params.get(n) for n in self._names(layer, d))
        if b_ih is None:
            b_ih = b_hh = np.zeros(w_ih.shape[0], self.dtype)
        return w_ih, w_hh, b_ih, b_hh

    def _norm(self, layer, d):
        """The LayerNormParams of one layer direction, or None without layer norm."""
        if not self.layer_norm:
            return None
        sfx = self._suffix(layer, d)
        return LayerNormParams(**{k[3:]: self.params[k + sfx] for k in self._runs[0].cell.norm_parameters()})

    def _draw_noise(self, T, B, in_size) -> Noise:
        """Masks for one layer direction: dropout in training only, zoneout as p at inference."""
        H, rng = self.hidden_size, self.rng
        if not self.training:
            return Noise(None, None, [self.zoneout] * self.n_states if self.zoneout else None)

        def uniform(shape):  # float32 draws: half the cost of float64 for the (T, B, H) zoneout masks
            return rng.random(shape, dtype=np.float32)

        def dropout_mask(shape, p):  # inverted: kept entries are scaled by 1/(1-p), so E[mask] = 1
            return None if p == 0 else (uniform(shape) < 1 - p).astype(self.dtype) / self.dtype.type(1 - p)

        zone = None
        if self.zoneout:  # d = 1: the unit keeps its previous value at that step
            zone = [(uniform((T, B, H)) < self.zoneout).astype(self.dtype) for _ in range(self.n_states)]
        return Noise(dropout_mask((B, in_size), self.input_dropout), dropout_mask((B, H), self.recurrent_dropout),
                     zone)

    # -- input checks -------------------------------------------------------------------------
    def _check_input(self, x):
        name = type(self).__name__
        x = self._as_input("x", x)
        if x.ndim != 3 or x.shape[2] != self.input_size or x.shape[1] < 1 or x.shape[0] < 1:
            raise RnnlabError(f"{name} expected input (batch, time, {self.input_size}) but got {x.shape}; "
                              "check input_size and that arrays are batch-first.")
        check_finite("x", x)
        return x

    def _check_state(self, initial_state, B):
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        if initial_state is None:
            if self.stateful and self._carry is not None and self._carry[0].shape[1] == B:
                return self._carry  # truncated BPTT: carried forward, never backpropagated into
            return [np.zeros((LD, B, H), self.dtype) for _ in range(self.n_states)]
        states = list(initial_state) if self.n_states == 2 else [initial_state]
        if self.n_states == 2 and len(states) != 2:
            raise RnnlabError("LSTM initial_state must be a tuple (h0, c0).")
        out = []
        for name, s in zip(("h0", "c0"), states):
            s = self._as_input(name, s)
            check_finite(f"initial_state {name}", s)
            if s.shape != (LD, B, H):
                raise RnnlabError(f"initial_state {name} expected shape (num_layers*num_directions, batch, "
                                  f"hidden) = ({LD}, {B}, {H}) but got {s.shape}.")
            out.append(s)
        return out

    # -- forward ------------------------------------------------------------------------------
    def _reverse(self, a, rev_idx):
        """Flip each sequence within its own length (an involution; padding stays in place)."""
        if rev_idx is None:
            return a[::-1]
        return a[rev_idx, np.arange(a.shape[1])[None, :]]

    def forward(self, x, lengths=None, initial_state=None):
        """x (B, T, I) → out (B, T, D*H) (or (B, D*H) if not return_sequences), state.

        state is h_n (L*D, B, H), or (h_n, c_n) for the LSTM, taken at each sequence's last valid step.
        """
        x = self._check_input(x)
        B, T, _ = x.shape
        lengths = self._check_lengths(lengths, B, T)
        state0 = self._check_state(initial_state, B)
        H, D = self.hidden_size, self.num_directions
        mask = rev_idx = None
        if lengths is not None and lengths.min() < T:
            steps = np.arange(T)[:, None]
            mask = (steps < lengths[None, :]).astype(self.dtype)[:, :, None]      # (T, B, 1)
            rev_idx = np.where(steps < lengths, lengths - 1 - steps, steps)       # (T, B)
        finals = [np.empty((self.num_layers * D, B, H), self.dtype) for _ in range(self.n_states)]
        inp = np.ascontiguousarray(x.transpose(1, 0, 2))
        self._drop_masks, self.noise = [], []
        for layer in range(self.num_layers):
            if layer > 0 and self.training and self.dropout > 0:
                keep = 1.0 - self.dropout
                dm = (self.rng.random(inp.shape) < keep).astype(self.dtype) / keep
                self._drop_masks.append(dm)
                inp = inp * dm
            outs = []
            for d in range(D):
                k = layer * D + d
                xin = inp if d == 0 else self._reverse(inp, rev_idx)
                noise = self._draw_noise(T, B, inp.shape[2])
                self.noise.append(noise)
                S = self._runs[k].forward(xin, *self._weights(layer, d), [s[k] for s in state0], mask,
                                          ln=self._norm(layer, d), x_mask=noise.input, h_mask=noise.recurrent,
                                          zoneout=noise.zoneout)
                for f, s in zip(finals, S):
                    f[k] = s[T]
                out = S[0][1:] if mask is None else S[0][1:] * mask
                outs.append(out if d == 0 else self._reverse(out, rev_idx))
            inp = outs[0] if D == 1 else np.concatenate(outs, axis=2)
        self._cache = (B, T, mask, rev_idx)
        if self.stateful:
            self._carry = [f.copy() for f in finals]
        state = tuple(finals) if self.n_states == 2 else finals[0]
        if not self.return_sequences:  # last output = final state of each direction of the top layer
            top = finals[0][(self.num_layers - 1) * D:]
            return np.concatenate(list(top), axis=1), state
        return inp.transpose(1, 0, 2).copy(), state  # a copy: inp may be a view of the reused workspace

    __call__ = forward

    def reset_states(self):
        """Forget the carried state of a stateful layer (start of a new stream)."""
        self._carry = None

    # -- backward -----------------------------------------------------------------------------
    def backward(self, d_out, d_state=None):
        """∂L/∂out (and optionally ∂L/∂state) → ∂L/∂x (B, T, I); parameter gradients in ``grads``.

        ∂L/∂(initial state) is left in ``grad_initial_state`` (same layout as the state).
        """
        if getattr(self, "_cache", None) is None:
            raise RnnlabError(f"{type(self).__name__}.backward called before forward; call forward first.")
        B, T, mask, rev_idx = self._cache
        H, D, L = self.hidden_size, self.num_directions, self.num_layers
        d_finals = [np.zeros((L * D, B, H), self.dtype) for _ in range(self.n_states)]
        if d_state is not None:
            for df, ds in zip(d_finals, [d_state] if self.n_states == 1 else d_state):
                if ds is not None:
                    df += ds
        d_out = np.asarray(d_out, self.dtype)
        if self.return_sequences:
            if d_out.shape != (B, T, D * H):
                raise RnnlabError(f"d_out expected shape ({B}, {T}, {D * H}) but got {d_out.shape}.")
            d_tm = d_out.transpose(1, 0, 2).copy()  # never scale the caller's array in place
            if mask is not None:
                d_tm *= mask  # padded outputs are constant zeros
        else:
            if d_out.shape != (B, D * H):
                raise RnnlabError(f"d_out expected shape ({B}, {D * H}) but got {d_out.shape}.")
            d_tm = np.zeros((T, B, D * H), self.dtype)
            d_finals[0][(L - 1) * D:] += d_out.reshape(B, D, H).transpose(1, 0, 2)
        d_init = [np.zeros((L * D, B, H), self.dtype) for _ in range(self.n_states)]
        for layer in range(L - 1, -1, -1):
            d_inp = None
            for d in range(D):
                k = layer * D + d
                dH = d_tm[:, :, d * H:(d + 1) * H]
                if d == 1:
                    dH = self._reverse(dH, rev_idx)
                w_ih, w_hh, _, _ = self._weights(layer, d)
                dx, g, d0 = self._runs[k].backward(dH, [df[k] for df in d_finals], w_ih, w_hh, mask)
                for name, key in zip(self._names(layer, d), ("w_ih", "w_hh", "b_ih", "b_hh")):
                    if name in self.grads:
                        self.grads[name][...] = g[key]
                for key in g:
                    if key.startswith("ln_"):
                        self.grads[key + self._suffix(layer, d)][...] = g[key]
                for di, dd in zip(d_init, d0):
                    di[k] = dd
                if d == 1:
                    dx = self._reverse(dx, rev_idx)
                d_inp = dx if d_inp is None else d_inp + dx
            if layer > 0 and self._drop_masks:
                d_inp *= self._drop_masks[layer - 1]
            d_tm = d_inp
        self.grad_initial_state = tuple(d_init) if self.n_states == 2 else d_init[0]
        return np.ascontiguousarray(d_tm.transpose(1, 0, 2))


class RNN(RNNBase):
    """Elman RNN, ``nonlinearity`` in {'tanh', 'relu', 'sigmoid'} (torch offers tanh and relu)."""

    cell_class = ElmanCell
    kind = "rnn"

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", **kw):
        if nonlinearity not in ("tanh", "relu", "sigmoid"):
            raise RnnlabError(f"RNN nonlinearity must be 'tanh', 'relu' or 'sigmoid', got {nonlinearity!r}.")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, nonlinearity=nonlinearity, **kw)


class LSTM(RNNBase):
    cell_class = LSTMCell
    kind = "lstm"

    def initial_bias(self, n_gates):
        b = np.zeros(n_gates * self.hidden_size, self.dtype)
        b[self.hidden_size:2 * self.hidden_size] = 1.0  # forget-gate bias 1: remember by default
        return b


class GRU(RNNBase):
    cell_class = GRUCell
    kind = "gru"
