"""Callbacks on scripted validation curves: early stopping, learning-rate schedules, loggers."""
import csv
import math

import numpy as np
import pytest

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.models.callbacks import (CosineLR, CSVLogger, EarlyStopping, LambdaCallback, ReduceLROnPlateau,
                                     StepLR)
from rnnlab.models.training import fit

TARGET = [3.0, -4.0]


def _run(model, callbacks, epochs, lr=0.1, validation=True):
    return fit(model, lambda rng: [1.0, 1.0], epochs=epochs, optimizer=nn.SGD(lr=lr), progress=False,
               valid_batches=(lambda: [None]) if validation else None, callbacks=callbacks)


# -- EarlyStopping --------------------------------------------------------------------------------
def test_early_stopping_stops_after_patience_epochs_without_improvement(quadratic):
    es = EarlyStopping(patience=3)
    h = _run(quadratic(TARGET, val_script=[3, 2, 1, 1.5, 1.6, 1.7, 0.5, 0.4]), [es], epochs=8)
    assert len(h) == 6 and es.stopped_epoch == 6
    assert es.best_epoch == 3 and es.best == 1


@pytest.mark.parametrize("restore", [True, False], ids=["restore", "keep_last"])
def test_early_stopping_restores_the_best_weights(quadratic, restore):
    weights = {}
    record = LambdaCallback(on_epoch_end=lambda t: weights.__setitem__(t.history[-1]["epoch"],
                                                                       t.model.params["q.w"].copy()))
    model = quadratic(TARGET, val_script=[3, 1, 2, 2, 2])
    _run(model, [record, EarlyStopping(patience=2, restore_best_weights=restore)], epochs=5)
    assert not np.array_equal(weights[2], weights[4])
    np.testing.assert_array_equal(model.params["q.w"], weights[2] if restore else weights[4])


def test_early_stopping_restores_even_when_epochs_run_out(quadratic):
    model = quadratic(TARGET, val_script=[2, 1, 3])
    weights = []
    record = LambdaCallback(on_epoch_end=lambda t: weights.append(t.model.params["q.w"].copy()))
    _run(model, [record, EarlyStopping(patience=5)], epochs=3)
    np.testing.assert_array_equal(model.params["q.w"], weights[1])


def test_early_stopping_mode_max_and_min_delta(quadratic):
    model = quadratic(TARGET)
    acc = iter([0.5, 0.6, 0.605, 0.61, 0.9])
    model.evaluate_batch = lambda b: {"loss": 1.0, "accuracy": next(acc), "count": 1}
    es = EarlyStopping(monitor="val_accuracy", mode="max", patience=2, min_delta=0.05)
    h = _run(model, [es], epochs=5)
    assert len(h) == 4 and es.best_epoch == 2   # +0.005 and +0.01 are below min_delta


def test_early_stopping_on_val_loss_without_validation_fails_before_training(quadratic):
    model = quadratic(TARGET)
    with pytest.raises(RnnlabError, match="no validation data"):
        _run(model, [EarlyStopping()], epochs=2, validation=False)
    assert model.calls == 0


def test_early_stopping_on_an_unknown_key_names_the_known_ones(quadratic):
    with pytest.raises(RnnlabError, match="monitors 'val_f1'.*val_loss"):
        _run(quadratic(TARGET), [EarlyStopping(monitor="val_f1")], epochs=2)


def test_nan_monitor_value_is_not_an_improvement(quadratic):
    es = EarlyStopping(patience=2)
    h = _run(quadratic(TARGET, val_script=[1.0, math.nan, math.nan, 0.5]), [es], epochs=4)
    assert len(h) == 3 and es.best_epoch == 1


def test_early_stopping_reports_every_bad_argument():
    with pytest.raises(RnnlabError, match="mode must be.*patience must be.*min_delta"):
        EarlyStopping(mode="lowest", patience=0, min_delta=-1)


# -- schedules ------------------------------------------------------------------------------------
def test_step_lr_multiplies_by_gamma_every_step_size_epochs(quadratic):
    h = _run(quadratic(TARGET), [StepLR(step_size=2, gamma=0.5)], epochs=5, lr=0.8)
    assert h[:, "lr"] == pytest.approx([0.8, 0.8, 0.4, 0.4, 0.2])


def test_step_lr_sets_the_optimizer_rate_before_each_epoch(quadratic):
    opt, seen = nn.SGD(lr=1.0), []
    probe = LambdaCallback(on_batch_end=lambda t: seen.append(t.optimizer.lr))
    fit(quadratic(TARGET), lambda rng: [1.0], epochs=3, optimizer=opt, callbacks=[StepLR(1, 0.1), probe],
        progress=False)
    assert seen == pytest.approx([1.0, 0.1, 0.01]) and opt.lr == pytest.approx(0.01)


def test_cosine_lr_follows_the_closed_form_and_stays_at_eta_min(quadratic):
    h = _run(quadratic(TARGET), [CosineLR(T_max=4, eta_min=0.01)], epochs=6, lr=1.0)
    want = [0.01 + 0.99 * (1 + math.cos(math.pi * min(e, 4) / 4)) / 2 for e in range(6)]
    assert h[:, "lr"] == pytest.approx(want)
    assert h[-1, "lr"] == pytest.approx(0.01)


def test_reduce_on_plateau_halves_after_patience_flat_epochs(quadratic):
    opt = nn.SGD(lr=1.0)
    script = [1.0, 1.1, 1.2, 0.5, 0.6, 0.7, 0.8, 0.9]   # flat after epoch 1 and after epoch 4
    fit(quadratic(TARGET, val_script=script), lambda rng: [1.0], epochs=8, optimizer=opt, progress=False,
        valid_batches=lambda: [None], callbacks=[ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.2)])
    # drops at the end of epochs 3 (→0.5) and 6 (→0.25), then floors at min_lr after epoch 8
    assert opt.lr == pytest.approx(0.2)


def test_reduce_on_plateau_lr_column_shows_the_drop(quadratic):
    script = [1.0, 1.0, 1.0, 1.0, 1.0]
    h = _run(quadratic(TARGET, val_script=script), [ReduceLROnPlateau(factor=0.1, patience=2)],
             epochs=5, lr=1.0)
    assert h[:, "lr"] == pytest.approx([1.0, 1.0, 1.0, 0.1, 0.1])


@pytest.mark.parametrize("make, match", [
    (lambda: StepLR(0), "step_size"),
    (lambda: StepLR(2, gamma=0), "gamma"),
    (lambda: CosineLR(0), "T_max"),
    (lambda: ReduceLROnPlateau(factor=1.5), "factor"),
    (lambda: LambdaCallback(on_epoch_ending=print), "unknown hooks"),
    (lambda: LambdaCallback(on_epoch_end=3), "callables"),
], ids=["step_size", "gamma", "t_max", "factor", "unknown_hook", "not_callable"])
def test_bad_callback_arguments(make, match):
    with pytest.raises(RnnlabError, match=match):
        make()


# -- loggers --------------------------------------------------------------------------------------
def test_csv_logger_rewrites_the_file_every_epoch(quadratic, tmp_path):
    path = tmp_path / "log.csv"
    lines = []
    probe = LambdaCallback(on_epoch_end=lambda t: lines.append(path.read_text().count("\n")))
    _run(quadratic(TARGET), [CSVLogger(path), probe], epochs=3)
    assert lines == [2, 3, 4]
    with open(path, newline="") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1", "2", "3"]
