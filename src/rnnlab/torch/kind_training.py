"""``torch_train``: a ``LanguageModel``, ``Seq2Seq`` or ``Forecaster`` trained by PyTorch through rnnlab's loop.

    history = torch_train(lm, lm.batches(ids, 32, 64), epochs=5, valid_batches=valid, device="auto")
    lm.sample(200)          # the trained weights are back in the NumPy model

It is ``rnnlab.models.training.fit`` with the step done by torch: the same ``train_batches(rng)``
sources (``StreamBatches`` and ``LMBatch.reset``, ``Seq2Seq.batches``, or a task's own), the same
epoch rows, ``monitor`` and ``out_dir`` files, and the same ``Trainer`` hooks, so ``EarlyStopping``,
the schedules and task callbacks work unchanged. The loss is the NumPy model's: mean nats per kept
target position. One step, as ``TorchTrainer`` runs it::

    loss = Σ_kept -log p(y | ·) / n_kept;  loss.backward();  on_grad_computed(trainer)
    norm = clip_grad_norm_(params, clip_norm); optimizer.step()   # skipped when loss or norm is not finite

Callbacks see ``trainer.model``, a ``TorchKindModel``: ``state_dict``/``load_state_dict``, ``params``,
``grads``, ``meta`` and ``greedy_decode`` (torch) as the NumPy model has them; any other public
attribute (``beam_search``, ``sample``, ``evaluate``) is the NumPy model's, after the current torch
weights are copied into it. Checkpoints and ``resume`` are ``fit``'s (the torch optimiser's state
included); not here: data-parallel (DDP) training.
"""
from __future__ import annotations


import numpy as np

from rnnlab import nn as rnn_nn
from rnnlab.errors import RnnlabError
from rnnlab.models.history import History
from rnnlab.models.training import _check_args, run_training
from rnnlab.torch import distributed as ddp
from rnnlab.torch.device import autocast, resolve_device
from rnnlab.torch.kinds import kind_class
from rnnlab.torch.optional import require_torch
from rnnlab.torch.training import TorchModel, TorchOptimizer, TorchTrainer

torch = require_torch()

# the optimiser each kind's own ``fit`` defaults to
DEFAULT_LR = {"language_model": 2e-3, "seq2seq": 1e-3, "forecaster": 3e-3}


class TorchKindModel(TorchModel):
    """A ``TorchLanguageModel``/``TorchSeq2Seq`` seen through the ``Model`` interface of ``Trainer``.

    ``net`` is the torch module, ``model`` the NumPy model it was made from (its weights are only
    updated by ``synced()`` and at the end of ``torch_train``).
    """

    def __init__(self, net, model, device, bf16: bool = False):
        self.net, self.model, self.device, self.bf16 = net, model, device, bf16
        self.step_net, self.metrics = net, ["accuracy"]

    # what rnnlab.models.save reads, so fit's out_dir writes model folders from the torch weights
    @property
    def kind(self) -> str:
        return self.model.kind

    @property
    def meta(self) -> dict:
        return self.model.meta

    def get_config(self) -> dict:
        return self.model.get_config()

    def train_step_loss_sums(self, batch):
        """(Σ loss over the batch's kept positions, their count), tensors; the sum carries the graph."""
        with autocast(self.device, self.bf16):
            return self.net.loss_sums(batch)

    def evaluate_batch(self, batch) -> dict:
        with autocast(self.device, self.bf16):
            return self.net.evaluate_batch(batch)

    def carried_state(self) -> dict:
        """The torch net's carried stream state (checkpoints keep it); empty for kinds without one."""
        return self.net.carried_state() if hasattr(self.net, "carried_state") else {}

    def load_carried_state(self, arrays: dict) -> None:
        if hasattr(self.net, "load_carried_state"):
            self.net.load_carried_state(arrays)

    def synced(self):
        """The NumPy model holding the current torch weights."""
        self.model.load_state_dict(self.state_dict())
        return self.model

    def greedy_decode(self, *args, **kwargs):
        """``Seq2Seq.greedy_decode`` run by torch (on the training device)."""
        if not hasattr(self.net, "greedy_decode"):
            raise RnnlabError(f"a {type(self.model).__name__} has no greedy_decode; it belongs to Seq2Seq.")
        return self.net.greedy_decode(*args, **kwargs)

    def __getattr__(self, name):
        # only reached for names this adapter lacks: callbacks that read model methods get the
        # NumPy model's, with weights that are those being trained
        if name.startswith("_") or name in ("net", "model"):
            raise AttributeError(name)
        return getattr(self.synced(), name)


