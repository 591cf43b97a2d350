"""Drive the official ``reactor-sdk==1.13.0`` (v1 wire) against our runtime; print a JSON
summary as the last line of stdout.

Runs in the side venv (``.venv-sdk113``), inside the test's network namespace:
``python sdk113_client_script.py <scenario> <api_url> [api_key model]`` (with an API key it
talks to a coordinator, which names the model by the spec it was started with, else to a
local runtime).  Scenarios:

* ``full`` -- connect, frames, messages, commands with replies and errors, schema, an upload
  used in a command, pause/resume, publishing a track with push_frame, get_stats, and a
  second client adopting the session by id;
* ``bench`` -- READY time, first frame, fps over 3 s, a command's reply latency (median).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import Any

import numpy as np
from reactor_sdk import Reactor, ReactorError

OUTPUT = "main_video"
INPUT = "webcam"


class Frames:
    """Counts the frames of one output track and keeps the last one."""

    def __init__(self) -> None:
        self.count = 0
        self.first_at: float | None = None
        self.last: Any = None

    def __call__(self, frame: Any) -> None:
        self.count += 1
        if self.first_at is None:
            self.first_at = time.perf_counter()
        self.last = frame

    async def wait(self, count: int, within: float) -> bool:
        deadline = time.perf_counter() + within
        while self.count < count and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return self.count >= count


API_KEY: str | None = None
MODEL_NAME = "reply_echo"


def client(url: str) -> Reactor:
    if API_KEY is None:
        return Reactor(MODEL_NAME, local=True, api_url=url)
    return Reactor(MODEL_NAME, api_key=API_KEY, api_url=url)


async def error_code(call: Any) -> str | None:
    try:
        await call
    except ReactorError as exc:
        return str(exc.code)
    return None


async def full(url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    messages: list[Any] = []
    reactor = client(url)
    reactor.on("message", messages.append)
    frames = Frames()
    reactor.track(OUTPUT).on_frame(frames)
    await asyncio.wait_for(reactor.connect(), 20)
    out["status"] = str(reactor.status.value if hasattr(reactor.status, "value")
                        else reactor.status)
    out["first_frame"] = await frames.wait(1, 10)
    schema = await asyncio.wait_for(reactor.request_schema(), 10)
    out["schema_has_commands"] = sorted(
        path.strip("/") for path in (schema.get("paths") or {}))
    out["reply"] = await asyncio.wait_for(reactor.send_command("ping_reply", {"text": "hi"}), 10)
    out["ack"] = await asyncio.wait_for(reactor.send_command("set_effect", {"effect": "none"}),
                                        10)
    out["unknown_command"] = await error_code(reactor.send_command("no_such_command", {}))
    out["bad_argument"] = await error_code(reactor.send_command("set_effect", {"effect": 3}))
    out["model_error"] = await error_code(reactor.send_command("fail_with", {"code": "my_code"}))
    out["crash"] = await error_code(reactor.send_command("crash", {}))
    ref = await asyncio.wait_for(reactor.upload_file(b"x" * 1000, name="blob.bin"), 10)
    out["upload_reply"] = await asyncio.wait_for(
        reactor.send_command("use_file", {"file": ref}), 10)
    # pause / resume
    track = reactor.track(OUTPUT)
    await track.pause()
    await asyncio.sleep(0.5)
    before = frames.count
    await asyncio.sleep(1.0)
    out["frames_while_paused"] = frames.count - before
    await track.resume()
    before = frames.count
    out["resumed"] = await frames.wait(before + 5, 10)
    # publish a solid colour and get it back through the echo model (effect "none")
    webcam = await asyncio.wait_for(reactor.publish_track(INPUT), 10)
    colour = np.zeros((240, 320, 3), dtype=np.uint8)
    colour[...] = (200, 40, 40)
    echoed = None
    for _ in range(60):
        webcam.push_frame(colour)
        await asyncio.sleep(0.05)
        last = frames.last
        if last is not None:
            centre = np.asarray(last)[100:260, 200:440].reshape(-1, 3).mean(axis=0)
            if abs(centre[0] - 200) < 40 and abs(centre[1] - 40) < 40:
                echoed = [round(float(c)) for c in centre]
                break
    out["echoed_colour"] = echoed
    stats = await asyncio.wait_for(reactor.get_stats(), 10)
    out["stats_rtt_ms"] = stats.rtt_ms
    out["stats_frames_decoded"] = sum(s.frames_decoded for s in stats.inbound
                                      if s.kind == "video")
    # a second client adopts the session by id
    second = client(url)
    second_frames = Frames()
    second.track(OUTPUT).on_frame(second_frames)
    await asyncio.wait_for(second.connect(session_id=reactor.session_id), 20)
    out["second_same_session"] = second.session_id == reactor.session_id
    out["second_frames"] = await second_frames.wait(3, 10)
    out["second_reply"] = await asyncio.wait_for(
        second.send_command("ping_reply", {"text": "two"}), 10)
    await second.disconnect()
    out["messages"] = [m.get("type") if isinstance(m, dict) else repr(m) for m in messages]
    out["frames"] = frames.count
    await reactor.disconnect()
    return out


async def bench(url: str) -> dict[str, Any]:
    frames = Frames()
    reactor = client(url)
    reactor.track(OUTPUT).on_frame(frames)
    started = time.perf_counter()
    await asyncio.wait_for(reactor.connect(), 20)
    ready = time.perf_counter()
    await frames.wait(1, 10)
    assert frames.first_at is not None
    counted = frames.count
    await asyncio.sleep(3.0)
    fps = (frames.count - counted) / 3.0
    latencies = []
    for index in range(20):
        sent = time.perf_counter()
        await asyncio.wait_for(reactor.send_command("ping_reply", {"text": str(index)}), 10)
        latencies.append((time.perf_counter() - sent) * 1000)
    await reactor.disconnect()
    return {"ready_ms": (ready - started) * 1000,
            "first_frame_ms": (frames.first_at - started) * 1000,
            "fps": fps, "reply_ms": statistics.median(latencies)}


def main() -> None:
    global API_KEY, MODEL_NAME
    scenario, url = sys.argv[1], sys.argv[2]
    API_KEY = sys.argv[3] if len(sys.argv) > 3 else None
    MODEL_NAME = sys.argv[4] if len(sys.argv) > 4 else MODEL_NAME
    run = {"full": full, "bench": bench}[scenario]
    summary = asyncio.run(run(url))
    print(json.dumps(summary, default=str), flush=True)


if __name__ == "__main__":
    main()
