"""Choose a series task's defaults by cross-validation on its TRAINING part; the test split is never read.

Each candidate (the task's defaults updated by a few options) runs the task's exact recipe
(``rnnlab.tasks.classify.train_classifier``: pooling, scaling, inner validation split and early
stopping) on K-1 stratified folds of the training data and is scored on the K-th fold.

    python benchmarks/tune_series_tasks.py eeg                     # the recorded grid for eeg
    python benchmarks/tune_series_tasks.py motion --seeds 3
    python benchmarks/tune_series_tasks.py digits --folds 3      # slower: minutes per candidate
    python benchmarks/tune_series_tasks.py eeg --set hidden=32 --set pool=2   # one ad-hoc candidate
    python benchmarks/tune_series_tasks.py eeg --seeds 5 --set hybrid=none    # one candidate, 5 seeds

Prints one line per candidate: accuracy (mean over folds) averaged over seeds, with its min-max over
seeds and each seed's figure; mean fold log-loss, epochs run, seconds. A ``--hybrid combine``
candidate gets two more lines, its halves scored alone on the same folds: the network, and the
logistic regression (the task's baseline, fitted on the fold's training part).
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
from _common import parse_value

# The neighbourhood of each task's defaults that chose them; each line is {option: value} on top
# of the defaults (so {} is the defaults themselves). How the defaults were reached is in the docstring
# of each task's config.
GRIDS = {
    "digits": [
        {},
        {"ensemble": 1},
        {"ensemble": 1, "hidden": 64},
        {"ensemble": 1, "dropout": 0.2},
        {"ensemble": 1, "lr": 1e-3},
        {"ensemble": 1, "cell": "lstm"},
        {"ensemble": 1, "cell": "lstm", "bidirectional": False},   # the defaults before tuning
        {"ensemble": 1, "cell": "lstm", "bidirectional": False, "readout": "meanmax"},
    ],
    "motion": [
        {},
        {"ensemble": 1},
        {"bidirectional": False},
        {"pool": 1},
        {"pool": 10},
        {"hidden": 16},
        {"hidden": 64},
        {"cell": "gru"},
        {"readout": "meanmax"},
    ],
    "eeg": [
        {},
        {"ensemble": 1},
        {"cell": "lstm"},
        {"cell": "rnn"},
        {"hidden": 8},
        {"hidden": 32},
        {"pool": 5},
        {"readout": "mean"},
        {"bidirectional": True},
        {"input_dropout": 0.2},
        {"weight_decay": 0.0},
        {"weight_decay": 3.0},
        {"weight_decay": 10.0},
        # issue #9: stronger low-pass, other readouts/sizes, augmentation, bagging, no early stopping
        {"pool": 25},
        {"pool": 50},
        {"hidden": 4},
        {"projection": 4},
        {"ensemble": 30},
        {"noise": 0.5},
        {"noise": 1.0},
        {"channel_drop": 0.2},
        {"scale_jitter": 0.3},
        {"bootstrap": True},
        {"valid_fraction": 0.0, "epochs": 10},
        {"valid_fraction": 0.0, "epochs": 15},
        {"valid_fraction": 0.0, "epochs": 20},
        {"valid_fraction": 0.0, "epochs": 15, "noise": 0.5},
        {"valid_fraction": 0.0, "epochs": 15, "channel_drop": 0.2},
        {"valid_fraction": 0.0, "epochs": 15, "bootstrap": True},
        {"valid_fraction": 0.0, "epochs": 15, "hidden": 8},
        {"valid_fraction": 0.0, "epochs": 15, "weight_decay": 3.0},
        {"valid_fraction": 0.0, "epochs": 15, "ensemble": 30},
    ],
}


def training_part(task: str, seed: int = 0):
    """X, y, labels of the task's built-in TRAINING data only."""
    from rnnlab.data import datasets

    d = {"digits": lambda: datasets.load_digits_rows(seed), "motion": datasets.load_basic_motions,
         "eeg": datasets.load_finger_movements}[task]()
    return d.X_train, d.y_train, d.labels


def cross_validate(cfg, X, y, labels, folds: int, seed: int = 0) -> dict:
    from rnnlab.tasks.classify import predict_proba, train_classifier

    rng = np.random.default_rng(1000 + seed)
    order = {c: rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)}
    fold_of = np.empty(len(y), np.int64)
    for idx in order.values():
        fold_of[idx] = np.arange(len(idx)) % folds
    folds_scores, epochs = {}, []
    for k in range(folds):
        fit_idx, held = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
        model, history, _, _ = train_classifier(cfg, X[fit_idx], y[fit_idx], labels)
        for part in ("model", "network", "linear") if "linear" in model.meta else ("model",):
            p = predict_proba(model, X[held], part=part)
            acc = float((p.argmax(1) == y[held]).mean())
            loss = float(-np.log(np.clip(p[np.arange(len(held)), y[held]], 1e-7, 1)).mean())
            folds_scores.setdefault(part, []).append((acc, loss))
        epochs.append(len(history))
    # {part: {"acc", "loss"}} as means over folds; part "model" is the candidate itself
    return {part: dict(zip(("acc", "loss"), np.mean(s, axis=0).tolist())) for part, s in folds_scores.items()} | {
        "epochs": float(np.mean(epochs))}


def main(argv=None) -> None:
    from rnnlab.tasks import get_task

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task", choices=sorted(GRIDS))
    p.add_argument("--folds", type=int, default=4)
    p.add_argument("--seeds", type=int, default=1, help="repeat the CV with seeds 0..N-1 (models and folds)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="run one candidate: the defaults with these options (repeatable)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (the machine is shared)")
    args = p.parse_args(argv)
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    task = get_task(args.task)
    X, y, labels = training_part(args.task)
    grid = [dict(parse_value_pair(s) for s in args.set)] if args.set else GRIDS[args.task]
    base = task.Config(progress=False)
    print(f"{args.task}: {len(y)} training series, {args.folds}-fold CV x {args.seeds} seeds; defaults "
          f"{ {k: v for k, v in dataclasses.asdict(base).items() if v is not None} }", flush=True)
    for overrides in grid:
        t0 = time.perf_counter()
        runs = [cross_validate(dataclasses.replace(base, seed=seed, **overrides), X, y, labels, args.folds, seed)
                for seed in range(args.seeds)]
        names = {"model": str(overrides or "defaults"), "network": "  its network alone",
                 "linear": "  its logistic regression alone"}
        for part in (p for p in names if p in runs[0]):
            acc = [r[part]["acc"] for r in runs]
            per_seed = " ".join(f"{a:.3f}" for a in acc)
            print(f"{names[part]:<32} cv acc {np.mean(acc):.3f} ({min(acc):.3f}-{max(acc):.3f} over seeds: {per_seed})"
                  f"  log-loss {np.mean([r[part]['loss'] for r in runs]):.3f}" + (
                      f"  epochs {np.mean([r['epochs'] for r in runs]):.0f}  {time.perf_counter() - t0:.0f} s"
                      if part == "model" else ""), flush=True)


def parse_value_pair(text: str):
    key, _, value = text.partition("=")
    return key.replace("-", "_"), parse_value(value)


if __name__ == "__main__":
    main()
