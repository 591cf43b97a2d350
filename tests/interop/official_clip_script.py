"""Drive the unmodified official ``reactor-sdk==0.8.0`` client's clip API against a runtime
on ``http://localhost:8080``: connect, watch a few seconds, ``request_clip(4)``,
``download_clip_as_file``; then decode the bytes with PyAV.  Runs in ``.venv-official``, in
its own process (the same loopback-only aioice patch as ``official_client_script.py``).
Prints one JSON summary line on stdout.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
from typing import Any

import aioice.ice
import av


def _loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


aioice.ice.get_host_addresses = _loopback_host_addresses

from reactor_sdk import Reactor, ReactorStatus  # type: ignore[import-not-found]  # noqa: E402


def _decode(data: bytes) -> tuple[int, float, tuple[int, int]]:
    """Frames, seconds and size of the video in ``data``."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        times = []
        size = (0, 0)
        for frame in container.decode(stream):
            times.append(float(frame.time) if frame.time is not None else 0.0)
            size = (frame.width, frame.height)
    span = (max(times) - min(times) + 1 / 30) if times else 0.0
    return len(times), span, size


async def main(watch: float, seconds: float) -> dict[str, Any]:
    reactor = Reactor(model_name="helios", local=True)
    ready = asyncio.Event()
    frames: list[Any] = []

    def status(value: Any) -> None:
        if value == ReactorStatus.READY:
            ready.set()

    reactor.on("status_changed", status)
    reactor.set_frame_callback(frames.append)
    await reactor.connect()
    await asyncio.wait_for(ready.wait(), 10)
    await asyncio.sleep(watch)
    asked = time.monotonic()
    clip = await reactor.request_clip(seconds)
    promised = time.monotonic()
    progress: list[tuple[int, int]] = []
    data = await reactor.download_clip_as_file(
        clip, on_progress=lambda done, total, *_: progress.append((done, total)))
    in_hand = time.monotonic()
    await reactor.disconnect()
    count, span, size = _decode(data)
    return {"bytes": len(data), "frames": count, "seconds": span, "size": list(size),
            "kind": str(getattr(clip.kind, "value", clip.kind)),
            "clip_seconds": clip.end_marker - clip.start_marker,
            "request_ms": (promised - asked) * 1000, "in_hand_ms": (in_hand - asked) * 1000,
            "progress": progress[-1:], "received": len(frames)}


if __name__ == "__main__":
    summary = asyncio.run(main(float(sys.argv[1]), float(sys.argv[2])))
    print(json.dumps(summary))
