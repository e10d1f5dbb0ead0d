"""Loaders for users' files: good files load, each bad file gives one clear RnnlabError,
and fuzzed bytes give nothing else."""
import gzip
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnlab.data.loaders import (load_aclimdb, load_idx_folder, load_series_csv, load_text_csv,
                                 load_text_file, load_ts, read_idx)
from rnnlab.errors import RnnlabError

FUZZ = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])


def write(path, data):
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def loads_or_rnnlab_error(fn, *args):
    """The fuzz contract: a result, or RnnlabError; any other exception fails the test."""
    try:
        return fn(*args)
    except RnnlabError as exc:
        assert str(exc)  # and it says something
        return None


# ---------------------------------------------------------------- text CSV

def test_text_csv_reads_quoted_commas_bom_and_sorts_labels(tmp_path):
    p = write(tmp_path / "r.csv", '\ufefftext,label\n"good, really",pos\nbad,neg\n\nok,pos\n')
    texts, y, labels = load_text_csv(p)
    assert texts == ["good, really", "bad", "ok"] and labels == ["neg", "pos"]
    assert y.tolist() == [1, 0, 1] and y.dtype == np.int64


def test_text_csv_numeric_labels_sort_as_numbers_and_custom_columns(tmp_path):
    p = write(tmp_path / "r.csv", "id,review,stars\n1,a,10\n2,b,2\n3,c,9\n")
    _, y, labels = load_text_csv(p, text_col="review", label_col="stars")
    assert labels == ["2", "9", "10"] and y.tolist() == [2, 0, 1]


@pytest.mark.parametrize("content, match", [
    ("", "is empty"),
    ("\n\n", "is empty"),
    ("text,label\n", "no data rows"),
    ("txt,label\na,1\nb,0\n", "did you mean 'txt'"),
    ("text,lable\na,1\nb,0\n", "no label column 'label'.*did you mean 'lable'"),
    ("text,label\na,1\nb,1\n", "only one class"),
    ("text,label\nhello, world,1\nb,0\n", "line 2 has 3 fields"),
    ("text,label\n,1\nb,0\n", "line 2 has an empty text"),
    ("text,label\na, \nb,0\n", "line 2 has an empty label"),
    (b"text,label\ncaf\xe9,1\nb,0\n", "not UTF-8 text .byte 0xe9 at offset 14"),
], ids=["empty", "blank", "header-only", "text-missing", "label-typo", "one-class", "ragged",
        "empty-text", "empty-label", "latin1"])
def test_text_csv_bad_files_raise_one_clear_error(tmp_path, content, match):
    with pytest.raises(RnnlabError, match=match):
        load_text_csv(write(tmp_path / "r.csv", content))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(RnnlabError, match="does not exist"):
        load_text_csv(tmp_path / "nope.csv")


CSVISH = st.text(alphabet='ab,"\n\r 01é\x00\t', max_size=80).map(lambda s: "text,label\n" + s)


@FUZZ
@given(st.one_of(st.binary(max_size=200), CSVISH.map(str.encode)))
def test_fuzz_text_csv(tmp_path, data):
    out = loads_or_rnnlab_error(load_text_csv, write(tmp_path / "f.csv", data))
    if out is not None:
        assert len(out.texts) == len(out.y) and len(out.labels) >= 2


# ---------------------------------------------------------------- .ts

TS_HEAD = "@problemName t\n@timeStamps false\n@univariate {uni}\n@classLabel true Up Down\n@data\n"


def test_ts_equal_length_multivariate_keeps_label_spelling(tmp_path):
    pytest.importorskip("sktime")
    p = write(tmp_path / "a.ts", TS_HEAD.format(uni="false")
              + "1,2,3:4,5,6:Up\n7,8,9:1,1,1:Down\n0,0,0:2,2,2:Up\n")
    X, y, labels = load_ts(p)
    assert X.shape == (3, 3, 2) and X.dtype == np.float32
    assert X[0, :, 1].tolist() == [4, 5, 6]             # channel 2 of case 1, time along axis 1
    assert labels == ["Down", "Up"] and y.tolist() == [1, 0, 1]


def test_ts_unequal_length_gives_a_list(tmp_path):
    pytest.importorskip("sktime")
    p = write(tmp_path / "u.ts", TS_HEAD.format(uni="true") + "1,2,3:Up\n4,5:Down\n")
    X, y, _ = load_ts(p)
    assert isinstance(X, list) and [x.shape for x in X] == [(3, 1), (2, 1)]


@pytest.mark.parametrize("body, match", [
    ("1,?,3:Up\n4,5,6:Down\n", "missing .'\\?'., NaN"),
    ("1,nan,3:Up\n4,5,6:Down\n", "NaN"),
    ("1,2,3:Up\n4,x,6:Down\n", "not a valid .ts file"),
    ("1,2,3:Up\n4,5,6:Sideways\n", "labelled .'sideways'. but its @classLabel line declares only .'Up', 'Down'."),
], ids=["question-mark", "nan", "not-a-number", "undeclared-label"])
def test_ts_bad_values_raise(tmp_path, body, match):
    pytest.importorskip("sktime")
    with pytest.raises(RnnlabError, match=match):
        load_ts(write(tmp_path / "b.ts", TS_HEAD.format(uni="true") + body))


