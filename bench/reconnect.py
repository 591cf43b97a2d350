"""Figure 6: back to READY after a dropped transport, with the model's state kept.

The runtime serves ``helios`` (30 fps) in its own process.  A ``Reactor`` with
``auto_reconnect=True`` and ``reconnect_delay=0`` connects, starts generation and waits for
Helios' ``state`` messages to show frames advancing.  Then its peer connection is closed
underneath it (``ClientPeer.close()`` on the live peer: what a dead network path or a crashed
peer looks like to the client), and the clock runs until the client is READY again on a new
peer, with no call from the application.  The state message the runtime sends to the new
connection shows whether the session (and so the model state) survived: ``current_frame``
must have continued from where it was, not restarted at 0.

The closing peer reports itself closed as its ``close()`` begins, so the client notices the
drop at once: the figure is the way back, not how long a dead path takes to be noticed
(aiortc's ICE consent checks, seconds).  With ``auto_reconnect`` the client keeps the next
connection's peer and offer ready from ``spare_peer_delay`` (0.5 s) after READY on
(``reactor_proto.client.spare``); the drop comes after Helios' first state message (over a
second in), so the way back measured here starts from that spare, as it would for an app.

Baseline, alternating with it (ABBA): a fresh ``connect()`` -> READY of a new ``Reactor``
against the same runtime.  Figures are medians over trials.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from .common import Row, abba_order, judge, median, serve

NAME = "reconnect"
TITLE = "6. reconnect after a dropped transport"

FPS = 30
READY_TIMEOUT = 20.0


async def _wait(predicate: Any, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.002)


async def drop_and_recover(url: str) -> tuple[float, bool]:
    """Seconds from the peer drop to READY, and whether Helios' frame counter continued."""
    from reactor_anyio import Reactor, ReactorStatus

    frames: list[int] = []
    reactor = Reactor(model_name="helios", local=True, api_url=url, auto_reconnect=True,
                      reconnect_delay=0.0)

    def on_message(message: Any) -> None:
        if isinstance(message, dict) and message.get("type") == "state":
            frames.append(int(message["data"]["current_frame"]))

    # when the status came back to READY after the drop, taken in the status event itself
    # (polling the status every 2 ms added a millisecond on average that the fresh connect,
    # timed by its awaited connect(), does not pay)
    back: list[float] = []
    dropped_at: list[float] = []

    def on_status(status: Any) -> None:
        if dropped_at and not back and status is ReactorStatus.READY:
            back.append(time.monotonic())

    reactor.on("message", on_message)
    reactor.on("status_changed", on_status)
    try:
        await reactor.connect()
        await reactor.send_command("schedule_prompt", {"prompt": "A forest", "chunk": 0})
        await reactor.send_command("start", {})
        # Helios broadcasts its state at every 33-frame chunk boundary
        await _wait(lambda: bool(frames) and frames[-1] > 0, READY_TIMEOUT)
        before = frames[-1]
        peer = reactor._peer  # the live ClientPeer: the benchmark plays a failing network
        assert peer is not None
        dropped_at.append(time.monotonic())
        await peer.close()
        await _wait(lambda: bool(back), READY_TIMEOUT)
        assert reactor.get_status() is ReactorStatus.READY
        elapsed = back[0] - dropped_at[0]
        count = len(frames)
        await _wait(lambda: len(frames) > count, READY_TIMEOUT)
        kept = frames[-1] >= before
    finally:
        await reactor.aclose()
    return elapsed, kept


async def fresh_connect(url: str) -> float:
    from reactor_anyio import Reactor

    reactor = Reactor(model_name="helios", local=True, api_url=url)
    try:
        started = time.monotonic()
        await reactor.connect()
        return time.monotonic() - started
    finally:
        await reactor.aclose()


async def measure(url: str, trials: int) -> tuple[list[float], list[float], int]:
    from .frame_path import restrict_ice_to_loopback

    restrict_ice_to_loopback()
    drops: list[float] = []
    fresh: list[float] = []
    kept = 0
    for side in abba_order(trials):
        if side == "ours":
            elapsed, state_kept = await drop_and_recover(url)
            drops.append(elapsed * 1000)
            kept += state_kept
        else:
            fresh.append(await fresh_connect(url) * 1000)
    return drops, fresh, kept


def run(quick: bool = False) -> list[Row]:
    trials = 2 if quick else 8
    with serve("helios", options={"fps": FPS}) as server:
        drops, fresh, kept = asyncio.run(measure(server.url, trials))
    ours = median(drops)
    note = (f"model state kept in {kept}/{len(drops)} trials (Helios current_frame "
            f"continued); min-max {min(drops):.0f}-{max(drops):.0f} ms" if drops else "")
    row = Row(figure="6 reconnect", metric="peer drop -> READY (auto_reconnect)", unit="ms",
              ours=ours, baseline=median(fresh) if fresh else math.nan,
              baseline_name="fresh connect -> READY", goal="<= 1.2x", note=note)
    return [judge(row, row.ratio <= 1.2)]
