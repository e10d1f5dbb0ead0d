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
"""
from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rnnlab.errors import RnnlabError
from rnnlab.models.io import replace_folder, write_json_atomic, write_model_files

METRIC_NAMES = ("accuracy", "nats_per_char", "per", "wer", "mase", "smape")


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

    @classmethod
    def field_help(cls) -> dict[str, str]:
        """``name: help`` lines from the docstrings of the class and its bases."""
        out = {}
        for klass in reversed(cls.__mro__):
            for line in (klass.__doc__ or "").splitlines():
                name, sep, text = line.strip().partition(": ")
                if sep and name.isidentifier():
                    out[name] = text
        return out


class RunDir:
    """The staging folder of one run; ``commit`` moves it to the output folder."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(dir=self.out.parent, prefix=f".{self.out.name}.staging"))

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


def run_task(name: str, cfg=None, **overrides) -> dict:
    """Run task ``name`` with ``cfg`` (or its defaults updated by ``overrides``); returns metrics."""
    task = get_task(name)
    if cfg is None:
        fields = {f.name for f in dataclasses.fields(task.Config)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise RnnlabError(f"task {name!r} has no option(s) {', '.join(unknown)}.")
        cfg = task.Config(**overrides)
    out = Path(cfg.out or f"runs/{name}")
    run_dir = RunDir(out)
    t0 = time.perf_counter()
    try:
        metrics = task.run(cfg, run_dir)
        metrics["seconds"] = round(time.perf_counter() - t0, 2)
        metrics.setdefault("config", dataclasses.asdict(cfg))
        run_dir.write_json("metrics.json", check_metrics(metrics))
        run_dir.commit()
    except BaseException:
        run_dir.abandon()
        raise
    return metrics
