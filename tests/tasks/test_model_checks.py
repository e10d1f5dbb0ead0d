"""Crafted model folders: a task model whose stored labels, vocabulary or scaling do not fit its
weights is refused with one line naming the mismatch, before any prediction is made."""
import json
import shutil

import pytest

from rnnlab import cli
from rnnlab.tasks import run_task

QUIET = {"epochs": 1, "progress": False}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One small trained model folder per task kind."""
    root = tmp_path_factory.mktemp("models")
    text = root / "texts.csv"
    text.write_text("text,label\n" + "".join(f"{'good fine' if i % 2 else 'bad awful'} film {i},"
                                             f"{'pos' if i % 2 else 'neg'}\n" for i in range(60)))
    words = root / "toy.dict"
    letters = "abcd"
    words.write_text("".join(f"{w.upper()}  {' '.join(w.upper())}\n" for w in sorted(
        {letters[i % 4] + letters[i // 4 % 4] + letters[i // 16 % 4] for i in range(40)})))
    runs = {"digits": dict(limit=120, hidden=8),
            "chargen": dict(hidden=16, embedding_dim=8, bptt=16, batch_size=4),
            "forecast": dict(hidden=8),
            "sentiment": dict(data=str(text), embeddings="none", hidden=8, embedding_dim=8),
            "g2p": dict(data=str(words), hidden=16, embedding=8, batch_size=4)}
    for task, options in runs.items():
        run_task(task, out=str(root / task), **QUIET, **options)
    return root


def _edited(saved, tmp_path, task, edit):
    folder = tmp_path / task
    shutil.copytree(saved / task, folder)
    header = json.loads((folder / "config.json").read_text())
    edit(header["meta"])
    (folder / "config.json").write_text(json.dumps(header))
    return folder


def _vocab_minus_one(key):
    def edit(meta):
        vocab = meta[key] if isinstance(meta[key], dict) else json.loads(meta[key])
        field = "words" if "words" in vocab else "chars"
        vocab[field] = vocab[field][:-1]
        meta[key] = vocab
    return edit


CASES = {
    "labels_do_not_fit_the_output": ("digits", lambda m: m["labels"].pop(), "9 labels for an output layer of 10"),
    "channels_do_not_fit_the_input": ("digits", lambda m: m.update(channels=5), "channels 5"),
    "scaling_is_not_numbers": ("digits", lambda m: m.update(scale_std=["x"] * 8), "scale_std must be 8 finite"),
    "vocabulary_too_small_for_embedding": ("sentiment", _vocab_minus_one("vocab"), "for an embedding of"),
    "char_vocabulary_does_not_fit_softmax": ("chargen", _vocab_minus_one("vocab"), "do not belong together"),
    "letters_do_not_fit_the_encoder": ("g2p", _vocab_minus_one("letters"), "letter vocabulary"),
    "phonemes_do_not_fit_the_decoder": ("g2p", lambda m: m["phonemes"].append("ZZ"), "phonemes"),
    "series_tail_with_nan": ("forecast", lambda m: m["series_tail"].__setitem__(0, float("nan")),
                             "series_tail must be a list of finite"),
    "task_is_not_a_string": ("digits", lambda m: m.update(task=["digits"]), "names a task that is not a string"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_model_folder_whose_meta_lies_is_refused_in_one_line(saved, tmp_path, capsys, case):
    task, edit, match = CASES[case]
    folder = _edited(saved, tmp_path, task, edit)
    assert cli.main(["evaluate", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err


@pytest.mark.parametrize("task", ["digits", "sentiment", "chargen", "g2p", "forecast"])
def test_untouched_task_models_pass_the_checks(saved, task, capsys):
    assert cli.main(["evaluate", str(saved / task)]) == 0, capsys.readouterr().err
