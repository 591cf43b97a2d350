"""Runner for the official ``reactor-sdk==0.8.0`` client in figure 9, executed by
``.venv-official``'s Python, never imported by the suite:
``.venv-official/bin/python bench/official_frames.py --model NAME``.

Connects ``Reactor(model_name=..., local=True)`` (always ``http://localhost:8080``) and prints
one ``BENCH-RESULT {json}`` line: connect() -> READY, connect() -> first frame, and frames
per second over the next 3 s.  0.8.0 speaks v0, where commands get no reply, so there is no
reply latency to report.  The client runs unmodified; aioice gathers on loopback only (it
leaves 127.0.0.1 out by default), as in ``official_connect.py``.

With ``--cpu-seconds N`` (figure 2's OpenCV-style consumer) it instead measures its own
process CPU per received frame over N seconds after a warm-up, while the frame callback does
what an OpenCV user of 0.8.0 must: take the RGB array it is given and make a BGR copy
(``cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)``; its numpy equivalent here, OpenCV is not
installed).  Prints ``{"frames", "cpu_s", "wall_s"}``.

With ``--sessions N --api-url URL --api-key KEY`` (figure 17) it connects N clients at once
through a coordinator, each with a frame callback, and prints each session's READY time from
the common start plus the process CPU and the frames of all sessions over the window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

RESULT_PREFIX = "BENCH-RESULT "
FPS_WINDOW = 3.0


def restrict_ice_to_loopback() -> None:
    import aioice.ice

    def loopback_only(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
        return ["127.0.0.1"] if use_ipv4 else []

    aioice.ice.get_host_addresses = loopback_only


async def measure(model: str, limit_s: float) -> dict[str, Any]:
    from reactor_sdk import Reactor, ReactorStatus  # type: ignore[import-not-found]

    reactor = Reactor(model_name=model, local=True)
    ready = asyncio.Event()
    frames: list[float] = []
    reactor.on_status(ReactorStatus.READY)(lambda status: ready.set())
    reactor.set_frame_callback(lambda frame: frames.append(time.monotonic()))
    started = time.monotonic()
    await asyncio.wait_for(reactor.connect(), limit_s)
    await asyncio.wait_for(ready.wait(), limit_s)
    ready_ms = (time.monotonic() - started) * 1000
    deadline = time.monotonic() + limit_s
    while not frames and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    first_ms = (frames[0] - started) * 1000 if frames else float("nan")
    counted = len(frames)
    await asyncio.sleep(FPS_WINDOW)
    fps = (len(frames) - counted) / FPS_WINDOW
    await asyncio.wait_for(reactor.disconnect(), limit_s)
    return {"ready_ms": ready_ms, "first_frame_ms": first_ms, "fps": fps}


async def measure_bgr_cpu(model: str, warmup: float, seconds: float,
                          limit_s: float) -> dict[str, Any]:
    import numpy as np
    from reactor_sdk import Reactor

    reactor = Reactor(model_name=model, local=True)
    state: dict[str, Any] = {"frames": 0, "counting": False, "last": None}

    def on_frame(rgb: Any) -> None:
        state["last"] = np.ascontiguousarray(rgb[..., ::-1])  # cv2.COLOR_RGB2BGR
        if state["counting"]:
            state["frames"] += 1

    reactor.set_frame_callback(on_frame)
    await asyncio.wait_for(reactor.connect(), limit_s)
    deadline = time.monotonic() + limit_s
    while state["last"] is None and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    await asyncio.sleep(warmup)
    cpu0, wall0 = time.process_time(), time.monotonic()
    state["counting"] = True
    await asyncio.sleep(seconds)
    state["counting"] = False
    cpu_s, wall_s = time.process_time() - cpu0, time.monotonic() - wall0
    await asyncio.wait_for(reactor.disconnect(), limit_s)
    return {"frames": state["frames"], "cpu_s": cpu_s, "wall_s": wall_s}


async def measure_sessions(url: str, key: str, sessions: int, warmup: float, seconds: float,
                           limit_s: float) -> dict[str, Any]:
    from reactor_sdk import Reactor, ReactorStatus

    state: dict[str, Any] = {"frames": 0, "counting": False}

    def on_frame(frame: Any) -> None:
        if state["counting"]:
            state["frames"] += 1

    reactors = [Reactor(model_name="helios", api_key=key, api_url=url) for _ in range(sessions)]
    started = time.monotonic()
    ready: list[float] = []

    async def connect(reactor: Any) -> None:
        event = asyncio.Event()
        reactor.on_status(ReactorStatus.READY)(lambda status: event.set())
        reactor.set_frame_callback(on_frame)
        await reactor.connect()
        await event.wait()
        ready.append((time.monotonic() - started) * 1000)

    try:
        await asyncio.wait_for(asyncio.gather(*(connect(r) for r in reactors)), limit_s)
        await asyncio.sleep(warmup)
        cpu0, wall0 = time.process_time(), time.monotonic()
        state["counting"] = True
        await asyncio.sleep(seconds)
        state["counting"] = False
        cpu_s, wall_s = time.process_time() - cpu0, time.monotonic() - wall0
    finally:
        await asyncio.gather(*(r.disconnect() for r in reactors), return_exceptions=True)
    return {"ready_ms": ready, "frames": state["frames"], "cpu_s": cpu_s, "wall_s": wall_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--model", default="helios")
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--cpu-seconds", type=float, default=0.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--sessions", type=int, default=0)
    parser.add_argument("--api-url", default="")
    parser.add_argument("--api-key", default="")
    parser.add_argument("--seconds", type=float, default=6.0)
    opts = parser.parse_args(argv)
    restrict_ice_to_loopback()
    if opts.sessions > 0:
        result = asyncio.run(measure_sessions(opts.api_url, opts.api_key, opts.sessions,
                                              opts.warmup, opts.seconds, 60.0))
    elif opts.cpu_seconds > 0:
        result = asyncio.run(measure_bgr_cpu(opts.model, opts.warmup, opts.cpu_seconds,
                                             opts.timeout))
    else:
        result = asyncio.run(measure(opts.model, opts.timeout))
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
