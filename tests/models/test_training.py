"""The generic training loop on a quadratic whose gradient and optimum are known exactly."""
import json
import warnings

import numpy as np
import pytest

from rnnlab import nn
from rnnlab.errors import RnnlabError
from rnnlab.models.callbacks import Callback, LambdaCallback
from rnnlab.models.training import fit

TARGET = [3.0, -4.0]  # ‖target‖ = 5


def _w(model):
    return model.params["q.w"].copy()


def test_sgd_reaches_the_optimum_and_logs_each_epoch(quadratic, batches_of_ones):
    model = quadratic(TARGET)
    h = fit(model, batches_of_ones(4), epochs=5, optimizer=nn.SGD(lr=0.5), progress=False)
    np.testing.assert_allclose(_w(model), TARGET, atol=1e-5)          # (1/2)^20 of the way left
    assert h[:, "epoch"] == [1, 2, 3, 4, 5]
    assert all(a > b for a, b in zip(h[:, "loss"], h[1:, "loss"]))
    assert {"loss", "lr", "seconds", "skipped_steps", "grad_norm", "loss_best"} <= set(h[-1])
    assert h[:, "skipped_steps"] == [0] * 5 and h[-1, "lr"] == 0.5


def test_clipping_bounds_the_step_and_none_disables_it(quadratic, batches_of_ones):
    clipped, raw = quadratic(TARGET), quadratic(TARGET)
    fit(clipped, batches_of_ones(1), epochs=1, optimizer=nn.SGD(lr=1.0), clip_norm=1.0, progress=False)
    fit(raw, batches_of_ones(1), epochs=1, optimizer=nn.SGD(lr=1.0), clip_norm=None, progress=False)
    # the first gradient is -target with norm 5: one unit-length step, or the whole way
    assert np.linalg.norm(_w(clipped)) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(_w(raw), TARGET)


def test_on_grad_computed_sees_the_raw_gradient_before_clipping(quadratic, batches_of_ones):
    seen = []
    cb = LambdaCallback(on_grad_computed=lambda t: seen.append(np.linalg.norm(t.model.grads["q.w"])))
    fit(quadratic(TARGET), batches_of_ones(1), epochs=1, optimizer=nn.SGD(lr=0.1), clip_norm=1.0,
        callbacks=[cb], progress=False)
    assert seen == [pytest.approx(5.0)]


@pytest.mark.parametrize("clip_norm", [5.0, None], ids=["clipped", "unclipped"])
@pytest.mark.parametrize("fault", ["nan_steps", "inf_grad_steps"])
def test_non_finite_steps_are_skipped_and_leave_weights_and_state_untouched(quadratic, batches_of_ones,
                                                                           fault, clip_norm):
    model = quadratic(TARGET, **{fault: {1, 2}})
    opt = nn.Adam(lr=0.1)
    snapshots = []
    cb = LambdaCallback(on_batch_end=lambda t: snapshots.append((_w(t.model), opt.state_dict(),
                                                                 t.batch_skipped)))
    with pytest.warns(RuntimeWarning, match="skipped 2 step"):
        h = fit(model, batches_of_ones(4), epochs=1, optimizer=opt, clip_norm=clip_norm, callbacks=[cb],
                progress=False)
    assert [s[2] for s in snapshots] == [False, True, True, False]
    for before, after in ((snapshots[0], snapshots[1]), (snapshots[1], snapshots[2])):
        np.testing.assert_array_equal(before[0], after[0])
        assert before[1].keys() == after[1].keys()
        assert all(np.array_equal(before[1][k], after[1][k]) for k in before[1])
    assert h[-1, "skipped_steps"] == 2 and np.isfinite(h[-1, "loss"]) and opt.steps == 2


def test_validation_metrics_are_averaged_by_count(quadratic):
    model = quadratic(TARGET)
    model.evaluate_batch = lambda b: {"loss": b[0], "accuracy": b[1], "count": b[2]}
    h = fit(model, lambda rng: [1.0], epochs=1, optimizer=nn.SGD(lr=0.1), progress=False,
            valid_batches=lambda: [(6.0, 3.0, 3), (2.0, 1.0, 1)])
    assert h[-1, "val_loss"] == pytest.approx(2.0) and h[-1, "val_accuracy"] == pytest.approx(1.0)
    assert "val_count" not in h[-1]


