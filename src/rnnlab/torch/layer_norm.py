r"""PyTorch twins of the engine's ``layer_norm=True`` layers: ``LayerNormRNN``, ``LayerNormLSTM``, ``LayerNormGRU``.

The equations of ``rnnlab/nn/cells/{elman,lstm,gru}.py`` once more, with torch autograd and a
Python loop over time: LN per gate block on x W_ihᵀ and on h W_hhᵀ, the torch biases after it,
and for the LSTM LN on c_t before its tanh (h_t = o ⊙ tanh(LN_c(c_t))). For the LSTM::

    ax = LN_ih(x @ W_ih.T) + b_ih                       # every step at once
    for t in range(T):
        z = ax[:, t] + LN_hh(h @ W_hh.T) + b_hh
        i, f, g, o = σ(z_i), σ(z_f), tanh(z_g), σ(z_o)
        c = f * c + i * g
        h = o * tanh(LN_c(c))

Parameter names and shapes are those of our layers (torch.nn.LSTM's plus ``ln_ih_weight_l0``,
``ln_ih_bias_l0``, ``ln_hh_weight_l0``, ``ln_hh_bias_l0``, ``ln_c_weight_l0``, ``ln_c_bias_l0``,
suffix ``_reverse``), so ``load_state_dict`` moves weights either way unchanged. ``lengths``
follows ``pack_padded_sequence(enforce_sorted=False)``: the state is carried through padding,
padded outputs are zero and the reverse direction starts at each sequence's last valid step.
``layer_norm=False`` gives plain torch.nn.RNN/LSTM/GRU maths (tests use it to check this loop).

Examples
--------
>>> from rnnlab import nn
>>> ours = nn.LSTM(3, 8, layer_norm=True, dtype=np.float64)                  # doctest: +SKIP
>>> ref = LayerNormLSTM(3, 8).double()                                      # doctest: +SKIP
>>> ref.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})  # doctest: +SKIP
"""
from __future__ import annotations

import math

from rnnlab.torch.optional import require_torch

torch = require_torch()
from torch import nn
from torch.nn import functional as F

from rnnlab.nn.functional import LN_EPS


def block_norm(a, weight, bias, n_blocks: int, eps: float = LN_EPS):
    """γ ⊙ (a - μ)/√(σ² + ε) + β over each of the ``n_blocks`` blocks of the last axis, each on its own."""
    shape = a.shape
    H = shape[-1] // n_blocks
    a = F.layer_norm(a.reshape(*shape[:-1], n_blocks, H), (H,), eps=eps)
    return a.reshape(shape) * weight + bias


