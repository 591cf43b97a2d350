"""Figure 19: memory over time and over sessions (issue 21): does anything grow?

A driver process (the client: our ``Reactor``) starts ``helios`` at 24 fps in a runtime
process of its own (``python -m bench.soak --serve``, which answers resource queries on
stdin) and measures three phases:

* **streaming**: one session streams for ``--minutes`` (``python -m bench --only soak
  --minutes 30``; 1 minute by default, 3 s with ``--quick``).  After a warm-up, the RSS of
  both processes is sampled every minute (every second in the quick run); the growth is the
  least-squares slope, in MB per hour, of the raw RSS: the samples neither collect nor
  trim (:func:`heap_peek`: RSS, glibc's bytes in use and free bytes as they are), so only
  the shipped housekeeping returns memory; a trim at both ends shows what was kept.
* **sessions**: N sequential sessions (connect, one command, disconnect; 1,000 in a run of
  10 minutes or more, else 300, 6 with ``--quick``; ``REACTOR_BENCH_SOAK_SESSIONS``
  overrides) after a warm-up of a tenth of them (3 to 50: bounded caches fill, executor
  threads start, library pages are touched once).  Each session's end records both
  processes' RSS, threads and file descriptors and the asyncio tasks of each loop; the
  counts must come back to their warm-up values (polled for up to 2 s after the
  disconnect, the runtime closes peers in the background).  Every tenth of the run both
  processes' heaps are read as they are (:func:`heap_peek`), and after the last session
  once more after a collection and a trim.  Growth: the least-squares slope of the raw
  RSS, in MB per 1,000 sessions.
* **sessions, mmap threshold pinned** (``REACTOR_BENCH_SOAK_PINNED=1``): the session phase
  again against a new runtime process, with glibc's mmap threshold pinned at 128 KiB in
  both processes (glibc otherwise raises it up to 32 MiB): the comparison behind not
  shipping the pin (see the memory page of the docs).

``tracemalloc`` runs in both processes in a window of its own after the first two phases (a
tenth of it: its bookkeeping would otherwise count as growth); the notes name the top growth
sites (source lines whose live allocations grew most in that window).  Goals (judged only on
runs of at least 10 minutes and 300 sessions; the short runs are a smoke test): under 2 MB
per hour of streaming, under 2 MB per 1,000 sessions, and no thread, descriptor or task left
behind.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Sequence
from typing import Any

from .common import REPO, VENV_PYTHON, Row, child_env, emit_result, run_child
from .heap_probes import (
    census,
    counts,
    fix_mmap_threshold,
    heap_peek,
    heap_reading,
    malloc_trim,
    rss_mb,
    top_growth,
)
from .soak_rows import FPS, rows_from

NAME = "soak"
TITLE = "19. soak: memory while streaming and across sessions"
MINUTES_ENV = "REACTOR_BENCH_SOAK_MINUTES"
#: a file to write the whole result to (every sample and heap reading)
DUMP_ENV = "REACTOR_BENCH_SOAK_DUMP"
#: how many sequential sessions (default: 1,000 in a long run, else 300)
SESSIONS_ENV = "REACTOR_BENCH_SOAK_SESSIONS"
#: "1": run the session phase again with glibc's mmap threshold pinned
PINNED_ENV = "REACTOR_BENCH_SOAK_PINNED"
#: streaming this long (minutes) makes a long run: it is judged, and measures 1,000 sessions
LONG_RUN_MINUTES = 10.0
#: sessions before the session phase's reference point: caches that fill up to their bound
#: (``urlsplit``'s LRU, helios' strip cache, the executor's threads, library pages touched
#: once) settle in the first few dozen; a tenth of the run, at least 3 and at most 50
SESSION_WARMUP = (3, 50)


def session_warmup(sessions: int) -> int:
    low, high = SESSION_WARMUP
    return max(low, min(high, sessions // 10))


# ---- the runtime process --------------------------------------------------------------------


async def serve_main(mmap_threshold: bool = False) -> None:
    """``--serve``: LocalRuntime(helios) set up as ``reactor serve`` sets it up (malloc arenas
    capped; with ``mmap_threshold``, glibc's mmap threshold pinned as well); each stdin line
    is a query answered on stdout."""
    from reactor_anyio.runtime import LocalRuntime
    from reactor_anyio.webrtc.heap import limit_arenas

    limit_arenas()
    if mmap_threshold:
        fix_mmap_threshold()

    loop = asyncio.get_running_loop()
    snapshot: list[tracemalloc.Snapshot] = []

    def answer(command: str) -> dict[str, Any]:
        if command == "stats":
            return {"rss": rss_mb(), **counts(), "tasks": len(asyncio.all_tasks(loop))}
        if command == "trace-start":
            tracemalloc.start(1)
            gc.collect()
            snapshot[:] = [tracemalloc.take_snapshot()]
            return {}
        if command == "trace-top":
            return {"top": top_growth(snapshot[0]) if snapshot else []}
        if command == "trace-stop":
            tracemalloc.stop()
            snapshot.clear()
            return {}
        if command == "census":
            return census()
        if command == "heap":
            return heap_reading()
        if command == "peek":
            return heap_peek()
        if command == "trim":
            return {"rss_before": rss_mb(), "trimmed": malloc_trim(), "rss": rss_mb()}
        return {"error": command}

    def read_stdin(done: asyncio.Event) -> None:
        for line in sys.stdin:
            future = asyncio.run_coroutine_threadsafe(_on_loop(answer, line.strip()), loop)
            print(json.dumps(future.result(30)), flush=True)
        loop.call_soon_threadsafe(done.set)

    async with LocalRuntime("helios", model_options={"fps": FPS}, orphan_timeout=0) as rt:
        print(f"listening on {rt.url}", flush=True)
        done = asyncio.Event()
        threading.Thread(target=read_stdin, args=(done,), name="soak-stdin",
                         daemon=True).start()
        await done.wait()


async def _on_loop(answer: Any, command: str) -> dict[str, Any]:
    result: dict[str, Any] = answer(command)
    return result


class RuntimeProcess:
    def __init__(self, mmap_threshold: bool = False) -> None:
        extra = ["--mmap-threshold"] if mmap_threshold else []
        self.proc = subprocess.Popen(
            [str(VENV_PYTHON), "-m", "bench.soak", "--serve", *extra], cwd=REPO,
            env=child_env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"runtime did not start: {line!r}")
        self.url = line.split()[-1].rstrip("/")

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return answer

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


# ---- the driver (client) process ------------------------------------------------------------


def client_stats() -> dict[str, Any]:
    return {"rss": rss_mb(), **counts(), "tasks": len(asyncio.all_tasks())}


async def stream_phase(runtime: RuntimeProcess, minutes: float, period: float,
                       warmup: float) -> dict[str, Any]:
    from reactor_anyio import Reactor

    frames = [0]
    reactor = Reactor(model_name="helios", local=True, api_url=runtime.url)
    reactor.set_frame_callback(lambda _frame: frames.__setitem__(0, frames[0] + 1))
    samples: list[dict[str, Any]] = []
    try:
        await reactor.connect()
        await asyncio.sleep(warmup)
        retained = {"start": trimmed(runtime)}
        start = time.monotonic()
        end = start + minutes * 60
        while True:
            now = time.monotonic()
            samples.append({"t": now - start, "client": rss_mb(),
                            "runtime": runtime.ask("stats")["rss"], "frames": frames[0],
                            "heap": {"client": heap_peek(), "runtime": runtime.ask("peek")}})
            if now >= end:
                break
            await asyncio.sleep(min(period, end - now))
        retained["end"] = trimmed(runtime)
        # growth sites from a window of their own: tracemalloc's bookkeeping is not free
        before = start_tracing(runtime)
        await asyncio.sleep(trace_window(minutes * 60))
        client_top, runtime_top = stop_tracing(runtime, before)
    finally:
        await reactor.aclose()
    return {"samples": samples, "client_top": client_top, "runtime_top": runtime_top,
            "retained": retained}


def trace_window(seconds: float) -> float:
    """How long the growth sites are traced after a phase: a tenth of it, 2 to 60 s."""
    return min(60.0, max(2.0, seconds / 10))


def start_tracing(runtime: RuntimeProcess) -> tracemalloc.Snapshot:
    tracemalloc.start(1)
    gc.collect()
    runtime.ask("trace-start")
    return tracemalloc.take_snapshot()


def stop_tracing(runtime: RuntimeProcess, before: tracemalloc.Snapshot
                 ) -> tuple[list[str], list[str]]:
    client_top = top_growth(before)
    runtime_top: list[str] = runtime.ask("trace-top")["top"]
    tracemalloc.stop()
    runtime.ask("trace-stop")
    return client_top, runtime_top


def trimmed(runtime: RuntimeProcess) -> dict[str, float]:
    """Both processes' RSS after ``malloc_trim``: what is really retained, without the
    freed memory glibc still holds."""
    gc.collect()
    malloc_trim()
    return {"client": rss_mb(), "runtime": runtime.ask("trim")["rss"]}


async def one_session(url: str, seed: int = 7) -> None:
    """Connect, one command, disconnect.  The same seed every time: helios caches a
    rendered strip per seed (bounded, 8 entries), which would read as growth here."""
    from reactor_anyio import Reactor

    reactor = Reactor(model_name="helios", local=True, api_url=url)
    try:
        await reactor.connect()
        await reactor.send_command("set_seed", {"seed": seed})
        await asyncio.sleep(0.05)
    finally:
        await reactor.aclose()


async def settle_counts(runtime: RuntimeProcess, reference: dict[str, dict[str, int]]
                        ) -> dict[str, dict[str, Any]]:
    """Both processes' readings, polled until their counts are back at ``reference`` (or 2 s
    have passed)."""
    deadline = time.monotonic() + 2.0
    while True:
        now = {"client": client_stats(), "runtime": runtime.ask("stats")}
        back = all(now[side][key] <= reference[side][key]
                   for side in reference for key in ("threads", "fds", "tasks"))
        if back or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.05)


async def session_phase(runtime: RuntimeProcess, sessions: int,
                        trace: bool = True) -> dict[str, Any]:
    """``sessions`` sessions after a warm-up; raw RSS after each, every tenth of the run
    both processes' heaps as they are (:func:`heap_peek`), and after the last session the
    RSS after a trim."""
    for _ in range(session_warmup(sessions)):
        await one_session(runtime.url)
    await asyncio.sleep(0.5)
    reference = {"client": client_stats(), "runtime": runtime.ask("stats")}
    every = max(1, sessions // 10)
    heap = [{"n": 0, "client": heap_peek(), "runtime": runtime.ask("peek")}]
    rows = []
    excess = {side: {key: 0 for key in ("threads", "fds", "tasks")} for side in reference}
    for index in range(sessions):
        await one_session(runtime.url)
        now = await settle_counts(runtime, reference)
        for side, reading in now.items():
            for key in excess[side]:
                excess[side][key] = max(excess[side][key], reading[key] - reference[side][key])
        rows.append({"n": index + 1, "client": now["client"]["rss"],
                     "runtime": now["runtime"]["rss"]})
        if (index + 1) % every == 0:
            heap.append({"n": index + 1, "client": heap_peek(),
                         "runtime": runtime.ask("peek")})
    result: dict[str, Any] = {"reference": reference, "rows": rows, "excess": excess,
                              "heap": heap, "retained": trimmed(runtime),
                              "client_top": [], "runtime_top": []}
    if trace:
        before = start_tracing(runtime)
        for _ in range(max(3, sessions // 10)):
            await one_session(runtime.url)
        result["client_top"], result["runtime_top"] = stop_tracing(runtime, before)
    return result


async def drive(minutes: float, period: float, warmup: float, sessions: int,
                pinned: bool = False) -> dict[str, Any]:
    """The streaming phase and the session phase as shipped; with ``pinned``, the session
    phase again with glibc's mmap threshold pinned in both processes (a new runtime
    process; the client pins it from then on): the same run, before and after."""
    from .frame_path import restrict_ice_to_loopback

    restrict_ice_to_loopback()
    runtime = RuntimeProcess()
    try:
        stream = await stream_phase(runtime, minutes, period, warmup)
        churn = await session_phase(runtime, sessions)
    finally:
        runtime.close()
    if not pinned:
        return {"stream": stream, "sessions": churn}
    fix_mmap_threshold()
    runtime = RuntimeProcess(mmap_threshold=True)
    try:
        pinned = await session_phase(runtime, sessions, trace=False)
    finally:
        runtime.close()
    return {"stream": stream, "sessions": churn, "sessions_pinned": pinned}


def child_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--mmap-threshold", action="store_true")
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--period", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=30.0)
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--pinned", action="store_true")
    opts = parser.parse_args(argv)
    if opts.serve:
        asyncio.run(serve_main(opts.mmap_threshold))
        return 0
    result = asyncio.run(drive(opts.minutes, opts.period, opts.warmup, opts.sessions,
                               opts.pinned))
    dump = os.environ.get(DUMP_ENV)
    if dump:  # every sample, for a long run's write-up
        with open(dump, "w") as out:
            json.dump(result, out)
    emit_result(result)
    return 0


# ---- the figure -------------------------------------------------------------------------------


def run(quick: bool = False) -> list[Row]:
    env_minutes = os.environ.get(MINUTES_ENV)
    minutes = float(env_minutes) if env_minutes else (0.05 if quick else 1.0)
    period = 1.0 if minutes < 5 else 60.0
    warmup = 2.0 if quick else 30.0
    env_sessions = os.environ.get(SESSIONS_ENV)
    sessions = (int(env_sessions) if env_sessions else
                6 if quick else 1000 if minutes >= LONG_RUN_MINUTES else 300)
    pinned = ["--pinned"] if os.environ.get(PINNED_ENV) == "1" else []
    result = run_child(["-m", "bench.soak", "--minutes", str(minutes), "--period", str(period),
                        "--warmup", str(warmup), "--sessions", str(sessions), *pinned],
                       timeout=minutes * 60 + warmup + sessions * (20 if pinned else 10) + 180)
    return rows_from(result, minutes, sessions)


if __name__ == "__main__":
    sys.exit(child_main())
