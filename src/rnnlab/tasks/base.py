"""What every task shares: a config dataclass, a staging folder, and the metrics.json contract.

A task turns data into a trained model, held-out numbers and pictures, all in one output folder:

    DIR/config.json, weights.safetensors   the model (``rnnlab.models.load(DIR)``)
    DIR/metrics.json                       {"task", "data", "split": {"train", "valid", "test"},
                                            "test": {metric: value}, "baseline": {"name", "test"},
                                            "seconds", ...}
    DIR/history.csv, learning_curves.png   per-epoch training record
    DIR/<task picture>.png                 confusion matrix, forecast, sample text ...

Everything is written into a hidden staging folder beside DIR and moved into place only when the
run succeeded, so a failed or interrupted run never loses or half-writes what DIR held before.

While it trains, a run keeps checkpoints in ``DIR.checkpoints/`` (beside DIR): ``task.json`` (the
task and its options) and one checkpoint folder per trained network, written at the end of every
epoch and every few minutes. A killed run continues with ``rnnlab train --resume DIR``
(``resume_task``) and ends with the very weights of an uninterrupted run; the checkpoints are
deleted once DIR holds the finished run.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rnnlab.errors import RnnlabError, TrainingInterrupted
from rnnlab.models.io import replace_folder, write_json_atomic, write_model_files
from rnnlab.torch.distributed import is_distributed, is_main_process  # torchrun's environment, no torch import

METRIC_NAMES = ("accuracy", "nats_per_char", "per", "wer", "mase", "smape")
ENGINES = ("numpy", "torch")
CHECKPOINT_MINUTES = 5.0   # besides every epoch end: a long epoch loses at most this much work
TASK_FILE = "task.json"


@dataclass
class TaskConfig:
    """Options every task accepts; each task subclasses it with its own fields and defaults.

    The CLI builds its flags from these fields (``--hidden 128``), with the docstring's
    ``name: help`` lines as help text.

    data: your own data file or folder (default: the task's built-in dataset)
    test: held-out file (default: the format's sibling test file or the task's own split)
    out: output folder (default runs/<task>)
    seed: seed of every random choice
    cell: recurrent cell: lstm, gru, rnn (and feedback where the task supports it)
    hidden: hidden units per recurrent layer
    layers: stacked recurrent layers
    epochs: training epochs
    batch_size: sequences per batch
    lr: learning rate (Adam)
    limit: use only the first N training examples (quick runs)
    progress: show progress bars
    engine: numpy (rnnlab's own engine) or torch (PyTorch: GPUs, torchrun); both checkpoint for --resume
    device: where the torch engine trains: auto, cpu, cuda or cuda:N
    """

    data: str | None = None
    test: str | None = None
    out: str | None = None
    seed: int = 0
    cell: str = "lstm"
    hidden: int = 64
    layers: int = 1
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    limit: int | None = None
    progress: bool = True
    engine: str = "numpy"
    device: str = "auto"


@dataclass
class RegularisedConfig(TaskConfig):
    """Options of the recurrent layer against overfitting (docs/regularisation.md), shared by the
    tasks on small data; the same names as the layers' arguments.

    input_dropout: variational dropout on the recurrent layer's inputs (one mask per sequence)
    recurrent_dropout: variational dropout on h(t-1) inside the recurrence (one mask per sequence)
    zoneout: probability that a unit keeps its previous state at a training step
    layer_norm: layer-normalise the gate pre-activations (and the LSTM cell state)
    weight_decay: decoupled weight decay (AdamW) when > 0
    """

    input_dropout: float = 0.0
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0
    layer_norm: bool = False
    weight_decay: float = 0.0

    def recurrent_options(self) -> dict:
        """Keyword arguments of ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN``."""
        return {"input_dropout": self.input_dropout, "recurrent_dropout": self.recurrent_dropout,
                "zoneout": self.zoneout, "layer_norm": self.layer_norm}

    def optimizer(self):
        """AdamW with ``weight_decay`` when it is set, else plain Adam."""
        from rnnlab import nn

        return nn.AdamW(lr=self.lr, weight_decay=self.weight_decay) if self.weight_decay else "adam"

    def regularisation_problems(self) -> list[str]:
        out = [f"--{k.replace('_', '-')} must be in [0, 1), got {getattr(self, k)!r}"
               for k in ("input_dropout", "recurrent_dropout", "zoneout") if not 0 <= getattr(self, k) < 1]
        if not self.weight_decay >= 0:
            out.append(f"--weight-decay must be >= 0, got {self.weight_decay!r}")
        return out


def checkpoint_root(out) -> Path:
    """Where the run writing to ``out`` keeps its checkpoints: ``out.checkpoints`` beside it."""
    out = Path(out)
    return out.parent / f"{out.name}.checkpoints"


class RunDir:
    """The staging folder of one run; ``commit`` moves it to the output folder.

    ``fit_options(name)`` are the keyword arguments that make ``fit`` checkpoint network ``name``
    into ``DIR.checkpoints/name`` and continue from there when the run is resumed.
    """

    def __init__(self, out: Path):
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(dir=self.out.parent, prefix=f".{self.out.name}.staging"))
        self.checkpoints = checkpoint_root(self.out)

    def fit_options(self, name: str = "model") -> dict:
        # resume=True is safe on a fresh run: run_task refuses to start over stale checkpoints
        return {"checkpoint_dir": self.checkpoints / name, "resume": True,
                "checkpoint_minutes": CHECKPOINT_MINUTES, "on_interrupt": "raise"}

    def save_model(self, model) -> None:
        write_model_files(model, self.path)

    def write_json(self, name: str, obj) -> Path:
        write_json_atomic(self.path / name, obj)
        return self.path / name

    def file(self, name: str) -> Path:
        return self.path / name

    def commit(self) -> Path:
        replace_folder(self.path, self.out)
        return self.out

    def abandon(self) -> None:
        import shutil

        shutil.rmtree(self.path, ignore_errors=True)


class Task:
    """A named task: ``run(cfg, run_dir) -> metrics`` trains and evaluates; see the module docstring."""

    name = ""
    description = ""
    Config = TaskConfig
    default_data = ""  # what --data defaults to, for `rnnlab train --help` and the README

    def run(self, cfg, run_dir: RunDir) -> dict:
        raise NotImplementedError

    def check_model(self, model, path) -> None:
        """Before a saved model is used: what it stores beside its weights must fit them."""
        from rnnlab.tasks.model_checks import problems

        found = problems(self.name, model)
        if found:
            raise RnnlabError(f"{path} does not hold a usable {self.name} model: {'; '.join(found)}.")

    def predict(self, model, inputs: str) -> list[str]:
        """Lines to print for ``rnnlab predict DIR INPUT``."""
        raise RnnlabError(f"task {self.name!r} has no predict command.")


TASKS: dict[str, Task] = {}


def register_task(cls):
    TASKS[cls.name] = cls()
    return cls


def get_task(name: str) -> Task:
    from rnnlab import tasks  # noqa: F401  (imports every task module, which registers it)

    if name not in TASKS:
        import difflib

        near = difflib.get_close_matches(name, list(TASKS), n=1)
        hint = f"did you mean {near[0]!r}?" if near else f"choose one of {', '.join(sorted(TASKS))}."
        raise RnnlabError(f"unknown task {name!r}; {hint}")
    return TASKS[name]


def check_metrics(metrics: dict) -> dict:
    """The metrics.json contract; a task that breaks it is a bug, reported before anything is kept."""
    for key in ("task", "data", "split", "test", "baseline"):
        if key not in metrics:
            raise RuntimeError(f"task metrics lack {key!r}")
    bad = [k for k in list(metrics["test"]) + list(metrics["baseline"].get("test", {})) if k not in METRIC_NAMES]
    if bad:
        raise RuntimeError(f"unknown metric names {bad}; use {METRIC_NAMES}")
    return metrics


def run_task(name: str, cfg=None, *, resume: bool = False, **overrides) -> dict:
    """Run task ``name`` with ``cfg`` (or its defaults updated by ``overrides``); returns metrics.

    ``resume=True`` continues from the checkpoints of a killed run (see the module docstring);
    without it, a run refuses to start over another run's checkpoints rather than delete them.
    """
    task = get_task(name)
    if cfg is None:
        fields = {f.name for f in dataclasses.fields(task.Config)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise RnnlabError(f"task {name!r} has no option(s) {', '.join(unknown)}.")
        cfg = task.Config(**overrides)
    if cfg.engine not in ENGINES:
        raise RnnlabError(f"--engine must be one of {', '.join(ENGINES)}, got {cfg.engine!r}.")
    out = Path(cfg.out or f"runs/{name}")
    ckpt = checkpoint_root(out)
    checkpoints = not is_distributed()  # torchrun ranks train without, so they never race over this folder
    if checkpoints and ckpt.exists() and not resume:
        raise RnnlabError(f"{ckpt} holds the checkpoints of an unfinished run; continue it with "
                          f"`rnnlab train --resume {out}`, or delete that folder to start afresh.")
    if checkpoints and not resume:
        ckpt.mkdir(parents=True)
        write_json_atomic(ckpt / TASK_FILE, {"task": name, "config": dataclasses.asdict(cfg)})
    run_dir = RunDir(out)
    t0 = time.perf_counter()
    try:
        metrics = task.run(cfg, run_dir)
        metrics["seconds"] = round(time.perf_counter() - t0, 2)
        metrics.setdefault("config", dataclasses.asdict(cfg))
        run_dir.write_json("metrics.json", check_metrics(metrics))
        if is_main_process():
            run_dir.commit()
        else:  # a torchrun worker other than rank 0: rank 0 writes the one copy
            run_dir.abandon()
    except BaseException as e:
        run_dir.abandon()
        trained = checkpoints and any(p.is_dir() for p in ckpt.iterdir())
        if checkpoints and not trained:  # nothing trained yet: nothing to resume
            shutil.rmtree(ckpt, ignore_errors=True)
        if isinstance(e, (TrainingInterrupted, KeyboardInterrupt)) and trained:
            raise TrainingInterrupted(f"training interrupted; the checkpoints in {ckpt} keep it: continue "
                                      f"with `rnnlab train --resume {out}`.") from None
        raise
    if checkpoints:  # renamed first, so a kill mid-delete never leaves a half checkpoint that looks resumable
        trash = ckpt.with_name(f".{ckpt.name}.done")
        ckpt.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)
    return metrics


def resume_task(path) -> dict:
    """Continue the killed run that was writing to ``path`` (or whose ``.checkpoints`` folder it is)."""
    path = Path(path)
    ckpt = path if path.name.endswith(".checkpoints") else checkpoint_root(path)
    try:
        saved = json.loads((ckpt / TASK_FILE).read_text())
        name, config = saved["task"], saved["config"]
    except FileNotFoundError:
        raise RnnlabError(f"{path} has no unfinished run to resume (no {ckpt / TASK_FILE}); a finished run "
                          "deletes its checkpoints.") from None
    except (ValueError, KeyError, TypeError) as e:
        raise RnnlabError(f"{ckpt / TASK_FILE} is damaged ({e}); delete {ckpt} and start the run again.") from None
    task = get_task(name)
    fields = {f.name for f in dataclasses.fields(task.Config)}
    if not isinstance(config, dict) or set(config) - fields:
        raise RnnlabError(f"{ckpt / TASK_FILE} does not hold options of task {name!r}; delete {ckpt} and "
                          "start the run again.")
    return run_task(name, task.Config(**config), resume=True)

