"""``rnnlab gan``: the sub-command, one flag per ``GanConfig`` field (``--pretrain-epochs 120``).

``rnnlab/cli.py`` calls ``add_gan_parser(subparsers)``; the parser class of ``subparsers`` (its
``_Parser``) turns usage errors into one line and exit status 2, and ``main`` does the same for
an ``RnnlabError`` raised by ``cmd_gan``.
"""
from __future__ import annotations

import argparse
import dataclasses

from rnnlab.gan.config import CHOICES, GanConfig
from rnnlab.options import add_config_flags

DESCRIPTION = ("SeqGAN (Yu et al. 2017): pretrain an LSTM/GRU generator by maximum likelihood, then train it "
               "as a policy against a recurrent discriminator, with Monte Carlo roll-out rewards. Defaults are "
               "the paper's synthetic experiment (hours on one CPU core; see docs/seqgan.md).")


def add_gan_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``gan`` to an ``add_subparsers()`` object; returns the new parser (``func=cmd_gan``)."""
    p = subparsers.add_parser("gan", help="SeqGAN: adversarial sequence generation (generator vs discriminator)",
                              description=DESCRIPTION)
    add_config_flags(p, GanConfig, choices=CHOICES, metavars={"data": "FILE", "oracle": "ORACLE", "out": "DIR"})
    p.set_defaults(func=cmd_gan)
    return p


def cmd_gan(args) -> int:
    from rnnlab.gan.run import run_gan

    cfg = GanConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(GanConfig)})
    m = run_gan(cfg)
    figures = [f"{k} {m[k]:.3f}" for k in ("nll_oracle_random", "nll_oracle_mle", "nll_oracle", "nll_test_mle",
                                           "nll_test", "d_accuracy") if k in m]
    print(f"gan: {', '.join(figures)}; {m['seconds']['total']:.0f} s; written to {cfg.out}/")
    return 0
