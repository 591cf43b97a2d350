"""What every benchmark shares: alternating trials, medians, CPU readings, child processes,
the result rows and the table they are printed in.

Method (the rules every figure follows, because the machine is shared and noisy):

* A figure and its baseline are measured in the *same* run, trial by trial, in the order
  A B B A A B B A ... (:func:`abba_order`), so slow drift (another job starting, thermal
  throttling) hits both sides equally instead of favouring whichever ran first.
* Each side's figure is the *median* of its trials; the ratio is ours / baseline.
* CPU is process CPU (user + system, every thread), read with :func:`time.process_time`
  inside a child or from ``/proc/<pid>/stat`` for a process we started (the runtime).
* No figure is ever asserted on; ``goal`` is printed next to the ratio for the reader.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import attrs

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
OFFICIAL_PYTHON = REPO / ".venv-official" / "bin" / "python"
#: a child prints exactly one line starting with this, followed by its JSON result
RESULT_PREFIX = "BENCH-RESULT "
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# ---- statistics ------------------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    """Median, NaN for no values (a figure that could not be measured, never a crash)."""
    data = [v for v in values if not math.isnan(v)]
    return statistics.median(data) if data else math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), nearest-rank on sorted data; NaN when empty."""
    if not values:
        return math.nan
    data = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(data)))
    return data[min(rank, len(data)) - 1]


def ratio(ours: float, baseline: float) -> float:
    if math.isnan(ours) or math.isnan(baseline) or baseline == 0:
        return math.nan
    return ours / baseline


def abba_order(trials: int, names: Sequence[str] = ("ours", "baseline")) -> list[str]:
    """``trials`` rounds over ``names``, each round reversed from the previous one (ABBA...)."""
    order: list[str] = []
    for index in range(trials):
        order.extend(names if index % 2 == 0 else tuple(reversed(names)))
    return order


def alternate(variants: Mapping[str, Callable[[], T]], trials: int) -> dict[str, list[T]]:
    """Run every variant ``trials`` times in ABBA order; results per variant, in run order."""
    results: dict[str, list[T]] = {name: [] for name in variants}
    for name in abba_order(trials, tuple(variants)):
        results[name].append(variants[name]())
    return results


# ---- CPU -------------------------------------------------------------------------------------


def proc_cpu_seconds(pid: int | str = "self", *, children: bool = False) -> float:
    """User + system CPU seconds of a process (all threads) from ``/proc/<pid>/stat``; with
    ``children``, also of its children it has waited for (cutime + cstime)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    fields = text[text.rindex(")") + 2:].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    ticks = utime + stime + (cutime + cstime if children else 0)
    return ticks / CLOCK_TICKS


class CpuWindow:
    """CPU and wall time of one process between :meth:`start` and :meth:`stop`."""

    def __init__(self, pid: int | str = "self") -> None:
        self.pid = pid
        self.cpu = 0.0
        self.wall = 0.0
        self._cpu0 = 0.0
        self._wall0 = 0.0

    def _read(self) -> float:
        return time.process_time() if self.pid == "self" else proc_cpu_seconds(self.pid)

    def start(self) -> None:
        self._cpu0, self._wall0 = self._read(), time.monotonic()

    def stop(self) -> None:
        self.cpu = self._read() - self._cpu0
        self.wall = time.monotonic() - self._wall0

    @property
    def utilisation(self) -> float:
        """CPU seconds per wall second (1.0 = one core busy)."""
        return self.cpu / self.wall if self.wall > 0 else math.nan


# ---- child processes -------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """Environment for a child: the repository importable, unbuffered output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ChildFailed(RuntimeError):
    """A benchmark child exited non-zero or printed no result line."""


def run_child(argv: Sequence[str], *, timeout: float, python: Path | str = VENV_PYTHON
              ) -> dict[str, Any]:
    """Run ``python argv...`` from the repository root and return the JSON it printed after
    :data:`RESULT_PREFIX`."""
    proc = subprocess.run([str(python), *argv], cwd=REPO, env=child_env(), capture_output=True,
                          text=True, timeout=timeout, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX):])
            return result
    tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
    raise ChildFailed(f"{' '.join(argv)} exited {proc.returncode} without a result:\n{tail}")


