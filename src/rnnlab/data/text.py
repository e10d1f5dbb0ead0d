"""A character vocabulary: text ↔ integer ids, small enough to travel in a model's ``meta``.

Special tokens take the first ids, in the order given (``("<unk>",)`` by default, so ``<unk>``
is id 0); the characters seen by ``fit`` follow in sorted order, so the same text always gives
the same ids. A sequence-to-sequence task passes ``specials=("<pad>", "<bos>", "<eos>", "<unk>")``
to match ``Seq2Seq``'s pad=0, bos=1, eos=2 convention.
"""
from __future__ import annotations

import json

import numpy as np

from rnnlab.errors import RnnlabError

KIND = "char"


class CharVocab:
    """Characters and special tokens ↔ ids; unknown characters map to the ``unk`` token.

    Parameters
    ----------
    chars : iterable of str
        The characters, each a single character and none repeated; they take the ids after
        the specials, in the order given.
    specials : tuple of str, default ("<unk>",)
        Reserved tokens (any length) that take ids 0, 1, ...; ``unk`` must be one of them.
    unk : str, default "<unk>"
        The token that unknown characters map to.

    Examples
    --------
    >>> v = CharVocab.fit("hello")
    >>> v.encode("hex")
    array([2, 1, 0])
    >>> v.decode(v.encode("hole"))
    'hole'
    """

    def __init__(self, chars, specials=("<unk>",), unk: str = "<unk>"):
        chars, specials = list(chars), tuple(specials)
        problems = []
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if bad:
            problems.append(f"every entry of chars must be one character, got {bad[:3]!r}")
        if len(set(chars)) != len(chars) or len(set(specials)) != len(specials):
            problems.append("chars and specials must not repeat an entry")
        if not all(isinstance(s, str) and s for s in specials):
            problems.append(f"specials must be non-empty strings, got {specials!r}")
        if unk not in specials:
            problems.append(f"unk {unk!r} must be one of the specials {specials!r}")
        if set(chars) & set(specials):
            problems.append(f"chars and specials overlap in {sorted(set(chars) & set(specials))!r}")
        if problems:
            raise RnnlabError("CharVocab: " + "; ".join(problems) + ".")
        self.specials, self.chars, self.unk = specials, chars, unk
        self.itos = list(specials) + chars
        self.stoi = {c: i for i, c in enumerate(chars, start=len(specials))}
        self.unk_id = specials.index(unk)
        self._special_ids = dict(enumerate(specials))

    @classmethod
    def fit(cls, text: str, specials=("<unk>",), unk: str = "<unk>") -> "CharVocab":
        """Vocabulary of the distinct characters of ``text`` (sorted), after the specials."""
        if not isinstance(text, str) or not text:
            raise RnnlabError("CharVocab.fit needs a non-empty string of training text, got "
                              f"{type(text).__name__} of length {len(text) if hasattr(text, '__len__') else '?'}.")
        return cls(sorted(set(text) - set(specials)), specials=specials, unk=unk)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, ch) -> bool:
        return ch in self.stoi

    def __eq__(self, other) -> bool:
        return isinstance(other, CharVocab) and self.to_json() == other.to_json()

    def id(self, token: str) -> int:
        """Id of a special token or a character (``unk_id`` for an unknown character)."""
        if token in self.specials:
            return self.specials.index(token)
        return self.stoi.get(token, self.unk_id)

    def encode(self, text: str) -> np.ndarray:
        """text of length N → ids (N,) int64; characters outside the vocabulary become ``unk_id``."""
        if not isinstance(text, str):
            raise RnnlabError(f"CharVocab.encode expected a str but got {type(text).__name__}; "
                              "decode ids with CharVocab.decode instead.")
        get, unk = self.stoi.get, self.unk_id
        return np.fromiter((get(c, unk) for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids, skip_specials: bool = False) -> str:
        """ids (N,) → text; special ids become their token text, or nothing with ``skip_specials``."""
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu" or ids.ndim > 1:
            raise RnnlabError(f"CharVocab.decode expected a 1-D array of integer ids but got "
                              f"{ids.dtype} {ids.shape}.")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise RnnlabError(f"CharVocab.decode ids must lie in [0, {len(self)}) (the vocabulary size) but "
                              f"got values from {ids.min()} to {ids.max()}; was the model trained on "
                              "another vocabulary?")
        itos, sp = self.itos, self._special_ids
        return "".join("" if skip_specials and i in sp else itos[i] for i in ids.tolist())

    # -- JSON, for model.meta ---------------------------------------------------------------------
    def to_json(self) -> dict:
        """A JSON-able dict (what ``model.meta`` stores); ``from_json`` rebuilds the vocabulary."""
        return {"type": KIND, "specials": list(self.specials), "unk": self.unk, "chars": "".join(self.chars)}

    @classmethod
    def from_json(cls, obj) -> "CharVocab":
        """Rebuild from ``to_json()``'s dict, or from that dict serialised as a JSON string."""
        if isinstance(obj, str):
            try:
                obj = json.loads(obj)
            except json.JSONDecodeError as e:
                raise RnnlabError(f"CharVocab.from_json got a string that is not JSON ({e}).") from None
        if not isinstance(obj, dict) or obj.get("type") != KIND or not isinstance(obj.get("chars"), str):
            raise RnnlabError("CharVocab.from_json expected the dict written by CharVocab.to_json() "
                              f"({{'type': 'char', 'chars': ..., 'specials': ..., 'unk': ...}}), got {obj!r:.80}.")
        return cls(list(obj["chars"]), specials=tuple(obj.get("specials", ("<unk>",))),
                   unk=obj.get("unk", "<unk>"))

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} ids: {len(self.specials)} specials + {len(self.chars)} characters)"
