"""The measured rows behind docs/benchmarks.md, kept per figure in ``bench/results.json``.

A full run takes about half an hour, and a change usually moves one or two figures.  So
``python -m bench --only NAME --write-docs`` re-measures those figures and keeps every other
figure's rows as they were last measured; the page then says, per figure, when (and with
which commit) its rows were measured, so figures from different runs are never mistaken
for one run's.  A full ``--write-docs`` run replaces every entry.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .common import REPO, Row

STORE = REPO / "bench" / "results.json"


@attrs.frozen(kw_only=True)
class FigureEntry:
    """One figure's rows and when they were measured."""

    measured: str  # "YYYY-MM-DD HH:MM UTC"
    commit: str
    quick: bool
    rows: tuple[Row, ...]


def _row_to_json(row: Row) -> dict[str, Any]:
    out = attrs.asdict(row)
    for key in ("ours", "baseline"):  # JSON has no NaN
        if isinstance(out[key], float) and math.isnan(out[key]):
            out[key] = None
    return out


def _row_from_json(data: Mapping[str, Any]) -> Row:
    values = dict(data)
    for key in ("ours", "baseline"):
        if values.get(key) is None:
            values[key] = math.nan
    return Row(**values)


def load(path: Path = STORE) -> dict[str, FigureEntry]:
    """The stored entries by figure name ({} when there is no store yet)."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return {
        name: FigureEntry(measured=entry["measured"], commit=entry["commit"],
                          quick=entry["quick"],
                          rows=tuple(_row_from_json(r) for r in entry["rows"]))
        for name, entry in raw.items()
    }


def save(entries: Mapping[str, FigureEntry], path: Path = STORE) -> None:
    data = {
        name: {"measured": e.measured, "commit": e.commit, "quick": e.quick,
               "rows": [_row_to_json(r) for r in e.rows]}
        for name, e in entries.items()
    }
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def current_commit() -> str:
    """The checkout's short commit, with ``+`` when the tree has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=False).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    # the page and the store themselves are rewritten by the run: not a change of the code
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                  ":!docs/benchmarks.md", ":!bench/results.json")
    return commit + ("+" if changed else "")


def merge(stored: Mapping[str, FigureEntry], measured: Mapping[str, FigureEntry],
          order: Sequence[str]) -> dict[str, FigureEntry]:
    """``stored`` updated with the figures just ``measured``, in the suite's ``order``
    (entries of figures the suite no longer has are dropped)."""
    combined = {**stored, **measured}
    return {name: combined[name] for name in order if name in combined}


def rows_of(entries: Mapping[str, FigureEntry]) -> list[Row]:
    return [row for entry in entries.values() for row in entry.rows]


def provenance(entries: Mapping[str, FigureEntry], labels: Mapping[str, str]) -> list[str]:
    """One line per measuring run (figures measured together share it)."""
    runs: dict[tuple[str, str, bool], list[str]] = {}
    for name, entry in entries.items():
        runs.setdefault((entry.measured, entry.commit, entry.quick), []).append(
            labels.get(name, name))
    return [f"figures {', '.join(figs)}: measured {when} at commit `{commit}`"
            + (" (--quick)" if quick else "")
            for (when, commit, quick), figs in sorted(runs.items())]
