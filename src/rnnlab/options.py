"""Options dataclasses as command-line flags: one ``--flag`` per field, help from the docstring.

A config dataclass documents each field in its docstring as ``name: help`` lines (the tasks'
``TaskConfig`` subclasses, ``rnnlab.gan.GanConfig``); ``add_config_flags`` turns every field into a
flag typed by its default (``--batch-size 32``; booleans as ``--progress/--no-progress``).
"""
from __future__ import annotations

import argparse
import dataclasses


def field_help(config_class) -> dict[str, str]:
    """``name: help`` lines from the docstrings of ``config_class`` and its bases (a subclass wins)."""
    out = {}
    for klass in reversed(config_class.__mro__):
        for line in (klass.__doc__ or "").splitlines():
            name, sep, text = line.strip().partition(": ")
            if sep and name.isidentifier():
                out[name] = text
    return out


def _optional_type(annotation) -> type:
    text = str(annotation)
    return int if "int" in text else float if "float" in text else str


def add_config_flags(parser, config_class, choices: dict | None = None, metavars: dict | None = None) -> None:
    """One flag per dataclass field of ``config_class``, typed by its default; ``choices`` and
    ``metavars`` map field names to the allowed values and the placeholder shown in the help."""
    helps, choices, metavars = field_help(config_class), choices or {}, metavars or {}
    for f in dataclasses.fields(config_class):
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        if isinstance(default, bool):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                                help=helps.get(f.name))
            continue
        kind = type(default) if default is not None else _optional_type(f.type)
        # a field with choices shows them ({lstm,gru,rnn}); the rest a placeholder word
        metavar = metavars.get(f.name, None if f.name in choices else f.name.upper())
        parser.add_argument(flag, dest=f.name, type=kind, default=default, choices=choices.get(f.name),
                            metavar=metavar,
                            help=(helps.get(f.name) or "") + f" (default: {default})")
