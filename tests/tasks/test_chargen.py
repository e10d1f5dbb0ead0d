"""chargen end to end on a tiny slice: files and metrics, reload, generate, budget, baselines, bad input."""
import json
import math

import numpy as np
import pytest

from rnnlab import cli
from rnnlab.data.datasets import load_tiny_corpus
from rnnlab.data.text import CharVocab
from rnnlab.models import load
from rnnlab.models.language import LanguageModel, StreamBatches
from rnnlab.tasks import run_task
from rnnlab.tasks.chargen import Budget, Intervals, generate, nats_per_char, ngram_baselines, split_text

TINY = dict(hidden=16, embedding_dim=8, bptt=16, batch_size=4, epochs=2, limit=3000, sample_length=60,
            progress=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One CLI run on the first 3,000 characters of the built-in corpus."""
    out = tmp_path_factory.mktemp("chargen") / "run"
    argv = ["train", "chargen", "--out", str(out), "--no-progress"] + [
        a for k, v in TINY.items() if k != "progress" for a in (f"--{k.replace('_', '-')}", str(v))]
    assert cli.main(argv) == 0
    return out, json.loads((out / "metrics.json").read_text())


def _err_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rnnlab: error: "), err
    return err[0]


def test_run_writes_the_model_pictures_samples_and_metrics(trained):
    out, m = trained
    for name in ("config.json", "weights.safetensors", "metrics.json", "history.csv", "learning_curves.png",
                 "samples.txt"):
        assert (out / name).is_file(), name
    assert m["task"] == "chargen" and m["data"] == "built-in tiny corpus"
    assert sum(m["split"][k] for k in ("train", "valid", "test")) == 3000 and m["split"]["test"] == 300
    assert set(m["test"]) == {"nats_per_char"} and 0 < m["test"]["nats_per_char"] < math.log(m["vocab_size"])
    assert set(m["baselines"]) == {"unigram", "bigram"}
    assert m["baseline"]["test"]["nats_per_char"] == min(v["nats_per_char"] for v in m["baselines"].values())
    assert m["steps"] >= 1 and m["seconds"] > 0 and m["config"]["bptt"] == 16


def test_reloaded_model_gives_the_recorded_test_figure_and_samples(trained):
    out, m = trained
    model = load(out)
    text = split_text(load_tiny_corpus()[:3000], None, 0.1)[2]
    assert nats_per_char(model, model.vocab.encode(text), 16) == pytest.approx(m["test"]["nats_per_char"],
                                                                               rel=1e-6)
    sample = generate(model, "", 60, 0.5, None, 0)
    assert sample in (out / "samples.txt").read_text(encoding="utf-8")


def test_generate_command_is_reproducible_and_keeps_the_prompt(trained, capsys):
    out, _ = trained
    argv = ["generate", str(out), "--prompt", "The ", "--length", "30", "--seed", "3"]
    assert cli.main(argv) == 0
    first = capsys.readouterr().out
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == first
    text = first[:-1]  # print's newline
    assert text.startswith("The ") and 4 < len(text) <= 34


def test_minutes_budget_stops_a_long_run_early(tmp_path):
    m = run_task("chargen", **{**TINY, "epochs": 10_000, "minutes": 0.02, "eval_every": 3}, out=str(tmp_path / "b"))
    assert m["train_minutes"] < 0.5 and m["steps"] >= 1 and m["intervals_run"] >= 1


def test_intervals_continue_the_stream_and_start_each_from_a_zero_state():
    ids = np.arange(200) % 7
    stream = StreamBatches(ids, batch_size=2, bptt=5, random_offset=False)
    intervals = Intervals(stream, steps=4, budget=Budget(max_steps=10**6))
    a, b = list(intervals(None)), list(intervals(None))
    whole = list(stream())
    assert [x.reset for x in a + b] == [True, False, False, False] * 2
    np.testing.assert_array_equal(np.concatenate([x.x for x in a + b], 1), np.concatenate([x.x for x in whole[:8]], 1))


def test_intervals_saved_mid_pass_replay_the_same_batches():
    """What a resumed chargen run relies on: the state (JSON) continues the pass where it stood."""
    import json as _json

    stream = StreamBatches(np.arange(500) % 11, batch_size=3, bptt=6)
    rng = np.random.default_rng(5)
    first = Intervals(stream, steps=4, budget=Budget(max_steps=10**6))
    list(first(rng)), list(first(rng))                    # two intervals into a pass
    saved, rng_state = _json.loads(_json.dumps(first.state_dict())), rng.bit_generator.state
    expected = [b.x for _ in range(5) for b in first(rng)]  # runs into the next pass (new random offset)
    second = Intervals(stream, steps=4, budget=Budget(max_steps=10**6))
    second.load_state_dict(saved)
    rng.bit_generator.state = rng_state
    got = [b.x for _ in range(5) for b in second(rng)]
    assert len(got) == len(expected) == 20
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)


def test_budget_anneals_the_rate_to_a_tenth():
    class T:  # the parts of the Trainer the callback reads
        class optimizer:
            lr = 1.0
        step = 0
    budget, t = Budget(max_steps=10), T()
    budget.on_train_begin(t)
    lrs = []
    for step in (0, 5, 10):
        t.step = step
        budget.on_batch_end(t)
        lrs.append(t.optimizer.lr)
    assert lrs == pytest.approx([1.0, 0.55, 0.1])


def test_ngram_baselines_match_hand_counts():
    vocab = CharVocab.fit("ab")                       # <unk>=0, a=1, b=2: V = 3
    train, test = vocab.encode("abab"), vocab.encode("ab")
    b = ngram_baselines(train, test, len(vocab))
    assert b["unigram"] == pytest.approx(-math.log((2 + 1) / (4 + 3)))      # p(b)
    assert b["bigram"] == pytest.approx(-math.log((2 + 1) / (2 + 3)))       # p(b | a): ab occurs twice


def test_generate_keeps_the_prompt_and_leaves_out_unk():
    model = LanguageModel.from_vocab(CharVocab.fit("hello world\n"), hidden_size=4, embedding_dim=3)
    text = generate(model, "he", 10, temperature=1.0, seed=0)
    assert text.startswith("he") and len(text) <= 12 and "<unk>" not in text   # a sampled <unk> is dropped


@pytest.mark.parametrize("content, flags, match", [
    (None, [], "does not exist"),
    (" \n\t\n", [], "no usable characters"),
    ("hello world, a short text\n" * 3, ["--bptt", "64"], "too short for --bptt 64"),
    ("abc" * 2000, ["--valid-fraction", "0.9"], "valid-fraction"),
    ("abc" * 2000, ["--cell", "lstmm"], "cell must be one of"),
], ids=["missing_file", "blank_text", "too_short", "bad_fraction", "bad_cell"])
def test_bad_input_exits_2_with_one_line_and_keeps_the_old_folder(tmp_path, capsys, content, flags, match):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous run")
    data = tmp_path / "corpus.txt"
    if content is not None:
        data.write_text(content, encoding="utf-8")
    code = cli.main(["train", "chargen", "--data", str(data), "--out", str(out), "--epochs", "1",
                     "--hidden", "4", "--no-progress", *flags])
    assert code == 2 and match in _err_line(capsys)
    assert (out / "keep.txt").read_text() == "previous run"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left behind
