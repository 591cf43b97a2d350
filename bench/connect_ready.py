"""Figure 1: connect -> READY against the local runtime, ours vs the official client.

The runtime serves the built-in ``helios`` model in its own process on
``127.0.0.1:8080``, the only local address ``reactor-sdk`` 0.8.0 knows
(``Reactor(..., local=True)`` always means ``http://localhost:8080``).  Each trial is a fresh
process, alternating (ABBA):

* **ours**: ``reactor_anyio.Reactor(model_name="helios", local=True)``; ``connect()``
  returns at READY.
* **baseline**: the official ``reactor_sdk.Reactor`` in ``.venv-official``
  (``bench/official_connect.py``), unmodified except that aioice gathers on loopback only;
  READY is its ``on_status(READY)`` event.

Each process times from the ``connect()`` call to READY (imports and interpreter start are
outside the window) and then disconnects, which ends the session, so every trial starts a
new one.  Figure: the median over trials; goal: ours <= 0.5x the official client.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time
from collections.abc import Sequence

from .common import (
    OFFICIAL_PYTHON,
    REPO,
    ChildFailed,
    Row,
    abba_order,
    emit_result,
    judge,
    median,
    run_child,
    serve,
)

NAME = "connect_ready"
TITLE = "1. connect -> READY, ours vs reactor-sdk 0.8.0"

OFFICIAL_PORT = 8080
LOCAL_URL = f"http://localhost:{OFFICIAL_PORT}"
#: connects per process: the first is cold (first use of every lazily imported module),
#: the second warm (the protocol and transport alone)
CONNECTS = 2


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


async def connect_once(url: str) -> float:
    from reactor_anyio import Reactor

    reactor = Reactor(model_name="helios", local=True, api_url=url)
    try:
        started = time.monotonic()
        await reactor.connect()
        ready_ms = (time.monotonic() - started) * 1000
        await reactor.disconnect()
    finally:
        await reactor.aclose()
    return ready_ms


def child_main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.connect_ready --url URL``: one connect of our client."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=LOCAL_URL)
    parser.add_argument("--connects", type=int, default=1)
    opts = parser.parse_args(argv)

    async def connects() -> list[float]:
        return [await connect_once(opts.url) for _ in range(opts.connects)]

    emit_result({"ready_ms": asyncio.run(connects())})
    return 0


def ours_trial() -> list[float]:
    result = run_child(["-m", "bench.connect_ready", "--url", LOCAL_URL, "--connects",
                        str(CONNECTS)], timeout=60)
    return [float(v) for v in result["ready_ms"]]


def official_trial() -> list[float]:
    result = run_child([str(REPO / "bench" / "official_connect.py"), "--connects",
                        str(CONNECTS)], timeout=60, python=OFFICIAL_PYTHON)
    return [float(v) for v in result["ready_ms"]]


def run(quick: bool = False) -> list[Row]:
    trials = 3 if quick else 10
    figure = "1 connect->READY"
    if not OFFICIAL_PYTHON.exists():
        note = ("official client missing: python3 -m venv .venv-official && "
                ".venv-official/bin/pip install reactor-sdk==0.8.0")
        return [Row(figure=figure, metric="median", unit="ms", ours=float("nan"), note=note)]
    # another process (a test run, a demo) may hold 8080 for a while: wait a little for it
    for _ in range(30):
        if port_free(OFFICIAL_PORT):
            break
        time.sleep(1)
    else:
        return [Row(figure=figure, metric="median", unit="ms", ours=float("nan"),
                    note=f"port {OFFICIAL_PORT} is taken; the official client can use no other")]
    cold: dict[str, list[float]] = {"ours": [], "baseline": []}
    warm: dict[str, list[float]] = {"ours": [], "baseline": []}
    failures: list[str] = []
    with serve("helios", port=OFFICIAL_PORT):
        for side in abba_order(trials):
            try:
                first, *later = ours_trial() if side == "ours" else official_trial()
            except ChildFailed as exc:
                failures.append(f"{side}: {str(exc).splitlines()[-1]}")
                continue
            cold[side].append(first)
            warm[side].extend(later)
    note = "; ".join(f"{'ours' if side == 'ours' else 'official'} min-max {min(v):.0f}-"
                     f"{max(v):.0f} ms" for side, v in cold.items() if v)
    note += f"; {trials} processes each"
    if failures:
        note += f"; {len(failures)} failed trial(s), first: {failures[0]}"
    rows = []
    for label, samples, row_note in (("first connect in a fresh process", cold, note),
                                     ("second connect, same process", warm, "")):
        row = Row(figure=figure, metric=label, unit="ms", ours=median(samples["ours"]),
                  baseline=median(samples["baseline"]), baseline_name="reactor-sdk 0.8.0",
                  goal="<= 0.5x", note=row_note)
        rows.append(judge(row, row.ratio <= 0.5))
    return rows


if __name__ == "__main__":
    sys.exit(child_main())