def emit_result(result: Mapping[str, Any]) -> None:
    """Print a child's result line (the parent reads it with :func:`run_child`)."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


LISTENING = re.compile(r"listening on (http://\S+)")


class ServerProcess:
    """A ``reactor serve`` subprocess; :attr:`url` once it printed its address."""

    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.proc.pid)


REACTOR_CLI = REPO / ".venv" / "bin" / "reactor"


def stop_process(proc: subprocess.Popen[Any], grace: float) -> None:
    """Ask ``proc`` to exit (SIGTERM); kill it if it has not within ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace)


@contextmanager
def serve(model: str, *, port: int = 0, options: Mapping[str, Any] | None = None,
          startup_timeout: float = 30.0, flags: Sequence[str] = ()) -> Iterator[ServerProcess]:
    """Run ``reactor serve --model MODEL`` (a built-in name or ``package.module:Class``; the
    repository is on ``PYTHONPATH``) with the model options ``width``/``height``/``fps`` and
    any further command-line ``flags`` (``--no-record``) in its own process, and stop it on
    exit (SIGTERM, then SIGKILL after 10 s)."""
    argv = [str(REACTOR_CLI), "serve", "--model", model, "--port", str(port), *flags]
    for key, value in (options or {}).items():
        argv += [f"--{key}", str(value)]
    proc = subprocess.Popen(argv, cwd=REPO, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        url = _wait_listening(proc, startup_timeout)
        yield ServerProcess(proc, url)
    finally:
        stop_process(proc, 10)
        if proc.stdout is not None:
            proc.stdout.close()


def _wait_listening(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line.rstrip())
        match = LISTENING.search(line)
        if match:
            # keep reading the pipe so a chatty server never blocks on a full buffer
            _drain_in_background(proc)
            return match.group(1).rstrip("/")
    raise ChildFailed("reactor serve did not report its address:\n" + "\n".join(seen[-15:]))


def _drain_in_background(proc: subprocess.Popen[str]) -> None:
    import threading

    def drain() -> None:
        assert proc.stdout is not None
        for _ in proc.stdout:
            pass

    threading.Thread(target=drain, name="bench-serve-drain", daemon=True).start()


# ---- results and the table -------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Row:
    """One line of the table: a figure of ours beside its baseline, measured in one run."""

    figure: str
    metric: str
    unit: str
    ours: float
    baseline: float = math.nan
    baseline_name: str = ""
    goal: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        return ratio(self.ours, self.baseline)


def judge(row: Row, met: bool) -> Row:
    """``row`` with its goal verdict; none when a side could not be measured."""
    unmeasured = math.isnan(row.ours) or (row.baseline_name != "" and math.isnan(row.baseline))
    return attrs.evolve(row, met=None if unmeasured else met)


def fmt(value: float) -> str:
    """Three significant figures, thousands separated; ``-`` for NaN."""
    if math.isnan(value):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 1 or value == 0 else f"{value:.3g}"


HEADER = ("figure", "metric", "ours", "baseline", "baseline is", "ratio", "goal", "met")


def table_cells(row: Row) -> tuple[str, ...]:
    met = "" if row.met is None else ("yes" if row.met else "NO")
    unit = f" {row.unit}" if row.unit else ""
    ours = fmt(row.ours) + (unit if not math.isnan(row.ours) else "")
    base = fmt(row.baseline) + (unit if not math.isnan(row.baseline) else "")
    ratio_text = "-" if math.isnan(row.ratio) else f"{row.ratio:.2f}x"
    return (row.figure, row.metric, ours, base, row.baseline_name, ratio_text, row.goal, met)


def format_table(rows: Sequence[Row]) -> str:
    """A Markdown table (aligned, so it also reads well in a terminal)."""
    cells = [HEADER, *(table_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(c) for c in cells[1:])])


def notes(rows: Sequence[Row]) -> list[str]:
    return [f"{r.figure} / {r.metric}: {r.note}" for r in rows if r.note]


# ---- the machine -----------------------------------------------------------------------------

PACKAGES = ("reactor-sansio", "aiortc", "aioice", "av", "numpy", "anyio", "trio", "h11",
            "attrs", "orjson")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def official_sdk_version() -> str:
    if not OFFICIAL_PYTHON.exists():
        return "not installed (.venv-official missing)"
    proc = subprocess.run(
        [str(OFFICIAL_PYTHON), "-c",
         "from importlib.metadata import version; print(version('reactor-sdk'))"],
        capture_output=True, text=True, timeout=30, check=False)
    return proc.stdout.strip() or "not installed"


def machine_info() -> dict[str, str]:
    info = {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
    }
    for name in PACKAGES:
        info[name] = package_version(name)
    info["reactor-sdk (official, .venv-official)"] = official_sdk_version()
    return info
