r"""``TorchFeedbackRNN``: the output-feedback RNN of ``rnnlab/nn/feedback.py`` with torch autograd.

torch has no such module, so the equations are typed once more (teacher forcing)::

    ŷ_t = W_yy y_{t-1} + W_yh h_{t-1} + b_y               # the prediction of y_t from the past
    h_t = f(W_hy y_t + W_hx x_t + W_hh h_{t-1} + b_h)      # the state update sees the actual y_t

Parameter names and shapes are the NumPy layer's (``weight_yy`` (K, K), ``weight_yh`` (K, H),
``bias_y`` (K,), ``weight_hy`` (H, K), ``weight_hx`` (H, I) when I > 0, ``weight_hh`` (H, H),
``bias_h`` (H,)), so ``load_state_dict`` moves weights either way unchanged. With ``lengths`` the
state is carried through padding and padded predictions are zero, as in the NumPy layer.
"""
from __future__ import annotations

from rnnlab.torch.optional import require_torch

torch = require_torch()
nn = torch.nn

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}


class TorchFeedbackRNN(nn.Module):
    """Output-feedback RNN; ``forward(y, lengths=None, x=None)`` → (ŷ (B, T, K), h_n (B, H))."""

    def __init__(self, output_size: int, hidden_size: int, input_size: int = 0, nonlinearity: str = "tanh",
                 recurrent_dropout: float = 0.0):
        super().__init__()
        K, H, I = self.output_size, self.hidden_size, self.input_size = output_size, hidden_size, input_size
        self.nonlinearity, self.recurrent_dropout = nonlinearity, float(recurrent_dropout)
        shapes = {"weight_yy": (K, K), "weight_yh": (K, H), "bias_y": (K,), "weight_hy": (H, K),
                  **({"weight_hx": (H, I)} if I else {}), "weight_hh": (H, H), "bias_h": (H,)}
        for name, shape in shapes.items():  # values come from the NumPy layer through load_state_dict
            self.register_parameter(name, nn.Parameter(torch.zeros(shape)))

    def forward(self, y, lengths=None, x=None):
        """y (B, T, K), lengths (B,) or None, x (B, T, I) when input_size > 0."""
        B, T, _ = y.shape
        f = _ACTIVATIONS[self.nonlinearity]
        u, w_ih = y, self.weight_hy
        if self.input_size:
            u, w_ih = torch.cat([y, x], dim=2), torch.cat([self.weight_hy, self.weight_hx], dim=1)
        zx = u @ w_ih.T + self.bias_h                      # W_hy y_t + W_hx x_t + b_h, every step at once
        mask = None
        if lengths is not None:
            lengths = torch.as_tensor(lengths, device=y.device)
            mask = (torch.arange(T, device=y.device)[None, :] < lengths[:, None]).to(y.dtype)  # (B, T)
        w_hh = self.weight_hh
        m_h = None
        if self.training and self.recurrent_dropout:     # one inverted mask per sequence, as in NumPy
            keep = 1 - self.recurrent_dropout
            m_h = (torch.rand(B, self.hidden_size, device=y.device) < keep).to(y.dtype) / keep
        h = y.new_zeros(B, self.hidden_size)
        h_prev = []
        for t in range(T):
            h_prev.append(h)
            # h_t = f(W_hy y_t + W_hx x_t + W_hh (h_{t-1} ⊙ m_h) + b_h)
            new = f(zx[:, t] + (h if m_h is None else h * m_h) @ w_hh.T)
            h = new if mask is None else mask[:, t:t + 1] * new + (1 - mask[:, t:t + 1]) * h  # carry through padding
        H_prev = torch.stack(h_prev, dim=1)                                   # h_{t-1}, (B, T, H)
        Y_prev = torch.cat([y.new_zeros(B, 1, self.output_size), y[:, :-1]], dim=1)  # y_{t-1}
        # ŷ_t = W_yy y_{t-1} + W_yh h_{t-1} + b_y
        y_hat = Y_prev @ self.weight_yy.T + H_prev @ self.weight_yh.T + self.bias_y
        if mask is not None:
            y_hat = y_hat * mask[:, :, None]  # padded predictions are constant zeros
        return y_hat, h
