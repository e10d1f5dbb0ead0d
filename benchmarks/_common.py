"""Shared by the benchmark scripts (run as `python benchmarks/NAME.py`, so this folder is on sys.path)."""


def set_threads(n: int):
    """Give torch's intra-op pool and the BLAS pools the same ``n`` threads; returns torch."""
    if n < 1:
        raise SystemExit(f"--threads must be a positive integer, got {n}.")
    import torch

    torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        pass
    return torch


def parse_value(text: str):
    """A ``--set KEY=VALUE`` value: int, float, true/false, none, else the string itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)
