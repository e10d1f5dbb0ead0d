"""The learning curves of a SeqGAN run: MLE pretraining, then adversarial training, on one time axis.

The left panel is the paper's Figure 2: NLL_oracle (or the held-out NLL without an oracle) against
epochs of pretraining followed by adversarial batches, the switch marked by a dashed line. The
right panel shows the adversarial game itself: mean reward, D(generated) and the discriminator loss.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def learning_curves(pretrain_rows: list, adversarial_rows: list, path, key: str = "nll_oracle") -> Path:
    from rnnlab.viz.plots import _plt

    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    n_pre = len(pretrain_rows)
    for name, style in ((key, "o-"), ("nll_test", "s--")):
        xs = [i + 1 for i, r in enumerate(pretrain_rows) if name in r]
        xs += [n_pre + r["step"] for r in adversarial_rows if name in r]
        ys = [r[name] for r in pretrain_rows + adversarial_rows if name in r]
        if ys:
            ax.plot(xs, ys, style, ms=3, label=name)
    ax.axvline(n_pre + 0.5, color="grey", ls=":", label="adversarial from here")
    ax.set_xlabel("pretraining epochs, then adversarial batches")
    ax.set_ylabel("nats per token")
    ax.legend()
    steps = [r["step"] for r in adversarial_rows]
    for name in ("reward", "d_fake", "d_loss"):
        ys = [r.get(name, np.nan) for r in adversarial_rows]
        if ys and not np.all(np.isnan(ys)):
            ax2.plot(steps, ys, label=name)
    ax2.set_xlabel("adversarial batch")
    ax2.set_title("the game")
    if steps:
        ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
