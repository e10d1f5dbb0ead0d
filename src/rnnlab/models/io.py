"""A trained model is one folder: ``config.json`` (architecture, preprocessing), ``weights.safetensors``
and optionally ``metrics.json``. Loading never executes code: no pickle anywhere.

Writes are atomic: files go to a temporary sibling folder that replaces the target only once
everything is on disk, so a failed save leaves the previous model intact.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from rnnlab.errors import RnnlabError

FORMAT, VERSION = "rnnlab-model", 1
CONFIG, WEIGHTS, METRICS = "config.json", "weights.safetensors", "metrics.json"


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


def write_text_atomic(path, text: str) -> None:
    """Temporary sibling, fsync, rename: a reader sees the old file or the new one, never half."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path, obj) -> None:
    """Write JSON atomically (see ``write_text_atomic``)."""
    write_text_atomic(path, json.dumps(obj, indent=2, default=_json_default))


def write_model_files(model, folder) -> None:
    """Write config.json and weights.safetensors of ``model`` into an existing ``folder``."""
    from safetensors.numpy import save_file

    folder = Path(folder)
    header = {"format": FORMAT, "version": VERSION, "kind": model.kind,
              "config": model.get_config(), "meta": model.meta}
    write_json_atomic(folder / CONFIG, header)
    weights = {k: np.ascontiguousarray(v) for k, v in model.state_dict().items()}
    save_file(weights, str(folder / WEIGHTS), metadata={"format": FORMAT})


def replace_folder(new, path) -> None:
    """Move the finished folder ``new`` to ``path``; an existing ``path`` is swapped out, then removed."""
    new, path = Path(new), Path(path)
    if path.exists():
        old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old"))
        os.replace(path, old / "m")
        os.replace(new, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, path)


def save(model, path, metrics: dict | None = None) -> Path:
    """Save ``model`` to the folder ``path`` (created or replaced as a whole)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp"))
    try:
        write_model_files(model, tmp)
        if metrics is not None:
            write_json_atomic(tmp / METRICS, metrics)
        replace_folder(tmp, path)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RnnlabError(f"could not save the model to {path}: {e.strerror or e}.") from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _inside(folder: Path, name: str) -> Path:
    """``folder/name``, refused when a link takes it outside the folder (a model never reads elsewhere)."""
    target = folder / name
    if target.is_symlink() or target.exists():
        real, root = target.resolve(), folder.resolve()
        if root not in real.parents:
            raise RnnlabError(f"{target} points outside the model folder (to {real}); refusing to read it.")
    return target


def read_header(path) -> dict:
    path = Path(path)
    if not path.is_dir():
        raise RnnlabError(f"{path} is not a model folder (expected a folder with {CONFIG} and {WEIGHTS}).")
    cfg = _inside(path, CONFIG)
    try:
        header = json.loads(cfg.read_text())
    except FileNotFoundError:
        raise RnnlabError(f"{path} has no {CONFIG}; it is not an rnnlab model folder.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RnnlabError(f"{cfg} is not valid JSON ({e}).") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RnnlabError(f"{cfg} is not an rnnlab model config (missing \"format\": \"{FORMAT}\").")
    if header.get("version") != VERSION:
        raise RnnlabError(f"{cfg} has format version {header.get('version')!r}; this rnnlab reads {VERSION}.")
    return header


def read_weights(path) -> dict:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    wpath = _inside(Path(path), WEIGHTS)
    if not wpath.is_file():
        raise RnnlabError(f"{path} has no {WEIGHTS}.")
    try:
        weights = load_file(str(wpath))
    except (SafetensorError, OSError, ValueError) as e:
        raise RnnlabError(f"{wpath} is not a readable safetensors file ({e}).") from None
    not_float = sorted(k for k, v in weights.items() if v.dtype.kind != "f")
    if not_float:
        raise RnnlabError(f"{wpath} holds non-float arrays ({', '.join(not_float[:5])}); model weights are floats.")
    broken = sorted(k for k, v in weights.items() if not np.isfinite(v).all())
    if broken:
        raise RnnlabError(f"{wpath} holds NaN or infinite weights in {', '.join(broken[:5])}; the file is "
                          "damaged or came from a diverged run.")
    return weights


def load(path):
    """Rebuild the model saved in ``path``; its predictions equal the saved model's bit for bit."""
    from rnnlab.models.base import REGISTRY

    header = read_header(path)
    kind = header.get("kind")
    if kind not in REGISTRY:
        _import_known_models()
    if kind not in REGISTRY:
        raise RnnlabError(f"{path}: unknown model kind {kind!r}; known kinds: {sorted(REGISTRY)}.")
    try:
        model = REGISTRY[kind].from_config(header.get("config") or {})
    except (TypeError, KeyError, ValueError) as e:
        raise RnnlabError(f"{path}/{CONFIG} does not describe a valid {kind} model ({e}).") from None
    meta = header.get("meta") or {}
    if not isinstance(meta, dict):
        raise RnnlabError(f"{path}/{CONFIG} has a \"meta\" entry that is not a JSON object.")
    model.meta = meta
    weights = read_weights(path)
    model.load_state_dict(weights)
    if hasattr(model, "check_meta"):  # what travels beside the weights (a vocabulary) must fit them
        model.check_meta(path)
    model.eval()
    return model


def _import_known_models() -> None:
    """Import the modules that register model kinds (kept lazy so ``rnnlab.nn`` stays light)."""
    import importlib

    for name in ("rnnlab.models.sequential", "rnnlab.models.seq2seq", "rnnlab.models.language",
                 "rnnlab.models.forecast"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
