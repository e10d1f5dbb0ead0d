"""The SeqGAN oracle: a fixed random LSTM that plays "the real world" in the synthetic experiment.

The authors' oracle (``target_lstm.py`` in LantaoYu/SeqGAN) computes, from a zero state and the
embedding of start token 0 as the first input, each fed-back token as the next input::

    i = σ(x W_i + h U_i + b_i),  f = σ(x W_f + h U_f + b_f),  o = σ(x W_o + h U_o + b_o)
    c̃ = tanh(x W_c + h U_c + b_c),  c = f ⊙ c + i ⊙ c̃,  h = o ⊙ tanh(c)
    logits = h W_out + b_out

That is the engine's LSTM with PyTorch's gate order (i, f, g, o), g = c̃, once the right-multiplied
matrices are transposed: ``weight_ih = [W_i W_f W_c W_o]ᵀ``, ``weight_hh = [U_i U_f U_c U_o]ᵀ``, one
bias in ``bias_ih`` and ``bias_hh = 0``. So the oracle here *is* an ``rnnlab`` ``LanguageModel`` and
runs on the same sampling code as the generator.

The file format is a NumPy ``.npz`` of float arrays with the authors' names: ``embedding`` (V, E);
``W_*`` (E, H), ``U_*`` (H, H), ``b_*`` (H,) for ``*`` in i, f, o, c; ``W_out`` (H, V), ``b_out`` (V,).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.models.language import LanguageModel

GATES = ("i", "f", "c", "o")  # PyTorch's order i, f, g, o with the candidate g = c̃ third
ARRAYS = ("embedding", *(f"{m}_{g}" for g in GATES for m in ("W", "U", "b")), "W_out", "b_out")


def _expected_shapes(V: int, E: int, H: int) -> dict:
    shapes = {"embedding": (V, E), "W_out": (H, V), "b_out": (V,)}
    for g in GATES:
        shapes.update({f"W_{g}": (E, H), f"U_{g}": (H, H), f"b_{g}": (H,)})
    return {k: shapes[k] for k in ARRAYS}  # the file's order, so errors list arrays as the format does


def check_oracle_arrays(arrays: dict, source: str = "the oracle") -> tuple[int, int, int]:
    """(V, E, H) read from ``embedding`` and ``U_i``; one error listing every missing or misshapen array."""
    missing = [k for k in ARRAYS if k not in arrays]
    if missing:
        raise RnnlabError(f"{source} lacks the array(s) {', '.join(missing)}; an oracle file needs "
                          f"{', '.join(ARRAYS)} (see rnnlab.gan.oracle).")
    emb, u = np.shape(arrays["embedding"]), np.shape(arrays["U_i"])
    if len(emb) != 2 or len(u) != 2 or 0 in emb + u:
        raise RnnlabError(f"{source}: embedding must be (vocab, emb) and U_i (hidden, hidden), got "
                          f"{emb} and {u}.")
    V, E, H = emb[0], emb[1], u[0]
    want = _expected_shapes(V, E, H)
    bad = [f"{k} is {np.shape(arrays[k])}, expected {s}" for k, s in want.items() if np.shape(arrays[k]) != s]
    bad += [f"{k} is not a float array" for k in ARRAYS if np.asarray(arrays[k]).dtype.kind != "f"]
    if bad:
        raise RnnlabError(f"{source} has misshapen arrays ({'; '.join(bad)}) for vocabulary {V}, "
                          f"embedding {E} and hidden size {H}.")
    return V, E, H


def oracle_from_arrays(arrays: dict, source: str = "the oracle", dtype: str = "float32") -> LanguageModel:
    """A ``LanguageModel`` that computes exactly the authors' oracle LSTM (see the module docstring)."""
    V, E, H = check_oracle_arrays(arrays, source)
    a = {k: np.asarray(arrays[k], np.float64) for k in ARRAYS}
    lm = LanguageModel(V, embedding_dim=E, hidden_size=H, cell="lstm", dtype=dtype)
    lm.load_state_dict({
        "embed.weight": a["embedding"],
        # x W_i + ... = x (W_ih)ᵀ with W_ih = [W_i W_f W_c W_o]ᵀ: the right-multiplied blocks, transposed
        "rnn.weight_ih_l0": np.concatenate([a[f"W_{g}"] for g in GATES], axis=1).T,
        "rnn.weight_hh_l0": np.concatenate([a[f"U_{g}"] for g in GATES], axis=1).T,
        "rnn.bias_ih_l0": np.concatenate([a[f"b_{g}"] for g in GATES]),
        "rnn.bias_hh_l0": np.zeros(4 * H),  # the oracle has one bias per gate
        "out.weight": a["W_out"].T,          # logits = h W_out + b_out = h (W_out)ᵀᵀ
        "out.bias": a["b_out"],
    })
    lm.meta["start_token"] = 0
    return lm.eval()


def oracle_arrays(lm: LanguageModel) -> dict:
    """The inverse of ``oracle_from_arrays``: the authors' arrays of a one-layer LSTM language model."""
    rnn = lm.modules["rnn"]
    if lm.config["cell"] != "lstm" or rnn.num_layers != 1 or np.any(lm.params["rnn.bias_hh_l0"]):
        raise RnnlabError("only a one-layer LSTM language model with bias_hh = 0 has the oracle's form.")
    p = lm.params
    W, U = np.split(p["rnn.weight_ih_l0"].T, 4, axis=1), np.split(p["rnn.weight_hh_l0"].T, 4, axis=1)
    b = np.split(p["rnn.bias_ih_l0"], 4)
    out = {"embedding": p["embed.weight"], "W_out": p["out.weight"].T, "b_out": p["out.bias"]}
    for k, g in enumerate(GATES):
        out.update({f"W_{g}": W[k], f"U_{g}": U[k], f"b_{g}": b[k]})
    return {k: np.ascontiguousarray(v, np.float32) for k, v in out.items()}


def load_oracle(path, dtype: str = "float32") -> LanguageModel:
    """Read an oracle ``.npz`` (the format in the module docstring) into a ``LanguageModel``."""
    path = Path(path)
    if not path.is_file():
        raise RnnlabError(f"oracle file {path} does not exist; pass the .npz of the oracle's weights.")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise RnnlabError(f"oracle file {path} is not a readable .npz archive ({e}).") from None
    return oracle_from_arrays(arrays, source=f"oracle file {path}", dtype=dtype)


def save_oracle(lm: LanguageModel, path) -> Path:
    """Write ``lm`` in the oracle file format (``load_oracle`` reads it back exactly)."""
    path = Path(path)
    np.savez(path, **oracle_arrays(lm))
    return path


def random_oracle(vocab_size: int, embedding_dim: int = 32, hidden_size: int = 32, seed=0,
                  std: float = 1.0) -> LanguageModel:
    """An oracle drawn as the authors drew theirs: every array N(0, std²), one bias per gate.

    Parameters
    ----------
    vocab_size, embedding_dim, hidden_size : int
        V, E and H (the paper: 5000, 32, 32).
    seed : int or numpy.random.Generator
    std : float, default 1
        Weight scale; std 1 makes a peaked oracle (5.75 nats per token at V = 5000, against ln V = 8.5).
    """
    rng = np.random.default_rng(seed)
    shapes = _expected_shapes(vocab_size, embedding_dim, hidden_size)
    return oracle_from_arrays({k: std * rng.standard_normal(s) for k, s in shapes.items()},
                              source="random_oracle")
