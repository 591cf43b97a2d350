"""A re-measured figure replaces its own stored rows and keeps the others (results_store)."""

from __future__ import annotations

import math
from pathlib import Path

from bench.common import Row
from bench.results_store import FigureEntry, load, merge, provenance, rows_of, save


def entry(when: str, *rows: Row) -> FigureEntry:
    return FigureEntry(measured=when, commit="abc1234", quick=False, rows=rows)


def test_rows_survive_the_store_nan_included(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    row = Row(figure="1 connect", metric="READY", unit="ms", ours=12.5, baseline=math.nan,
              goal="<= 1x", met=None, note="n=3")
    save({"connect_ready": entry("2026-12-07 20:00 UTC", row)}, path)
    back = load(path)["connect_ready"]
    assert back.measured == "2026-12-07 20:00 UTC" and back.commit == "abc1234"
    (got,) = back.rows
    assert got.ours == 12.5 and math.isnan(got.baseline) and got.note == "n=3"
    assert load(tmp_path / "absent.json") == {}


def test_a_partial_run_replaces_only_its_figures_in_suite_order() -> None:
    old_a = Row(figure="1 a", metric="m", unit="", ours=1.0)
    old_b = Row(figure="2 b", metric="m", unit="", ours=2.0)
    new_b = Row(figure="2 b", metric="m", unit="", ours=3.0)
    gone = Row(figure="9 gone", metric="m", unit="", ours=9.0)
    stored = {"b": entry("t1", old_b), "a": entry("t1", old_a), "gone": entry("t1", gone)}
    merged = merge(stored, {"b": entry("t2", new_b)}, ["a", "b"])
    assert list(merged) == ["a", "b"]
    assert rows_of(merged) == [old_a, new_b]
    assert provenance(merged, {"a": "1", "b": "2"}) == [
        "figures 1: measured t1 at commit `abc1234`",
        "figures 2: measured t2 at commit `abc1234`",
    ]
