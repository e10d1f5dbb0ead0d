"""Loaders for users' own files: each returns data or raises ONE clear :class:`RnnlabError`.

A bad file never surfaces as a traceback from inside csv, gzip or sktime, and never turns into
silent garbage: wrong columns, stray fields, NaN, truncated binaries and non-UTF-8 text are all
named, with the line or byte where it happened and what to do about it.

=====================  ==========================================================
``load_text_csv``      ``text,label`` CSV for classification → texts, y, label names
``load_ts``            UEA/UCR ``.ts`` file → (n, T, C) array or list of (T_i, C), y
``load_idx_folder``    MNIST-style IDX files (gzipped or not) → train/test arrays
``load_text_file``     UTF-8 text for character generation → str
``load_series_csv``    one numeric column (+ optional dates) for forecasting
``load_aclimdb``       the aclImdb ``{train,test}/{pos,neg}/*.txt`` layout
=====================  ==========================================================
"""
from __future__ import annotations

import csv
import difflib
import gzip
import io
import math
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from rnnlab.errors import RnnlabError


class TextData(NamedTuple):
    texts: list          # n strings
    y: np.ndarray        # (n,) int64 index into labels
    labels: list         # class names, y == i means labels[i]


class SeriesData(NamedTuple):
    X: object            # (n, T, C) array if all series have one length, else list of (T_i, C) arrays
    y: np.ndarray        # (n,) int64 index into labels
    labels: list         # class names, in the file's spelling


class IdxData(NamedTuple):
    X_train: np.ndarray  # (n_train, *item shape), e.g. (60000, 28, 28) uint8
    y_train: np.ndarray  # (n_train,)
    X_test: np.ndarray
    y_test: np.ndarray


class Series(NamedTuple):
    values: np.ndarray   # (n,) float64
    dates: list | None   # n strings from the date column, or None


class TextSplits(NamedTuple):
    train_texts: list
    y_train: np.ndarray  # (n_train,) int64, 0 = neg, 1 = pos
    test_texts: list
    y_test: np.ndarray
    labels: list         # ["neg", "pos"]


# ---------------------------------------------------------------- shared helpers

