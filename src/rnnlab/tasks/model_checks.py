"""What a task model's ``meta`` must hold, checked against its weights before the model is used.

A model folder carries, beside the weights, what its task needs to read new inputs: labels,
a vocabulary, scaling statistics, a series tail. A folder edited by hand or assembled from two
runs can hold a vocabulary that does not fit the embedding, or labels that do not fit the
output layer; that would otherwise surface as an IndexError deep in ``predict`` or, worse, as
silently wrong answers. ``problems(task, model)`` lists every such mismatch in words.
"""
from __future__ import annotations

import math
import numbers

from rnnlab.errors import RnnlabError


def _count(meta, key) -> int | None:
    value = meta.get(key)
    return len(value) if isinstance(value, list) else None


def _positive_int(meta, key) -> bool:
    value = meta.get(key)
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _finite_numbers(value) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in value)


def _outputs(model) -> int | None:
    last = getattr(model, "layers", [None])[-1]
    return getattr(last, "out_features", None)


def _labels(model) -> list[str]:
    n_labels, n_out = _count(model.meta, "labels"), _outputs(model)
    if n_labels is None or n_labels != n_out:
        return [f"{n_labels if n_labels is not None else 'no'} labels for an output layer of {n_out} classes"]
    return []


def _series_classifier(model) -> list[str]:
    meta, out = model.meta, _labels(model)
    channels = meta.get("channels")
    if not _positive_int(meta, "channels") or channels != getattr(model, "n_inputs", None):
        out.append(f"channels {channels!r} for a network that reads {getattr(model, 'n_inputs', None)} features")
    for key in ("scale_mean", "scale_std"):
        if not _finite_numbers(meta.get(key)) or _count(meta, key) != channels:
            out.append(f"{key} must be {channels} finite numbers")
    if _finite_numbers(meta.get("scale_std")) and min(meta["scale_std"], default=1) <= 0:
        out.append("scale_std must be positive")
    if not _positive_int(meta, "pool"):
        out.append("pool must be a positive integer")
    return out


def _sentiment(model) -> list[str]:
    from rnnlab.data.tokenize import WordVocab

    out = _labels(model)
    try:
        n_words = len(WordVocab.from_json(model.meta.get("vocab")))
    except (RnnlabError, TypeError, KeyError, AttributeError):
        return out + ["the stored vocabulary is unreadable"]
    rows = getattr(model.layers[0], "num_embeddings", None)
    if n_words != rows:
        out.append(f"a vocabulary of {n_words} words for an embedding of {rows} rows")
    if not _positive_int(model.meta, "max_len"):
        out.append("max_len must be a positive integer")
    return out


def _chargen(model) -> list[str]:
    # LanguageModel.check_meta already matched a stored vocabulary to the softmax on load
    return [] if "vocab" in model.meta else ["no stored vocabulary"]


def _g2p(model) -> list[str]:
    from rnnlab.data.text import CharVocab
    from rnnlab.tasks.g2p import N_TGT_SPECIAL

    out, cfg = [], getattr(model, "config", {})
    try:
        n_letters = len(CharVocab.from_json(model.meta.get("letters")))
    except (RnnlabError, TypeError):
        n_letters = None
    if n_letters != cfg.get("src_vocab_size"):
        out.append(f"a letter vocabulary of {n_letters} ids for an encoder of {cfg.get('src_vocab_size')}")
    phonemes = model.meta.get("phonemes")
    n_ph = len(phonemes) if isinstance(phonemes, list) and all(isinstance(p, str) for p in phonemes) else None
    if n_ph is None or n_ph + N_TGT_SPECIAL != cfg.get("tgt_vocab_size"):
        out.append(f"{n_ph} phonemes (+{N_TGT_SPECIAL} specials) for a decoder of {cfg.get('tgt_vocab_size')} ids")
    return out


def _forecast(model) -> list[str]:
    out = []
    if not _finite_numbers(model.meta.get("series_tail")) or not model.meta["series_tail"]:
        out.append("series_tail must be a list of finite numbers")
    if not _positive_int(model.meta, "season"):
        out.append("season must be a positive integer")
    return out + _forecast_hybrid(model.meta)


def _forecast_hybrid(meta) -> list[str]:
    """--hybrid models also store their AR part: [c, φ_1, ..., φ_p] and, for combine, its weight."""
    from rnnlab.tasks.forecast_hybrid import HYBRIDS

    hybrid = meta.get("hybrid", "none")
    if hybrid not in HYBRIDS:
        return [f"hybrid must be one of {', '.join(HYBRIDS)}, got {hybrid!r}"]
    if hybrid == "none":
        return []
    out = []
    if not _positive_int(meta, "ar_order") or not _finite_numbers(meta.get("ar_params")) \
            or len(meta["ar_params"]) != meta["ar_order"] + 1:
        out.append(f"ar_params must be ar_order + 1 finite numbers (c, φ_1..φ_p), got {meta.get('ar_params')!r}")
    tail = meta.get("series_tail")
    if _positive_int(meta, "ar_order") and isinstance(tail, list) and len(tail) <= meta["ar_order"]:
        out.append(f"series_tail must hold more than ar_order = {meta['ar_order']} values, got {len(tail)}")
    if meta.get("hybrid_transform", "none") not in ("none", "sqrt", "log1p"):
        out.append(f"hybrid_transform must be none, sqrt or log1p, got {meta.get('hybrid_transform')!r}")
    w = meta.get("ar_weight")
    if hybrid == "combine" and not (isinstance(w, numbers.Real) and not isinstance(w, bool) and 0 <= w <= 1):
        out.append(f"ar_weight must be a number in [0, 1], got {w!r}")
    return out


CHECKS = {"digits": _series_classifier, "mnist": _series_classifier, "motion": _series_classifier,
          "eeg": _series_classifier, "sentiment": _sentiment, "chargen": _chargen, "g2p": _g2p,
          "forecast": _forecast}


def problems(task: str, model) -> list[str]:
    """Every mismatch between ``model.meta`` and what task ``task`` stores (empty when all is well)."""
    check = CHECKS.get(task)
    return check(model) if check is not None else []
