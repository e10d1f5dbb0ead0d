"""With and without each regularisation option, on the small-data tasks: held-out accuracy over seeds.

    python benchmarks/regularisation_table.py eeg          # 5 seeds per row, about 5 minutes
    python benchmarks/regularisation_table.py sentiment    # about 30 minutes
    python benchmarks/regularisation_table.py eeg --seeds 2 --rows defaults,zoneout

Each row is the task's defaults plus one option (or the combination named), run with seeds
0 .. N-1 by ``task_seeds.seed_spread``; it prints the mean, spread and range of the test accuracy,
and the mean validation accuracy where the task records one (sentiment). The test column is
reported, never used to choose: a default changes only on validation evidence (the validation
column here, or ``tune_series_tasks.py`` cross-validation on the training part for the series tasks).
"""
from __future__ import annotations

import argparse

from task_seeds import seed_spread

# one row per option against the defaults; eeg's defaults average 10 networks, which a layer norm
# cannot be merged across, so its layer-norm row is compared with the single network as well
# options under every row of a task: eeg's rows measure the networks alone, not the default hybrid
# with logistic regression (which no option here touches)
COMMON = {"eeg": {"hybrid": "none"}, "sentiment": {}}
ROWS = {
    "eeg": {
        "defaults": {},
        "input-dropout 0.2": {"input_dropout": 0.2},
        "recurrent-dropout 0.2": {"recurrent_dropout": 0.2},
        "zoneout 0.1": {"zoneout": 0.1},
        "no weight decay": {"weight_decay": 0.0},
        "one network": {"ensemble": 1},
        "one network + layer-norm": {"ensemble": 1, "layer_norm": True},
        "recurrent-dropout 0.2 + zoneout 0.1": {"recurrent_dropout": 0.2, "zoneout": 0.1},
    },
    "sentiment": {
        "defaults": {},
        "input-dropout 0.2": {"input_dropout": 0.2},
        "recurrent-dropout 0.2": {"recurrent_dropout": 0.2},
        "zoneout 0.1": {"zoneout": 0.1},
        "layer-norm": {"layer_norm": True},
        "weight-decay 0.01": {"weight_decay": 0.01},
        "recurrent-dropout 0.2 + zoneout 0.1": {"recurrent_dropout": 0.2, "zoneout": 0.1},
    },
}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task", choices=sorted(ROWS))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--rows", default="", help="comma-separated row names (default: all)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    rows = ROWS[args.task]
    names = [n.strip() for n in args.rows.split(",") if n.strip()] or list(rows)
    unknown = [n for n in names if n not in rows]
    if unknown:
        p.error(f"unknown rows {unknown}; choose from {list(rows)}")
    table = []
    for name in names:
        s = seed_spread(args.task, COMMON[args.task] | rows[name], args.seeds, args.threads, quiet=True)
        table.append((name, s))
        print(f"{name}: {s['summary']}", flush=True)
    print(f"\n| {args.task}: option | test accuracy, mean ± std ({args.seeds} seeds) | range | validation |")
    print("|---|---|---|---|")
    for name, s in table:
        valid = f"{s['valid_mean']:.3f}" if s["valid_mean"] is not None else "-"
        print(f"| {name} | {s['mean']:.3f} ± {s['std']:.3f} | {s['min']:.3f}-{s['max']:.3f} | {valid} |")


if __name__ == "__main__":
    main()
