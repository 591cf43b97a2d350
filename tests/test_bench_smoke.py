"""The benchmark suite stays runnable: every module imports, the helpers compute what they
say, and ``python -m bench --quick --only codec_throughput`` prints a table.

No timing is asserted anywhere: the figures belong in docs/benchmarks.md, not in tests.
"""

from __future__ import annotations

import importlib
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
BENCH_MODULES = ("bench", "bench.common", "bench.run", "bench.codec_throughput",
                 "bench.connect_ready", "bench.frame_path", "bench.slow_consumer",
                 "bench.runtime_cpu", "bench.reconnect", "bench.official_connect",
                 "bench.typegen_speed", "bench.sdk_v1", "bench.official_frames",
                 "bench.client_v1", "bench.recording", "bench.steps", "bench.soak",
                 "bench.step_client", "bench.audio_runtime", "bench.audio_client",
                 "bench.receive_cpu_sdk", "bench.many_sessions", "bench.connect_probe",
                 "bench.frame_stamp", "bench.heap_probes", "bench.soak_rows",
                 "bench.results_store", "bench.official_runtime_connect",
                 "bench.official_runtime_sdk08", "bench.recording_served")


@pytest.mark.parametrize("name", BENCH_MODULES)
def test_every_bench_module_imports(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} explains what it measures"


@pytest.mark.parametrize("name", [m for m in BENCH_MODULES if m.count(".") == 1
                                  and m.split(".")[1] not in ("common", "run",
                                                              "official_connect",
                                                              "official_frames",
                                                              "connect_probe",
                                                              "frame_stamp", "heap_probes",
                                                              "soak_rows",
                                                              "results_store",
                                                              "official_runtime_sdk08",
                                                              "recording_served")])
def test_every_figure_has_a_runner_and_title(name: str) -> None:
    module = importlib.import_module(name)
    assert callable(module.run)
    assert name.split(".")[1] == module.NAME
    assert module.TITLE[0].isdigit()


def test_runner_lists_the_figures_in_table_order() -> None:
    from bench.run import FIGURES, available

    names = available()
    assert names[0] == "connect_ready" and names[-1] == "soak"
    order = [name for name, _ in FIGURES]
    assert names == sorted(names, key=order.index)


def test_abba_order_alternates_and_balances() -> None:
    from bench.common import abba_order

    assert abba_order(3) == ["ours", "baseline", "baseline", "ours", "ours", "baseline"]
    assert abba_order(0) == []


def test_alternate_runs_each_variant_the_same_number_of_times() -> None:
    from bench.common import alternate

    calls: list[str] = []

    def variant(name: str, value: int) -> Callable[[], int]:
        def call() -> int:
            calls.append(name)
            return value

        return call

    results = alternate({"a": variant("a", 1), "b": variant("b", 2)}, trials=4)
    assert results == {"a": [1, 1, 1, 1], "b": [2, 2, 2, 2]}
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a"]


def test_median_percentile_and_ratio_handle_empty_and_nan() -> None:
    from bench.common import median, percentile, ratio

    assert median([3.0, 1.0, 2.0]) == 2.0
    assert math.isnan(median([]))
    assert median([math.nan, 4.0]) == 4.0
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile([1.0, 2.0], 99) == 2.0
    assert math.isnan(percentile([], 50))
    assert ratio(1.0, 2.0) == 0.5
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(math.nan, 1.0))


def test_proc_cpu_seconds_reads_this_process() -> None:
    from bench.common import CpuWindow, proc_cpu_seconds

    before = proc_cpu_seconds()
    assert proc_cpu_seconds(os.getpid(), children=True) >= proc_cpu_seconds(os.getpid())
    window = CpuWindow()
    window.start()
    # Burn CPU until the kernel's tick-granular counter moves, so a reader that returned a
    # constant (or another process's figure) fails here.
    deadline = time.monotonic() + 5.0
    while proc_cpu_seconds() <= before and time.monotonic() < deadline:
        sum(range(100_000))
    window.stop()
    assert proc_cpu_seconds() > before
    assert window.cpu > 0.0 and window.wall >= window.cpu / 2