class _LayerNormBase(nn.Module):
    n_gates = 1
    n_states = 1
    cell_norm = False

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, bidirectional: bool = False, layer_norm: bool = True,
                 eps: float = LN_EPS):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.layer_norm, self.eps = bias, batch_first, layer_norm, eps
        self.bidirectional, self.num_directions = bool(bidirectional), 2 if bidirectional else 1
        G, H, k = self.n_gates * hidden_size, hidden_size, 1 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else H * self.num_directions
            for d in range(self.num_directions):
                sfx = self._suffix(layer, d)
                shapes = {"weight_ih": (G, in_size), "weight_hh": (G, H)}
                if bias:
                    shapes.update(bias_ih=(G,), bias_hh=(G,))
                for name, shape in shapes.items():  # torch.nn.LSTM's initialisation
                    self.register_parameter(name + sfx, nn.Parameter(torch.empty(shape).uniform_(-k, k)))
                if layer_norm:
                    sizes = {"ln_ih": G, "ln_hh": G, **({"ln_c": H} if self.cell_norm else {})}
                    for name, size in sizes.items():
                        self.register_parameter(f"{name}_weight{sfx}", nn.Parameter(torch.ones(size)))
                        self.register_parameter(f"{name}_bias{sfx}", nn.Parameter(torch.zeros(size)))

    @staticmethod
    def _suffix(layer, d):
        return f"_l{layer}" + ("_reverse" if d else "")

    def _p(self, name, layer, d):
        return getattr(self, name + self._suffix(layer, d), None)

    def _norm(self, a, name, layer, d, n_blocks):
        """LN_name(a) when layer_norm, else a."""
        if not self.layer_norm:
            return a
        return block_norm(a, self._p(f"{name}_weight", layer, d), self._p(f"{name}_bias", layer, d), n_blocks, self.eps)

    def _add_bias(self, a, name, layer, d):
        b = self._p(name, layer, d)
        return a if b is None else a + b

    def cell(self, ax_t, state, layer, d):  # pragma: no cover - each subclass writes its equations
        raise NotImplementedError

    # -- the time loop ------------------------------------------------------------------------------
    def _run(self, x, state, mask, layer, d):
        """One direction of one layer: x (B, T, I) → outputs (B, T, H), final state list."""
        # ax = LN_ih(x W_ihᵀ) + b_ih, every step at once
        ax = self._add_bias(self._norm(x @ self._p("weight_ih", layer, d).T, "ln_ih", layer, d, self.n_gates),
                            "bias_ih", layer, d)
        outs = []
        for t in range(x.shape[1]):
            new = self.cell(ax[:, t], state, layer, d)
            if mask is not None:  # padding carries the state; its outputs are zero
                m = mask[:, t:t + 1]
                new = [m * n + (1 - m) * s for n, s in zip(new, state)]
            state = new
            outs.append(state[0] if mask is None else state[0] * mask[:, t:t + 1])
        return torch.stack(outs, 1), state

    @staticmethod
    def _reverse(a, lengths):
        """Flip each sequence (axis 1) within its own length; padding stays in place."""
        if lengths is None:
            return a.flip(1)
        steps = torch.arange(a.shape[1], device=a.device)[None, :]
        idx = torch.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)
        return a.gather(1, idx[..., None].expand_as(a))

    def forward(self, input, hx=None, lengths=None):
        """input (B, T, I) (batch_first) → output (B, T, D*H), h_n (L*D, B, H) (or (h_n, c_n) for the LSTM)."""
        x = input if self.batch_first else input.transpose(0, 1)
        B, T, _ = x.shape
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        if hx is None:
            states = [x.new_zeros(LD, B, H) for _ in range(self.n_states)]
        else:
            states = list(hx) if self.n_states == 2 else [hx]
        mask = None
        if lengths is not None:
            lengths = torch.as_tensor(lengths).to(x.device)
            mask = (torch.arange(T, device=x.device)[None, :] < lengths[:, None]).to(x.dtype)  # (B, T)
        finals = [[None] * LD for _ in states]
        inp = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.num_directions):
                k = layer * self.num_directions + d
                seq = inp if d == 0 else self._reverse(inp, lengths)
                out, fin = self._run(seq, [s[k] for s in states], mask, layer, d)
                for f, v in zip(finals, fin):
                    f[k] = v
                outs.append(out if d == 0 else self._reverse(out, lengths))
            inp = torch.cat(outs, dim=2)
        output = inp if self.batch_first else inp.transpose(0, 1)
        finals = [torch.stack(f) for f in finals]
        return output, (tuple(finals) if self.n_states == 2 else finals[0])


class LayerNormRNN(_LayerNormBase):
    """Elman RNN with layer norm: h_t = f(LN_ih(W_ih x_t) + b_ih + LN_hh(W_hh h_{t-1}) + b_hh)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", **kw):
        super().__init__(input_size, hidden_size, num_layers, **kw)
        self.nonlinearity = nonlinearity

    def cell(self, ax_t, state, layer, d):
        (h,) = state
        ah = self._norm(h @ self._p("weight_hh", layer, d).T, "ln_hh", layer, d, 1)
        z = self._add_bias(ax_t + ah, "bias_hh", layer, d)
        f = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[self.nonlinearity]
        return [f(z)]


class LayerNormLSTM(_LayerNormBase):
    """LSTM with layer norm on both products (per gate block i, f, g, o) and on c_t before its tanh."""

    n_gates, n_states, cell_norm = 4, 2, True

    def cell(self, ax_t, state, layer, d):
        h, c = state
        # z = LN_ih(W_ih x_t) + b_ih + LN_hh(W_hh h_{t-1}) + b_hh
        ah = self._norm(h @ self._p("weight_hh", layer, d).T, "ln_hh", layer, d, 4)
        z = self._add_bias(ax_t + ah, "bias_hh", layer, d)
        i, f, g, o = z.chunk(4, dim=1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        # c_t = f ⊙ c_{t-1} + i ⊙ g,  h_t = o ⊙ tanh(LN_c(c_t))
        c = f * c + i * g
        h = o * torch.tanh(self._norm(c, "ln_c", layer, d, 1))
        return [h, c]


class LayerNormGRU(_LayerNormBase):
    """GRU with layer norm on both products (per gate block r, z, n); r multiplies LN_hh(W_hn h) + b_hn."""

    n_gates = 3

    def cell(self, ax_t, state, layer, d):
        (h,) = state
        # a^h = LN_hh(W_hh h_{t-1}) + b_hh
        ah = self._add_bias(self._norm(h @ self._p("weight_hh", layer, d).T, "ln_hh", layer, d, 3), "bias_hh", layer, d)
        xr, xz, xn = ax_t.chunk(3, dim=1)
        hr, hz, hn = ah.chunk(3, dim=1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return [(1 - z) * n + z * h]
