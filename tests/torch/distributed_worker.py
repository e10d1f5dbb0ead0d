"""One process of the data-parallel tests in test_distributed.py: ``torch_fit`` in torchrun's environment.

    WORLD_SIZE=2 RANK=r MASTER_ADDR=127.0.0.1 MASTER_PORT=p python distributed_worker.py OUT_DIR BATCH_SIZE
    python -m torch.distributed.run --nproc-per-node 3 --standalone distributed_worker.py OUT_DIR BATCH_SIZE

Rank 0 saves the trained weights to OUT_DIR/weights.npz; every rank writes OUT_DIR/report_rankR.json
(its rank, History, a digest of its weights and the error a rank-dependent data size gets).
"""
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

# validation_split 0.2 of 42 leaves 33 training sequences and 9 for validation (one batch)
FIT = {"epochs": 2, "validation_split": 0.2, "seed": 3, "device": "cpu", "progress": False}


def problem():
    """A float64 bidirectional LSTM tagging the steps of variable-length sequences (so losses are masked)."""
    from rnnlab import nn
    from rnnlab.models import Sequential

    rng = np.random.default_rng(0)
    N, T = 42, 7
    X = rng.standard_normal((N, T, 3))
    lengths = rng.integers(1, T + 1, N)
    y = rng.integers(0, 3, (N, T))
    model = Sequential([nn.LSTM(3, 5, bidirectional=True, dtype=np.float64, seed=1),
                        nn.Dense(10, 3, dtype=np.float64, seed=2)])
    model.compile(loss="cross_entropy", optimizer="adam", lr=0.05, metrics=["accuracy"])
    return model, X, y, lengths


def digest(state: dict) -> str:
    return hashlib.sha256(b"".join(np.ascontiguousarray(state[k]).tobytes() for k in sorted(state))).hexdigest()


def main(out: Path, batch_size: int) -> None:
    import torch

    from rnnlab.errors import RnnlabError
    from rnnlab.models import CSVLogger
    from rnnlab.torch import distributed
    from rnnlab.torch.training import torch_fit

    torch.set_num_threads(1)
    rank = distributed.rank()
    model, X, y, lengths = problem()
    history = torch_fit(model, X, y, lengths=lengths, batch_size=batch_size,
                        callbacks=[CSVLogger(out / f"history_rank{rank}.csv")], **FIT)
    state = model.state_dict()
    if distributed.is_main_process():
        np.savez(out / "weights.npz", **state)
    refused = None
    try:  # rank 1 drops a sequence: the ranks would take different numbers of steps
        torch_fit(model, X[rank:], y[rank:], lengths=lengths[rank:], batch_size=batch_size, **FIT)
    except RnnlabError as e:
        refused = str(e)
    rows = [{k: v for k, v in row.items() if k != "seconds"} for row in history]
    # a file per rank: lines that several processes print through torchrun can interleave
    report = {"rank": rank, "history": rows, "weights": digest(state), "refused": refused}
    (out / f"report_rank{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
