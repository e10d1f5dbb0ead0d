"""``rnnlab train sentiment``: is a short text positive or negative? A BiLSTM over word vectors.

Data: the VADER movie-review snippets (10,568 texts, label = mean human rating > 0; fetched once
with pip, see ``rnnlab datasets``), or ``--data FILE.csv`` with columns ``text,label`` (any
number of classes), or an ``aclImdb`` folder. Held out: ``--test FILE.csv``, else aclImdb's own
test half, else a stratified 20% drawn with ``--seed``. Early stopping watches a stratified
``valid_fraction`` of the *training* part. Baseline: TF-IDF over word 1-2 grams + logistic
regression, fitted on the same training part.

Model::

    ids (B, T) → Embedding (GloVe 6B 50-d, fine-tuned; <pad> = 0) → BiLSTM (B, T, 2H)
               → [mean ‖ max] over each text's own words (B, 4H) → Dropout → Dense → classes

Pooling every step, rather than reading the last one, lets the classifier use a strong word
wherever it stands; the mask keeps padding out, so a text scores the same alone or in a batch.

    rnnlab train sentiment                         # VADER snippets, GloVe
    rnnlab train sentiment --embeddings none       # random embeddings
    rnnlab predict runs/sentiment "a gorgeous, moving film"
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab import nn
from rnnlab.data.tokenize import WordVocab, pad_sequences
from rnnlab.errors import RnnlabError
from rnnlab.models import Sequential
from rnnlab.models.callbacks import EarlyStopping
from rnnlab.nn.pooling import MODES, MaskedPool
from rnnlab.tasks.base import RegularisedConfig, RunDir, Task, register_task
from rnnlab.tasks.classify import CELLS, check_labels, stratified_split
from rnnlab.tasks.fitting import fit_sequential

EMBEDDINGS = ("glove50", "none")
TEST_FRACTION = 0.2
UNKNOWN_SCALE = 0.1  # std of the random vectors of words GloVe lacks (GloVe's own std is about 0.7)


@dataclass
class SentimentConfig(RegularisedConfig):
    """embeddings: word vectors to start from: glove50 (GloVe 6B 50-d, fine-tuned) or none (random)
    embedding_dim: embedding size with --embeddings none (GloVe fixes it at 50)
    min_freq: keep words seen at least this often in the training texts
    max_size: largest vocabulary, <pad> and <unk> included
    max_len: words kept per text (the first ones)
    pool: how the per-word outputs become one vector: meanmax, mean or max over the text's words
    dropout: dropout before the classifier
    embed_dropout: dropout on the word vectors, before the recurrent layer
    valid_fraction: part of the training data held out for early stopping
    patience: epochs without validation improvement before stopping
    limit: use only N training texts, a random subset drawn with --seed (quick runs)
    """

    hidden: int = 64
    epochs: int = 15
    batch_size: int = 32
    lr: float = 2e-3
    embeddings: str = "glove50"
    embedding_dim: int = 50
    min_freq: int = 1
    max_size: int = 30000
    max_len: int = 200
    pool: str = "meanmax"
    dropout: float = 0.5
    embed_dropout: float = 0.0
    valid_fraction: float = 0.1
    patience: int = 3


@dataclass
class TextSplit:
    train_texts: list
    y_train: np.ndarray      # (n_train,) int64 ids into labels
    test_texts: list
    y_test: np.ndarray
    labels: list
    data: str                # description for metrics.json


# ---------------------------------------------------------------- data

def _label_ids(names: list, labels: list, path) -> np.ndarray:
    unseen = sorted(set(names) - set(labels))
    if unseen:
        raise RnnlabError(f"{path} has labels {unseen[:5]} that the training data does not have "
                          f"(it has {labels}); use the same label names in both files.")
    index = {name: i for i, name in enumerate(labels)}
    return np.array([index[n] for n in names], dtype=np.int64)


def load_texts(cfg: SentimentConfig) -> TextSplit:
    """Training and held-out texts per the task's data contract (see the module docstring)."""
    from rnnlab.data.loaders import load_aclimdb, load_text_csv

    test = None
    if cfg.data is None:
        from rnnlab.data.datasets import load_vader_movies

        d = load_vader_movies()
        texts, y, labels, name = d.texts, d.y, d.labels, "VADER movie-review snippets"
    elif Path(cfg.data).is_dir():
        s = load_aclimdb(cfg.data)
        texts, y, labels, name = s.train_texts, s.y_train, s.labels, cfg.data
        test = (s.test_texts, s.y_test)
    else:
        d = load_text_csv(cfg.data)
        texts, y, labels, name = d.texts, d.y, d.labels, cfg.data
    if cfg.test:
        t = load_text_csv(cfg.test)
        test = (t.texts, _label_ids([t.labels[i] for i in t.y], labels, cfg.test))
    if test is None:
        tr, te = stratified_split(y, TEST_FRACTION, np.random.default_rng(cfg.seed))
        test = ([texts[i] for i in te], y[te])
        texts, y = [texts[i] for i in tr], y[tr]
    return TextSplit(list(texts), np.asarray(y), list(test[0]), np.asarray(test[1]), list(labels), name)


