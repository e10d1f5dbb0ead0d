"""Feed-forward layers around the recurrent ones: ``Embedding``, ``Dense`` and ``Dropout``.

Each is a ``Module``: ``forward`` keeps what ``backward`` needs on ``self``, ``backward(d)``
overwrites ``grads`` and returns the gradient with respect to the input. Layouts follow
PyTorch (``Dense.weight`` is ``(out_features, in_features)`` like ``torch.nn.Linear``), so
``state_dict`` arrays load into the matching torch modules unchanged.
"""
from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.nn import init
from rnnlab.nn.module import Module


_rng = Module.make_rng


def _check_sizes(layer: str, **sizes) -> None:
    bad = [f"{k} must be a positive integer, got {v!r}" for k, v in sizes.items()
           if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1]
    if bad:
        raise RnnlabError(f"{layer}: " + "; ".join(bad) + ".")


def _scatter_rows(ids: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """out[k] = Σ_{j: ids[j] = k} rows[j], an (n, E) array; same result as ``np.add.at``.

    Sorting the ids and summing each run with ``np.add.reduceat`` is 2-4x faster than
    ``np.add.at`` for the repeated ids of a text batch.
    """
    out = np.zeros((n, rows.shape[1]), rows.dtype)
    if ids.size == 0:
        return out
    order = np.argsort(ids, kind="stable")
    s = ids[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    out[s[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``.

    Parameters
    ----------
    num_embeddings : int
        Vocabulary size V; ids must lie in ``[0, V)``.
    embedding_dim : int
        Vector size E.
    padding_idx : int, optional
        Row that stays zero and never receives a gradient (negative values count from the end,
        as in ``torch.nn.Embedding``).
    seed : int, None or numpy.random.Generator
        Source of the N(0, 1) initial weights.
    dtype : numpy dtype, default float32

    Notes
    -----
    ``weight`` has shape (V, E). Forward: ``out[..., :] = weight[ids[...]]``.
    Backward: ∂W[k] = Σ over positions with id k of ∂out at that position.

    Examples
    --------
    >>> emb = Embedding(10, 4, padding_idx=0, seed=0)
    >>> emb.forward(np.array([[1, 2, 0]])).shape
    (1, 3, 4)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, seed=None,
                 dtype=np.float32):
        super().__init__(dtype)
        _check_sizes("Embedding", num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        if padding_idx is not None:
            ok = isinstance(padding_idx, (int, np.integer)) and not isinstance(padding_idx, bool)
            if not ok or not -num_embeddings <= padding_idx < num_embeddings:
                raise RnnlabError(f"Embedding padding_idx must be an integer in [-{num_embeddings}, "
                                  f"{num_embeddings}) or None, got {padding_idx!r}.")
            padding_idx = int(padding_idx) % num_embeddings
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = padding_idx
        # N(0, 1) as torch.nn.Embedding, so pretrained-size activations match torch's scale
        w = _rng(seed).standard_normal((self.num_embeddings, self.embedding_dim))
        if padding_idx is not None:
            w[padding_idx] = 0.0
        self.add_param("weight", w)
        self._ids = None

    def _check_ids(self, ids) -> np.ndarray:
        ids = np.asarray(ids)
        V = self.num_embeddings
        if ids.dtype.kind not in "iu":
            raise RnnlabError(f"Embedding expected integer ids in [0, {V}) but got dtype {ids.dtype}; "
                              "map tokens to ids with a vocabulary first.")
        if ids.size and (ids.min() < 0 or ids.max() >= V):
            raise RnnlabError(f"Embedding ids must lie in [0, {V}) (num_embeddings={V}) but got values "
                              f"from {ids.min()} to {ids.max()}; check the vocabulary size.")
        return ids.astype(np.intp, copy=False)

    def forward(self, ids) -> np.ndarray:
        """ids: integer array of any shape, usually (B, T) → vectors of shape ids.shape + (E,)."""
        self._ids = self._check_ids(ids)
        return self.params["weight"][self._ids]

    __call__ = forward

    def backward(self, d_out) -> None:
        """d_out: ids.shape + (E,) → None (ids have no gradient); fills ``grads['weight']`` (V, E)."""
        if self._ids is None:
            raise RnnlabError("Embedding.backward called before forward; run forward on a batch first.")
        want = self._ids.shape + (self.embedding_dim,)
        d_out = np.asarray(d_out, self.dtype)
        if d_out.shape != want:
            raise RnnlabError(f"Embedding.backward expected d_out {want} but got {d_out.shape}.")
        dw = _scatter_rows(self._ids.ravel(), d_out.reshape(-1, self.embedding_dim), self.num_embeddings)
        if self.padding_idx is not None:
            dw[self.padding_idx] = 0.0  # the padding vector stays zero, as in torch
        self.grads["weight"][...] = dw
        return None


class Dense(Module):
    """Affine map ``y = x Wᵀ + b`` over the last axis, like ``torch.nn.Linear``.

    Parameters
    ----------
    in_features, out_features : int
        Sizes F_in and F_out.
    bias : bool, default True
    seed : int, None or numpy.random.Generator
        Source of the Glorot-uniform initial weight; the bias starts at zero.
    dtype : numpy dtype, default float32

    Notes
    -----
    ``weight`` (F_out, F_in), ``bias`` (F_out,). For x of shape (..., F_in), e.g. (B, F_in) or
    (B, T, F_in) (applied at every time step):

    y = x Wᵀ + b,   ∂x = ∂y W,   ∂W = Σ ∂yᵀ x,   ∂b = Σ ∂y   (sums over all leading axes)

    Examples
    --------
    >>> Dense(8, 3, seed=0).forward(np.zeros((2, 5, 8))).shape
    (2, 5, 3)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, seed=None,
                 dtype=np.float32):
        super().__init__(dtype)
        _check_sizes("Dense", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.use_bias = bool(bias)
        self.add_param("weight", init.glorot_uniform(_rng(seed), (self.out_features, self.in_features),
                                                     self.dtype))
        if self.use_bias:
            self.add_param("bias", np.zeros(self.out_features, self.dtype))
        self._x = None

    def forward(self, x) -> np.ndarray:
        """x (..., F_in) → y (..., F_out)."""
        x = self._as_input("Dense input", x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise RnnlabError(f"Dense expected input (..., {self.in_features}) but got {x.shape}; "
                              "check in_features.")
        self._x = x
        # y = x Wᵀ + b
        y = x @ self.params["weight"].T
        if self.use_bias:
            y += self.params["bias"]
        return y

    __call__ = forward

    def backward(self, d_out) -> np.ndarray:
        """d_out (..., F_out) → ∂x (..., F_in); fills ``grads['weight']`` and ``grads['bias']``."""
        if self._x is None:
            raise RnnlabError("Dense.backward called before forward; run forward on a batch first.")
        want = self._x.shape[:-1] + (self.out_features,)
        d_out = np.asarray(d_out, self.dtype)
        if d_out.shape != want:
            raise RnnlabError(f"Dense.backward expected d_out {want} but got {d_out.shape}.")
        d2 = d_out.reshape(-1, self.out_features)
        # ∂W = Σ ∂yᵀ x over every leading position: one product, not one per time step
        self.grads["weight"][...] = d2.T @ self._x.reshape(-1, self.in_features)
        if self.use_bias:
            self.grads["bias"][...] = d2.sum(axis=0)
        # ∂x = ∂y W
        return d_out @ self.params["weight"]


class Dropout(Module):
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by 1/(1-p).

    Parameters
    ----------
    p : float in [0, 1)
        Drop probability.
    seed : int, None or numpy.random.Generator
        Source of the masks.
    dtype : numpy dtype, default float32

    Notes
    -----
    Training: y = x ⊙ m / (1 - p) with m ~ Bernoulli(1 - p), so E[y] = x and evaluation needs no
    rescaling. Evaluation mode or p = 0: y = x. Backward multiplies by the same mask.

    Examples
    --------
    >>> Dropout(0.5, seed=0).eval().forward(np.ones(3))
    array([1., 1., 1.], dtype=float32)
    """

    def __init__(self, p: float, seed=None, dtype=np.float32):
        super().__init__(dtype)
        ok = isinstance(p, (int, float, np.floating, np.integer)) and not isinstance(p, bool)
        if not ok or not 0 <= p < 1:
            raise RnnlabError(f"Dropout p must be a probability in [0, 1), got {p!r}.")
        self.p = float(p)
        self.rng = _rng(seed)
        self._mask = None
        self._shape = None

    def forward(self, x) -> np.ndarray:
        """x (any shape) → y (same shape)."""
        x = self._as_input("Dropout input", x)
        self._shape = x.shape
        if not self.training or self.p == 0.0:
            self._mask = None
            return x
        keep = 1.0 - self.p
        # the 1/keep scale lives in the mask so backward reuses it unchanged
        self._mask = (self.rng.random(x.shape) < keep).astype(self.dtype) / self.dtype.type(keep)
        return x * self._mask

    __call__ = forward

    def backward(self, d_out) -> np.ndarray:
        """d_out (shape of the input) → ∂x (same shape)."""
        if self._shape is None:
            raise RnnlabError("Dropout.backward called before forward; run forward on a batch first.")
        d_out = np.asarray(d_out, self.dtype)
        if d_out.shape != self._shape:
            raise RnnlabError(f"Dropout.backward expected d_out {self._shape} but got {d_out.shape}.")
        return d_out if self._mask is None else d_out * self._mask
