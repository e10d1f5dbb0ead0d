"""Checkpoints that let a killed run continue as if nothing happened.

A checkpoint is a folder ``CKPT/last`` (and ``CKPT/best``, a plain model folder) holding:

* ``weights.safetensors`` and ``config.json``: the model, as ``rnnlab.models.save`` writes it;
* ``optimizer.safetensors``: the optimiser's moments and step counts;
* ``state.json``: epoch and batch position, the batch generator's state at the start of that
  epoch, every module's random generator (dropout masks), the learning rate, the history so far,
  the partial sums of the running epoch, and the callbacks' own state.

Each is written into a fresh folder that replaces the old one by rename only once everything is
fsynced, so a kill at any moment leaves the previous good checkpoint intact. No pickle: arrays
in safetensors, everything else in JSON.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.models.io import replace_folder, write_json_atomic, write_model_files

STATE, OPTIM, CARRY = "state.json", "optimizer.safetensors", "carried_state.safetensors"


def module_generators(model) -> dict[str, np.random.Generator]:
    """Every numpy Generator held by the model's modules (dropout masks draw from them)."""
    out = {}
    for name, mod in model.modules.items():
        for attr, value in vars(mod).items():
            if isinstance(value, np.random.Generator):
                out[f"{name}.{attr}"] = value
    return out


def _fsync_dir(path: Path) -> None:
    import os

    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(folder, model, optimizer, state: dict) -> None:
    """Write ``folder`` atomically (see the module docstring)."""
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.tmp"))
    try:
        write_model_files(model, tmp)
        opt = {k: np.array(v, order="C") for k, v in optimizer.state_dict().items()}  # keeps 0-d arrays 0-d
        save_file(opt, str(tmp / OPTIM))
        carried = model.carried_state() if hasattr(model, "carried_state") else {}
        if carried:  # a stream model part-way through a pass: its next chunk continues from here
            save_file({k: np.ascontiguousarray(v) for k, v in carried.items()}, str(tmp / CARRY))
        state = dict(state, generators={k: g.bit_generator.state for k, g in module_generators(model).items()})
        write_json_atomic(tmp / STATE, state)
        for f in tmp.iterdir():  # the model files are written without fsync; make all durable first
            with open(f, "rb+") as fh:
                import os

                os.fsync(fh.fileno())
        _fsync_dir(tmp)
        replace_folder(tmp, folder)
        _fsync_dir(folder.parent)
    except OSError as e:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise RnnlabError(f"could not write the checkpoint {folder}: {e.strerror or e}; "
                          "the previous checkpoint is kept.") from e


def load_checkpoint(folder, model, optimizer) -> dict:
    """Restore model weights, optimiser state and module generators from ``folder``; returns the state."""
    from safetensors.numpy import load_file

    from rnnlab.models.io import read_weights

    folder = Path(folder)
    try:
        state = json.loads((folder / STATE).read_text())
    except FileNotFoundError:
        raise RnnlabError(f"{folder} is not a checkpoint (no {STATE}); nothing to resume.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RnnlabError(f"{folder / STATE} is not valid JSON ({e}).") from None
    model.load_state_dict(read_weights(folder))
    try:
        optimizer.load_state_dict(load_file(str(folder / OPTIM)))
    except Exception as e:  # noqa: BLE001 - any damage to the file is one message
        raise RnnlabError(f"{folder / OPTIM} could not be restored ({e}).") from None
    if hasattr(model, "load_carried_state"):
        carry = folder / CARRY
        model.load_carried_state(load_file(str(carry)) if carry.is_file() else {})
    gens = module_generators(model)
    for name, st in state.get("generators", {}).items():
        if name in gens:
            gens[name].bit_generator.state = st
    return state