def test_same_seed_gives_the_same_batches_and_weights(quadratic):
    def batches(rng):  # scales drawn from the rng: the trajectory depends on the seed only
        return list(rng.uniform(0.5, 1.5, size=3))

    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        m = quadratic(TARGET)
        fit(m, batches, epochs=2, optimizer=nn.Adam(lr=0.1), seed=seed, progress=False)
        runs[name] = _w(m)
    np.testing.assert_array_equal(runs["a"], runs["b"])
    assert not np.array_equal(runs["a"], runs["c"])


def test_hooks_run_in_the_documented_order(quadratic, batches_of_ones):
    calls = []
    hooks = {h: (lambda name: lambda t: calls.append(name))(h) for h in LambdaCallback.HOOKS}
    fit(quadratic(TARGET), batches_of_ones(2), epochs=2, optimizer=nn.SGD(lr=0.1),
        callbacks=[LambdaCallback(**hooks)], progress=False)
    epoch = ["on_epoch_begin"] + ["on_grad_computed", "on_batch_end"] * 2 + ["on_epoch_end"]
    assert calls == ["on_train_begin"] + epoch * 2 + ["on_train_end"]


def test_stop_flag_ends_training_after_the_epoch(quadratic, batches_of_ones):
    class StopAtTwo(Callback):
        def on_epoch_end(self, trainer):
            trainer.stop = trainer.epoch == 1

    h = fit(quadratic(TARGET), batches_of_ones(3), epochs=10, optimizer=nn.SGD(lr=0.1),
            callbacks=[StopAtTwo()], progress=False)
    assert len(h) == 2


def test_trainer_counts_steps_and_epochs(quadratic, batches_of_ones):
    seen = []
    cb = LambdaCallback(on_epoch_end=lambda t: seen.append((t.epoch, t.step, t.epochs)))
    fit(quadratic(TARGET), batches_of_ones(3), epochs=2, optimizer=nn.SGD(lr=0.1), callbacks=[cb],
        progress=False)
    assert seen == [(0, 3, 2), (1, 6, 2)]


def test_out_dir_gets_history_files_and_the_best_model(quadratic, tmp_path):
    model = quadratic(TARGET, val_script=[3.0, 1.0, 2.0])
    h = fit(model, lambda rng: [1.0], epochs=3, optimizer=nn.SGD(lr=0.1), progress=False,
            valid_batches=lambda: [None], out_dir=tmp_path / "run")
    assert h[:, "val_loss_best"] == [True, True, False]
    assert json.loads((tmp_path / "run" / "history.json").read_text()) == list(h)
    assert (tmp_path / "run" / "history.csv").read_text().count("\n") == 4
    assert json.loads((tmp_path / "run" / "best" / "metrics.json").read_text())["epoch"] == 2


def test_monitor_falls_back_to_loss_without_validation(quadratic, batches_of_ones):
    h = fit(quadratic(TARGET), batches_of_ones(1), epochs=2, optimizer=nn.SGD(lr=0.1), progress=False)
    assert h[:, "loss_best"] == [True, True]


def test_bad_arguments_are_reported_together_before_training(quadratic):
    model = quadratic(TARGET)
    with pytest.raises(RnnlabError) as e:
        fit(model, lambda rng: [1.0], epochs=0, optimizer=nn.SGD(lr=0.1), clip_norm=-1,
            callbacks=[object()], progress=False)
    msg = str(e.value)
    assert "epochs must be a positive integer" in msg and "clip_norm" in msg and "Callback" in msg
    assert model.calls == 0


def test_an_epoch_without_batches_is_an_error(quadratic):
    with pytest.raises(RnnlabError, match="yielded no batch"):
        fit(quadratic(TARGET), lambda rng: [], epochs=1, optimizer=nn.SGD(lr=0.1), progress=False)


def test_progress_false_prints_nothing(quadratic, batches_of_ones, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(quadratic(TARGET), batches_of_ones(2), epochs=1, optimizer=nn.SGD(lr=0.1), progress=False)
    assert capsys.readouterr() == ("", "")
