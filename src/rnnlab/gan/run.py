"""``run_gan``: a whole SeqGAN experiment, from the real data to a finished output folder.

    DIR/generator/               the adversarially trained generator (``rnnlab.models.load``)
    DIR/generator_mle/           the generator after MLE pretraining, before adversarial training
    DIR/discriminator/           the discriminator (a ``Sequential``)
    DIR/samples.txt              num_samples generated sequences, ids separated by spaces
    DIR/learning_curves.png      NLL over pretraining and adversarial training; the game's curves
    DIR/history.json             {"pretrain": [per epoch], "adversarial": [per batch]}
    DIR/metrics.json             nll_oracle, nll_oracle_mle, nll_oracle_random (with an oracle),
                                 nll_test*, d_accuracy, seconds, config

NLL_oracle is the oracle's mean negative log-likelihood per token of sequences sampled from the
generator (the paper's measure); nll_test is the generator's on held-out real sequences. The folder
is written in a staging folder beside DIR and moved into place only when everything succeeded.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
from tqdm.auto import tqdm

from rnnlab.errors import RnnlabError
from rnnlab.gan import discriminator as disc
from rnnlab.gan.config import GanConfig
from rnnlab.gan.data import RealData, file_data, oracle_data
from rnnlab.gan.generator import make_generator, nll, pretrain
from rnnlab.gan.plots import learning_curves
from rnnlab.gan.sampling import generate
from rnnlab.gan.seqgan import SeqGAN
from rnnlab.gan.sequences import write_sequences
from rnnlab.models.callbacks import LambdaCallback
from rnnlab.models.io import write_model_files


class Scorer:
    """The figures of a generator: NLL_oracle of its samples and its NLL on held-out real sequences."""

    def __init__(self, data: RealData, seq_len: int, rng: np.random.Generator):
        self.data, self.seq_len, self.rng = data, seq_len, rng

    def __call__(self, generator, n_samples: int, samples=None) -> dict:
        out = {}
        if self.data.oracle is not None:
            if samples is None:
                samples = generate(generator, n_samples, self.seq_len, self.rng)
            out["nll_oracle"] = nll(self.data.oracle, samples)
        if len(self.data.valid):
            out["nll_test"] = nll(generator, self.data.valid)
        return out


def _config(cfg, overrides) -> GanConfig:
    if cfg is None:
        fields = {f.name for f in dataclasses.fields(GanConfig)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise RnnlabError(f"run_gan has no option(s) {', '.join(unknown)}; see GanConfig.")
        cfg = GanConfig(**overrides)
    elif overrides:
        cfg = dataclasses.replace(cfg, **overrides)
    return cfg.validate()


def load_data(cfg: GanConfig, rng) -> RealData:
    if cfg.oracle is not None:
        return oracle_data(cfg.oracle, cfg.num_samples, cfg.seq_len, cfg.valid_fraction, rng, cfg.vocab_size)
    return file_data(cfg.data, cfg.seq_len, cfg.valid_fraction, rng, cfg.batch_size, cfg.vocab_size)


def _bar(total, desc, cfg):
    return tqdm(total=total, desc=desc, unit="step", disable=None if cfg.progress else True, dynamic_ncols=True)


def _pretrain(cfg, g, data, score, seed):
    """MLE epochs with the curve every ``eval_every`` epochs; the per-epoch rows."""
    with _bar(cfg.pretrain_epochs, "MLE pretraining", cfg) as bar:
        def on_epoch_end(trainer):
            if trainer.epoch % cfg.eval_every == cfg.eval_every - 1 or trainer.epoch == cfg.pretrain_epochs - 1:
                trainer.history[-1].update(score(g, cfg.eval_samples))
            bar.update()

        if cfg.pretrain_epochs == 0:
            return []
        history = pretrain(g, data.train, epochs=cfg.pretrain_epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                           valid=data.valid if len(data.valid) else None, seed=seed,
                           callbacks=[LambdaCallback(on_epoch_end=on_epoch_end)])
    return [dict(r) for r in history]


def _adversarial(cfg, gan, g, data, score):
    rows = []
    with _bar(cfg.d_pretrain_rounds, "discriminator pretraining", cfg) as bar:
        for _ in range(cfg.d_pretrain_rounds):
            gan.discriminator_round(data.train)
            bar.update()
    with _bar(cfg.adversarial_steps, "adversarial training", cfg) as bar:
        for s in range(cfg.adversarial_steps):
            row = {"step": s + 1, **gan.step(data.train)}
            if s % cfg.eval_every == cfg.eval_every - 1 or s == cfg.adversarial_steps - 1:
                row.update(score(g, cfg.eval_samples))
            rows.append(row)
            bar.set_postfix(reward=f"{row['reward']:.3f}", refresh=False)
            bar.update()
    return rows


def _save_model(model, folder) -> None:
    folder.mkdir()
    write_model_files(model, folder)


def run_gan(cfg: GanConfig | None = None, **overrides) -> dict:
    """Run SeqGAN as ``cfg`` (a ``GanConfig``, or its fields as keywords) says; returns metrics.json's dict.

    Examples
    --------
    >>> metrics = run_gan(oracle="seqgan_oracle.npz", out="runs/gan", pretrain_epochs=50)  # doctest: +SKIP
    >>> metrics["nll_oracle"] < metrics["nll_oracle_mle"]                                   # doctest: +SKIP
    """
    from rnnlab.tasks.base import RunDir

    cfg = _config(cfg, overrides)
    t0 = time.perf_counter()
    data_rng, model_rng, eval_rng, sample_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(4))
    data = load_data(cfg, data_rng)
    seeds = model_rng.integers(2**31, size=4).tolist()
    seconds = {"data": time.perf_counter() - t0}
    score = Scorer(data, cfg.seq_len, eval_rng)
    run_dir = RunDir(cfg.out)
    try:
        g = make_generator(data.vocab_size, cfg.emb, cfg.hidden, cfg.cell, seed=seeds[0])
        d = disc.make_discriminator(data.vocab_size, cfg.d_emb, cfg.d_hidden, cfg.d_cell, cfg.d_bidirectional,
                                    cfg.d_dropout, cfg.d_lr, seed=seeds[1])
        metrics = _prefixed(score(g, cfg.num_samples), "random")
        t = time.perf_counter()
        pre_rows = _pretrain(cfg, g, data, score, seeds[2])
        seconds["pretrain"] = time.perf_counter() - t
        metrics.update(_prefixed(score(g, cfg.num_samples), "mle"))
        _save_model(g, run_dir.path / "generator_mle")
        gan = SeqGAN(g, d, cfg.seq_len, rollouts=cfg.rollouts, d_steps=cfg.d_steps, d_epochs=cfg.d_epochs,
                     d_samples=cfg.d_samples, rollout_update_rate=cfg.rollout_update_rate, baseline=cfg.baseline,
                     batch_size=cfg.batch_size, lr=cfg.lr, seed=seeds[3])
        t = time.perf_counter()
        adv_rows = _adversarial(cfg, gan, g, data, score)
        seconds["adversarial"] = time.perf_counter() - t
        samples = generate(g, cfg.num_samples, cfg.seq_len, sample_rng)
        metrics.update(score(g, cfg.num_samples, samples=samples))
        real = data.valid if len(data.valid) else data.train
        metrics["d_accuracy"] = disc.accuracy(d, real, generate(g, len(real), cfg.seq_len, sample_rng))
        if data.oracle is not None:  # the oracle's own held-out sequences: the floor NLL_oracle can reach
            metrics["nll_oracle_real"] = nll(data.oracle, real)
        _save_model(g, run_dir.path / "generator")
        _save_model(d, run_dir.path / "discriminator")
        write_sequences(run_dir.file("samples.txt"), samples)
        run_dir.write_json("history.json", {"pretrain": pre_rows, "adversarial": adv_rows})
        learning_curves(pre_rows, adv_rows, run_dir.file("learning_curves.png"),
                        key="nll_oracle" if data.oracle is not None else "nll_test")
        seconds["total"] = time.perf_counter() - t0
        metrics = {"mode": "oracle" if data.oracle is not None else "data", "vocab_size": data.vocab_size,
                   "seq_len": cfg.seq_len, "train_sequences": len(data.train), "valid_sequences": len(data.valid),
                   **metrics, "seconds": {k: round(v, 2) for k, v in seconds.items()}, "config": cfg.asdict()}
        run_dir.write_json("metrics.json", metrics)
        run_dir.commit()
    except BaseException:
        run_dir.abandon()
        raise
    return metrics


def _prefixed(scores: dict, suffix: str) -> dict:
    return {f"{k}_{suffix}": v for k, v in scores.items()}
