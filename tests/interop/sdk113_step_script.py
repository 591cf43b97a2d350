"""Drive the official ``reactor-sdk==1.13.0`` in a stepped session against our runtime; print
a JSON summary as the last line of stdout.

Runs in the side venv (``.venv-sdk113``), inside the test's network namespace:
``python sdk113_step_script.py <scenario> <api_url> [h264 file [api_key model]]`` (with an
API key it talks to a coordinator).  Scenarios:

* ``steps`` -- three steps (a ``StepCommand`` on the second), an encoded-frame step from
  the H.264 access units in the file (length-prefixed, 4 bytes big-endian each), a refused
  step and a step whose command fails; the output track must stay silent;
* ``bench`` -- median wall time of a step with one frame out (the model's output size).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from reactor_sdk import EncodedFrame, Reactor, ReactorError, StepCommand

OUTPUT = "main_video"
INPUT = "webcam"


def units_from(path: str) -> list[bytes]:
    blob = Path(path).read_bytes()
    units, at = [], 0
    while at < len(blob):
        size = int.from_bytes(blob[at:at + 4], "big")
        units.append(blob[at + 4:at + 4 + size])
        at += 4 + size
    return units


def frame_of(result: Any) -> Any:
    return result.track(OUTPUT).frames[0].array


async def error_of(call: Any) -> dict[str, Any] | None:
    try:
        await call
    except ReactorError as exc:
        return {"code": str(exc.code), "type": type(exc).__name__,
                "entry": getattr(exc, "entry", None)}
    return None


def client(url: str, api_key: str | None, model: str) -> Reactor:
    if api_key is None:
        return Reactor(model, local=True, api_url=url, generation="stepped")
    return Reactor(model, api_key=api_key, api_url=url, generation="stepped")


async def steps(url: str, h264: str, api_key: str | None = None,
                model: str = "reply_echo") -> dict[str, Any]:
    out: dict[str, Any] = {}
    reactor = client(url, api_key, model)
    streamed: list[Any] = []
    reactor.track(OUTPUT).on_frame(streamed.append)
    await asyncio.wait_for(reactor.connect(), 20)
    camera = await reactor.track(INPUT).publish()
    image = np.zeros((360, 640, 3), np.uint8)
    image[:, :320] = 200
    first = await reactor.step(state={"effect": "none"}, media={INPUT: [image]})
    second = await reactor.step(commands=[StepCommand("set_effect", {"effect": "mirror"})],
                                media={INPUT: [image]})
    third = await reactor.step(state={"effect": "none"})
    out["steps"] = [first.step, second.step, third.step]
    out["errors"] = [first.error, second.error, third.error]
    out["shape"] = list(frame_of(first).shape)
    out["left_first"] = int(frame_of(first)[300, 10, 0])
    out["left_second"] = int(frame_of(second)[300, 10, 0])
    out["elapsed"] = [first.elapsed, second.elapsed, third.elapsed]
    units = units_from(h264)
    encoded = await reactor.step(state={"effect": "none"}, media={INPUT: [
        EncodedFrame(unit, width=640, height=360) for unit in units]})
    out["encoded_step"] = encoded.step
    out["encoded_green"] = int(frame_of(encoded)[180, 600, 1])
    out["refused"] = await error_of(reactor.step(state={"effect": "sparkles"}))
    out["command_failed"] = await error_of(reactor.step(
        commands=[StepCommand("fail_with", {"code": "my_code"})]))
    after = await reactor.step()
    out["after_failures_step"] = after.step
    out["streamed_frames"] = len(streamed)
    del camera
    await reactor.disconnect()
    return out


async def bench(url: str, count: int) -> dict[str, Any]:
    reactor = Reactor("reply_echo", local=True, api_url=url, generation="stepped")
    await asyncio.wait_for(reactor.connect(), 20)
    await reactor.step()  # warm up
    times = []
    for _ in range(count):
        started = time.perf_counter()
        result = await reactor.step()
        times.append((time.perf_counter() - started) * 1000)
        assert frame_of(result).ndim == 3 and frame_of(result).shape[2] == 3
    await reactor.disconnect()
    return {"step_ms": statistics.median(times), "step_p90_ms": sorted(times)[
        int(len(times) * 0.9)], "steps": count}


def main() -> None:
    scenario, url = sys.argv[1], sys.argv[2]
    if scenario == "steps":
        summary = asyncio.run(steps(url, *sys.argv[3:6]))
    else:
        summary = asyncio.run(bench(url, int(sys.argv[3]) if len(sys.argv) > 3 else 30))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
