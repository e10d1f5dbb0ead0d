"""A whole run: every output file, what metrics.json reports with and without an oracle, bad input, no half-writes."""
import json

import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.gan import run as run_module
from rnnlab.gan.config import GanConfig
from rnnlab.gan.oracle import oracle_arrays, save_oracle
from rnnlab.gan.run import run_gan
from rnnlab.gan.sampling import generate
from rnnlab.gan.sequences import read_sequences, write_sequences
from rnnlab.models import load

TINY = dict(seq_len=5, num_samples=120, emb=6, hidden=6, batch_size=16, pretrain_epochs=2, d_pretrain_rounds=1,
            adversarial_steps=2, rollouts=2, d_steps=1, d_epochs=1, d_samples=32, d_emb=6, d_hidden=6,
            eval_every=1, eval_samples=40, progress=False)


@pytest.fixture
def oracle_file(tiny_oracle, tmp_path):
    return str(save_oracle(tiny_oracle, tmp_path / "oracle.npz"))


@pytest.fixture
def data_file(tiny_oracle, tmp_path):
    return str(write_sequences(tmp_path / "real.txt", generate(tiny_oracle, 150, 5, rng=0)))


def test_oracle_run_writes_both_models_samples_curves_and_metrics(oracle_file, tmp_path):
    out = tmp_path / "run"
    m = run_gan(oracle=oracle_file, out=str(out), **TINY)
    assert sorted(p.name for p in out.iterdir()) == ["discriminator", "generator", "generator_mle", "history.json",
                                                     "learning_curves.png", "metrics.json", "samples.txt"]
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(m))
    for key in ("nll_oracle", "nll_oracle_mle", "nll_oracle_random", "nll_oracle_real", "nll_test", "d_accuracy"):
        assert np.isfinite(m[key]), key
    samples = read_sequences(out / "samples.txt", 5)
    assert samples.shape == (120, 5) and samples.max() < 20
    assert load(out / "generator").vocab_size == load(out / "discriminator").layers[0].num_embeddings == 20
    history = json.loads((out / "history.json").read_text())
    assert [r["step"] for r in history["adversarial"]] == [1, 2] and "nll_oracle" in history["pretrain"][-1]


def test_the_same_seed_gives_the_same_run(oracle_file, tmp_path):
    a = run_gan(oracle=oracle_file, out=str(tmp_path / "a"), **TINY)
    b = run_gan(oracle=oracle_file, out=str(tmp_path / "b"), **TINY)
    assert (tmp_path / "a" / "samples.txt").read_text() == (tmp_path / "b" / "samples.txt").read_text()
    assert a["nll_oracle"] == b["nll_oracle"]


def test_data_run_reports_held_out_nll_and_discriminator_accuracy(data_file, tmp_path):
    m = run_gan(data=data_file, out=str(tmp_path / "run"), **TINY)
    assert m["mode"] == "data" and m["valid_sequences"] == 15 and m["train_sequences"] == 135
    assert not any(k.startswith("nll_oracle") for k in m)
    assert {"nll_test", "nll_test_mle", "nll_test_random", "d_accuracy"} <= set(m)
    assert m["vocab_size"] == int(read_sequences(data_file, 5).max()) + 1


def _fails_cleanly(tmp_path, match, **kw):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("previous run")
    with pytest.raises(RnnlabError, match=match):
        run_gan(out=str(out), **{**TINY, **kw})
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".run")] == []  # no staging folder left
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_oracle_with_missing_arrays_fails_before_writing(tiny_oracle, tmp_path):
    arrays = oracle_arrays(tiny_oracle)
    del arrays["W_out"]
    np.savez(tmp_path / "bad.npz", **arrays)
    _fails_cleanly(tmp_path, r"lacks the array\(s\) W_out", oracle=str(tmp_path / "bad.npz"))


def test_lines_shorter_than_the_sequence_length_are_one_error(data_file, tmp_path):
    _fails_cleanly(tmp_path, r"line 1 has 5 tokens, fewer than the sequence length 8", data=data_file, seq_len=8)


def test_too_few_sequences_for_a_batch_is_one_error(tmp_path):
    write_sequences(tmp_path / "few.txt", np.arange(50).reshape(10, 5))
    _fails_cleanly(tmp_path, r"holds 10 sequences, 9 after holding out 1, fewer than one batch of 16",
                   data=str(tmp_path / "few.txt"))


def test_vocab_size_below_the_datas_ids_is_one_error(data_file, tmp_path):
    _fails_cleanly(tmp_path, r"hold ids from \d+ to \d+ but the vocabulary has 3 ids", data=data_file, vocab_size=3)


def test_vocab_size_unlike_the_oracles_is_one_error(oracle_file, tmp_path):
    _fails_cleanly(tmp_path, "vocab_size 30 does not match the oracle's 20 ids", oracle=oracle_file, vocab_size=30)


def test_a_failure_during_training_keeps_the_previous_folder(oracle_file, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RnnlabError("discriminator exploded")

    monkeypatch.setattr(run_module, "learning_curves", broken)  # after the models and samples are written
    _fails_cleanly(tmp_path, "discriminator exploded", oracle=oracle_file)


def test_every_bad_option_is_reported_at_once():
    expected = (r"give exactly one of data .*; rollouts must be an integer ≥ 1, got 0; "
                r".*rollout_update_rate must be a number in \[0, 1\], got 2.*baseline must be")
    with pytest.raises(RnnlabError, match=expected):
        GanConfig(rollouts=0, rollout_update_rate=2.0, baseline="ema").validate()


def test_unknown_option_names_the_dataclass():
    with pytest.raises(RnnlabError, match="run_gan has no option"):
        run_gan(oracle="x.npz", rollout=3)