def encode(vocab: WordVocab, texts, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Texts → right-padded ids (N, T ≤ max_len) and lengths (N,); a text without words becomes <unk>."""
    seqs = [ids[:max_len] if len(ids) else np.array([vocab.unk_id]) for ids in vocab.encode_batch(texts)]
    return pad_sequences(seqs)


def check_config(cfg: SentimentConfig) -> None:
    problems = []
    if cfg.embeddings not in EMBEDDINGS:
        problems.append(f"--embeddings must be one of {', '.join(EMBEDDINGS)}, got {cfg.embeddings!r}")
    if cfg.pool not in MODES:
        problems.append(f"--pool must be one of {', '.join(MODES)}, got {cfg.pool!r}")
    if cfg.cell not in CELLS:
        problems.append(f"--cell must be one of {', '.join(CELLS)} for this task, got {cfg.cell!r}")
    for name in ("max_len", "min_freq", "epochs", "batch_size", "hidden", "embedding_dim"):
        if getattr(cfg, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(cfg, name)}")
    if cfg.max_size < 3:
        problems.append(f"--max-size must be at least 3 (it counts <pad> and <unk>), got {cfg.max_size}")
    if not 0 < cfg.valid_fraction < 0.5:
        problems.append(f"--valid-fraction must lie in (0, 0.5), got {cfg.valid_fraction}")
    if cfg.limit is not None and cfg.limit < 4:
        problems.append(f"--limit must be at least 4 texts, got {cfg.limit}")
    problems += cfg.regularisation_problems()
    if problems:
        raise RnnlabError("sentiment: " + "; ".join(problems) + ".")


# ---------------------------------------------------------------- model

def embedding_matrix(vocab: WordVocab, embeddings: str, dim: int, rng) -> tuple[np.ndarray, float]:
    """Initial embedding (V, E) and the fraction of vocabulary words GloVe knows (0 without GloVe).

    Words GloVe lacks, and every word with ``embeddings="none"``, get N(0, 0.1²) vectors; <pad> is 0.
    """
    if embeddings == "none":
        W, coverage = rng.normal(0.0, UNKNOWN_SCALE, (len(vocab), dim)), 0.0
    else:
        from rnnlab.data.glove import load_glove

        G, found = load_glove(vocab)
        W = np.where(found[:, None], G, rng.normal(0.0, UNKNOWN_SCALE, G.shape))
        coverage = float(found[2:].mean()) if len(vocab) > 2 else 0.0
    W[vocab.pad_id] = 0.0
    return W.astype(np.float32), coverage


def build_model(cfg: SentimentConfig, W: np.ndarray, n_classes: int) -> Sequential:
    V, E = W.shape
    pool = MaskedPool(cfg.pool)
    layers = [nn.Embedding(V, E, padding_idx=0, seed=cfg.seed)]
    if cfg.embed_dropout:
        layers.append(nn.Dropout(cfg.embed_dropout, seed=cfg.seed + 4))
    layers += [CELLS[cfg.cell](E, cfg.hidden, num_layers=cfg.layers, bidirectional=True, return_sequences=True,
                               seed=cfg.seed + 1, **cfg.recurrent_options()),
               pool]
    if cfg.dropout:
        layers.append(nn.Dropout(cfg.dropout, seed=cfg.seed + 2))
    layers.append(nn.Dense(pool.output_size(2 * cfg.hidden), n_classes, seed=cfg.seed + 3))
    layers[0].params["weight"][...] = W
    model = Sequential(layers)
    model.compile("cross_entropy", cfg.optimizer(), lr=cfg.lr, metrics=["accuracy"])
    return model


def tfidf_baseline(train_texts, y_train, test_texts, y_test) -> float:
    """TF-IDF over word 1-2 grams (our tokenizer, sublinear tf) + logistic regression: test accuracy."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from rnnlab.data.tokenize import tokenize

    vec = TfidfVectorizer(tokenizer=tokenize, token_pattern=None, lowercase=False, ngram_range=(1, 2),
                          sublinear_tf=True)
    clf = LogisticRegression(C=16.0, max_iter=5000)  # C chosen on validation from the training part
    clf.fit(vec.fit_transform(train_texts), y_train)
    return float(clf.score(vec.transform(test_texts), y_test))


def predict_proba(model: Sequential, texts) -> np.ndarray:
    """Class probabilities (N, K) of raw texts, with the vocabulary stored in the model."""
    vocab = WordVocab.from_json(model.meta["vocab"])
    X, lengths = encode(vocab, texts, int(model.meta["max_len"]))
    return model.predict(X, lengths)


# ---------------------------------------------------------------- the task

@register_task
class Sentiment(Task):
    name = "sentiment"
    description = "positive or negative text: BiLSTM over GloVe with mean/max pooling"
    Config = SentimentConfig
    default_data = "VADER movie-review snippets (10,568, via pip), stratified 20% test split"

    def run(self, cfg, run_dir: RunDir) -> dict:
        from rnnlab.viz import plots

        check_config(cfg)
        d = load_texts(cfg)
        rng = np.random.default_rng(cfg.seed)
        texts, y = d.train_texts, d.y_train
        if cfg.limit and cfg.limit < len(texts):  # random, not first: files are often sorted by label
            keep = np.sort(rng.permutation(len(texts))[:cfg.limit])
            texts, y = [texts[i] for i in keep], y[keep]
        check_labels(y, d.y_test, d.labels)
        vocab = WordVocab.fit(texts, min_freq=cfg.min_freq, max_size=cfg.max_size)
        X, L = encode(vocab, texts, cfg.max_len)
        X_test, L_test = encode(vocab, d.test_texts, cfg.max_len)
        tr, va = stratified_split(y, cfg.valid_fraction, rng)
        if len(va) == 0 or len(tr) == 0:
            raise RnnlabError(f"{len(texts)} training texts are too few to hold out a validation part; "
                              "give more data or a larger --valid-fraction.")
        dim = 50 if cfg.embeddings == "glove50" else cfg.embedding_dim
        W, coverage = embedding_matrix(vocab, cfg.embeddings, dim, rng)
        model = build_model(cfg, W, len(d.labels))
        history = fit_sequential(model, X[tr], y[tr], cfg, run_dir, lengths=L[tr],
                                 validation_data=(X[va], y[va], L[va]), epochs=cfg.epochs,
                                 batch_size=cfg.batch_size, bucket_by_length=True,
                                 callbacks=[EarlyStopping("val_loss", patience=cfg.patience)], seed=cfg.seed,
                                 progress=cfg.progress)
        pred = model.predict_classes(X_test, L_test)
        accuracy = float((pred == d.y_test).mean())
        valid_acc = float(model.evaluate(X[va], y[va], L[va])["accuracy"])
        baseline = tfidf_baseline(texts, y, d.test_texts, d.y_test)
        model.meta = {"task": self.name, "labels": d.labels, "vocab": vocab.to_json(), "max_len": cfg.max_len}
        run_dir.save_model(model)
        history.to_csv(run_dir.file("history.csv"))
        plots.learning_curves(list(history), run_dir.file("learning_curves.png"))
        plots.confusion_matrix(d.y_test, pred, d.labels, run_dir.file("confusion_matrix.png"),
                               title=f"sentiment: held-out accuracy {accuracy:.3f}")
        return {"task": self.name, "data": d.data,
                "split": {"train": int(len(tr)), "valid": int(len(va)), "test": int(len(d.y_test))},
                "test": {"accuracy": accuracy},
                "valid": {"accuracy": valid_acc},
                "baseline": {"name": "TF-IDF word 1-2 grams + logistic regression",
                             "test": {"accuracy": baseline}},
                "embeddings": cfg.embeddings, "glove_coverage": round(coverage, 4),
                "vocab_size": len(vocab), "labels": d.labels, "epochs_run": len(history)}

    def predict(self, model, inputs: str) -> list[str]:
        """One ``label<TAB>probability`` line per text: ``inputs`` is a text, or a file of one text per
        line (blank lines skipped)."""
        texts = _read_lines(inputs)
        if texts is None:
            texts = [inputs]
        if not any(t.strip() for t in texts):
            raise RnnlabError("nothing to classify: the input is empty; give a text or a file with one "
                              "text per line.")
        proba = predict_proba(model, texts)
        labels = model.meta["labels"]
        return [f"{labels[k]}\t{p[k]:.3f}" for k, p in zip(proba.argmax(1), proba)]


def _read_lines(inputs: str):
    """The non-blank lines of the file ``inputs``, or None if ``inputs`` is not a file path."""
    try:
        path = Path(inputs)
        if not path.is_file():
            return None
    except (OSError, ValueError):  # a long text is no file name (ENAMETOOLONG, NUL bytes)
        return None
    try:
        lines = path.read_text(encoding="utf-8-sig").split("\n")
    except UnicodeDecodeError:
        raise RnnlabError(f"{inputs} is not UTF-8 text; re-save it as UTF-8.") from None
    return [line.rstrip("\r") for line in lines if line.strip()]
