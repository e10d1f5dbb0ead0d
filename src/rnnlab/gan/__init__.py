"""Adversarial sequence generation, SeqGAN (Yu et al., AAAI 2017), on the NumPy engine.

One idea per module:

* ``oracle``: the paper's oracle LSTM, loaded from its arrays into an engine ``LanguageModel``;
* ``sequences``: the paper's sequence files, checks and the start-token shift;
* ``sampling``: batched step-by-step generation and the inverse-CDF categorical draw;
* ``generator``: the generator (a ``LanguageModel``): MLE pretraining and NLL of sequences;
* ``discriminator``: a recurrent ``Sequential`` classifier, real against generated;
* ``rollout``: Monte Carlo roll-out rewards and the delayed roll-out policy;
* ``policy_gradient``: the REINFORCE loss and its gradient through the engine's backward pass;
* ``seqgan``: the adversarial loop; ``config``, ``data``, ``run``, ``plots``, ``cli``: a whole run.

Examples
--------
>>> from rnnlab.gan import random_oracle, generate, nll
>>> oracle = random_oracle(50, 8, 8, seed=0)
>>> y = generate(oracle, 100, 6, rng=0)
>>> y.shape, nll(oracle, y) < 3.9                           # below ln 50, the uniform model's
((100, 6), True)
"""
from rnnlab.gan.config import GanConfig
from rnnlab.gan.discriminator import make_discriminator, prob_real, train_discriminator
from rnnlab.gan.generator import make_generator, nll, pretrain
from rnnlab.gan.oracle import load_oracle, random_oracle, save_oracle
from rnnlab.gan.policy_gradient import policy_gradient_loss
from rnnlab.gan.rollout import Rollout
from rnnlab.gan.run import run_gan
from rnnlab.gan.sampling import categorical, generate
from rnnlab.gan.seqgan import SeqGAN
from rnnlab.gan.sequences import read_sequences, write_sequences

__all__ = ["GanConfig", "run_gan", "SeqGAN", "Rollout", "make_generator", "make_discriminator", "pretrain", "nll",
           "prob_real", "train_discriminator", "policy_gradient_loss", "load_oracle", "random_oracle",
           "save_oracle", "generate", "categorical", "read_sequences", "write_sequences"]
