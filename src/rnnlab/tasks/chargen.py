"""``rnnlab train chargen``: a character-level language model that learns a text and writes more of it.

Data: the built-in corpus (``rnnlab.data.datasets.load_tiny_corpus``, 14 KB of verse and speeches)
or ``--data FILE.txt``, any UTF-8 text. The last 10% of the text is held out for the test figure
(or ``--test FILE.txt``); validation, which picks the weights kept, is the last ``valid_fraction``
of the training part. Metric: nats per character on the held-out text. Baselines: unigram and
bigram character models (add-one smoothing) fitted on the training part; the better is reported.

Training is truncated BPTT over ``batch_size`` parallel streams of the text (``LanguageModel``),
validated every ``eval_every`` steps (default once per pass), with the learning rate annealed over
the run (cosine to 10%) and the best validated weights kept. ``--minutes`` replaces ``--epochs``
by a wall-clock budget::

    rnnlab train chargen                                   # built-in corpus, a few minutes
    rnnlab train chargen --data tinyshakespeare.txt --hidden 256 --layers 2 --batch-size 32 --bptt 100 --minutes 25
    rnnlab generate runs/chargen --prompt "ROMEO:" --temperature 0.8
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from rnnlab.data.text import CharVocab
from rnnlab.errors import RnnlabError
from rnnlab.models.callbacks import Callback, EarlyStopping
from rnnlab.models.language import LanguageModel, StreamBatches
from rnnlab.tasks.base import RunDir, Task, TaskConfig, register_task
from rnnlab.tasks.fitting import fit_model

TEST_FRACTION = 0.1
SAMPLE_TEMPERATURES = (0.5, 0.8, 1.0)


@dataclass
class ChargenConfig(TaskConfig):
    """bptt: characters per truncated-BPTT chunk (gradients stop at chunk boundaries)
    minutes: wall-clock training budget in minutes, instead of --epochs (the best validated weights are kept)
    eval_every: optimiser steps between validation checks (0: once per pass over the training text)
    embedding_dim: size of the character embedding
    dropout: dropout between stacked recurrent layers
    valid_fraction: end part of the training text used for validation
    patience: validation checks without improvement before training stops
    sample_length: characters of each sample written to samples.txt
    epochs: passes over the training text (unless --minutes is given)
    limit: use only the first N characters of the text (quick runs)
    """

    hidden: int = 128
    layers: int = 1
    epochs: int = 30
    batch_size: int = 8
    lr: float = 3e-3
    bptt: int = 64
    minutes: float | None = None
    eval_every: int = 0
    embedding_dim: int = 32
    dropout: float = 0.0
    valid_fraction: float = 0.1
    patience: int = 8
    sample_length: int = 400


# ---------------------------------------------------------------- data

def load_texts(cfg: ChargenConfig) -> tuple[str, str | None, str]:
    """(training text, held-out text or None, description of the data)."""
    from rnnlab.data.datasets import load_tiny_corpus
    from rnnlab.data.loaders import load_text_file

    text = load_text_file(cfg.data) if cfg.data else load_tiny_corpus()
    test = load_text_file(cfg.test) if cfg.test else None
    if cfg.limit:
        text = text[:cfg.limit]
    return text, test, cfg.data or "built-in tiny corpus"


def split_text(text: str, test: str | None, valid_fraction: float) -> tuple[str, str, str]:
    """(train, valid, test): test is the last 10% unless given, valid the end of what is left."""
    if test is None:
        cut = int(len(text) * (1 - TEST_FRACTION))
        text, test = text[:cut], text[cut:]
    cut = int(len(text) * (1 - valid_fraction))
    return text[:cut], text[cut:], test


def check_config(cfg: ChargenConfig) -> None:
    problems = []
    for name in ("bptt", "batch_size", "epochs", "sample_length"):
        v = getattr(cfg, name)
        if not isinstance(v, int) or v < 1:
            problems.append(f"--{name.replace('_', '-')} must be a positive integer, got {v!r}")
    if cfg.eval_every < 0:
        problems.append(f"--eval-every must be 0 (once per pass) or a positive number of steps, got {cfg.eval_every}")
    if cfg.minutes is not None and not 0 < cfg.minutes < math.inf:
        problems.append(f"--minutes must be a positive number, got {cfg.minutes}")
    if not 0 < cfg.valid_fraction <= 0.5:
        problems.append(f"--valid-fraction must lie in (0, 0.5], got {cfg.valid_fraction}")
    if cfg.limit is not None and cfg.limit < 1:
        problems.append(f"--limit must be a positive number of characters, got {cfg.limit}")
    if problems:
        raise RnnlabError("chargen: " + "; ".join(problems) + ".")


def check_lengths(parts: dict, data: str, cfg: ChargenConfig) -> None:
    """Every part must fill its chunks: the training part B streams of bptt + 1, the others one."""
    need = {"training": cfg.batch_size * (cfg.bptt + 1), "validation": cfg.bptt + 1, "held-out": cfg.bptt + 1}
    short = [f"the {k} part has {len(parts[k]):,} characters, fewer than {need[k]:,}" for k in need
             if len(parts[k]) < need[k]]
    if short:
        raise RnnlabError(f"{data} is too short for --bptt {cfg.bptt} and --batch-size {cfg.batch_size}: "
                          + "; ".join(short) + "; use a longer text or a smaller --bptt / --batch-size.")


# ---------------------------------------------------------------- training schedule

class Intervals:
    """``train_batches`` for ``fit``: each call ("epoch") is one validation interval.

    An interval is ``steps`` chunks that continue the stream where the previous interval stopped
    (a new pass, with a new random offset, starts when one runs out), or one whole pass when
    ``steps`` is 0. It ends early when ``budget`` is spent. Its first chunk starts from a zero
    state, because validation in between has overwritten the carried one.
    """

    def __init__(self, stream: StreamBatches, steps: int, budget: "Budget"):
        self.stream, self.steps, self.budget = stream, steps, budget
        self._pass = self._first = None
        self._pass_rng, self._taken = None, 0   # how the running pass started, and how far it got

    def state_dict(self) -> dict:
        """Where the running pass stands (JSON), so a resumed run continues it exactly."""
        return {"pass_rng": self._pass_rng, "taken": self._taken if self._pass is not None else None}

    def load_state_dict(self, state: dict) -> None:
        self._pass = None
        if state.get("taken") is not None:
            rng = None
            if state["pass_rng"] is not None:
                rng = np.random.default_rng()
                rng.bit_generator.state = state["pass_rng"]
            self._start_pass(rng)
            for _ in range(state["taken"]):
                self._next()

    def _start_pass(self, rng) -> None:
        self._pass_rng, self._taken = None if rng is None else rng.bit_generator.state, 0
        self._pass = iter(self.stream(rng))
        self._first = next(self._pass, None)  # the pass draws its random offset here, from this rng

    def _next(self):
        batch = self._first if self._first is not None else next(self._pass, None)
        self._first = None
        self._taken += 1
        return batch

    def __call__(self, rng):
        done = 0
        while not self.steps or done < self.steps:
            if done and self.budget.spent():
                return
            if self._pass is None:
                self._start_pass(rng)
            batch = self._next()
            if batch is None:
                self._pass = None
                if not self.steps:
                    return
                continue
            yield batch._replace(reset=True) if done == 0 else batch
            done += 1


class Budget(Callback):
    """Ends training after ``max_steps`` steps or ``seconds`` of wall-clock time, whichever is set,
    and anneals the learning rate over that budget.

    Notes
    -----
    lr(f) = lr₀ · (0.1 + 0.9 · (1 + cos πf) / 2), f ∈ [0, 1] the fraction of the budget spent:
    a fixed budget ends at a tenth of the rate, where the last steps polish instead of jump.
    Each history row also gets ``steps`` (optimiser steps so far) and ``minutes``.
    """

    def __init__(self, max_steps: int | None = None, seconds: float | None = None):
        self.max_steps, self.seconds = max_steps, seconds
        self.t0 = time.monotonic()
        self.steps = 0

    def fraction(self) -> float:
        f = ((time.monotonic() - self.t0) / self.seconds if self.seconds
             else self.steps / max(self.max_steps, 1))
        return min(f, 1.0)

    def spent(self) -> bool:
        return self.fraction() >= 1.0

    def on_train_begin(self, trainer) -> None:
        self.t0, self.lr0 = time.monotonic(), float(trainer.optimizer.lr)

    def state_dict(self) -> dict:
        return {"seconds_used": time.monotonic() - self.t0}

    def load_state_dict(self, state: dict) -> None:
        """A resumed run gets the rest of the time budget, not all of it again."""
        self.t0 = time.monotonic() - float(state["seconds_used"])

    def on_batch_end(self, trainer) -> None:
        self.steps = trainer.step
        trainer.optimizer.lr = self.lr0 * (0.1 + 0.45 * (1 + math.cos(math.pi * self.fraction())))

    def on_epoch_end(self, trainer) -> None:
        trainer.history[-1].update(steps=trainer.step, minutes=round((time.monotonic() - self.t0) / 60, 3))
        if self.spent():
            trainer.stop = True


def steps_per_pass(n_chars: int, batch_size: int, bptt: int) -> int:
    return max(1, math.ceil((n_chars // batch_size - 1) / bptt))


def nats_per_char(model: LanguageModel, ids: np.ndarray, bptt: int) -> float:
    """Mean -log p(next character) over ``ids``, read as up to 32 parallel streams."""
    return float(model.evaluate(ids, batch_size=max(1, min(32, len(ids) // (bptt + 1))), bptt=bptt))


def ngram_baselines(train_ids: np.ndarray, test_ids: np.ndarray, V: int) -> dict:
    """Nats per character of add-one-smoothed unigram and bigram models fitted on ``train_ids``.

    p(c) = (n(c) + 1) / (N + V);   p(c | b) = (n(b c) + 1) / (n(b ·) + V), scored on test[1:].
    """
    uni = (np.bincount(train_ids, minlength=V) + 1.0) / (len(train_ids) + V)
    pairs = np.zeros((V, V))
    np.add.at(pairs, (train_ids[:-1], train_ids[1:]), 1.0)
    bi = (pairs + 1.0) / (pairs.sum(1, keepdims=True) + V)
    return {"unigram": float(-np.log(uni[test_ids[1:]]).mean()),
            "bigram": float(-np.log(bi[test_ids[:-1], test_ids[1:]]).mean())}


# ---------------------------------------------------------------- generation and pictures

def generate(model: LanguageModel, prompt: str = "", length: int = 300, temperature: float = 0.8,
             top_k: int | None = None, seed: int = 0) -> str:
    """``prompt`` followed by ``length`` sampled characters (an empty prompt starts after a newline).

    A sampled ``<unk>`` (a character the training text lacked) is left out of the text.
    """
    if not isinstance(prompt, str):
        raise RnnlabError(f"prompt must be a str, got {type(prompt).__name__}.")
    vocab = model.vocab
    prime = prompt or ("\n" if "\n" in vocab else None)
    ids = model.sample(length, prime=prime, temperature=temperature, top_k=top_k, rng=np.random.default_rng(seed))
    return prompt + vocab.decode(ids, skip_specials=True)


def write_samples(model, path, length: int, seed: int) -> str:
    parts = []
    for t in SAMPLE_TEMPERATURES:
        parts.append(f"=== temperature {t} (rnnlab generate DIR --temperature {t} --length {length} "
                     f"--seed {seed}) ===\n{generate(model, '', length, t, None, seed)}\n")
    text = "\n".join(parts)
    path.write_text(text, encoding="utf-8")
    return text


def plot_curves(history, baselines: dict, path, title: str) -> None:
    """Train and validation nats per character against optimiser steps, baselines as lines."""
    from rnnlab.viz.plots import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = [r["steps"] for r in history]
    ax.plot(steps, [r["loss"] for r in history], "-o", ms=3, label="train (interval mean)")
    ax.plot(steps, [r.get("val_loss", np.nan) for r in history], "--o", ms=3, label="validation")
    for (name, v), color in zip(sorted(baselines.items()), ("0.6", "0.3")):
        ax.axhline(v, ls=":", color=color, label=f"{name} baseline (held-out)")
    ax.set_xlabel("optimiser steps")
    ax.set_ylabel("nats per character")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------- the task

@register_task
class Chargen(Task):
    name = "chargen"
    description = "character-level language model: learn a text, report nats/char, write samples"
    Config = ChargenConfig
    default_data = "rnnlab's built-in tiny corpus (14 KB); --data FILE.txt for any UTF-8 text"

    def run(self, cfg, run_dir: RunDir) -> dict:
        from rnnlab import nn

        check_config(cfg)
        text, test, data = load_texts(cfg)
        train, valid, test = split_text(text, test, cfg.valid_fraction)
        check_lengths({"training": train, "validation": valid, "held-out": test}, data, cfg)
        vocab = CharVocab.fit(train + valid)
        ids = {k: vocab.encode(v) for k, v in (("train", train), ("valid", valid), ("test", test))}
        model = LanguageModel.from_vocab(vocab, embedding_dim=cfg.embedding_dim, hidden_size=cfg.hidden,
                                         num_layers=cfg.layers, cell=cfg.cell, dropout=cfg.dropout,
                                         seed=cfg.seed)
        per_pass = steps_per_pass(len(train), cfg.batch_size, cfg.bptt)
        interval = cfg.eval_every or per_pass
        if cfg.minutes:
            budget, n_intervals = Budget(seconds=60 * cfg.minutes), 10**6
        else:
            budget = Budget(max_steps=cfg.epochs * per_pass)
            n_intervals = math.ceil(cfg.epochs * per_pass / interval)
        stream = model.batches(ids["train"], cfg.batch_size, cfg.bptt)
        eval_b = max(1, min(32, len(valid) // (cfg.bptt + 1)))
        valid_batches = StreamBatches(ids["valid"], eval_b, cfg.bptt, random_offset=False)
        history = fit_model(model, Intervals(stream, cfg.eval_every, budget), cfg, run_dir, epochs=n_intervals,
                            optimizer=nn.Adam(cfg.lr), valid_batches=valid_batches,
                            callbacks=[budget, EarlyStopping("val_loss", patience=cfg.patience)],
                            seed=cfg.seed, progress=cfg.progress)
        test_nats = nats_per_char(model, ids["test"], cfg.bptt)
        baselines = ngram_baselines(np.concatenate([ids["train"], ids["valid"]]), ids["test"], len(vocab))
        best_name = min(baselines, key=baselines.get)
        model.meta.update(task=self.name, bptt=cfg.bptt)
        run_dir.save_model(model)
        history.to_csv(run_dir.file("history.csv"))
        plot_curves(history, baselines, run_dir.file("learning_curves.png"),
                    f"chargen: held-out {test_nats:.3f} nats/char")
        write_samples(model, run_dir.file("samples.txt"), cfg.sample_length, cfg.seed)
        best = history.best("val_loss")
        return {"task": self.name, "data": data,
                "split": {"train": len(train), "valid": len(valid), "test": len(test), "unit": "characters"},
                "test": {"nats_per_char": test_nats},
                "valid": {"nats_per_char": float(best["val_loss"])},
                "baseline": {"name": f"{best_name} characters, add-one smoothing",
                             "test": {"nats_per_char": baselines[best_name]}},
                "baselines": {k: {"nats_per_char": v} for k, v in baselines.items()},
                "vocab_size": len(vocab), "steps": int(history[-1]["steps"]),
                "best_steps": int(best["steps"]), "train_minutes": float(history[-1]["minutes"]),
                "intervals_run": len(history)}

    def generate(self, model, prompt="", length=300, temperature=0.8, top_k=None, seed=0) -> str:
        return generate(model, prompt, length, temperature, top_k, seed)
