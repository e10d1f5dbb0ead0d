"""Config dataclasses become flags: typed by their defaults, helped by their docstrings."""
import argparse
from dataclasses import dataclass

import pytest

from rnnlab.options import add_config_flags, field_help


@dataclass
class Base:
    """hidden: units per layer
    cell: recurrent cell
    """

    hidden: int = 8
    cell: str = "lstm"


@dataclass
class Child(Base):
    """cell: the cell, said again by the subclass
    limit: first N examples
    progress: show bars
    """

    limit: int | None = None
    progress: bool = True


def _parser():
    p = argparse.ArgumentParser()
    add_config_flags(p, Child, choices={"cell": ("lstm", "gru")}, metavars={"limit": "N"})
    return p


def test_help_comes_from_every_docstring_and_the_subclass_wins():
    assert field_help(Child) == {"hidden": "units per layer", "cell": "the cell, said again by the subclass",
                                 "limit": "first N examples", "progress": "show bars"}


def test_flags_are_typed_by_their_defaults():
    args = _parser().parse_args(["--hidden", "32", "--limit", "5", "--no-progress", "--cell", "gru"])
    assert (args.hidden, args.limit, args.progress, args.cell) == (32, 5, False, "gru")
    assert vars(_parser().parse_args([])) == {"hidden": 8, "cell": "lstm", "limit": None, "progress": True}


def test_choices_and_types_are_enforced(capsys):
    for argv in (["--cell", "transformer"], ["--hidden", "many"]):
        with pytest.raises(SystemExit):
            _parser().parse_args(argv)
    text = _parser().format_help()
    assert "{lstm,gru}" in text and "--limit N" in text and "(default: 8)" in text
