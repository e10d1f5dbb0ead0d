"""What the inspect tools read: a saved ``Sequential`` and its inputs, prepared as in training.

* Text models (first layer ``Embedding``, ``meta["vocab"]`` a ``WordVocab`` or ``CharVocab``): the
  input is a text, or a file whose non-empty lines are texts; each is encoded with the model's vocabulary.
* Id models without a vocabulary: a ``.npy`` file of ids (N, T) or (T,).
* Series models: a ``.npy`` array (N, T, C) or (T, C), or a ``.ts`` file; models made by the series
  tasks carry their pooling and scaling in ``meta`` and the series are prepared the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnlab import nn
from rnnlab.errors import RnnlabError


@dataclass
class Inputs:
    """A batch ready for ``model.forward``: X (N, T[, C]), lengths or None, and per input its tokens."""
    X: np.ndarray
    lengths: np.ndarray | None
    tokens: list = field(default_factory=list)    # list of lists of str (text) or None per input
    texts: list = field(default_factory=list)     # the raw line per input, or a description

    def __len__(self) -> int:
        return len(self.X)

    def length(self, i: int) -> int:
        return int(self.X.shape[1] if self.lengths is None else self.lengths[i])

    def subset(self, idx) -> "Inputs":
        idx = list(idx)
        L = None if self.lengths is None else self.lengths[idx]
        X = self.X[idx]
        if L is not None:
            X = X[:, :int(L.max())]
            L = None if L.min() == X.shape[1] else L
        return Inputs(X, L, [self.tokens[i] for i in idx], [self.texts[i] for i in idx])


def load_sequential(model_dir):
    from rnnlab.models import Sequential, load

    model = load(model_dir)
    if not isinstance(model, Sequential):
        raise RnnlabError(f"{model_dir} holds a {model.kind} model; inspection works on Sequential models "
                          "(classifiers and per-step sequence models).")
    return model


def vocabulary(model):
    """The model's WordVocab or CharVocab from ``meta["vocab"]``, or None."""
    obj = model.meta.get("vocab")
    if not obj:
        return None
    if isinstance(obj, dict) and obj.get("type") == "word":
        from rnnlab.data.tokenize import WordVocab

        return WordVocab.from_json(obj)
    from rnnlab.data.text import CharVocab

    return CharVocab.from_json(obj)


def unknown_id(model) -> int:
    """The id an occluded token becomes: the vocabulary's ``<unk>``, else 0."""
    vocab = vocabulary(model)
    return int(getattr(vocab, "unk_id", 0)) if vocab is not None else 0


def is_classifier(model) -> bool:
    """One output per sequence and a classification loss: softmax over classes, or one logit."""
    if model.per_step:
        return False
    return isinstance(model.loss, nn.CrossEntropyLoss) or (
        isinstance(model.loss, nn.BCEWithLogitsLoss) and model.n_outputs == 1)


def class_names(model) -> list[str]:
    K = model.n_outputs if isinstance(model.loss, nn.CrossEntropyLoss) else 2
    labels = model.meta.get("labels")
    return [str(v) for v in labels] if labels and len(labels) == K else [str(k) for k in range(K)]


def _text_lines(source: str) -> list[str]:
    path = Path(source)
    if path.suffix == ".txt" and not path.is_file():
        raise RnnlabError(f"{source} does not exist; give a text file (one input per line) or the text itself.")
    if len(source) < 4096 and "\n" not in source and path.is_file():
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        lines = [line for line in lines if line]
        if not lines:
            raise RnnlabError(f"{source} holds no text; give one text per line.")
        return lines
    return [source]


def _ids(model, source: str) -> Inputs:
    from rnnlab.data.tokenize import pad_sequences

    vocab = vocabulary(model)
    if vocab is None:
        path = Path(source)
        if path.suffix != ".npy" or not path.is_file():
            raise RnnlabError(f"{source!r}: this model reads token ids and has no vocabulary in its meta; "
                              "give a .npy file of ids (N, T) or (T,).")
        ids = np.load(path, allow_pickle=False)
        ids = ids[None] if ids.ndim == 1 else ids
        if ids.ndim != 2 or ids.dtype.kind not in "iu":
            raise RnnlabError(f"{source} must hold integer ids of shape (N, T) or (T,); got {ids.dtype} {ids.shape}.")
        return Inputs(ids.astype(np.int64), None, [[str(i) for i in row] for row in ids.tolist()],
                      [f"{source}[{i}]" for i in range(len(ids))])
    texts = _text_lines(source)
    seqs = [vocab.encode(t) for t in texts]
    empty = [t for t, s in zip(texts, seqs) if len(s) == 0]
    if empty:
        raise RnnlabError(f"the text {empty[0]!r} has no tokens; give non-empty texts.")
    pad = model.padding_idx if model.padding_idx is not None else 0
    X, lengths = pad_sequences(seqs, value=pad)
    tokens = [[vocab.itos[i] for i in s.tolist()] for s in seqs]
    return Inputs(X, None if lengths.min() == X.shape[1] else lengths, tokens, texts)


def _series(model, source: str) -> Inputs:
    from rnnlab.tasks import classify

    C = model.n_inputs
    X, lengths = classify.read_series_file(source, C)
    if "scale_mean" in model.meta:  # made by a series task: pool and standardise as in training
        X, lengths = classify.prepare(X, lengths, model.meta)
    n = len(X)
    return Inputs(X.astype(np.float32), lengths, [None] * n, [f"{Path(source).name}[{i}]" for i in range(n)])


def read_inputs(model, source: str) -> Inputs:
    """Encode ``source`` for ``model`` (see the module docstring)."""
    if not isinstance(source, str) or not source:
        raise RnnlabError("inspect needs an input: a text or a file (.txt lines, .npy, .ts).")
    return _ids(model, source) if model.ids_input else _series(model, source)


def pick(model, inputs: Inputs, max_inputs: int = 8) -> tuple[Inputs, list[str]]:
    """Up to ``max_inputs`` inputs and a label for each: for a classifier the first input predicted as
    each class (one per class), otherwise the first inputs in order."""
    if is_classifier(model):
        names = class_names(model)
        pred = predicted(model, inputs)
        first = {}
        for i, k in enumerate(pred):
            first.setdefault(int(k), i)
        idx = [first[k] for k in sorted(first)][:max_inputs]
        return inputs.subset(idx), [f"{names[pred[i]]} (#{i})" for i in idx]
    idx = list(range(min(len(inputs), max_inputs)))
    return inputs.subset(idx), [f"#{i}" for i in idx]


def predicted(model, inputs: Inputs) -> np.ndarray:
    """Predicted class of each input (eval mode)."""
    model.eval()
    out = model.forward(inputs.X, inputs.lengths)
    if isinstance(model.loss, nn.CrossEntropyLoss):
        return out.argmax(-1)
    return (out[:, 0] > 0).astype(np.int64)
