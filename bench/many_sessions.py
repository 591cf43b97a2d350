"""Figure 17: many sessions in one client process, ours vs reactor-sdk 0.8.0 (issue 20).

An app backend serving several users keeps several sessions in one process.  The
coordinator emulator (``reactor coordinator --gpus 8``, its own process, eight in-process
runtimes serving ``helios``) stands in for the cloud.  A client process (a fresh one per
trial) creates N sessions at once (``asyncio.gather`` of N ``connect()`` calls, each its own
``Reactor`` with the same API key) and each streams Helios (640x360, 30 fps):

* **ours**: ``reactor_anyio.Reactor(api_key=..., api_url=URL)`` with a frame callback (RGB);
* **baseline**: the official ``reactor-sdk`` 0.8.0 ``Reactor(api_key=..., api_url=URL)`` in
  ``.venv-official`` (``bench/official_frames.py --sessions N``), aioice on loopback only.

Figures, for N = 1, 4 and 8, medians over trials alternating ABBA: the time from the common
start to the *last* session's READY (the user who waits longest), and the client process's
CPU (every thread) per received frame over a window after a warm-up, all sessions' frames
counted.  Goals: READY of N concurrent sessions <= 1.5x a single connect (ours, same run),
CPU per frame <= 1.0x the official client's.  Before the measured trials, one untimed trial
per side at the largest N puts every runtime slot of the coordinator in service, so that no
side's first trial meets cold runtimes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import attrs

from .common import (
    OFFICIAL_PYTHON,
    REACTOR_CLI,
    REPO,
    ChildFailed,
    CpuWindow,
    Row,
    abba_order,
    child_env,
    emit_result,
    judge,
    median,
    run_child,
    stop_process,
)

NAME = "many_sessions"
TITLE = "17. many sessions in one process: READY and CPU per frame, ours vs reactor-sdk 0.8.0"

API_KEY = "rk_bench_many"
GPUS = 8
COUNTS = (1, 4, 8)


@contextlib.contextmanager
def coordinator(gpus: int = GPUS) -> Iterator[str]:
    """``reactor coordinator --gpus N`` in its own process; yields its URL."""
    argv = [str(REACTOR_CLI), "coordinator", "--port", "0", "--gpus", str(gpus),
            "--api-key", API_KEY, "--model", "helios"]
    proc = subprocess.Popen(argv, cwd=REPO, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        url = None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            found = re.search(r"listening on (http://\S+)", line)
            if found:
                url = found.group(1)
                break
        if url is None:
            raise ChildFailed("reactor coordinator did not start")
        yield url
    finally:
        stop_process(proc, 10)
        if proc.stdout is not None:
            proc.stdout.close()


async def run_ours(url: str, sessions: int, warmup: float, seconds: float) -> dict[str, Any]:
    from reactor_anyio import Reactor

    state = {"frames": 0, "counting": False}

    def on_frame(frame: Any) -> None:
        if state["counting"]:
            state["frames"] += 1

    reactors = [Reactor(model_name="helios", api_key=API_KEY, api_url=url)
                for _ in range(sessions)]
    for reactor in reactors:
        reactor.set_frame_callback(on_frame)
    started = time.monotonic()
    ready: list[float] = []

    async def connect(reactor: Reactor) -> None:
        await reactor.connect()
        ready.append((time.monotonic() - started) * 1000)

    try:
        await asyncio.wait_for(asyncio.gather(*(connect(r) for r in reactors)), 60)
        await asyncio.sleep(warmup)
        cpu = CpuWindow()
        cpu.start()
        state["counting"] = True
        await asyncio.sleep(seconds)
        state["counting"] = False
        cpu.stop()
    finally:
        await asyncio.gather(*(r.aclose() for r in reactors), return_exceptions=True)
    return {"ready_ms": ready, "frames": state["frames"], "cpu_s": cpu.cpu, "wall_s": cpu.wall}


def child_main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.many_sessions --url URL --sessions N``: one trial of ours."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=6.0)
    opts = parser.parse_args(argv)
    emit_result(asyncio.run(run_ours(opts.url, opts.sessions, opts.warmup, opts.seconds)))
    return 0


def trial(side: str, url: str, sessions: int, *, warmup: float, seconds: float
          ) -> dict[str, Any]:
    timing = ["--warmup", str(warmup), "--seconds", str(seconds)]
    limit = warmup + seconds + 120
    if side == "ours":
        return run_child(["-m", "bench.many_sessions", "--url", url, "--sessions",
                          str(sessions), *timing], timeout=limit)
    return run_child([str(REPO / "bench" / "official_frames.py"), "--sessions", str(sessions),
                      "--api-url", url, "--api-key", API_KEY, *timing], timeout=limit,
                     python=OFFICIAL_PYTHON)


def run(quick: bool = False) -> list[Row]:
    figure = "17 many sessions"
    if not OFFICIAL_PYTHON.exists():
        return [Row(figure=figure, metric="READY", unit="ms", ours=math.nan,
                    note="official client missing (.venv-official)")]
    trials = 1 if quick else 3
    warmup, seconds = (1.0, 2.0) if quick else (2.0, 6.0)
    counts = COUNTS[:2] if quick else COUNTS
    ready: dict[tuple[int, str], list[float]] = {}
    cpu: dict[tuple[int, str], list[float]] = {}
    fps: dict[tuple[int, str], list[float]] = {}
    failures: list[str] = []
    with coordinator() as url:
        # The coordinator gives a session the lowest free slot, so the first trial at each N
        # was the first to use slots N/2..N-1 (cold runtimes: the model's first session, its
        # encoder's first frames), and ABBA made that trial ours every time.  One untimed
        # trial per side at the largest N first puts every slot in service for both clients.
        for side in ("ours", "baseline"):
            with contextlib.suppress(ChildFailed):
                trial(side, url, max(counts), warmup=0.5, seconds=0.5)
        for sessions in counts:
            for side in abba_order(trials):
                try:
                    result = trial(side, url, sessions, warmup=warmup, seconds=seconds)
                except ChildFailed as exc:
                    failures.append(f"{side} x{sessions}: {str(exc).splitlines()[-1]}")
                    continue
                key = (sessions, side)
                if len(result["ready_ms"]) == sessions:
                    ready.setdefault(key, []).append(max(result["ready_ms"]))
                if result["frames"]:
                    cpu.setdefault(key, []).append(result["cpu_s"] * 1000 / result["frames"])
                    fps.setdefault(key, []).append(
                        result["frames"] / result["wall_s"] / sessions)
    single = median(ready.get((1, "ours"), []))
    rows: list[Row] = []
    for sessions in counts:
        ours_ready = median(ready.get((sessions, "ours"), []))
        note = (f"slowest of {sessions}; ours vs our single connect "
                f"{ours_ready / single:.2f}x (goal <= 1.5x)" if single > 0 else "")
        row = Row(figure=figure, metric=f"{sessions} session(s): READY (slowest)", unit="ms",
                  ours=ours_ready, baseline=median(ready.get((sessions, "baseline"), [])),
                  baseline_name="reactor-sdk 0.8.0", goal="<= 1.5x our 1", note=note)
        rows.append(judge(row, ours_ready <= 1.5 * single) if single > 0 else row)
        fps_note = (f"fps per session ours {median(fps.get((sessions, 'ours'), [])):.1f} / "
                    f"official {median(fps.get((sessions, 'baseline'), [])):.1f}; "
                    f"{trials} trial(s) each")
        row = Row(figure=figure, metric=f"{sessions} session(s): CPU per frame", unit="ms",
                  ours=median(cpu.get((sessions, "ours"), [])),
                  baseline=median(cpu.get((sessions, "baseline"), [])),
                  baseline_name="reactor-sdk 0.8.0", goal="<= 1.0x", note=fps_note)
        rows.append(judge(row, row.ratio <= 1.0))
    if failures:
        rows[-1] = attrs.evolve(rows[-1], note=rows[-1].note +
                                f"; {len(failures)} failed trial(s), first: {failures[0]}")
    return rows


if __name__ == "__main__":
    sys.exit(child_main())
