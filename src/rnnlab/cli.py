"""The ``rnnlab`` command line. Failures print one line, ``rnnlab: error: ...``, and exit non-zero
(2 for bad usage or configuration, 1 for a runtime failure); ``--debug`` shows the traceback."""
from __future__ import annotations

import argparse
import sys

from rnnlab.errors import RnnlabError


def cmd_check(args) -> int:
    from rnnlab.nn import checks

    rows = checks.run_all(quick=not args.full, rng_seed=args.seed)
    print(checks.format_table(rows))
    failed = [r for r in rows if not r.passed]
    print(f"{len(rows) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def cmd_demo(args) -> int:
    from rnnlab.demo import run_demo

    return run_demo(steps=args.steps, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rnnlab", description="Recurrent networks with every equation written by hand.")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("check", help="gradient checks and PyTorch parity of the installed engine")
    c.add_argument("--full", action="store_true", help="more shapes and options (slower)")
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=cmd_check)

    d = sub.add_parser("demo", help="long-term memory on the adding problem: RNN vs LSTM vs GRU")
    d.add_argument("--steps", type=int, default=50, help="sequence length of the adding problem")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_demo)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except RnnlabError as e:
        if args.debug:
            raise
        print(f"rnnlab: error: {e}", file=sys.stderr)
        return 2
    except (OSError, MemoryError) as e:
        if args.debug:
            raise
        print(f"rnnlab: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
