"""``rnnlab train forecast`` end to end on tiny settings: files, metrics.json, reload, the forecast
command, a user's CSV, and bad input answered by one error line."""
import json

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.models import load
from rnnlab.tasks.forecast_hybrid import forecast

pytest.importorskip("statsmodels")

TINY = ["--epochs", "2", "--ensemble", "2", "--hidden", "4", "--no-progress"]
FILES = ("config.json", "weights.safetensors", "metrics.json", "history.csv", "learning_curves.png",
         "forecast.png", "forecast.csv")


def train(out, *args) -> int:
    return main(["train", "forecast", "--out", str(out), *TINY, *args])


@pytest.fixture(scope="module")
def sunspots_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fc") / "run"
    assert train(out) == 0
    return out, json.loads((out / "metrics.json").read_text())


def write_csv(path, values, dates=True) -> str:
    lines = ["year,value" if dates else "value"]
    lines += [f"{1900 + i},{v}" if dates else f"{v}" for i, v in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def sine(n=120):
    rng = np.random.default_rng(0)
    return 10 + np.sin(2 * np.pi * np.arange(n) / 12) + 0.1 * rng.normal(size=n)


def test_run_writes_every_file(sunspots_run):
    out, _ = sunspots_run
    assert [f for f in FILES if not (out / f).is_file()] == []


def test_metrics_follow_the_contract(sunspots_run):
    _, m = sunspots_run
    assert m["task"] == "forecast" and "sunspots" in m["data"]
    assert (m["split"]["train"], m["split"]["test"]) == (279, 30)
    assert (m["split"]["test_from"], m["split"]["test_to"]) == ("1979", "2008")
    assert set(m["test"]) == {"mase", "smape"} and all(np.isfinite(list(m["test"].values())))
    assert set(m["baselines"]) == {"seasonal naive (season 11)", "AR(9)"}
    assert m["baseline"]["name"] == min(m["baselines"], key=lambda k: m["baselines"][k]["mase"])
    assert m["baseline"]["test"] == m["baselines"][m["baseline"]["name"]]
    # the reference figure for this split, which also pins the season-11 MASE scale
    assert m["baselines"]["seasonal naive (season 11)"]["mase"] == pytest.approx(1.32, abs=0.005)
    assert m["seconds"] >= 0 and len(m["forecast"]) == 30


def test_default_combination_reports_the_networks_alone_beside_it(sunspots_run):
    from rnnlab.data.datasets import load_sunspots
    from rnnlab.metrics import mase

    out, m = sunspots_run
    model, d = load(out), load_sunspots()
    alone = model.forecast(30, history=d.values_train)     # the recurrent ensemble without the AR part
    assert m["parts"]["networks alone"]["mase"] == pytest.approx(mase(d.values_test, alone, d.values_train, 11))
    assert m["parts"]["networks alone"]["mase"] != pytest.approx(m["test"]["mase"])


def test_reloaded_model_gives_identical_forecasts(sunspots_run):
    out, m = sunspots_run
    from rnnlab.data.datasets import load_sunspots

    np.testing.assert_array_equal(forecast(load(out), 30, load_sunspots().values_train), m["forecast"])


def test_forecast_command_prints_horizon_lines_from_the_series_end(sunspots_run, capsys):
    from rnnlab.data.datasets import load_sunspots

    out, _ = sunspots_run
    assert main(["forecast", str(out), "--horizon", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split("\t")[0] for ln in lines] == ["1", "2", "3", "4", "5"]
    d = load_sunspots()
    expected = forecast(load(out), 5, np.concatenate([d.values_train, d.values_test]))   # ends in 2008
    np.testing.assert_allclose([float(ln.split("\t")[1]) for ln in lines], expected, rtol=1e-5)


@pytest.mark.parametrize("dates", [True, False], ids=["date-and-value", "value-only"])
def test_user_csv(tmp_path, dates):
    data = write_csv(tmp_path / "s.csv", sine(), dates)
    out = tmp_path / "run"
    assert train(out, "--data", data, "--horizon", "12", "--window", "12") == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["data"] == data and m["season"] == 1
    assert (m["split"]["train"], m["split"]["test"]) == (108, 12)
    assert m["split"]["test_from"] == ("2008" if dates else "1")
    assert set(m["baselines"]) == {"seasonal naive (season 1)", "AR(9)"}


def bad_inputs(tmp_path):
    return {
        "missing file": ["--data", str(tmp_path / "nope.csv")],
        "non-numeric column": ["--data", write_csv(tmp_path / "t.csv", ["a", "b"] * 40)],
        "NaN values": ["--data", write_csv(tmp_path / "n.csv", [*sine(60), "nan", *sine(20)])],
        "shorter than window + horizon": ["--data", write_csv(tmp_path / "s.csv", sine(40))],
        "unknown cell": ["--cell", "transformer"],
    }


@pytest.mark.parametrize("case", ["missing file", "non-numeric column", "NaN values",
                                  "shorter than window + horizon", "unknown cell"])
def test_bad_input_is_one_error_line_and_exit_2(tmp_path, capsys, case):
    assert train(tmp_path / "run", *bad_inputs(tmp_path)[case]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnlab: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_failed_run_keeps_the_previous_output(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, "--data", write_csv(tmp_path / "ok.csv", sine()), "--horizon", "12") == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert train(out, "--data", write_csv(tmp_path / "short.csv", sine(30))) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.csv", "run", "short.csv"]   # no staging left