def _read_bytes(path, what: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise RnnlabError(f"{what} {str(p)!r} does not exist or is not a file; check the path.")
    try:
        return p.read_bytes()
    except OSError as exc:
        raise RnnlabError(f"could not read {what} {str(p)!r} ({exc.strerror or exc}).") from exc


def _decode(raw: bytes, path) -> str:
    """Strict UTF-8 (a leading BOM is dropped); say where the first bad byte is."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RnnlabError(
            f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            f"re-save it as UTF-8.") from None


def _read_text(path, what: str) -> str:
    return _decode(_read_bytes(path, what), path)


def _near(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f"; did you mean {close[0]!r}?" if close else "."


def _encode_labels(raw_labels) -> tuple[np.ndarray, list]:
    """Strings → int ids over the sorted names (numeric names sort as numbers: 2 before 10)."""
    names = set(raw_labels)
    try:
        order = sorted(names, key=float)
    except ValueError:
        order = sorted(names)
    index = {n: i for i, n in enumerate(order)}
    return np.array([index[v] for v in raw_labels], dtype=np.int64), order


def _csv_rows(path, text: str):
    """Header and data rows with their line numbers; blank lines skipped; ragged rows refused."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)
        if header is None:
            raise RnnlabError(f"{path} is empty; expected a header line and at least one row.")
        header = [h.strip() for h in header]
        rows = []
        for row in reader:
            if not row:  # a truly empty line; "" or spaces are a (missing) value and get checked
                continue
            if len(row) != len(header):
                raise RnnlabError(
                    f"{path} line {reader.line_num} has {len(row)} fields but the header has "
                    f"{len(header)}; quote fields that contain commas, e.g. \"a, b\".")
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise RnnlabError(f"{path} is not valid CSV near line {reader.line_num} ({exc}).") from None
    return header, rows


def _column(header: list, name: str, path, role: str) -> int:
    if name not in header:
        raise RnnlabError(f"{path} has no {role} column {name!r} (columns: {header})"
                          + _near(name, header))
    return header.index(name)


# ---------------------------------------------------------------- text classification CSV

def load_text_csv(path, text_col: str = "text", label_col: str = "label") -> TextData:
    """Read a CSV with a header, one text column and one label column.

    Returns
    -------
    TextData
        ``texts`` (list of n str), ``y`` (n,) int64 and ``labels``, the sorted class names.

    Examples
    --------
    >>> data = load_text_csv("reviews.csv")                      # doctest: +SKIP
    >>> data.labels, data.y[:3]                                  # doctest: +SKIP
    (['neg', 'pos'], array([1, 0, 1]))
    """
    header, rows = _csv_rows(path, _read_text(path, "CSV file"))
    ti = _column(header, text_col, path, "text")
    li = _column(header, label_col, path, "label")
    if not rows:
        raise RnnlabError(f"{path} has a header but no data rows; add one row per example.")
    texts, raw = [], []
    for line, row in rows:
        text, label = row[ti], row[li].strip()
        if not text.strip() or not label:
            what = "text" if not text.strip() else "label"
            raise RnnlabError(f"{path} line {line} has an empty {what}; fill it in or drop the row.")
        texts.append(text)
        raw.append(label)
    y, names = _encode_labels(raw)
    if len(names) < 2:
        raise RnnlabError(f"{path} has only one class ({names[0]!r}) in column {label_col!r}; "
                          f"a classifier needs examples of at least two classes.")
    return TextData(texts, y, names)


# ---------------------------------------------------------------- UEA/UCR .ts

def _ts_header(text: str) -> dict:
    """The ``@key value`` lines before ``@data``, keys lower-cased, values as written."""
    meta = {}
    for line in text.splitlines():
        s = line.strip()
        if s.lower().startswith("@data"):
            break
        if s.startswith("@"):
            key, _, value = s.partition(" ")
            meta[key[1:].lower()] = value.strip()
    return meta


def _declared_labels(meta: dict) -> dict:
    """lower-case → declared spelling; sktime lower-cases labels while parsing, we undo that."""
    parts = meta.get("classlabel", "").split()
    names = parts[1:] if parts and parts[0].lower() == "true" else []
    lower = [n.lower() for n in names]
    return {} if len(set(lower)) != len(lower) else dict(zip(lower, names))


def load_ts(path, dtype=np.float32) -> SeriesData:
    """Read a UEA/UCR ``.ts`` classification file with sktime's parser.

    Returns
    -------
    SeriesData
        ``X``: (n, T, C) array of ``dtype`` when every series has the same length, otherwise a
        list of n arrays (T_i, C); ``y``: (n,) int64; ``labels``: sorted class names as the
        ``@classLabel`` header spells them.
    """
    text = _read_text(path, ".ts file")
    if not text.strip():
        raise RnnlabError(f"{path} is empty; expected a .ts file with @-headers and @data.")
    try:
        from sktime.datasets import load_from_tsfile_to_dataframe
    except ImportError:
        raise RnnlabError("reading .ts files needs sktime; install it with "
                          "`pip install 'sktime>=1.2'`.") from None
    meta = _ts_header(text)
    if meta.get("classlabel", "").lower().split()[:1] != ["true"]:
        raise RnnlabError(f"{path} has no '@classLabel true ...' header; load_ts reads "
                          f"classification files, whose cases end with ':label'.")
    try:
        frame, raw_y = load_from_tsfile_to_dataframe(str(path), return_separate_X_and_y=True,
                                                     replace_missing_vals_with="NaN")
        cases = [[np.asarray(s, dtype=np.float64) for s in row] for row in frame.to_numpy()]
    except Exception as exc:  # sktime raises OSError, ValueError, IndexError...: one message
        raise RnnlabError(f"{path} is not a valid .ts file: {exc}") from None
    if not cases:
        raise RnnlabError(f"{path} has no cases after @data.")
    series = []
    for i, chans in enumerate(cases):
        lengths = {len(c) for c in chans}
        if len(lengths) != 1 or 0 in lengths:
            raise RnnlabError(f"{path} case #{i + 1} has channels of lengths {sorted(lengths)}; every "
                              f"channel of a case needs the same, non-zero, number of values.")
        s = np.stack(chans, axis=1).astype(dtype)               # (T_i, C)
        if not np.all(np.isfinite(s)):   # checked after the cast: 1e300 is inf in float32
            raise RnnlabError(f"{path} case #{i + 1} contains missing ('?'), NaN or infinite values "
                              f"(or values too large for {np.dtype(dtype)}); impute or drop them.")
        series.append(s)
    spelled = _declared_labels(meta)
    raw_y = np.asarray(raw_y, dtype=str).tolist()
    stray = sorted(set(raw_y) - set(spelled))
    if spelled and stray:
        raise RnnlabError(f"{path} has cases labelled {stray[:3]} but its @classLabel line declares "
                          f"only {list(spelled.values())}; fix the labels or the header.")
    y, names = _encode_labels([spelled.get(v, v) for v in raw_y])
    same = len({s.shape for s in series}) == 1
    return SeriesData(np.stack(series) if same else series, y, names)


# ---------------------------------------------------------------- IDX (MNIST format)

_IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path) -> np.ndarray:
    """Read one IDX file (optionally gzipped): header ``0 0 dtype ndim``, big-endian uint32 dims."""
    raw = _read_bytes(path, "IDX file")
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise RnnlabError(f"{path} is a damaged gzip file ({exc}); download it again.") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise RnnlabError(f"{path} is not an IDX file: it should start with bytes 00 00, a type "
                          f"code in {[hex(c) for c in _IDX_DTYPES]} and a dimension count > 0.")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise RnnlabError(f"{path} is truncated: its header declares {ndim} dimensions but the "
                          f"file has only {len(raw)} bytes.")
    dims = [int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4)]
    need = offset + math.prod(dims) * dtype.itemsize
    if len(raw) != need:
        raise RnnlabError(f"{path} has {len(raw)} bytes but its header (shape {tuple(dims)}, "
                          f"{dtype.itemsize}-byte items) needs {need}; the file is truncated or "
                          f"not an IDX file.")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(dims).astype(dtype.newbyteorder("="))


