r"""Output-feedback (Jordan-style) RNN: the observed output of each step drives the next state.

With output size K, hidden size H and an optional exogenous input x_t of size I::

    ŷ_t = W_yy y_{t-1} + W_yh h_{t-1} + b_y              # the prediction of y_t from the past
    h_t = f(W_hy y_t + W_hx x_t + W_hh h_{t-1} + b_h)     # the state update sees the actual y_t

f ∈ {tanh, relu, sigmoid}, y_{-1} = y0 and h_{-1} = h0 (zeros by default). With
``recurrent_dropout=p`` the state update reads W_hh (h_{t-1} ⊙ m_h) in training, one inverted mask
m_h per sequence (Gal & Ghahramani 2016); ŷ_t still sees h_{t-1} whole. Under teacher forcing
(``forward``) y_t is the observed value; running free (``generate``) y_t = ŷ_t + ε_t with
ε_t ~ N(0, noise_std²).

Under teacher forcing the state recursion is an Elman RNN whose input is u_t = [y_t, x_t] with
W_ih = [W_hy, W_hx] and b_ih = b_h, so ``Recurrent(ElmanCell)`` runs it, and every ŷ_t is two
matrix products over all steps once the loop is done. A plain-NumPy reference::

    y_prev, h = y0, h0
    for t in range(T):
        y_hat[:, t] = y_prev @ W_yy.T + h @ W_yh.T + b_y
        h = f(y[:, t] @ W_hy.T + x[:, t] @ W_hx.T + h @ W_hh.T + b_h)
        y_prev = y[:, t]
"""
from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError, check_finite
from rnnlab.nn import init
from rnnlab.nn.cells import ElmanCell
from rnnlab.nn.module import Module
from rnnlab.nn.recurrent import Recurrent
from rnnlab.nn.rnn import is_probability


def _is_int(v, low):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= low