def torch_train(model, train_batches, *, epochs, optimizer=None, valid_batches=None, callbacks=(), clip_norm=5.0,
                seed=0, progress=True, device="auto", monitor="val_loss", out_dir=None, max_bad_steps=20,
                bf16=False, checkpoint_dir=None, resume=False, checkpoint_minutes=None, checkpoint_steps=None,
                on_interrupt="return") -> History:
    """Train ``model`` (a ``LanguageModel``, ``Seq2Seq`` or ``Forecaster``) with torch; its weights are updated in place.

    Parameters are those of ``rnnlab.models.training.fit`` (checkpoints included), plus:

    optimizer : rnnlab.nn optimiser, optional
        Its ``torch.optim`` twin does the steps (Adam, AdamW, SGD, RMSprop); by default
        ``nn.Adam(2e-3)`` for a LanguageModel and ``nn.Adam(1e-3)`` for a Seq2Seq, as their ``fit``.
        Its ``lr`` is set to the final rate at the end, as the NumPy loop leaves it.
    device : {"auto", "cpu", "cuda"} or "cuda:N"
    bf16 : bool, default False
        bf16 autocast on CUDA (weights, optimiser state and the loss stay float32).

    ``seed`` seeds the generator handed to ``train_batches`` (the same batches as ``fit`` with that
    seed) and torch's dropout masks. Returns the ``History``.
    """
    twin = kind_class(model)
    if twin is None:
        raise RnnlabError(f"torch_train trains a LanguageModel, Seq2Seq or Forecaster but got "
                          f"{type(model).__name__}; train a compiled Sequential with rnnlab.torch.torch_fit.")
    if ddp.is_distributed():  # every process would train its own copy on all the data
        raise RnnlabError(f"torch_train runs in one process but torchrun started {ddp.world_size()}; train a "
                          f"{type(model).__name__} with a single process (data-parallel training covers Sequential).")
    optimizer = optimizer if optimizer is not None else rnn_nn.Adam(DEFAULT_LR[model.kind])
    dev = resolve_device(device)
    autocast(dev, bf16)  # fail before training when bf16 cannot run here
    if isinstance(seed, (int, np.integer)):
        torch.manual_seed(int(seed))
    net = twin.from_rnnlab(model, dev).train()
    tmodel = TorchKindModel(net, model, dev, bf16)
    topt = TorchOptimizer(optimizer, net.parameters())
    callbacks = _check_args(tmodel, train_batches, epochs, topt, valid_batches, callbacks, clip_norm, monitor)
    trainer = TorchTrainer(tmodel, topt, callbacks, clip_norm, int(epochs), valid_batches is not None)
    trainer.max_bad_steps = max_bad_steps
    try:
        # fit's own loop: one definition of epochs, rows, the monitor, checkpoints and resumption
        history = run_training(trainer, train_batches, valid_batches, seed=seed, progress=progress,
                               out_dir=out_dir, monitor=monitor, checkpoint_dir=checkpoint_dir, resume=resume,
                               checkpoint_minutes=checkpoint_minutes, checkpoint_steps=checkpoint_steps,
                               on_interrupt=on_interrupt)
    finally:  # also after an error or Ctrl-C: the NumPy model holds the weights trained so far
        model.load_state_dict(tmodel.state_dict())
        optimizer.lr = topt.lr
        if hasattr(model, "reset_states"):
            model.reset_states()  # the NumPy model's carried state belongs to no stream any more
        model.eval()
    return history