_IDX_NAMES = {"X_train": "train-images", "y_train": "train-labels",
              "X_test": "t10k-images", "y_test": "t10k-labels"}


def _find_idx(folder: Path, stem: str) -> Path | None:
    kind = "idx3" if "images" in stem else "idx1"
    for sep in ("-", "."):                     # train-images-idx3-ubyte and train-images.idx3-ubyte
        for gz in ("", ".gz"):
            p = folder / f"{stem}{sep}{kind}-ubyte{gz}"
            if p.is_file():
                return p
    return None


def load_idx_folder(path) -> IdxData:
    """Read the four MNIST-layout IDX files of a folder (``train-images-idx3-ubyte[.gz]``, ...)."""
    folder = Path(path)
    if not folder.is_dir():
        raise RnnlabError(f"{str(folder)!r} is not a folder; pass the folder holding the IDX files.")
    found = {k: _find_idx(folder, stem) for k, stem in _IDX_NAMES.items()}
    missing = [f"{stem}-{'idx3' if 'images' in stem else 'idx1'}-ubyte[.gz]"
               for k, stem in _IDX_NAMES.items() if found[k] is None]
    if missing:
        raise RnnlabError(f"{folder} lacks {', '.join(missing)}; expected the four MNIST-style files.")
    arrays = {k: read_idx(p) for k, p in found.items()}
    for split in ("train", "test"):
        X, y = arrays[f"X_{split}"], arrays[f"y_{split}"]
        if X.ndim < 2 or y.ndim != 1 or len(X) != len(y):
            raise RnnlabError(f"{folder}: {split} images have shape {X.shape} and labels {y.shape}; "
                              f"expected (n, ...) images and (n,) labels with the same n.")
    return IdxData(**arrays)


# ---------------------------------------------------------------- plain text for chargen

def load_text_file(path) -> str:
    """Read a UTF-8 text file (newlines normalised to ``\\n``) for character-level training."""
    text = _read_text(path, "text file").replace("\r\n", "\n").replace("\r", "\n")
    if not any(c.isprintable() and not c.isspace() for c in text):
        raise RnnlabError(f"{path} has no usable characters (it is empty, blank or control "
                          f"characters only); give a file with some text in it.")
    return text


# ---------------------------------------------------------------- forecasting CSV

def load_series_csv(path, value_col: str | None = None, date_col: str | None = None) -> Series:
    """Read one numeric column (and optionally a date column) from a CSV with a header.

    With ``value_col=None`` the file must have exactly one column besides ``date_col``.
    """
    header, rows = _csv_rows(path, _read_text(path, "CSV file"))
    di = _column(header, date_col, path, "date") if date_col is not None else None
    if value_col is None:
        rest = [h for i, h in enumerate(header) if i != di]
        if len(rest) != 1:
            raise RnnlabError(f"{path} has columns {header}; pass value_col=... (and date_col=...) "
                              f"to say which one holds the series.")
        value_col = rest[0]
    vi = _column(header, value_col, path, "value")
    if _is_number(value_col):
        raise RnnlabError(f"{path} starts with {value_col!r}, which looks like data; add a header "
                          f"line such as 'value' so the first point is not taken as a name.")
    if len(rows) < 2:
        raise RnnlabError(f"{path} has {len(rows)} data rows; a series needs at least 2 values.")
    values = np.empty(len(rows))
    for k, (line, row) in enumerate(rows):
        cell = row[vi].strip()
        if not _is_number(cell) or not math.isfinite(float(cell)):
            raise RnnlabError(f"{path} line {line}: {value_col!r} is {cell!r}, not a finite number; "
                              f"fill or drop missing values before loading.")
        values[k] = float(cell)
    dates = [row[di].strip() for _, row in rows] if di is not None else None
    return Series(values, dates)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- aclImdb

def load_aclimdb(path) -> TextSplits:
    """Read the Large Movie Review Dataset layout: ``{train,test}/{neg,pos}/*.txt``.

    ``path`` is the ``aclImdb`` folder or its parent. Files are read in sorted order, and the
    ``<br />`` tags of the reviews are replaced by spaces. Unlabelled ``train/unsup`` is skipped.
    """
    root = Path(path)
    if not (root / "train").is_dir() and (root / "aclImdb").is_dir():
        root = root / "aclImdb"
    out = []
    for split in ("train", "test"):
        texts, y = [], []
        for label, sub in enumerate(("neg", "pos")):
            folder = root / split / sub
            files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
            if not files:
                raise RnnlabError(f"{folder} is missing or has no .txt files; expected the aclImdb "
                                  f"layout {{train,test}}/{{neg,pos}}/*.txt.")
            for f in files:
                texts.append(_read_text(f, "review").replace("<br />", " "))
                y.append(label)
        out += [texts, np.array(y, dtype=np.int64)]
    return TextSplits(*out, ["neg", "pos"])
