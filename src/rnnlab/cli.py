"""The ``rnnlab`` command line. Failures print one line, ``rnnlab: error: ...``, and exit non-zero
(2 for bad usage or configuration, 1 for a runtime failure); ``--debug`` shows the traceback."""
from __future__ import annotations

import argparse
import dataclasses
import sys

from rnnlab.errors import RnnlabError, TrainingInterrupted
from rnnlab.options import add_config_flags


def cmd_check(args) -> int:
    from rnnlab.nn import checks

    rows = checks.run_all(quick=not args.full, rng_seed=args.seed)
    print(checks.format_table(rows))
    failed = [r for r in rows if not r.passed]
    print(f"{len(rows) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_demo(args) -> int:
    from rnnlab.demo import run_demo

    return run_demo(steps=args.steps, seed=args.seed)


def cmd_train(args) -> int:
    from rnnlab.tasks import get_task, run_task
    from rnnlab.tasks.base import resume_task

    import signal

    def stop(signum, frame):  # outside fit's own handler (between networks), stop the same way as Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    if args.resume:
        if args.task:
            raise RnnlabError("--resume continues a run with the options it was started with; give only "
                              f"`rnnlab train --resume {args.resume}`.")
        metrics = resume_task(args.resume)
        args.task, out = metrics["task"], metrics["config"]["out"] or f"runs/{metrics['task']}"
    else:
        task = get_task(args.task)
        values = {f.name: getattr(args, f.name) for f in dataclasses.fields(task.Config)}
        metrics = run_task(args.task, task.Config(**values))
        out = values.get("out") or f"runs/{args.task}"
    # a hybrid's parts scored alone (forecast, eeg), so the summary never hides what the networks do
    test = _figures(metrics["test"]) + "".join(f" ({name}: {_figures(fig)})"
                                               for name, fig in metrics.get("parts", {}).items())
    base = metrics["baseline"]
    base_test = _figures(base.get("test", {}))
    from rnnlab.torch.distributed import is_main_process

    if not is_main_process():  # torchrun: every rank trained, rank 0 wrote and reports
        return 0
    print(f"{args.task}: test {test}; baseline {base.get('name')}: {base_test}; "
          f"{metrics['seconds']:.0f} s; written to {out}/")
    return 0


def _figures(scores: dict) -> str:
    """{"accuracy": 0.64} → "accuracy 0.64"."""
    return ", ".join(f"{k} {v:.4g}" for k, v in scores.items())


def _load_task_model(path):
    from rnnlab.models import load
    from rnnlab.tasks import get_task

    model = load(path)
    name = model.meta.get("task")
    if not name:
        raise RnnlabError(f"{path} holds a model that no task made; use it from Python with rnnlab.models.load.")
    if not isinstance(name, str):
        raise RnnlabError(f"{path}/config.json names a task that is not a string: {name!r:.60}.")
    task = get_task(name)
    task.check_model(model, path)
    return model, task


def cmd_evaluate(args) -> int:
    import json
    from pathlib import Path

    model, task = _load_task_model(args.dir)
    metrics_path = Path(args.dir) / "metrics.json"
    recorded = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    fresh = task.evaluate(model, recorded) if hasattr(task, "evaluate") else None
    print(json.dumps({"recorded": recorded.get("test"), "baseline": recorded.get("baseline"),
                      **({"parts": recorded["parts"]} if "parts" in recorded else {}), "re-evaluated": fresh},
                     indent=2))
    return 0


def cmd_predict(args) -> int:
    model, task = _load_task_model(args.dir)
    for line in task.predict(model, args.input):
        print(line)
    return 0


def cmd_generate(args) -> int:
    model, task = _load_task_model(args.dir)
    if not hasattr(task, "generate"):
        raise RnnlabError(f"task {task.name!r} does not generate text; try a chargen model.")
    print(task.generate(model, prompt=args.prompt, length=args.length, temperature=args.temperature,
                        top_k=args.top_k, seed=args.seed))
    return 0


def cmd_forecast(args) -> int:
    model, task = _load_task_model(args.dir)
    if not hasattr(task, "forecast"):
        raise RnnlabError(f"task {task.name!r} does not forecast; try a forecast model.")
    for line in task.forecast(model, horizon=args.horizon):
        print(line)
    return 0


def cmd_export(args) -> int:
    from rnnlab.torch.onnx_export import export_onnx

    print(f"wrote {export_onnx(args.dir, args.onnx)}")
    return 0


def _csv_list(text: str, kind=str) -> list:
    try:
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise RnnlabError(f"expected a comma-separated list of {kind.__name__} values, got {text!r}.") from None


def cmd_gradflow(args) -> int:
    from rnnlab.viz.gradient_flow import format_summary, run_gradflow

    res = run_gradflow(cells=_csv_list(args.cells), steps=args.steps, task=args.task, out=args.out,
                       seed=args.seed, train_steps=args.train_steps)
    print(format_summary(res["summary"]))
    print(f"written to {args.out}/ (gradflow.png, gradflow.csv)")
    return 0


def cmd_memory(args) -> int:
    from rnnlab.viz.memory import format_table, run_memory

    res = run_memory(cells=_csv_list(args.cells), lengths=_csv_list(args.lengths, int),
                     tasks=_csv_list(args.tasks), out=args.out, seed=args.seed, budget=args.budget,
                     progress=args.progress)
    print(format_table(res["rows"]))
    print(f"written to {args.out}/ (memory.png, memory.csv)")
    return 0


def cmd_inspect(args) -> int:
    from rnnlab.viz.recordings import run_inspect

    run_inspect(args.dir, args.input, out=args.out)
    print(f"written to {args.out}/")
    return 0


def cmd_datasets(args) -> int:
    from rnnlab.data.datasets import format_datasets_table

    print(format_datasets_table())
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``rnnlab: error: ...``) and exit status 2."""

    def error(self, message):
        self.exit(2, f"rnnlab: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rnnlab", description="Recurrent networks with every equation written by hand.")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("check", help="gradient checks and PyTorch parity of the installed engine")
    c.add_argument("--full", action="store_true", help="more shapes and options (slower)")
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=cmd_check)

    d = sub.add_parser("demo", help="long-term memory on the adding problem: RNN vs LSTM vs GRU")
    d.add_argument("--steps", type=int, default=50, help="sequence length of the adding problem")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("train", help="train a task on its built-in data or on yours (--data)")
    t.add_argument("--resume", metavar="DIR", help="continue the killed run that was writing to DIR")
    tsub = t.add_subparsers(dest="task", metavar="TASK")
    from rnnlab.tasks import TASKS

    for name, task in sorted(TASKS.items()):
        tp = tsub.add_parser(name, help=task.description, description=task.description)
        add_config_flags(tp, task.Config)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="show a trained task model's held-out figures")
    e.add_argument("dir")
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="run a trained task model on an input (text or file)")
    pr.add_argument("dir")
    pr.add_argument("input")
    pr.set_defaults(func=cmd_predict)

    g = sub.add_parser("generate", help="sample text from a trained chargen model")
    g.add_argument("dir")
    g.add_argument("--prompt", default="")
    g.add_argument("--length", type=int, default=300)
    g.add_argument("--temperature", type=float, default=0.8)
    g.add_argument("--top-k", dest="top_k", type=int, default=None)
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(func=cmd_generate)

    f = sub.add_parser("forecast", help="forecast the next steps with a trained forecast model")
    f.add_argument("dir")
    f.add_argument("--horizon", type=int, default=10)
    f.set_defaults(func=cmd_forecast)

    x = sub.add_parser("export", help="export a saved model to ONNX (LSTM/GRU/RNN operators, dynamic batch and length)")
    x.add_argument("dir")
    x.add_argument("--onnx", required=True, metavar="FILE", help="where to write the .onnx graph")
    x.set_defaults(func=cmd_export)

    gf = sub.add_parser("gradflow", help="norm of dLoss/dh_t over time per cell: vanishing gradients, measured")
    gf.add_argument("--cells", default="rnn,lstm,gru")
    gf.add_argument("--steps", type=int, default=100)
    gf.add_argument("--task", choices=["adding", "copy"], default="adding")
    gf.add_argument("--train-steps", dest="train_steps", type=int, default=600)
    gf.add_argument("--seed", type=int, default=0)
    gf.add_argument("--out", default="runs/gradflow")
    gf.set_defaults(func=cmd_gradflow)

    mm = sub.add_parser("memory", help="long-term dependency benchmark: error against sequence length per cell")
    mm.add_argument("--cells", default="rnn,lstm,gru,feedback")
    mm.add_argument("--lengths", default="10,20,40,80")
    mm.add_argument("--tasks", default="adding,copy")
    mm.add_argument("--budget", type=int, default=600, help="Adam steps per cell, task and length")
    mm.add_argument("--seed", type=int, default=0)
    mm.add_argument("--out", default="runs/memory")
    mm.add_argument("--progress", action="store_true")
    mm.set_defaults(func=cmd_memory)

    ins = sub.add_parser("inspect", help="hidden-state recordings, gates, PCA trajectory and saliency of a model")
    ins.add_argument("dir")
    ins.add_argument("input", help="text (or .txt, one per line) for text models; .npy or .ts for series models")
    ins.add_argument("--out", default="runs/inspect")
    ins.set_defaults(func=cmd_inspect)

    ds = sub.add_parser("datasets", help="list the datasets and word vectors, whether available, how to get them")
    ds.set_defaults(func=cmd_datasets)

    from rnnlab.gan.cli import add_gan_parser

    add_gan_parser(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None) or (args.command == "train" and not args.task and not args.resume):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TrainingInterrupted as e:
        print(f"rnnlab: {e}", file=sys.stderr)
        return 130
    except RnnlabError as e:
        if args.debug:
            raise
        print(f"rnnlab: error: {e}", file=sys.stderr)
        return 2
    except (OSError, MemoryError) as e:
        if args.debug:
            raise
        print(f"rnnlab: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, not bad input: still one line, with a way to see more
        if args.debug:
            raise
        print(f"rnnlab: error: unexpected {type(e).__name__}: {e} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
