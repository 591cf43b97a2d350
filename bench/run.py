"""The suite runner: every figure, one table.

    python -m bench                      # the full suite (several minutes)
    python -m bench --quick              # short trials, about a minute
    python -m bench --only frame_path    # one figure (repeatable)
    python -m bench --write-docs         # also regenerate docs/benchmarks.md
    python -m bench --only recording --write-docs   # re-measure one figure, keep the rest
    python -m bench --only soak --minutes 30   # the long soak (memory over time)

A figure that cannot run (a missing optional piece, port 8080 taken for the official client)
prints a row saying why instead of stopping the suite.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import math
import os
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from . import results_store
from .common import REPO, VENV_PYTHON, Row, child_env, format_table, machine_info, notes

#: (module name, figure label): the order of the table; trio_vs_asyncio is another
#: engineer's file and joins the suite as figure 4 when it exists.
FIGURES: tuple[tuple[str, str], ...] = (
    ("connect_ready", "1"),
    ("frame_path", "2"),
    ("slow_consumer", "3"),
    ("trio_vs_asyncio", "4"),
    ("runtime_cpu", "5"),
    ("reconnect", "6"),
    ("codec_throughput", "7"),
    ("typegen_speed", "8"),
    ("sdk_v1", "9"),
    ("client_v1", "10"),
    ("recording", "11"),
    ("steps", "12"),
    ("step_client", "13"),
    ("audio_runtime", "14"),
    ("audio_client", "15"),
    ("receive_cpu_sdk", "16"),
    ("many_sessions", "17"),
    ("official_runtime_connect", "18"),
    ("soak", "19"),
)
DOCS = REPO / "docs" / "benchmarks.md"
#: everything from this line on in docs/benchmarks.md is written by hand (long runs that no
#: suite run repeats, such as a 30-minute soak) and survives ``--write-docs``
KEPT_MARKER = "<!-- kept by --write-docs: long runs recorded by hand -->"

Runner = Callable[[bool], list[Row]]


def available() -> list[str]:
    return [name for name, _ in FIGURES if importlib.util.find_spec(f"bench.{name}") is not None]


def _as_rows(name: str, label: str, value: Any) -> list[Row]:
    """Accept a figure module's result: a list of :class:`Row`, or anything else (shown as
    a note, for modules that report in their own format)."""
    if isinstance(value, list) and all(isinstance(v, Row) for v in value):
        return value
    return [Row(figure=f"{label} {name}", metric="(reported by the module)", unit="",
                ours=math.nan, note=repr(value)[:300])]


def load_runner(name: str, label: str) -> Runner:
    """The figure's ``run(quick) -> list[Row]``; a module without one (trio_vs_asyncio, a
    standalone script) runs as a script and its printed medians are parsed."""
    if name == "trio_vs_asyncio" and not hasattr(
            importlib.import_module(f"bench.{name}"), "run"):
        return _trio_vs_asyncio_script
    module = importlib.import_module(f"bench.{name}")
    entry = module.run

    def runner(quick: bool) -> list[Row]:
        return _as_rows(name, label, entry(quick=quick))

    return runner


MEDIAN_LINE = re.compile(r"^(asyncio|trio)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$")


def _trio_vs_asyncio_script(quick: bool) -> list[Row]:
    """Figure 4 from ``bench/trio_vs_asyncio.py``'s own output: medians per host of CPU
    ms/frame, latency ms and data-channel RTT ms; ours = the trio bridge, baseline = plain
    asyncio (the bridge's overhead is the figure)."""
    args = ["--trials", "1", "--frames", "90", "--warmup", "20"] if quick else []
    proc = subprocess.run([str(VENV_PYTHON), "bench/trio_vs_asyncio.py", *args], cwd=REPO,
                          env=child_env(), capture_output=True, text=True, timeout=600,
                          check=False)
    medians: dict[str, tuple[float, ...]] = {}
    for line in proc.stdout.splitlines():
        match = MEDIAN_LINE.match(line.strip())
        if match:
            medians[match.group(1)] = tuple(float(g) for g in match.groups()[1:])
    if set(medians) != {"asyncio", "trio"}:
        tail = " / ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
        raise RuntimeError(f"bench/trio_vs_asyncio.py exited {proc.returncode}: {tail}")
    rows = []
    for index, (metric, unit, goal) in enumerate((("receive CPU per frame", "ms", "<= 1.1x"),
                                                  ("latency", "ms", ""),
                                                  ("data-channel RTT", "ms", ""))):
        row = Row(figure="4 trio bridge 640x360", metric=metric, unit=unit,
                  ours=medians["trio"][index], baseline=medians["asyncio"][index],
                  baseline_name="plain asyncio", goal=goal)
        if goal:
            row = attrs.evolve(row, met=row.ratio <= 1.1)
        rows.append(row)
    return rows


def run_figures(names: Sequence[str], quick: bool, *, verbose: bool = True) -> list[Row]:
    by_name = run_figures_by_name(names, quick, verbose=verbose)
    return [row for rows in by_name.values() for row in rows]


def run_figures_by_name(names: Sequence[str], quick: bool, *,
                        verbose: bool = True) -> dict[str, list[Row]]:
    """Each figure's rows, by module name, in ``names`` order."""
    by_name: dict[str, list[Row]] = {}
    labels = dict(FIGURES)
    for name in names:
        started = time.monotonic()
        if verbose:
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        try:
            figure_rows = load_runner(name, labels[name])(quick)
        except Exception as exc:  # one broken figure must not hide the others
            traceback.print_exc(file=sys.stderr)
            figure_rows = [Row(figure=f"{labels[name]} {name}", metric="(failed)", unit="",
                               ours=math.nan, note=f"{type(exc).__name__}: {exc}"[:300])]
        by_name[name] = figure_rows
        if verbose:
            print(f"[bench] {name} done in {time.monotonic() - started:.1f} s",
                  file=sys.stderr, flush=True)
    return by_name


def render_docs(entries: dict[str, results_store.FigureEntry], machine: dict[str, str]) -> str:
    rows = results_store.rows_of(entries)
    runs = results_store.provenance(entries, dict(FIGURES))
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m bench --write-docs` from `bench/results.json`. Do not edit by",
        "hand. A figure re-measured alone (`--only NAME --write-docs`) replaces its own rows",
        "and keeps the others'; when the rows come from more than one run, each run is listed:",
        "",
        *(f"* {run}" for run in runs),
        "",
        "Every figure sits beside its baseline, measured in the same run: trials alternate",
        "A B B A ..., each side's figure is the median of its trials and the ratio is",
        "ours / baseline. CPU is process CPU (every thread), read with `time.process_time`",
        "inside the measured process or from `/proc/<pid>/stat` for the runtime. The machine",
        "is shared, so expect run-to-run spread of 10-20 %; the ratios are the figures to",
        "read. The tests never assert on any of these numbers.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in machine.items()),
        "",
        "## Results",
        "",
        format_table(rows),
        "",
    ]
    row_notes = notes(rows)
    if row_notes:
        lines += ["## Notes", "", *(f"* {n}" for n in row_notes), ""]
    lines += [
        "## What each figure measures",
        "",
    ]
    labels = dict(FIGURES)
    for name in available():
        module = importlib.import_module(f"bench.{name}")
        title = getattr(module, "TITLE", f"{labels[name]}. {name}")
        doc = (module.__doc__ or "").strip().split("\n\n", 1)
        body = doc[1] if len(doc) > 1 else ""
        lines += [f"### {title}", "", body.strip(), "", f"Source: `bench/{name}.py`.", ""]
    return "\n".join(lines)


def kept_tail() -> str:
    """The hand-written end of docs/benchmarks.md (from :data:`KEPT_MARKER`), if any."""
    try:
        text = DOCS.read_text()
    except OSError:
        return ""
    at = text.find(KEPT_MARKER)
    return "\n" + text[at:] if at >= 0 else ""


def write_docs(by_name: dict[str, list[Row]], *, quick: bool, when: str, commit: str) -> None:
    """Store the rows just measured (per figure, replacing that figure's earlier rows) and
    render the page from everything stored."""
    measured = {
        name: results_store.FigureEntry(measured=when, commit=commit, quick=quick,
                                        rows=tuple(rows))
        for name, rows in by_name.items()
    }
    entries = results_store.merge(results_store.load(), measured, [n for n, _ in FIGURES])
    results_store.save(entries)
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(render_docs(entries, machine_info()) + kept_tail())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short trials (about a minute)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help=f"run only this figure (repeatable); one of {available()}")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a figure could not run (CI smoke step; no timing "
                             "is ever asserted)")
    parser.add_argument("--minutes", type=float, default=None, metavar="N",
                        help="soak: stream for N minutes (default 1; 10 s with --quick)")
    parser.add_argument("--write-docs", action="store_true",
                        help=f"regenerate {DOCS.relative_to(REPO)} with the machine and table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)
    names = available()
    if opts.only:
        unknown = [n for n in opts.only if n not in names]
        if unknown:
            print(f"unknown figure(s) {unknown}; available: {names}", file=sys.stderr)
            return 2
        names = [n for n in names if n in opts.only]
    if opts.minutes is not None:
        os.environ["REACTOR_BENCH_SOAK_MINUTES"] = str(opts.minutes)  # read by bench.soak
    started = time.monotonic()
    # what is measured is the checkout as it is when the run starts
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = results_store.current_commit()
    by_name = run_figures_by_name(names, opts.quick)
    rows = [row for figure_rows in by_name.values() for row in figure_rows]
    elapsed = time.monotonic() - started
    print(format_table(rows))
    for note in notes(rows):
        print(f"* {note}")
    print(f"({len(rows)} rows in {elapsed:.1f} s{', quick' if opts.quick else ''})")
    if opts.write_docs:
        write_docs(by_name, quick=opts.quick, when=when, commit=commit)
        print(f"wrote {Path(DOCS).relative_to(REPO)}")
    failed = [row.figure for row in rows if row.metric == "(failed)"]
    if failed and opts.strict:
        print(f"figures that could not run: {failed}", file=sys.stderr)
        return 1
    return 0
