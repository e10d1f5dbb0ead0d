r"""The generator's policy-gradient loss (REINFORCE with per-token rewards, Yu et al. 2017, eq. 6-8).

For sampled sequences y (B, T) with rewards Q (B, T) (the roll-out estimate of the discriminator's
probability of "real", held fixed) and an optional baseline b_t:

.. math::
    L(θ) = -\frac{1}{BT} \sum_{b,t} (Q_{bt} - b_t) \log G_θ(y_{bt} | y_{b,<t})

Its gradient, ∇L = -E[(Q - b) ∇ log G], is the policy gradient of the expected reward. The
authors' code sums instead of averaging; with Adam and a clipped norm the scale hardly matters,
and the mean keeps one learning rate right for any batch size and length.

Only the logits need new code: with z the logits and p = softmax(z),
∂(-log p_y)/∂z = p - onehot(y), so ∂L/∂z_{bt} = w_{bt} (p_{bt} - onehot(y_{bt})) with
w = (Q - b)/(BT). From there the engine's own backward pass (Dense, LSTM/GRU, Embedding) carries
it to every weight.
"""
from __future__ import annotations

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.gan.generator import sequence_logits
from rnnlab.gan.sequences import check_sequences
from rnnlab.models.language import LanguageModel
from rnnlab.nn.functional import softmax


def advantages(rewards: np.ndarray, baseline: str = "none") -> np.ndarray:
    """Q - b: ``"none"`` (the paper, b = 0) or ``"mean"`` (b_t = the batch's mean reward at step t)."""
    if baseline == "none":
        return rewards
    if baseline == "mean":
        # b_t = (1/B) Σ_b Q_bt: a constant per step changes no expected gradient, only its variance
        return rewards - rewards.mean(axis=0, keepdims=True)
    raise RnnlabError(f"baseline must be 'none' or 'mean', got {baseline!r}.")


def policy_gradient_loss(lm: LanguageModel, seqs, weights, backward: bool = True) -> float:
    """L = -(1/(B·T)) Σ w_bt log G(y_bt | y_<t); with ``backward`` fills ``lm.grads`` with ∂L/∂θ.

    Parameters
    ----------
    lm : LanguageModel
        The generator (its ``meta["start_token"]`` is read first).
    seqs : (B, T) int array
        Sampled sequences y.
    weights : (B, T) float array
        Per-token weights w = Q - b (rewards after the baseline), held fixed.
    """
    seqs = check_sequences(seqs, lm.vocab_size)
    weights = np.asarray(weights, np.float64)
    if weights.shape != seqs.shape or not np.all(np.isfinite(weights)):
        raise RnnlabError(f"rewards must be finite with the sequences' shape {seqs.shape}, got {weights.shape}.")
    B, T = seqs.shape
    z = sequence_logits(lm, seqs)                                      # (B, T, V)
    # p = softmax(z); -log p_y, summed with the weights
    p = softmax(z.astype(np.float64) if lm.modules["out"].dtype == np.float64 else z)
    p_y = np.take_along_axis(p, seqs[..., None], axis=-1)[..., 0]
    w = weights / (B * T)
    value = float(-(w * np.log(np.maximum(p_y, 1e-30))).sum())        # floor: a 0 from float32 underflow
    if backward:
        m = lm.modules
        # ∂L/∂z = w (p - onehot(y)), written into p
        np.put_along_axis(p, seqs[..., None], (p_y - 1.0)[..., None], axis=-1)
        p *= w[..., None].astype(p.dtype)
        m["embed"].backward(m["rnn"].backward(m["out"].backward(p)))
    return value