def test_ts_without_class_labels_or_content_raises(tmp_path):
    with pytest.raises(RnnlabError, match="is empty"):
        load_ts(write(tmp_path / "e.ts", "  \n"))
    pytest.importorskip("sktime")
    with pytest.raises(RnnlabError, match="classLabel true"):
        load_ts(write(tmp_path / "n.ts", TS_HEAD.replace("true Up Down", "false").format(uni="true")
                      + "1,2\n"))


TSISH = st.text(alphabet="0123456789.,:?-Upn \n", max_size=60).map(lambda s: TS_HEAD.format(uni="true") + s)


@FUZZ
@given(st.one_of(st.binary(max_size=200), TSISH.map(str.encode)))
def test_fuzz_ts(tmp_path, data):
    pytest.importorskip("sktime")
    out = loads_or_rnnlab_error(load_ts, write(tmp_path / "f.ts", data))
    if out is not None:
        assert len(out.X) == len(out.y) > 0
        assert all(np.isfinite(x).all() for x in out.X)


# ---------------------------------------------------------------- IDX

def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    return bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def make_mnist(folder, n_train=5, n_test=3, gz=False, sep="-"):
    rng = np.random.default_rng(0)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        imgs = rng.integers(0, 256, (n, 4, 4), dtype=np.uint8)
        labs = rng.integers(0, 10, n, dtype=np.uint8)
        for name, arr in ((f"{stem}-images{sep}idx3-ubyte", imgs), (f"{stem}-labels{sep}idx1-ubyte", labs)):
            raw = idx_bytes(arr)
            write(folder / (name + ".gz" if gz else name), gzip.compress(raw) if gz else raw)
    return folder


@pytest.mark.parametrize("gz, sep", [(False, "-"), (True, "-"), (False, ".")], ids=["plain", "gzip", "dot-names"])
def test_idx_folder_reads_all_four_files(tmp_path, gz, sep):
    d = load_idx_folder(make_mnist(tmp_path, gz=gz, sep=sep))
    assert d.X_train.shape == (5, 4, 4) and d.y_train.shape == (5,)
    assert d.X_test.shape == (3, 4, 4) and d.X_train.dtype == np.uint8


def test_idx_big_endian_types_become_native(tmp_path):
    arr = (np.arange(6).reshape(2, 3) - 3).astype(">i4")
    out = read_idx(write(tmp_path / "x", idx_bytes(arr, 0x0C)))
    assert out.dtype == np.int32 and out.dtype.isnative and out.tolist() == arr.tolist()


@pytest.mark.parametrize("data, match", [
    (b"", "not an IDX file"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01x", "not an IDX file"),
    (b"\x00\x00\x08\x02\x00\x00", "truncated"),
    (idx_bytes(np.zeros((2, 3), np.uint8))[:-1], "has 17 bytes but its header .shape .2, 3.*needs 18"),
    (idx_bytes(np.zeros((2, 3), np.uint8)) + b"x", "has 19 bytes.*needs 18"),
    (gzip.compress(b"abc")[:-3], "damaged gzip"),
], ids=["empty", "bad-type", "short-header", "truncated", "trailing", "bad-gzip"])
def test_idx_bad_files_raise(tmp_path, data, match):
    with pytest.raises(RnnlabError, match=match):
        read_idx(write(tmp_path / "x", data))


def test_idx_folder_names_missing_files_and_mismatched_counts(tmp_path):
    with pytest.raises(RnnlabError, match="not a folder"):
        load_idx_folder(tmp_path / "nope")
    with pytest.raises(RnnlabError, match="lacks train-images-idx3-ubyte.*t10k-labels"):
        load_idx_folder(tmp_path)
    make_mnist(tmp_path)
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros(2, np.uint8)))
    with pytest.raises(RnnlabError, match="test images have shape .3, 4, 4. and labels .2,."):
        load_idx_folder(tmp_path)


IDXISH = st.builds(lambda code, ndim, dims, payload: bytes([0, 0, code, ndim]) + dims + payload,
                   st.sampled_from([8, 9, 11, 12, 13, 14, 0xFF]), st.integers(0, 4),
                   st.binary(max_size=16), st.binary(max_size=64))


@FUZZ
@given(st.one_of(st.binary(max_size=100), IDXISH, IDXISH.map(gzip.compress)))
def test_fuzz_idx(tmp_path, data):
    out = loads_or_rnnlab_error(read_idx, write(tmp_path / "f-idx", data))
    if out is not None:
        assert out.dtype.isnative


# ---------------------------------------------------------------- text file

