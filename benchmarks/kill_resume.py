"""Kill a task run with SIGKILL at random moments, resume it, and count the runs that end bit for bit
where an uninterrupted run ends.

    python benchmarks/kill_resume.py                # 20 trials of `rnnlab train digits` (small)
    python benchmarks/kill_resume.py --trials 50 --seed 1

Each trial starts the run, waits a random 0.5-6 s (imports included, so kills land anywhere:
before the first checkpoint, inside an epoch, between the ensemble's networks, while saving),
kills it, resumes it with `rnnlab train --resume DIR` (or starts it afresh when it died before
training began), repeats until the run finishes, and compares weights and metrics with the reference.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

ARGS = ["train", "digits", "--epochs", "8", "--limit", "600", "--hidden", "24", "--ensemble", "2", "--no-progress"]
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1")


def rnnlab(*args):
    return subprocess.Popen([sys.executable, "-m", "rnnlab", *args], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def result(out: Path):
    return load_file(str(out / "weights.safetensors")), json.loads((out / "metrics.json").read_text())["test"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        ref_out = Path(tmp) / "reference"
        proc = rnnlab(*ARGS, "--out", str(ref_out))
        assert proc.wait() == 0, proc.stderr.read()
        ref_w, ref_m = result(ref_out)
        same = kills = 0
        for trial in range(args.trials):
            out = Path(tmp) / f"trial{trial}"
            ckpt = out.parent / f"{out.name}.checkpoints"
            cmd, n_kills = [*ARGS, "--out", str(out)], 0
            while True:
                proc = rnnlab(*cmd)
                try:
                    code = proc.wait(timeout=rng.uniform(0.5, 6.0) if n_kills < 3 else None)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    n_kills += 1
                    if out.exists() and not ckpt.exists():
                        break           # killed after the run had finished and cleaned up
                    cmd = ["train", "--resume", str(out)] if (ckpt / "task.json").exists() else cmd
                    continue
                if code != 0:
                    sys.exit(f"trial {trial}: run failed: {proc.stderr.read()[-2000:]}")
                break
            w, m = result(out)
            identical = w.keys() == ref_w.keys() and all(np.array_equal(w[k], ref_w[k]) for k in w) and m == ref_m
            same += identical
            kills += n_kills
            print(f"trial {trial}: {n_kills} kill(s), {'identical' if identical else 'DIFFERENT'}", flush=True)
    print(f"{same} of {args.trials} killed-and-resumed runs ({kills} SIGKILLs) ended bit for bit as the "
          "uninterrupted run")


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"{time.perf_counter() - t0:.0f} s")