class FeedbackRNN(Module):
    """Output-feedback RNN that predicts y_t from y_{<t} (and x_{<t}); see the module docstring.

    Parameters
    ----------
    output_size : int
        K, the size of the fed-back output y_t.
    hidden_size : int
        H, the size of the state h_t.
    input_size : int, default 0
        I, the size of the exogenous input x_t; 0 means none (no ``weight_hx``).
    nonlinearity : {'tanh', 'relu', 'sigmoid'}
    recurrent_dropout : float in [0, 1), default 0
        Variational dropout on h_{t-1} inside W_hh h_{t-1}, training only (``forward``, not ``generate``).
    seed : int, None or numpy.random.Generator
        Source of the initial weights, of the dropout masks and, by default, of the noise in ``generate``.
    dtype : numpy dtype, default float32

    Notes
    -----
    Parameters: ``weight_yy`` (K, K), ``weight_yh`` (K, H), ``bias_y`` (K,), ``weight_hy`` (H, K),
    ``weight_hh`` (H, H), ``bias_h`` (H,) and ``weight_hx`` (H, I) when I > 0. Glorot-uniform
    input matrices, orthogonal ``weight_hh``, zero biases.

    Examples
    --------
    >>> net = FeedbackRNN(output_size=1, hidden_size=8, seed=0, dtype=np.float64)
    >>> y = np.sin(np.linspace(0, 6, 20)).reshape(1, 20, 1)
    >>> y_hat, h_n = net.forward(y)          # y_hat[:, t] predicts y[:, t]
    >>> dy = net.backward(2 * (y_hat - y) / y.size)
    >>> net.generate(5, y_context=y).shape
    (1, 5, 1)
    """

    def __init__(self, output_size: int, hidden_size: int, input_size: int = 0,
                 nonlinearity: str = "tanh", recurrent_dropout: float = 0.0, seed=None, dtype=np.float32):
        super().__init__(dtype)
        errors = [f"{n} must be a positive integer, got {v!r}"
                  for n, v in (("output_size", output_size), ("hidden_size", hidden_size)) if not _is_int(v, 1)]
        if not _is_int(input_size, 0):
            errors.append(f"input_size must be a non-negative integer (0 = no exogenous input), got {input_size!r}")
        if nonlinearity not in ("tanh", "relu", "sigmoid"):
            errors.append(f"nonlinearity must be 'tanh', 'relu' or 'sigmoid', got {nonlinearity!r}")
        if not is_probability(recurrent_dropout):
            errors.append(f"recurrent_dropout must be a probability in [0, 1), got {recurrent_dropout!r}")
        if errors:
            raise RnnlabError("FeedbackRNN: " + "; ".join(errors) + ".")
        K, H, I = self.output_size, self.hidden_size, self.input_size = int(output_size), int(hidden_size), int(input_size)
        self.nonlinearity, self.recurrent_dropout = nonlinearity, float(recurrent_dropout)
        self.rng = rng = self.make_rng(seed)
        self.add_param("weight_yy", init.glorot_uniform(rng, (K, K), self.dtype))
        self.add_param("weight_yh", init.glorot_uniform(rng, (K, H), self.dtype))
        self.add_param("bias_y", np.zeros(K, self.dtype))
        self.add_param("weight_hy", init.glorot_uniform(rng, (H, K), self.dtype))
        if I:
            self.add_param("weight_hx", init.glorot_uniform(rng, (H, I), self.dtype))
        self.add_param("weight_hh", init.orthogonal(rng, (H, H), dtype=self.dtype))
        self.add_param("bias_h", np.zeros(H, self.dtype))
        # two loops, so that generate() never overwrites what backward() needs from forward()
        self._rec = Recurrent(ElmanCell(H, nonlinearity))
        self._free = Recurrent(ElmanCell(H, nonlinearity))
        self._cache = None
        self.h_mask = None  # the recurrent dropout mask of the last training forward
        self.grad_x = None
        self.grad_initial_state = None

    # -- input checks -------------------------------------------------------------------------
    def _check_seq(self, name, a, B, T, size, what):
        a = self._as_input(name, a)
        if a.ndim != 3 or a.shape[2] != size or a.shape[1] < 1 or a.shape[0] < 1 \
                or (B is not None and a.shape[0] != B) or (T is not None and a.shape[1] != T):
            want = f"({'batch' if B is None else B}, {'time' if T is None else T}, {size})"
            raise RnnlabError(f"FeedbackRNN expected {name} {want} but got {a.shape}; check {what} "
                              "and that arrays are batch-first.")
        check_finite(name, a)
        return a

    def _check_x(self, name, x, B, T):
        if self.input_size == 0:
            if x is not None:
                raise RnnlabError(f"FeedbackRNN got {name} but was built with input_size=0; "
                                  "pass input_size to use an exogenous input.")
            return np.zeros((B, T, 0), self.dtype)
        if x is None:
            raise RnnlabError(f"FeedbackRNN expected {name} ({B}, {T}, {self.input_size}) because "
                              f"input_size={self.input_size}, but got None.")
        return self._check_seq(name, x, B, T, self.input_size, "input_size")

    def _check_state(self, initial_state, B):
        y0, h0 = (None, None) if initial_state is None else initial_state
        out = []
        for name, s, n in (("y0", y0, self.output_size), ("h0", h0, self.hidden_size)):
            if s is None:
                out.append(np.zeros((B, n), self.dtype))
                continue
            s = self._as_input(f"initial_state {name}", s)
            if s.shape != (B, n):
                raise RnnlabError(f"FeedbackRNN expected initial_state {name} of shape ({B}, {n}) "
                                  f"but got {s.shape}; pass (y0, h0) with batch-first rows.")
            check_finite(f"initial_state {name}", s)
            out.append(s)
        return out

    # -- forward ------------------------------------------------------------------------------
    def _w_ih(self):
        p = self.params
        return np.concatenate([p["weight_hy"], p["weight_hx"]], axis=1) if self.input_size else p["weight_hy"]

    def _run(self, rec, Y, X, y0, h0, mask=None, h_mask=None):
        """Teacher-forced pass, time-major: Y (T, B, K), X (T, B, I) → ŷ (T, B, K), y_{t-1}, S (T+1, B, H)."""
        p, (T, B, K) = self.params, Y.shape
        U = np.concatenate([Y, X], axis=2)                                   # u_t = [y_t, x_t]
        # h_t = f(W_hy y_t + W_hx x_t + W_hh (h_{t-1} ⊙ m_h) + b_h): the time loop, one Elman layer
        S = rec.forward(U, self._w_ih(), p["weight_hh"], p["bias_h"], None, [h0], mask, h_mask=h_mask)[0]
        Y_prev = np.concatenate([y0[None], Y[:-1]], axis=0)                  # y_{t-1}, (T, B, K)
        # ŷ_t = W_yy y_{t-1} + W_yh h_{t-1} + b_y: all steps in two products
        y_hat = (Y_prev.reshape(T * B, K) @ p["weight_yy"].T
                 + S[:-1].reshape(T * B, -1) @ p["weight_yh"].T + p["bias_y"]).reshape(T, B, K)
        return y_hat, Y_prev, S

    def forward(self, y, x=None, lengths=None, initial_state=None):
        """Teacher-forced one-step-ahead predictions.

        Parameters
        ----------
        y : array (B, T, K)
            The observed sequence; y_hat[:, t] is predicted from y[:, :t] (and x[:, :t]).
        x : array (B, T, I) or None
            Exogenous input, required iff ``input_size > 0``.
        lengths : int array (B,) in [1, T] or None
            Valid steps per sequence; padded steps carry the state and have y_hat = 0.
        initial_state : tuple (y0 (B, K), h0 (B, H)) or None
            y_{-1} and h_{-1}; either may be None for zeros.

        Returns
        -------
        y_hat : array (B, T, K)
        h_n : array (B, H)
            The state at each sequence's last valid step.
        """
        y = self._check_seq("y", y, None, None, self.output_size, "output_size")
        B, T, _ = y.shape
        x = self._check_x("x", x, B, T)
        lengths = self._check_lengths(lengths, B, T)
        y0, h0 = self._check_state(initial_state, B)
        mask = None
        if lengths is not None and lengths.min() < T:
            mask = (np.arange(T)[:, None] < lengths[None, :]).astype(self.dtype)[:, :, None]  # (T, B, 1)
        h_mask = None
        if self.training and self.recurrent_dropout:  # inverted: E[m_h] = 1, so inference needs no rescaling
            keep = 1 - self.recurrent_dropout
            h_mask = (self.rng.random((B, self.hidden_size)) < keep).astype(self.dtype) / self.dtype.type(keep)
        self.h_mask = h_mask
        y_hat, Y_prev, S = self._run(self._rec, y.transpose(1, 0, 2), x.transpose(1, 0, 2), y0, h0, mask, h_mask)
        if mask is not None:
            y_hat *= mask  # padded predictions are constant zeros
        self._cache = (B, T, Y_prev, S[:-1], mask)
        return np.ascontiguousarray(y_hat.transpose(1, 0, 2)), S[T].copy()

    __call__ = forward

    # -- backward -----------------------------------------------------------------------------
    def backward(self, d_yhat, d_state=None):
        """∂L/∂y_hat (B, T, K) and optionally ∂L/∂h_n (B, H) → ∂L/∂y (B, T, K).

        Parameter gradients overwrite ``grads``; ∂L/∂x (B, T, I) is left in ``grad_x`` (None
        without exogenous input) and (∂L/∂y0 (B, K), ∂L/∂h0 (B, H)) in ``grad_initial_state``.
        """
        if self._cache is None:
            raise RnnlabError("FeedbackRNN.backward called before forward; run forward first.")
        B, T, Y_prev, H_prev, mask = self._cache
        K, H, p, g = self.output_size, self.hidden_size, self.params, self.grads
        d_yhat = np.asarray(d_yhat, self.dtype)
        if d_yhat.shape != (B, T, K):
            raise RnnlabError(f"d_yhat expected shape ({B}, {T}, {K}) (the shape of y_hat) but got {d_yhat.shape}.")
        d_final = np.zeros((B, H), self.dtype)
        if d_state is not None:
            d_state = np.asarray(d_state, self.dtype)
            if d_state.shape != (B, H):
                raise RnnlabError(f"d_state expected shape ({B}, {H}) (the shape of h_n) but got {d_state.shape}.")
            d_final += d_state
        dY_hat = d_yhat.transpose(1, 0, 2).reshape(T * B, K)
        if mask is not None:
            dY_hat = dY_hat * mask.reshape(T * B, 1)  # padded predictions are constants
        # ∂W_yy = Σ_t ∂ŷ_tᵀ y_{t-1},  ∂W_yh = Σ_t ∂ŷ_tᵀ h_{t-1},  ∂b_y = Σ_t ∂ŷ_t
        g["weight_yy"][...] = dY_hat.T @ Y_prev.reshape(T * B, K)
        g["weight_yh"][...] = dY_hat.T @ H_prev.reshape(T * B, H)
        g["bias_y"][...] = dY_hat.sum(0)
        # ∂y_{t-1} and ∂h_{t-1} from ŷ_t: index t holds the gradient of step t-1 (t = 0: of y0, h0)
        dY_prev = (dY_hat @ p["weight_yy"]).reshape(T, B, K)
        dH_prev = (dY_hat @ p["weight_yh"]).reshape(T, B, H)
        dH = np.zeros((T, B, H), self.dtype)
        dH[:-1] = dH_prev[1:]                    # ∂h_t from ŷ_{t+1}; h_{T-1} only reaches h_n
        dU, gr, (dh0,) = self._rec.backward(dH, [d_final], self._w_ih(), p["weight_hh"], mask)
        g["weight_hy"][...] = gr["w_ih"][:, :K]
        if self.input_size:
            g["weight_hx"][...] = gr["w_ih"][:, K:]
        g["weight_hh"][...] = gr["w_hh"]
        g["bias_h"][...] = gr["b_ih"]
        # ∂y_t = (∂h-path through u_t) + (∂ŷ_{t+1} path through W_yy)
        dY = dU[:, :, :K].copy()
        dY[:-1] += dY_prev[1:]
        self.grad_initial_state = (dY_prev[0].copy(), dh0 + dH_prev[0])
        self.grad_x = np.ascontiguousarray(dU[:, :, K:].transpose(1, 0, 2)) if self.input_size else None
        return np.ascontiguousarray(dY.transpose(1, 0, 2))

    # -- free running -------------------------------------------------------------------------
    def generate(self, steps: int, y_context=None, x=None, noise_std: float = 0.0, rng=None,
                 x_context=None, batch_size=None, initial_state=None):
        """Run free for ``steps`` steps, feeding back y_t = ŷ_t + ε_t, ε_t ~ N(0, noise_std²).

        Parameters
        ----------
        steps : int
        y_context : array (B, Tc, K) or None
            Observed history, run teacher-forced first to warm the state.
        x : array (B, steps, I) or None
            Exogenous input of the generated steps, required iff ``input_size > 0``.
        noise_std : float, default 0
        rng : int, None or numpy.random.Generator
            Noise source; None uses the generator given as ``seed`` at construction.
        x_context : array (B, Tc, I) or None
            Exogenous input of the context, required iff ``input_size > 0`` and context is given.
        batch_size : int or None
            B when neither ``y_context`` nor ``x`` fixes it (default 1).
        initial_state : tuple (y0 (B, K), h0 (B, H)) or None
            State before the context (or before the first generated step without context).

        Returns
        -------
        array (B, steps, K)
            The fed-back values y_Tc, ..., y_{Tc+steps-1} (ŷ plus noise).
        """
        if not _is_int(steps, 1):
            raise RnnlabError(f"generate steps must be a positive integer, got {steps!r}.")
        if not (isinstance(noise_std, (int, float, np.floating)) and 0 <= noise_std < np.inf):
            raise RnnlabError(f"noise_std must be a finite number >= 0, got {noise_std!r}.")
        if batch_size is not None and not _is_int(batch_size, 1):
            raise RnnlabError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if y_context is not None:
            y_context = self._check_seq("y_context", y_context, batch_size, None, self.output_size, "output_size")
            B = y_context.shape[0]
        else:
            B = batch_size or (np.shape(x)[0] if x is not None and np.ndim(x) == 3 else 1)
        x = self._check_x("x", x, B, steps)
        rng = self.rng if rng is None else np.random.default_rng(rng)
        p = self.params
        y_prev, h = self._check_state(initial_state, B)
        if y_context is not None:
            xc = self._check_x("x_context", x_context, B, y_context.shape[1]).transpose(1, 0, 2)
            S = self._run(self._free, y_context.transpose(1, 0, 2), xc, y_prev, h)[2]
            y_prev, h = y_context[:, -1], S[-1].copy()
        elif x_context is not None:
            raise RnnlabError("generate got x_context without y_context; pass both or neither.")
        out = np.empty((B, steps, self.output_size), self.dtype)
        w_ih = self._w_ih()
        for t in range(steps):
            # ŷ_t = W_yy y_{t-1} + W_yh h_{t-1} + b_y,  then y_t = ŷ_t + ε_t
            y_t = y_prev @ p["weight_yy"].T + h @ p["weight_yh"].T + p["bias_y"]
            if noise_std > 0:
                y_t += noise_std * rng.standard_normal(y_t.shape)
            out[:, t] = y_t
            # h_t = f(W_hy y_t + W_hx x_t + W_hh h_{t-1} + b_h): one step of the same loop
            u = np.concatenate([y_t, x[:, t]], axis=1)[None]
            h = self._free.forward(u, w_ih, p["weight_hh"], p["bias_h"], None, [h])[0][1].copy()
            y_prev = y_t
        return out
