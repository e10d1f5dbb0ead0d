"""``Sequential``: a stack of engine layers with Keras' compile / fit / predict workflow.

    model = Sequential([nn.Embedding(V, 32, padding_idx=0), nn.LSTM(32, 64, return_sequences=False),
                        nn.Dense(64, 2)])
    model.compile(loss="cross_entropy", optimizer="adam", lr=1e-3, metrics=["accuracy"])
    history = model.fit(X, y, epochs=5, validation_split=0.1)
    proba = model.predict(X_new)

Inputs are batch-first sequences: integer ids (N, T) when the first layer is an ``Embedding``,
else features (N, T, F). Variable lengths come from ``lengths`` or, for an embedding with
``padding_idx``, from the count of non-padding ids; they reach every recurrent layer, and a
per-step output is trained with a (B, T) mask built from them.
"""
from __future__ import annotations

import difflib

import numpy as np

from rnnlab import nn
from rnnlab.errors import NotFittedError, RnnlabError
from rnnlab.models import arrays, training
from rnnlab.models.base import Model, register
from rnnlab.models.layer_config import layer_config, layer_from_config, layer_label
from rnnlab.nn.pooling import MaskedPool

LOSSES = {"mse": nn.MSELoss, "bce": nn.BCEWithLogitsLoss, "cross_entropy": nn.CrossEntropyLoss}
OPTIMIZERS = {"sgd": nn.SGD, "rmsprop": nn.RMSprop, "adam": nn.Adam, "adamw": nn.AdamW}
METRICS = {"accuracy": ("bce", "cross_entropy"), "mae": ("mse",)}
DEFAULT_METRICS = ("accuracy",)  # compared by identity: only the untouched default adapts to the loss


def _unknown(what: str, name, known) -> RnnlabError:
    near = difflib.get_close_matches(str(name), list(known), n=1)
    hint = f"; did you mean {near[0]!r}?" if near else f"; choose one of {sorted(known)}."
    return RnnlabError(f"unknown {what} {name!r}" + hint)


def _name_of(obj, table: dict):
    return next((k for k, cls in table.items() if type(obj) is cls), None)