def test_table_shows_ratio_goal_and_verdict() -> None:
    from bench.common import Row, format_table, judge

    row = judge(Row(figure="2 frame path", metric="cpu", unit="ms", ours=1.1, baseline=1.0,
                    baseline_name="bare aiortc", goal="<= 1.1x"), True)
    missing = judge(Row(figure="x", metric="y", unit="", ours=math.nan), False)
    table = format_table([row, missing]).splitlines()
    assert table[0].startswith("| figure")
    assert "1.10x" in table[2] and "yes" in table[2] and "bare aiortc" in table[2]
    assert missing.met is None and "| - " in table[3]


@given(st.integers(min_value=0, max_value=(1 << 32) - 1),
       st.sampled_from(((640, 360), (1280, 720))))
def test_frame_stamp_round_trips(value: int, size: tuple[int, int]) -> None:
    from bench.frame_stamp import read_stamp, write_stamp

    width, height = size
    frame = np.full((height, width, 3), 90, dtype=np.uint8)
    write_stamp(frame, value)
    assert read_stamp(frame) == value


def test_smeared_stamp_reads_as_unreadable_and_age_wraps() -> None:
    from bench.frame_stamp import age_ms, read_stamp

    assert read_stamp(np.full((360, 640, 3), 128, dtype=np.uint8)) is None
    assert age_ms(stamp=(1 << 32) - 1000, now=1000) == 2.0


def test_codec_backends_agree_and_toggle_back() -> None:
    from bench.codec_throughput import check_same_results, json_backend
    from reactor_proto import jsonfields

    saved = jsonfields._orjson
    check_same_results()
    with json_backend(None):
        assert jsonfields._orjson is None
    assert jsonfields._orjson is saved


def test_quick_codec_benchmark_prints_a_table() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only",
                           "codec_throughput"], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("| figure") and "baseline" in lines[0]
    assert sum(line.startswith("| 7 codec") for line in lines) == 3


def test_unknown_figure_is_refused() -> None:
    from bench.run import main

    assert main(["--only", "no_such_figure"]) == 2


def test_soak_figures_from_a_result() -> None:
    from bench.heap_probes import census, counts, rss_mb, slope
    from bench.soak import rows_from

    assert slope([0, 1, 2], [1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert math.isnan(slope([0], [1.0]))
    assert slope([1, 1], [1.0, 2.0]) == 0.0
    assert rss_mb() > 0 and counts()["threads"] >= 1
    assert census()["RTCPeerConnection"] >= 0
    sample = {"client": 90.0, "runtime": 100.0}
    heap = {"rss": 90.0, "anon": 40.0, "blocks": 1000.0, "inuse": 20.0, "free": 5.0}
    result = {
        "stream": {"samples": [{"t": 0.0, "frames": 0, **sample},
                               {"t": 1800.0, "frames": 43_200, "client": 90.5,
                                "runtime": 100.5}],
                   "client_top": ["a.py:1 +1 KiB (+1 blocks)"], "runtime_top": [],
                   "retained": {"start": sample, "end": sample}},
        "sessions": {"rows": [{"n": 1, **sample}, {"n": 1000, "client": 91.0,
                                                  "runtime": 100.0}],
                     "excess": {"client": {"threads": 0, "fds": 0, "tasks": 0},
                                "runtime": {"threads": 0, "fds": 1, "tasks": 0}},
                     "heap": [{"n": 0, "client": heap, "runtime": heap},
                              {"n": 1000, "client": {**heap, "rss": 91.001},
                               "runtime": heap}],
                     "client_top": [], "runtime_top": []}}
    rows = {r.metric: r for r in rows_from(result, 30.0, 1000)}
    assert rows["runtime RSS growth streaming"].ours == pytest.approx(1.0)
    assert rows["runtime RSS growth streaming"].met is True
    assert rows["client RSS growth per 1,000 sessions"].ours == pytest.approx(1.001, rel=1e-2)
    assert rows["client native heap in use per 1,000 sessions"].ours == pytest.approx(0.0)
    assert "client RSS growth per 1,000 sessions, mmap threshold pinned" not in rows
    assert rows["runtime threads/fds/tasks left per session"].met is False
    assert rows["delivered fps while streaming"].ours == pytest.approx(24.0)
    pinned = {r.metric: r for r in rows_from({**result, "sessions_pinned": result["sessions"]},
                                             30.0, 1000)}
    both = pinned["client RSS growth per 1,000 sessions, mmap threshold pinned"]
    assert both.ours == pytest.approx(both.baseline) and both.met is True
    short = {r.metric: r for r in rows_from(result, 0.1, 10)}
    assert short["runtime RSS growth streaming"].met is None  # too short to judge
