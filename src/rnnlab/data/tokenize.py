"""Words ↔ ids, and ragged sequences → one padded array.

``tokenize`` splits text into runs of word characters (keeping inner apostrophes: ``don't``)
and single punctuation marks. ``WordVocab`` keeps ``<pad>`` = 0 and ``<unk>`` = 1 fixed, then
the words seen by ``fit`` from most to least frequent (ties alphabetical), so the same texts
always give the same ids. ``pad_sequences`` right-pads and returns the true lengths that
``Recurrent`` turns into masks.
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

from rnnlab.errors import RnnlabError

KIND = "word"
PAD, UNK = "<pad>", "<unk>"
_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def tokenize(text: str, lower: bool = True) -> list[str]:
    """Split ``text`` into words and punctuation marks.

    Examples
    --------
    >>> tokenize("Don't panic, it's 42!")
    ["don't", 'panic', ',', "it's", '42', '!']
    """
    if not isinstance(text, str):
        raise RnnlabError(f"tokenize expected a str but got {type(text).__name__}.")
    return _TOKEN.findall(text.lower() if lower else text)


class WordVocab:
    """Word-level vocabulary: ``<pad>`` = 0, ``<unk>`` = 1, then ``words`` in the order given.

    Parameters
    ----------
    words : iterable of str
        Distinct, non-empty tokens without whitespace, not ``<pad>``/``<unk>``.
    lower : bool, default True
        Whether ``encode`` lower-cases text before tokenizing (``fit`` records its own choice).

    Examples
    --------
    >>> v = WordVocab.fit(["the cat sat", "the dog"], min_freq=1)
    >>> v.itos
    ['<pad>', '<unk>', 'the', 'cat', 'dog', 'sat']
    >>> v.encode("The bird sat").tolist()
    [2, 1, 5]
    """

    def __init__(self, words, lower: bool = True):
        words = list(words)
        bad = [w for w in words if not isinstance(w, str) or not w or any(c.isspace() for c in w)]
        if bad:
            raise RnnlabError(f"WordVocab words must be non-empty strings without whitespace, "
                              f"got {bad[:3]!r}; build it with WordVocab.fit(texts).")
        if len(set(words)) != len(words) or PAD in words or UNK in words:
            raise RnnlabError("WordVocab words must not repeat, nor include <pad> or <unk>.")
        self.lower = bool(lower)
        self.itos = [PAD, UNK, *words]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    pad_id, unk_id = 0, 1

    @classmethod
    def fit(cls, texts, min_freq: int = 1, max_size: int | None = None,
            lower: bool = True) -> "WordVocab":
        """Count tokens over ``texts`` (strings, or lists of tokens) and keep the frequent ones.

        ``max_size`` counts the two specials, so ``len(vocab) <= max_size``.
        """
        problems = []
        if not isinstance(min_freq, (int, np.integer)) or min_freq < 1:
            problems.append(f"min_freq must be an int >= 1, got {min_freq!r}")
        if max_size is not None and (not isinstance(max_size, (int, np.integer)) or max_size < 2):
            problems.append(f"max_size must be None or an int >= 2 (it counts <pad> and <unk>), "
                            f"got {max_size!r}")
        if isinstance(texts, str):
            problems.append("texts must be a list of texts, not one str; wrap it as [text]")
        if problems:
            raise RnnlabError("; ".join(problems) + ".")
        counts = Counter()
        for t in texts:
            counts.update(tokenize(t, lower) if isinstance(t, str) else t)
        counts.pop(PAD, None), counts.pop(UNK, None)
        ranked = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        if max_size is not None:
            ranked = ranked[: max_size - 2]
        return cls(ranked, lower=lower)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word) -> bool:
        return word in self.stoi

    def __eq__(self, other) -> bool:
        return isinstance(other, WordVocab) and self.to_json() == other.to_json()

    def encode(self, text) -> np.ndarray:
        """Ids (T,) int64 of a text (tokenized here) or of a list of tokens; unknown → 1."""
        tokens = tokenize(text, self.lower) if isinstance(text, str) else list(text)
        get = self.stoi.get
        return np.fromiter((get(t, 1) for t in tokens), dtype=np.int64, count=len(tokens))

    def encode_batch(self, texts) -> list:
        """``encode`` for each text: a list of (T_i,) arrays, ready for ``pad_sequences``."""
        return [self.encode(t) for t in texts]

    def decode(self, ids, skip_specials: bool = False) -> list[str]:
        """Tokens of ``ids`` (T,); ``skip_specials`` drops ``<pad>`` and ``<unk>``."""
        ids = np.asarray(ids)
        if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
            raise RnnlabError(f"decode expected a 1-D integer array but got {ids.dtype} {ids.shape}.")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise RnnlabError(f"decode got ids outside [0, {len(self) - 1}]; were they made "
                              f"with another vocabulary?")
        return [self.itos[i] for i in ids.tolist() if not (skip_specials and i < 2)]

    def to_json(self) -> dict:
        """A JSON-ready dict; ``from_json`` rebuilds an equal vocabulary."""
        return {"type": KIND, "lower": self.lower, "words": self.itos[2:]}

    @classmethod
    def from_json(cls, obj) -> "WordVocab":
        if not isinstance(obj, dict) or obj.get("type") != KIND or not isinstance(obj.get("words"), list):
            raise RnnlabError(f"expected a dict with type 'word' and a 'words' list, as written by "
                              f"WordVocab.to_json, but got {str(obj)[:80]!r}.")
        return cls(obj["words"], lower=bool(obj.get("lower", True)))

    def __repr__(self) -> str:
        return f"WordVocab({len(self)} ids: <pad>, <unk> + {len(self) - 2} words)"


def pad_sequences(seqs, maxlen: int | None = None, value=0, dtype=np.int64):
    """Right-pad sequences to one length; longer ones keep their first ``maxlen`` steps.

    Parameters
    ----------
    seqs : sequence of array-like, each (T_i,) or (T_i, *feature shape)
        Feature shapes must agree; T_i may be 0.
    maxlen : int, optional
        Output length; default the longest T_i.
    value : scalar
        Fill value for the padding.
    dtype : numpy dtype
        Output dtype (int64 suits token ids, float32 suits series).

    Returns
    -------
    padded : (n, maxlen, *feature shape) array
    lengths : (n,) int64, min(T_i, maxlen): the mask is ``arange(maxlen) < lengths[:, None]``.

    Examples
    --------
    >>> x, lengths = pad_sequences([[5, 6, 7], [8]])
    >>> x.tolist(), lengths.tolist()
    ([[5, 6, 7], [8, 0, 0]], [3, 1])
    """
    if isinstance(seqs, (str, bytes)) or not hasattr(seqs, "__len__") or len(seqs) == 0:
        raise RnnlabError("pad_sequences expected a non-empty list of sequences.")
    if maxlen is not None and (not isinstance(maxlen, (int, np.integer)) or maxlen < 1):
        raise RnnlabError(f"maxlen must be None or an int >= 1, got {maxlen!r}.")
    try:
        dtype = np.dtype(dtype)
        arrays = [np.asarray(s) for s in seqs]
        bad = [i for i, a in enumerate(arrays) if a.ndim == 0 or a.dtype.kind not in "biuf"]
        if bad:
            raise RnnlabError(f"pad_sequences needs numeric sequences of at least one dimension; "
                              f"sequence #{bad[0]} is {arrays[bad[0]].dtype} {arrays[bad[0]].shape}.")
        if dtype.kind not in "iuf":
            raise RnnlabError(f"dtype must be an integer or float dtype, got {dtype}.")
        for i, a in enumerate(arrays):
            if dtype.kind in "iu" and a.size and a.dtype.kind == "f":
                raise RnnlabError(f"sequence #{i} is {a.dtype}, which {dtype} would truncate; pass "
                                  f"dtype=np.float32 for real-valued sequences.")
            # numpy assignment wraps out-of-range integers silently (300 -> 44 in uint8): check
            if dtype.kind in "iu" and a.size and a.dtype.kind in "iu" and (
                    a.min() < np.iinfo(dtype).min or a.max() > np.iinfo(dtype).max):
                raise RnnlabError(f"sequence #{i} has values in [{a.min()}, {a.max()}], outside the "
                                  f"range of {dtype}; pass a wider dtype.")
        feats = {a.shape[1:] for a in arrays}
        if len(feats) != 1:
            raise RnnlabError(f"all sequences need the same feature shape after the time axis, "
                              f"got {sorted(feats)}.")
        lengths = np.array([len(a) for a in arrays], dtype=np.int64)
        T = int(maxlen if maxlen is not None else max(lengths.max(), 1))
        out = np.full((len(arrays), T, *feats.pop()), value, dtype=dtype)
        lengths = np.minimum(lengths, T)
        for i, (a, n) in enumerate(zip(arrays, lengths)):
            out[i, :n] = a[:n]
    except (TypeError, ValueError, OverflowError) as exc:
        if isinstance(exc, RnnlabError):
            raise
        raise RnnlabError(f"pad_sequences could not pad these sequences as {dtype} ({exc}).") from None
    return out, lengths
