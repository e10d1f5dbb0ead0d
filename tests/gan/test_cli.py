"""``rnnlab gan``: flags mirror GanConfig with the paper's defaults, one-line usage errors, a run prints its figures."""
import argparse
import dataclasses

import pytest

from rnnlab.gan.cli import add_gan_parser
from rnnlab.gan.config import GanConfig
from rnnlab.gan.oracle import save_oracle


class _Parser(argparse.ArgumentParser):
    """As rnnlab.cli's: a usage error is one line and exit status 2."""

    def error(self, message):
        self.exit(2, f"rnnlab: error: {message} (see `{self.prog} --help`)\n")


def _parser():
    p = _Parser(prog="rnnlab")
    add_gan_parser(p.add_subparsers(dest="command"))
    return p


def test_defaults_are_the_papers_synthetic_experiment():
    args = _parser().parse_args(["gan", "--oracle", "o.npz"])
    cfg = GanConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(GanConfig)})
    assert cfg == GanConfig(oracle="o.npz")
    assert (cfg.batch_size, cfg.rollouts, cfg.rollout_update_rate, cfg.pretrain_epochs, cfg.adversarial_steps,
            cfg.d_steps, cfg.d_epochs, cfg.seq_len, cfg.emb, cfg.hidden) == (64, 16, 0.8, 120, 200, 5, 3, 20, 32, 32)


def test_flags_set_the_config():
    args = _parser().parse_args(["gan", "--data", "d.txt", "--rollouts", "4", "--baseline", "mean", "--cell", "gru",
                                 "--no-progress", "--no-d-bidirectional", "--vocab-size", "7", "--lr", "0.001"])
    assert (args.data, args.rollouts, args.baseline, args.cell, args.progress, args.d_bidirectional,
            args.vocab_size, args.lr) == ("d.txt", 4, "mean", "gru", False, False, 7, 0.001)


def test_a_bad_choice_is_a_one_line_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        _parser().parse_args(["gan", "--baseline", "ema"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "invalid choice: 'ema'" in err


def test_command_runs_and_prints_the_figures(tiny_oracle, tmp_path, capsys):
    oracle = save_oracle(tiny_oracle, tmp_path / "o.npz")
    args = _parser().parse_args(["gan", "--oracle", str(oracle), "--out", str(tmp_path / "run"), "--seq-len", "4",
                                 "--num-samples", "64", "--batch-size", "16", "--emb", "4", "--hidden", "4",
                                 "--pretrain-epochs", "1", "--d-pretrain-rounds", "0", "--adversarial-steps", "1",
                                 "--rollouts", "2", "--d-steps", "1", "--d-epochs", "1", "--d-samples", "16",
                                 "--d-emb", "4", "--d-hidden", "4", "--eval-samples", "16", "--no-progress"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("gan: nll_oracle_random ") and "nll_oracle_mle" in out and (tmp_path / "run").is_dir()
