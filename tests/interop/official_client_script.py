"""Drive the unmodified official ``reactor-sdk==0.8.0`` client against a runtime on
``http://localhost:8080`` (the address 0.8.0 hard-codes for ``local=True``).

Runs in the separate ``.venv-official`` environment, in its own process.  The only patch:
aioice's host-address discovery is restricted to 127.0.0.1, because this machine may only
talk over loopback and aioice leaves 127.0.0.1 out of its candidates.

Usage: ``python official_client_script.py helios RUNS`` or ``... echo``.  Prints one JSON
summary line on stdout.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import Any

import aioice.ice
import numpy as np
from aiortc import VideoStreamTrack
from av import VideoFrame


def _loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


aioice.ice.get_host_addresses = _loopback_host_addresses

# imported after the patch, so nothing can capture the original function first
from reactor_sdk import Reactor, ReactorStatus  # type: ignore[import-not-found]  # noqa: E402

WEBCAM_COLOUR = (200, 40, 90)


class SolidWebcam(VideoStreamTrack):
    """A 640x360 webcam stand-in of one colour."""

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame.from_ndarray(
            np.full((360, 640, 3), WEBCAM_COLOUR, dtype=np.uint8), format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class Session:
    """One official client with everything it reports recorded."""

    def __init__(self) -> None:
        self.reactor = Reactor(model_name="helios", local=True)
        self.frames: list[Any] = []
        self.messages: list[dict[str, Any]] = []
        self.statuses: list[str] = []
        self.ready = asyncio.Event()
        self.ready_at = 0.0
        self.reactor.on("status_changed", self._status)
        self.reactor.on("message", self.messages.append)
        self.reactor.set_frame_callback(self.frames.append)

    def _status(self, status: Any) -> None:
        self.statuses.append(str(getattr(status, "value", status)))
        if status == ReactorStatus.READY and not self.ready.is_set():
            self.ready_at = time.monotonic()
            self.ready.set()

    async def connect(self) -> float:
        """connect() -> READY in ms."""
        started = time.monotonic()
        await self.reactor.connect()
        await asyncio.wait_for(self.ready.wait(), 10)
        return (self.ready_at - started) * 1000

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if isinstance(m, dict) and m.get("type") == type_]


async def until(predicate: Any, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def run_helios(runs: int) -> dict[str, Any]:
    ready_ms: list[float] = []
    summary: dict[str, Any] = {}
    for index in range(runs):
        session = Session()
        ready_ms.append(await session.connect())
        if index == 0:
            first_frame = time.monotonic()
            await session.reactor.send_command("schedule_prompt",
                                               {"prompt": "Interop", "chunk": 0})
            await session.reactor.send_command("start", {})
            await until(lambda s=session: len(s.frames) >= 60 and bool(s.of_type("state"))
                        and bool(s.of_type("event")))
            frames = session.frames
            summary = {
                "frames": len(frames),
                "frame_shape": list(frames[-1].shape) if frames else None,
                "seconds_to_60_frames": round(time.monotonic() - first_frame, 3),
                "states": len(session.of_type("state")),
                "events": sorted({m["data"].get("event") for m in session.of_type("event")}),
                "statuses": session.statuses,
            }
        await session.reactor.disconnect()
        await asyncio.sleep(0.1)
    summary["ready_ms"] = [round(ms, 1) for ms in ready_ms]
    summary["ready_ms_median"] = round(statistics.median(ready_ms), 1)
    return summary


async def run_echo() -> dict[str, Any]:
    session = Session()
    ready_ms = await session.connect()
    await session.reactor.publish_track("webcam", SolidWebcam())
    inverted = np.array([255 - c for c in WEBCAM_COLOUR], dtype=float)

    def transformed() -> bool:
        if len(session.frames) < 30:
            return False
        frame = session.frames[-1]
        centre = frame[170:190, 310:330].reshape(-1, 3).mean(axis=0)
        return bool(np.abs(centre - inverted).max() < 40)

    ok = await until(transformed)
    centre = (session.frames[-1][170:190, 310:330].reshape(-1, 3).mean(axis=0).tolist()
              if session.frames else None)
    await session.reactor.unpublish_track("webcam")
    await session.reactor.disconnect()
    return {"ready_ms": round(ready_ms, 1), "frames": len(session.frames),
            "transformed": ok, "centre": centre, "effects": len(session.of_type("effect")),
            "statuses": session.statuses}


def main() -> None:
    mode = sys.argv[1]
    result = asyncio.run(run_helios(int(sys.argv[2])) if mode == "helios" else run_echo())
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