def test_text_file_normalises_newlines(tmp_path):
    assert load_text_file(write(tmp_path / "t.txt", "a\r\nb\rc\n")) == "a\nb\nc\n"


@pytest.mark.parametrize("data, match", [
    (b"", "no usable characters"), (b" \n\t\n", "no usable characters"),
    (b"\x00\x01\x02", "no usable characters"), (b"abc\xff", "not UTF-8"),
], ids=["empty", "blank", "control", "binary"])
def test_text_file_bad_input(tmp_path, data, match):
    with pytest.raises(RnnlabError, match=match):
        load_text_file(write(tmp_path / "t.txt", data))


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.text(max_size=50).map(str.encode)))
def test_fuzz_text_file(tmp_path, data):
    out = loads_or_rnnlab_error(load_text_file, write(tmp_path / "f.txt", data))
    assert out is None or (isinstance(out, str) and "\r" not in out)


# ---------------------------------------------------------------- forecasting CSV

def test_series_csv_single_column_and_with_dates(tmp_path):
    v, d = load_series_csv(write(tmp_path / "s.csv", "value\n1\n2.5\n-3e2\n"))
    assert v.tolist() == [1.0, 2.5, -300.0] and d is None
    v, d = load_series_csv(write(tmp_path / "s2.csv", "month,sales\n2020-01,3\n2020-02,4\n"), date_col="month")
    assert v.tolist() == [3.0, 4.0] and d == ["2020-01", "2020-02"]


@pytest.mark.parametrize("content, kwargs, match", [
    ("a,b\n1,2\n3,4\n", {}, "pass value_col"),
    ("value\n1\nx\n", {}, "line 3: 'value' is 'x', not a finite number"),
    ("value\n1\nnan\n", {}, "not a finite number"),
    ("value\n1\n\"\"\n", {}, "not a finite number"),
    ("value\n1\n", {}, "at least 2 values"),
    ("1.5\n2\n3\n", {}, "looks like data"),
    ("value\n1\n2\n", {"value_col": "vlaue"}, "did you mean 'value'"),
    ("value\n1\n2\n", {"date_col": "date"}, "no date column 'date'"),
    ("", {}, "is empty"),
], ids=["two-columns", "text", "nan", "blank-cell", "one-row", "no-header", "typo", "no-date", "empty"])
def test_series_csv_bad_input(tmp_path, content, kwargs, match):
    with pytest.raises(RnnlabError, match=match):
        load_series_csv(write(tmp_path / "s.csv", content), **kwargs)


@FUZZ
@given(st.one_of(st.binary(max_size=150),
                 st.text(alphabet="0123456789.,-e\nnaix", max_size=60).map(lambda s: ("value\n" + s).encode())))
def test_fuzz_series_csv(tmp_path, data):
    out = loads_or_rnnlab_error(load_series_csv, write(tmp_path / "f.csv", data))
    if out is not None:
        assert np.isfinite(out.values).all() and len(out.values) >= 2


# ---------------------------------------------------------------- aclImdb

def make_imdb(root, n=2):
    for split in ("train", "test"):
        for label in ("neg", "pos"):
            (root / "aclImdb" / split / label).mkdir(parents=True)
            for i in range(n):
                write(root / "aclImdb" / split / label / f"{i}_7.txt", f"{split} {label} {i}<br />end")
    return root


def test_aclimdb_layout_from_parent_or_folder(tmp_path):
    make_imdb(tmp_path)
    for path in (tmp_path, tmp_path / "aclImdb"):
        d = load_aclimdb(path)
        assert d.train_texts[0] == "train neg 0 end" and d.y_train.tolist() == [0, 0, 1, 1]
        assert len(d.test_texts) == 4 and d.labels == ["neg", "pos"]


def test_aclimdb_missing_folder_or_bad_file(tmp_path):
    with pytest.raises(RnnlabError, match="train.neg is missing"):
        load_aclimdb(tmp_path)
    make_imdb(tmp_path)
    write(tmp_path / "aclImdb" / "test" / "pos" / "9_1.txt", b"\xff\xfe bad")
    with pytest.raises(RnnlabError, match="9_1.txt is not UTF-8"):
        load_aclimdb(tmp_path)


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=40))
def test_fuzz_aclimdb_review_bytes(tmp_path, data):
    root = tmp_path / "imdb"
    if not root.exists():
        make_imdb(root, n=1)
    write(root / "aclImdb" / "train" / "pos" / "0_7.txt", data)
    out = loads_or_rnnlab_error(load_aclimdb, root)
    assert out is None or all(isinstance(t, str) for t in out.train_texts)



def test_ts_without_sktime_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "sktime.datasets", None)  # import now fails
    with pytest.raises(RnnlabError, match="needs sktime.*pip install 'sktime>=1.2'"):
        load_ts(write(tmp_path / "a.ts", TS_HEAD.format(uni="true") + "1,2:Up\n"))
