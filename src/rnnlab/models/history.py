"""``History``: one dict per epoch, sliceable like skorch's ``history[:, "val_loss"]``.

A row holds what the training loop measured in that epoch (``epoch``, ``loss``, ``val_*``, ``lr``,
``seconds``, ``skipped_steps``, ...) plus whatever callbacks add. Rows may differ in their keys:
a column lookup skips rows without the key, and raises only when no row has it.
"""
from __future__ import annotations

import csv
import io
import json
import math
import numbers
from pathlib import Path

from rnnlab.errors import RnnlabError
from rnnlab.models.io import write_text_atomic as _write_text_atomic


class History(list):
    """Per-epoch logs of one training run.

    Indexing
    --------
    ``h[i]`` / ``h[a:b]``
        A row (dict) / a ``History`` of rows, as for a list.
    ``h[:, "val_loss"]``
        The column over the selected rows (rows without the key are skipped).
    ``h[-1, "loss"]``
        One value.
    ``h[:, ("loss", "val_loss")]``
        Tuples of several keys, from the rows that have all of them.

    Examples
    --------
    >>> h = History([{"epoch": 1, "loss": 0.9}, {"epoch": 2, "loss": 0.5}])
    >>> h[:, "loss"], h[-1, "epoch"], h.best("loss")["epoch"]
    ([0.9, 0.5], 2, 2)
    """

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            out = super().__getitem__(key)
            return History(out) if isinstance(key, slice) else out
        if len(key) != 2:
            raise RnnlabError(f"History index expected [rows, key] but got {len(key)} parts; "
                              "use e.g. history[:, 'val_loss'].")
        rows, col = key
        if isinstance(rows, slice):
            return self._column(super().__getitem__(rows), col)
        row = super().__getitem__(rows)
        cols = col if isinstance(col, (tuple, list)) else (col,)
        missing = [c for c in cols if c not in row]
        if missing:
            raise KeyError(f"epoch row {rows} has no key {missing[0]!r}; it has {list(row)}.")
        return tuple(row[c] for c in cols) if isinstance(col, (tuple, list)) else row[col]

    def _column(self, rows: list, col):
        cols = col if isinstance(col, (tuple, list)) else (col,)
        if rows and not any(all(c in r for c in cols) for r in rows):
            raise KeyError(f"no epoch has the key(s) {list(cols)}; known keys: {self.keys()}.")
        if isinstance(col, (tuple, list)):
            return [tuple(r[c] for c in cols) for r in rows if all(c in r for c in cols)]
        return [r[col] for r in rows if col in r]

    def keys(self) -> list[str]:
        """Every key that occurs in some row, in order of first appearance."""
        seen: dict = {}
        for row in self:
            seen.update(dict.fromkeys(row))
        return list(seen)

    def best(self, key: str, mode: str = "min") -> dict:
        """The row with the lowest (``mode="min"``) or highest (``"max"``) finite value of ``key``.

        Ties go to the earliest epoch. Raises ``RnnlabError`` when no row has a finite value.
        """
        if mode not in ("min", "max"):
            raise RnnlabError(f"History.best mode must be 'min' or 'max', got {mode!r}.")
        rows = [r for r in self if isinstance(r.get(key), numbers.Real) and math.isfinite(r[key])]
        if not rows:
            raise RnnlabError(f"History has no finite {key!r} value to pick the best epoch from; "
                              f"known keys: {self.keys()}.")
        pick = min if mode == "min" else max
        return pick(rows, key=lambda r: r[key])

    # -- files ----------------------------------------------------------------------------------
    def to_csv(self, path) -> Path:
        """Write one line per epoch; the columns are ``keys()``, a missing value is an empty cell."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.keys(), restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self)
        _write_text_atomic(path, buf.getvalue())
        return Path(path)

    def to_json(self, path) -> Path:
        """Write the rows as a JSON list (non-finite floats as ``NaN``/``Infinity``, as Python's json)."""
        from rnnlab.models.io import write_json_atomic

        write_json_atomic(path, list(self))
        return Path(path)

    @classmethod
    def from_json(cls, path) -> "History":
        try:
            rows = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise RnnlabError(f"could not read a history from {path} ({e}).") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise RnnlabError(f"{path} does not hold a history (expected a JSON list of objects).")
        return cls(rows)
