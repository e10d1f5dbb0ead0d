"""SeqGAN's synthetic experiment (Yu et al., AAAI 2017, Table 1) on the paper's own oracle, on one CPU core.

    python benchmarks/seqgan_oracle.py                       # the short schedule below (~21 min, 1 core)
    python benchmarks/seqgan_oracle.py --schedule paper      # the authors' schedule (many hours)
    python benchmarks/seqgan_oracle.py --set rollouts=8 --set adversarial_steps=50 --out runs/x

Runs ``rnnlab.gan.run_gan`` on ``shared/data/seqgan_oracle.npz`` and prints NLL_oracle (the oracle's
nats per token on 10,000 sequences sampled from each generator) next to the paper's figures, with
rows the paper does not have: the oracle's own samples (the floor) and two controls. (1) The same
adversarial updates of the MLE generator with every reward 0.5, i.e. without a discriminator (and
without roll-outs, which would all score 0.5). (2) The MLE generator sampled at temperatures below
1. Both lower NLL_oracle too: sharper distributions trade diversity for quality, which NLL_oracle
does not see (Caccia et al. 2020, "Language GANs falling short"), so a SeqGAN figure is best read
next to those rows.

The short schedule keeps the paper's model sizes, data, batch size, 16 roll-outs, roll-out
update rate 0.8 and learning rate, and cuts what one core cannot afford: 30 MLE epochs instead of
120 (NLL_oracle has flattened by then), 10 discriminator pretraining rounds of 5,000 + 5,000
sequences and 1 epoch instead of 50 rounds of 10,000 + 10,000 and 3 epochs, 100 adversarial
batches instead of 200, each followed by 1 discriminator round of 1 epoch instead of 5 rounds of 3.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _common import parse_value  # noqa: E402

ORACLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "seqgan_oracle.npz"
SHORT = dict(pretrain_epochs=30, d_pretrain_rounds=10, adversarial_steps=100, d_steps=1, d_epochs=1,
             d_samples=5000, eval_every=10, eval_samples=2000)
PAPER = {"random": 10.310, "MLE": 9.038, "scheduled sampling": 8.985, "PG-BLEU": 8.946, "SeqGAN": 8.736}
TEMPERATURES = (0.9, 0.8)


def temperature_control(out: Path, metrics: dict, seed: int) -> dict:
    """NLL_oracle of the saved MLE generator's samples at each temperature below 1."""
    from rnnlab.gan import generate, load_oracle, nll
    from rnnlab.models import load

    oracle, g = load_oracle(metrics["config"]["oracle"]), load(out / "generator_mle")
    n, T = metrics["config"]["num_samples"], metrics["seq_len"]
    return {tau: nll(oracle, generate(g, n, T, np.random.default_rng(seed), temperature=tau))
            for tau in TEMPERATURES}


def constant_reward_control(out: Path, metrics: dict, seed: int) -> float:
    """NLL_oracle after the adversarial schedule's generator updates with every reward Q = 0.5."""
    from rnnlab import nn
    from rnnlab.gan import generate, load_oracle, nll, policy_gradient_loss
    from rnnlab.models import load
    from rnnlab.nn.optim import clip_grad_norm

    cfg, T = metrics["config"], metrics["seq_len"]
    oracle, g = load_oracle(cfg["oracle"]), load(out / "generator_mle")
    rng, opt = np.random.default_rng(seed), nn.Adam(cfg["lr"])
    for _ in range(cfg["adversarial_steps"]):
        y = generate(g, cfg["batch_size"], T, rng)
        g.train()
        policy_gradient_loss(g, y, np.full(y.shape, 0.5))
        clip_grad_norm(g.grads, 5.0)
        opt.step(g.params, g.grads)
        g.eval()
    return nll(oracle, generate(g, cfg["num_samples"], T, rng))


def table(m: dict, control: dict, constant: float) -> str:
    rows = [("random (untrained generator)", m["nll_oracle_random"], PAPER["random"]),
            ("MLE", m["nll_oracle_mle"], PAPER["MLE"]),
            ("scheduled sampling", None, PAPER["scheduled sampling"]),
            ("PG-BLEU", None, PAPER["PG-BLEU"]),
            ("SeqGAN", m["nll_oracle"], PAPER["SeqGAN"])]
    rows.append(("SeqGAN's updates with every reward 0.5 (control)", constant, None))
    rows += [(f"MLE sampled at temperature {tau} (control)", v, None) for tau, v in control.items()]
    rows.append(("the oracle's own samples (floor)", m["nll_oracle_real"], None))
    fmt = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
    lines = ["| generator | NLL_oracle, here | NLL_oracle, paper (Table 1) |", "|---|---:|---:|"]
    lines += [f"| {name} | {fmt(here)} | {fmt(paper)} |" for name, here, paper in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--oracle", default=str(ORACLE))
    p.add_argument("--out", default="runs/seqgan_oracle")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--schedule", choices=["short", "paper"], default="short")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="any GanConfig field")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from rnnlab.gan import GanConfig, run_gan

    threadpool_limits(1)
    overrides = dict(SHORT if args.schedule == "short" else {})
    for item in args.set:
        name, _, value = item.partition("=")
        overrides[name] = parse_value(value)
    cfg = GanConfig(oracle=args.oracle, out=args.out, seed=args.seed, progress=args.progress, **overrides)
    t0 = time.perf_counter()
    m = run_gan(cfg)
    control = temperature_control(Path(args.out), m, args.seed)
    constant = constant_reward_control(Path(args.out), m, args.seed)
    wall = time.perf_counter() - t0
    print(table(m, control, constant))
    s = m["seconds"]
    print(f"\nschedule {args.schedule} {overrides}; seed {args.seed}; held-out discriminator accuracy "
          f"{m['d_accuracy']:.3f}")
    rest = wall - s["data"] - s["pretrain"] - s["adversarial"]
    print(f"wall time {wall / 60:.1f} min (data {s['data']:.0f} s, MLE {s['pretrain']:.0f} s, adversarial "
          f"{s['adversarial']:.0f} s, evaluation and controls {rest:.0f} s); written to {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
