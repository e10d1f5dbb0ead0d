"""Run a task with its defaults over several seeds and print the spread of its held-out figures.

    python benchmarks/task_seeds.py eeg                 # seeds 0-4
    python benchmarks/task_seeds.py motion --seeds 10
    python benchmarks/task_seeds.py eeg --set ensemble=1   # the spread of a single network

The seed moves every random choice of a run (validation split, initial weights, batch order,
ensemble members); the data split stays the task's own. Runs go to a temporary folder, so
runs/TASK is never touched.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import parse_value


def seed_spread(task: str, overrides: dict, seeds: int, threads: int = 1, quiet: bool = False) -> dict:
    """Run ``task`` with ``overrides`` for seeds 0 .. seeds-1: test figures, their spread, mean validation."""
    from threadpoolctl import threadpool_limits

    from rnnlab.tasks import run_task

    threadpool_limits(threads)
    values, valid = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            t0 = time.perf_counter()
            m = run_task(task, seed=seed, out=str(Path(tmp) / f"seed{seed}"), progress=False, **overrides)
            (metric, value), = list(m["test"].items())[:1]
            values.append(value)
            if metric in m.get("valid", {}):
                valid.append(m["valid"][metric])
            if not quiet:
                base = m["baseline"]["test"].get(metric)
                parts = "".join(f", {name} {fig[metric]:.3f}" for name, fig in m.get("parts", {}).items())
                print(f"seed {seed}: test {metric} {value:.3f}  (baseline {m['baseline']['name']}: {base:.3f}"
                      f"{parts}, {m.get('epochs_run', '?')} epochs, {time.perf_counter() - t0:.0f} s)", flush=True)
    v = np.array(values)
    out = {"metric": metric, "values": values, "mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1
           else 0.0, "min": float(v.min()), "max": float(v.max()),
           "valid_mean": float(np.mean(valid)) if valid else None}
    out["summary"] = (f"{metric} mean {out['mean']:.3f}, std {out['std']:.3f}, min {out['min']:.3f}, "
                      f"max {out['max']:.3f} over {len(v)} seeds")
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task")
    p.add_argument("--seeds", type=int, default=5, help="run seeds 0 .. N-1")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a default")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (the machine is shared)")
    args = p.parse_args(argv)
    overrides = {k.replace("-", "_"): parse_value(v) for k, _, v in (s.partition("=") for s in args.set)}
    result = seed_spread(args.task, overrides, args.seeds, args.threads)
    print(f"{args.task} {overrides or 'defaults'}: {result['summary']}")


if __name__ == "__main__":
    main()