@register
class Sequential(Model):
    """A linear stack of ``Embedding``, ``Dense``, ``Dropout``, ``RNN``/``LSTM``/``GRU``, ``FeedbackRNN``
    and ``MaskedPool``.

    Parameters
    ----------
    layers : list of rnnlab.nn modules
        Applied in order. An ``Embedding`` may only come first; recurrent layers need sequences, so
        only the last of them may have ``return_sequences=False``; ``Dense`` works per step on
        sequences; ``MaskedPool`` turns each sequence into one vector over its valid steps. Sizes
        must chain (checked here, all problems reported at once).

    Attributes
    ----------
    layers : list
    loss, optimizer, metrics
        Set by ``compile``.
    history_ : History
        Of the last ``fit``.
    """

    kind = "sequential"

    def __init__(self, layers):
        super().__init__()
        self.layers = list(layers) if isinstance(layers, (list, tuple)) else None
        if not self.layers:
            raise RnnlabError("Sequential expected a non-empty list of rnnlab.nn layers, "
                              f"got {layers!r}.")
        self.modules = {str(i): layer for i, layer in enumerate(self.layers)}
        self._shapes = self._check_chain()
        self.loss = self.optimizer = None
        self.metrics: list[str] = []
        self._compile_config = None
        self._fitted = False
        self.history_ = None

    # -- architecture ---------------------------------------------------------------------------
    def _check_chain(self) -> list[tuple]:
        """Check that sizes chain; returns each layer's output shape, e.g. ("B", "T", 64)."""
        problems, shapes = [], []
        supported = (nn.Embedding, nn.Dense, nn.Dropout, nn.RNNBase, nn.FeedbackRNN, MaskedPool)
        # the input size is the first one a layer asks for (None for ids: the embedding sets it)
        feat = next((n for n, _ in map(self._sizes, self.layers) if n is not None), None)
        feat = None if isinstance(self.layers[0], nn.Embedding) else feat
        self.n_inputs, seq, flat_at = feat, True, None
        for i, layer in enumerate(self.layers):
            name = f"layer {i} ({type(layer).__name__})"
            if not isinstance(layer, supported):
                problems.append(f"{name} is not supported; use Embedding, Dense, Dropout, RNN, LSTM, GRU, "
                                "FeedbackRNN or MaskedPool")
                continue
            if sum(layer is other for other in self.layers) > 1:
                problems.append(f"{name} appears more than once; create one layer object per position")
            n_in, n_out = self._sizes(layer)
            if isinstance(layer, nn.Embedding) and i > 0:
                problems.append(f"{name} must be the first layer (it reads integer ids)")
            if isinstance(layer, (nn.RNNBase, nn.FeedbackRNN, MaskedPool)) and not seq:
                problems.append(f"{name} needs sequences but layer {flat_at} returns one vector per "
                                "sequence; set return_sequences=True on it")
            if isinstance(layer, nn.RNNBase) and layer.stateful:
                problems.append(f"{name} is stateful, which shuffled batches would break; use "
                                "stateful=False in a Sequential")
            if isinstance(layer, nn.FeedbackRNN) and layer.input_size:
                problems.append(f"{name} has an exogenous input (input_size={layer.input_size}), which a "
                                "Sequential cannot feed; use input_size=0")
            if n_in is not None and feat is not None and n_in != feat:
                problems.append(f"{name} expects {n_in} input features but the previous layer gives {feat}")
            feat = n_out if n_out is not None else feat
            if isinstance(layer, nn.RNNBase) and not layer.return_sequences:
                seq, flat_at = False, i
            if isinstance(layer, MaskedPool) and seq:
                feat = None if feat is None else layer.output_size(feat)
                seq, flat_at = False, i
            shapes.append(("B", "T", feat) if seq else ("B", feat))
        if not problems and feat is None:
            problems.append("it needs at least one layer with weights (Embedding, Dense or a recurrent layer)")
        if problems:
            raise RnnlabError("Sequential: " + "; ".join(problems) + ".")
        self.ids_input = isinstance(self.layers[0], nn.Embedding)
        self.per_step, self.n_outputs = seq, feat
        return shapes

    @staticmethod
    def _sizes(layer) -> tuple:
        """(input features, output features) of a layer; None where the layer keeps the size."""
        if isinstance(layer, nn.Embedding):
            return None, layer.embedding_dim
        if isinstance(layer, nn.Dense):
            return layer.in_features, layer.out_features
        if isinstance(layer, nn.RNNBase):
            return layer.input_size, layer.hidden_size * layer.num_directions
        if isinstance(layer, nn.FeedbackRNN):
            return layer.output_size, layer.output_size
        return None, None

    @property
    def padding_idx(self):
        return self.layers[0].padding_idx if self.ids_input else None

    # -- compile --------------------------------------------------------------------------------
    def compile(self, loss="mse", optimizer="adam", lr=None, metrics=DEFAULT_METRICS):
        """Choose the loss, the optimiser and the reported metrics.

        Parameters
        ----------
        loss : {"mse", "bce", "cross_entropy"} or an instance of the matching rnnlab.nn loss
            ``bce`` and ``cross_entropy`` take logits, so ``predict`` returns probabilities.
        optimizer : {"adam", "adamw", "sgd", "rmsprop"} or an rnnlab.nn optimiser
        lr : float, optional
            Learning rate; 1e-3 for a named optimiser when None, and it overrides an instance's.
        metrics : sequence of {"accuracy", "mae"}
            ``accuracy`` needs bce or cross_entropy, ``mae`` needs mse; metrics that do not fit the
            loss are an error, except the default ``("accuracy",)``, which mse models drop.
        """
        loss_name = loss if isinstance(loss, str) else _name_of(loss, LOSSES)
        if loss_name not in LOSSES:
            raise _unknown("loss", loss if isinstance(loss, str) else type(loss).__name__, LOSSES)
        loss_obj = LOSSES[loss_name]() if isinstance(loss, str) else loss
        if loss_name == "cross_entropy" and self.n_outputs < 2:
            raise RnnlabError("cross_entropy needs at least 2 outputs per position but the last layer gives "
                              f"{self.n_outputs}; use loss='bce' for a single logit.")
        opt_name = optimizer if isinstance(optimizer, str) else _name_of(optimizer, OPTIMIZERS)
        if opt_name not in OPTIMIZERS:
            raise _unknown("optimizer", optimizer if isinstance(optimizer, str) else type(optimizer).__name__,
                           OPTIMIZERS)
        if isinstance(optimizer, str):
            optimizer = OPTIMIZERS[opt_name](lr=1e-3 if lr is None else lr)
        elif lr is not None:
            optimizer.lr = float(lr)
        if metrics is None or isinstance(metrics, str):
            metrics = [] if metrics is None else [metrics]
        metrics = [] if metrics is DEFAULT_METRICS and loss_name == "mse" else list(metrics)
        for m in metrics:
            if m not in METRICS:
                raise _unknown("metric", m, METRICS)
            if loss_name not in METRICS[m]:
                raise RnnlabError(f"metric {m!r} needs loss {' or '.join(METRICS[m])}, not {loss_name}.")
        self.loss, self.optimizer, self.metrics = loss_obj, optimizer, metrics
        self._compile_config = {"loss": loss_name, "ignore_index": getattr(loss_obj, "ignore_index", None),
                                "optimizer": opt_name, "lr": float(optimizer.lr), "metrics": metrics}
        return self

    # -- forward / backward ---------------------------------------------------------------------
    def forward(self, X, lengths=None) -> np.ndarray:
        """X (B, T) ids or (B, T, F) → network output (B, [T,] n_outputs), before predict_transform."""
        h = X
        for layer in self.layers:
            if isinstance(layer, (nn.RNNBase, nn.FeedbackRNN)):
                h, _ = layer.forward(h, lengths=lengths)
            elif isinstance(layer, MaskedPool):  # pools over each sequence's valid steps only
                h = layer.forward(h, lengths)
            else:
                h = layer.forward(h)
        return h

    def backward(self, d_out) -> None:
        """∂L/∂output → gradients of every layer (overwritten in ``grads``)."""
        d = d_out
        for layer in reversed(self.layers):
            d = layer.backward(d)
            if d is None:  # the embedding: ids have no gradient
                break

    def _mask(self, lengths, B, T):
        return arrays.step_mask(lengths, B, T) if self.per_step else None

    def train_step_loss(self, batch) -> float:
        X, y, lengths = batch
        out = self.forward(X, lengths)
        value = self.loss.forward(out, y, self._mask(lengths, *X.shape[:2]))
        self.backward(self.loss.backward())
        return value

    def evaluate_batch(self, batch) -> dict:
        """Summed loss and metrics over a batch's positions (sequences, or valid steps) and their count."""
        X, y, lengths = batch
        out = self.forward(X, lengths)
        mask = self._mask(lengths, *X.shape[:2])
        value = self.loss.forward(out, y, mask)
        lead = out.shape[:-1]
        keep = np.ones(lead, bool) if mask is None else mask
        if getattr(self.loss, "ignore_index", None) is not None:
            keep = keep & (y != self.loss.ignore_index)
        count = int(keep.sum())
        sums = {"loss": value * count, "count": count}
        if "accuracy" in self.metrics:
            if isinstance(self.loss, nn.CrossEntropyLoss):
                hit = out.argmax(-1) == y
            else:  # logit > 0 ⇔ probability > 0.5; per-position mean over the outputs
                hit = ((out > 0) == (y.reshape(out.shape) > 0.5)).mean(-1)
            sums["accuracy"] = float(hit[keep].sum())
        if "mae" in self.metrics:
            sums["mae"] = float(np.abs(out - y.reshape(out.shape)).mean(-1)[keep].sum())
        return sums

    # -- data -----------------------------------------------------------------------------------
    def _inputs(self, X, lengths, name="X"):
        vocab = self.layers[0].num_embeddings if self.ids_input else None
        X = arrays.check_sequences(X, ids=self.ids_input, n_features=self.n_inputs, vocab_size=vocab, name=name)
        if lengths is not None:
            lengths = arrays.check_lengths(lengths, X.shape[0], X.shape[1],
                                           name="lengths" if name == "X" else f"{name} lengths")
        elif self.padding_idx is not None:
            lengths = arrays.lengths_from_padding(X, self.padding_idx, name=name)
        return X, lengths

    def _targets(self, y, X, lengths, name="y"):
        cfg = self._compile_config
        return arrays.check_targets(y, N=X.shape[0], T=X.shape[1], per_step=self.per_step,
                                    n_outputs=self.n_outputs, loss=cfg["loss"], lengths=lengths,
                                    ignore_index=cfg["ignore_index"], name=name)

    def _batches(self, X, y, lengths, index_batches) -> arrays.Batches:
        return arrays.Batches(X, y, lengths, index_batches, per_step=self.per_step)

    def _require(self, what: str, fitted: bool = True) -> None:
        if self.loss is None:
            raise NotFittedError(f"Sequential.{what} needs a compiled model; call "
                                 "compile(loss=..., optimizer=...) first.")
        if fitted and not self._fitted:
            raise NotFittedError(f"This Sequential is not trained yet; call fit(X, y) before {what} "
                                 "(or rnnlab.models.load a saved model).")

    @staticmethod
    def _batch_size(batch_size) -> int:
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise RnnlabError(f"batch_size must be a positive integer, got {batch_size!r}.")
        return int(batch_size)

    # -- training -------------------------------------------------------------------------------
    def fit(self, X, y, epochs=10, batch_size=32, validation_data=None, validation_split=0.0, callbacks=(),
            lengths=None, shuffle=True, seed=0, clip_norm=5.0, progress=True, out_dir=None,
            bucket_by_length=False, augment=None, **fit_options):
        """Train on (X, y); returns the ``History`` (also kept as ``history_``).

        Parameters
        ----------
        X : array (N, T) of ids or (N, T, F)
        y : array
            (N,) class ids or (N, n_outputs) for a sequence-level output; (N, T) ids or
            (N, T, n_outputs) for a per-step output; a trailing axis of size 1 may be left out.
        validation_data : tuple (Xv, yv) or (Xv, yv, lengths_v), optional
        validation_split : float in [0, 1)
            Shuffle with ``seed`` and hold out the last fraction; not together with validation_data.
        lengths : int array (N,), optional
            Valid steps per right-padded sequence (derived from ``padding_idx`` when not given).
        bucket_by_length : bool
            Batch sequences of similar length together (needs lengths); faster on text.
        augment : callable, optional
            ``augment(Xb, lengths_b, rng)`` → a perturbed copy of each training batch (never of the
            validation data), e.g. ``rnnlab.tasks.augment.Augment``; ``rng`` is drawn from ``seed``.
        epochs, batch_size, callbacks, shuffle, seed, clip_norm, progress, out_dir
            As in ``rnnlab.models.training.fit``; ``seed`` fixes the split and the batch order.
        **fit_options
            Passed to ``rnnlab.models.training.fit``: ``checkpoint_dir``, ``resume``,
            ``checkpoint_minutes``, ``checkpoint_steps``, ``max_bad_steps``.
        """
        self._require("fit", fitted=False)
        batch_size = self._batch_size(batch_size)
        X, lengths = self._inputs(X, lengths)
        y = self._targets(y, X, lengths)
        arrays.warn_if_far_from_unit_scale(X, lengths)
        if bucket_by_length and lengths is None:
            raise RnnlabError("bucket_by_length needs variable lengths: pass lengths or use an Embedding "
                              "with padding_idx on right-padded ids.")
        split_rng, train_rng = np.random.default_rng(seed).spawn(2)
        valid = None
        if validation_data is not None and validation_split:
            raise RnnlabError("pass either validation_data or validation_split, not both.")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise RnnlabError("validation_data expected a tuple (X_val, y_val) or (X_val, y_val, "
                                  "lengths_val).")
            Xv, Lv = self._inputs(validation_data[0], validation_data[2] if len(validation_data) == 3
                                  else None, name="X_val")
            valid = (Xv, self._targets(validation_data[1], Xv, Lv, name="y_val"), Lv)
        elif validation_split:
            tr, va = arrays.split_validation(X.shape[0], validation_split, split_rng)
            valid = (X[va], y[va], None if lengths is None else lengths[va])
            X, y, lengths = X[tr], y[tr], None if lengths is None else lengths[tr]

        def train_batches(rng):
            index_batches = arrays.batch_indices(X.shape[0], batch_size, rng, shuffle=shuffle, lengths=lengths,
                                                 bucket=bucket_by_length)
            if augment:
                return arrays.AugmentedBatches(X, y, lengths, index_batches, augment, rng, per_step=self.per_step)
            return self._batches(X, y, lengths, index_batches)

        def valid_batches():
            Xv, yv, Lv = valid
            return self._batches(Xv, yv, Lv, arrays.batch_indices(Xv.shape[0], max(batch_size, 256),
                                                                  shuffle=False))

        self.history_ = training.fit(
            self, train_batches, epochs=epochs, optimizer=self.optimizer,
            valid_batches=valid_batches if valid else None, callbacks=callbacks, clip_norm=clip_norm,
            seed=train_rng, progress=progress, out_dir=out_dir, monitor="val_loss" if valid else "loss",
            **fit_options)
        self._fitted = True
        return self.history_

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._fitted = True  # weights from a file or a checkpoint count as trained

    # -- inference ------------------------------------------------------------------------------
    def predict(self, X, lengths=None, batch_size=256) -> np.ndarray:
        """Predictions (N, [T,] n_outputs): probabilities for bce/cross_entropy, raw values for mse.

        Per-step outputs are zero past each sequence's length.
        """
        self._require("predict")
        X, lengths = self._inputs(X, lengths)
        N, T = X.shape[:2]
        self.eval()
        outs = []
        for Xb, _, Lb in self._batches(X, None, lengths, arrays.batch_indices(
                N, self._batch_size(batch_size), shuffle=False)):
            p = self.loss.predict_transform(self.forward(Xb, Lb))
            if self.per_step:
                full = np.zeros((p.shape[0], T, p.shape[2]), p.dtype)
                full[:, :p.shape[1]] = p
                if Lb is not None:
                    full *= arrays.step_mask(Lb, p.shape[0], T)[:, :, None]
                p = full
            outs.append(p)
        return np.concatenate(outs)

    def predict_classes(self, X, lengths=None, batch_size=256) -> np.ndarray:
        """Class ids: argmax for cross_entropy, probability > 0.5 for bce (last axis dropped when 1)."""
        self._require("predict_classes")
        if isinstance(self.loss, nn.MSELoss):
            raise RnnlabError("predict_classes needs a classification loss (bce or cross_entropy); this "
                              "model is compiled with mse, use predict.")
        p = self.predict(X, lengths, batch_size)
        if isinstance(self.loss, nn.CrossEntropyLoss):
            return p.argmax(-1)
        cls = (p > 0.5).astype(np.int64)
        return cls[..., 0] if cls.shape[-1] == 1 else cls

    def evaluate(self, X, y, lengths=None, batch_size=256) -> dict:
        """Loss and metrics averaged over the sequences (or valid steps of a per-step output)."""
        self._require("evaluate")
        X, lengths = self._inputs(X, lengths)
        y = self._targets(y, X, lengths)
        self.eval()
        sums: dict = {}
        for batch in self._batches(X, y, lengths, arrays.batch_indices(
                X.shape[0], self._batch_size(batch_size), shuffle=False)):
            for k, v in self.evaluate_batch(batch).items():
                sums[k] = sums.get(k, 0.0) + v
        count = sums.pop("count")
        return {k: float(v / count) for k, v in sums.items()}

    # -- description and files ------------------------------------------------------------------
    def summary(self) -> str:
        """A table of layers, output shapes and parameter counts, with totals."""
        rows = [(str(i), layer_label(layer), "(" + ", ".join(map(str, shape)) + ")", f"{layer.num_parameters():,}")
                for i, (layer, shape) in enumerate(zip(self.layers, self._shapes))]
        head = ("#", "Layer", "Output shape", "Params")
        widths = [max(len(r[k]) for r in rows + [head]) for k in range(4)]
        fmt = lambda r: "  ".join(c.rjust(w) if k in (0, 3) else c.ljust(w)  # noqa: E731
                                  for k, (c, w) in enumerate(zip(r, widths)))
        rule = "-" * len(fmt(head))
        lines = ["Sequential", rule, fmt(head), rule, *map(fmt, rows), rule,
                 f"Total parameters: {self.num_parameters():,}"]
        if self._compile_config:
            c = self._compile_config
            lines.append(f"Loss: {c['loss']}, optimizer: {c['optimizer']} (lr={c['lr']:g}), "
                         f"metrics: {c['metrics'] or 'none'}")
        return "\n".join(lines)

    def get_config(self) -> dict:
        """JSON-able architecture (each layer's class and constructor arguments) and compile settings."""
        return {"layers": [layer_config(layer) for layer in self.layers], "compile": self._compile_config}

    @classmethod
    def from_config(cls, config: dict):
        layers = config.get("layers") if isinstance(config, dict) else None
        if not isinstance(layers, list):
            raise RnnlabError("a Sequential config needs a \"layers\" list.")
        model = cls([layer_from_config(c) for c in layers])
        comp = config.get("compile")
        if comp:
            loss = nn.CrossEntropyLoss(comp.get("ignore_index")) if comp["loss"] == "cross_entropy" \
                else comp["loss"]
            model.compile(loss=loss, optimizer=comp["optimizer"], lr=comp["lr"], metrics=comp["metrics"])
        return model
