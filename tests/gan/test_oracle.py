"""The oracle: the authors' equations on their arrays equal the engine's LSTM, the file round trip, bad files."""
import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.gan.generator import nll, sequence_logits
from rnnlab.gan.oracle import load_oracle, oracle_arrays, save_oracle
from rnnlab.gan.sampling import generate

from .conftest import SEQGAN_ORACLE, needs_seqgan_oracle


def _authors_logits(a: dict, seqs: np.ndarray) -> np.ndarray:
    """target_lstm.py retyped in NumPy: zero state, start token 0 first, x W + h U + b, logits h W_out + b_out."""
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    a = {k: v.astype(np.float64) for k, v in a.items()}
    N, T = seqs.shape
    h = c = np.zeros((N, a["U_i"].shape[0]))
    x = np.zeros(N, np.int64)
    out = []
    for t in range(T):
        e = a["embedding"][x]
        i, f, o = (sig(e @ a[f"W_{g}"] + h @ a[f"U_{g}"] + a[f"b_{g}"]) for g in "ifo")
        c = f * c + i * np.tanh(e @ a["W_c"] + h @ a["U_c"] + a["b_c"])
        h = o * np.tanh(c)
        out.append(h @ a["W_out"] + a["b_out"])
        x = seqs[:, t]
    return np.stack(out, axis=1)


@needs_seqgan_oracle
def test_paper_oracle_runs_the_authors_equations():
    with np.load(SEQGAN_ORACLE) as f:
        arrays = {k: f[k] for k in f.files}
    oracle = load_oracle(SEQGAN_ORACLE, dtype="float64")
    seqs = np.random.default_rng(0).integers(0, 5000, (4, 6))
    np.testing.assert_allclose(sequence_logits(oracle, seqs), _authors_logits(arrays, seqs), rtol=1e-9, atol=1e-9)


@needs_seqgan_oracle
def test_paper_oracle_scores_its_own_samples_at_5_75_nats():
    oracle = load_oracle(SEQGAN_ORACLE)
    # the figure quoted for the converted file: 5.75 per token on the oracle's own samples
    assert nll(oracle, generate(oracle, 2000, 20, rng=0)) == pytest.approx(5.75, abs=0.05)


def test_random_oracle_equals_the_authors_equations_on_its_arrays(tiny_oracle):
    seqs = np.random.default_rng(1).integers(0, 20, (5, 7))
    np.testing.assert_allclose(sequence_logits(tiny_oracle, seqs), _authors_logits(oracle_arrays(tiny_oracle), seqs),
                               rtol=1e-5, atol=1e-5)


def test_oracle_file_round_trip_keeps_every_weight(tiny_oracle, tmp_path):
    back = load_oracle(save_oracle(tiny_oracle, tmp_path / "o.npz"))
    for k, v in tiny_oracle.params.items():
        np.testing.assert_array_equal(back.params[k], v, err_msg=k)


def test_missing_arrays_are_one_error_naming_them(tiny_oracle, tmp_path):
    arrays = oracle_arrays(tiny_oracle)
    del arrays["U_f"], arrays["b_out"]
    np.savez(tmp_path / "o.npz", **arrays)
    with pytest.raises(RnnlabError, match=r"lacks the array\(s\) U_f, b_out"):
        load_oracle(tmp_path / "o.npz")


def test_misshapen_arrays_are_one_error_naming_each(tiny_oracle, tmp_path):
    arrays = oracle_arrays(tiny_oracle)
    arrays["W_c"] = arrays["W_c"][:, :5]
    arrays["b_out"] = arrays["b_out"][:-1]
    np.savez(tmp_path / "o.npz", **arrays)
    with pytest.raises(RnnlabError, match=r"W_c is \(8, 5\), expected \(8, 8\); b_out is \(19,\), expected \(20,\)"):
        load_oracle(tmp_path / "o.npz")


@pytest.mark.parametrize("content", [None, b"not a zip"], ids=["absent", "garbage"])
def test_unreadable_oracle_file_is_one_error(tmp_path, content):
    path = tmp_path / "o.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RnnlabError, match="oracle file"):
        load_oracle(path)

