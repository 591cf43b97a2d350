"""Figure 13: our client stepping our runtime, and ``Track.push_frame``.

* **a step with one 640x360 frame out**: the median wall time of ``await reactor.step()``
  (no input; the echo model's 640x360 card out) of our ``Reactor(generation="stepped")``
  against ``reactor serve`` (a child process) on loopback; goal <= 10 ms (issue 24).  The
  1.13.0 client against the same runtime is figure 12.  Both ends run aiortc's SCTP (through
  ``reactor_anyio/webrtc/sctp.py``) with 16 KiB packets, a window that lets the 675 KiB
  result leave at once and a SACK per eight packets (docs/protocol §6.9); the runtime hands
  the result's chunk frames over unpaced and the frame bytes bypass protobuf on both sides
  (``reactor_proto/wire_v1/bulk.py``).  Most of what is left is the ~45 packets' DTLS
  records and datagrams in pure Python on both sides.
* **a step with one 32x16 frame out**: the same at 32x16: the cost of a step apart from
  moving the frame.
* **push_frame CPU per frame**: this process's CPU per pushed 640x360 frame at 30 fps on a
  published ``reactor.track("webcam")`` (streamed echo session), beside the path it
  replaces: a hand-written aiortc ``MediaStreamTrack`` whose ``recv()`` converts the same
  array at 30 fps, published with ``publish_track``.  Both push the same second of moving
  frames (a gradient with a bar crossing it) and pause the echo, so neither receives video
  back.  Both include aiortc's H.264 encode, which dominates; the goal is "no worse"
  (<= 1.1x: the machine is shared).
"""

from __future__ import annotations

import asyncio
import fractions
import sys
import time
from typing import Any

import numpy as np

from .common import ChildFailed, Row, judge, median, percentile, serve

NAME = "step_client"
TITLE = "13. our client stepping our runtime; push_frame"
FIGURE = "13 step client"
MODEL = "tests.interop.v1_models:ReplyEcho"
GOAL_MS = 10.0


async def _steps(url: str, count: int) -> list[float]:
    from reactor_anyio import Reactor

    async with Reactor("reply_echo", local=True, api_url=url,
                       generation="stepped") as reactor:
        await reactor.connect()
        for _ in range(3):  # warm-up: first allocations, codec tables
            await reactor.step()
        times = []
        for _ in range(count):
            start = time.perf_counter()
            result = await reactor.step()
            times.append((time.perf_counter() - start) * 1000.0)
            assert result.tracks and result.tracks[0].frames
        return times


class _HandWritten:
    """What a user wrote before ``push_frame``: an aiortc track converting an array."""

    def __new__(cls, frames: list[np.ndarray[Any, Any]]) -> Any:
        import av
        from aiortc import MediaStreamTrack

        class ArrayTrack(MediaStreamTrack):
            kind = "video"

            def __init__(self) -> None:
                super().__init__()
                self.sent = 0
                self._start: float | None = None

            async def recv(self) -> av.VideoFrame:
                if self._start is None:
                    self._start = time.monotonic()
                due = self._start + self.sent / 30.0
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                out = av.VideoFrame.from_ndarray(frames[self.sent % len(frames)],
                                                 format="rgb24")
                out.pts, out.time_base = self.sent * 3000, fractions.Fraction(1, 90000)
                self.sent += 1
                return out

        return ArrayTrack()


def moving_frames(count: int = 30) -> list[np.ndarray[Any, Any]]:
    """A second of 640x360 frames, a gradient with a bar moving across it: content an
    encoder treats like a camera's, the same for both paths.  (Random noise made every
    keyframe huge and the encoder's restarts on bitrate changes decide the figure.)"""
    y, x = np.mgrid[0:360, 0:640]
    base = np.stack([x * 255 // 639, y * 255 // 359, (x + y) * 255 // 998], axis=-1)
    frames = []
    for i in range(count):
        frame = base.astype(np.uint8)
        left = i * 640 // count
        frame[:, left:left + 40] = 255
        frames.append(frame)
    return frames


async def _push_cpu(url: str, seconds: float, path: str) -> float:
    from reactor_anyio import Reactor

    pictures = moving_frames()
    async with Reactor("reply_echo", local=True, api_url=url) as reactor:
        await reactor.connect()
        # The echo is not wanted here: receiving and decoding it (its bitrate, and so its
        # packets, differ from run to run) would be counted as the push path's cost.
        await reactor.track("main_video").pause()
        hand = None
        if path == "push_frame":
            webcam = await reactor.track("webcam").publish(fps=30)
        else:
            hand = _HandWritten(pictures)
            await reactor.publish_track("webcam", hand)
        await asyncio.sleep(1.0)  # the encoder and the pacing settle
        cpu0, pushed, start = time.process_time(), 0, time.monotonic()
        sent0 = hand.sent if hand is not None else 0
        while time.monotonic() - start < seconds:
            if path == "push_frame":
                webcam.push_frame(pictures[pushed % len(pictures)])
                pushed += 1
            await asyncio.sleep(1 / 30)
        cpu = time.process_time() - cpu0
        frames = pushed if hand is None else hand.sent - sent0
        return cpu / max(frames, 1) * 1000.0


def run(quick: bool = False) -> list[Row]:
    count = 20 if quick else 100
    seconds = 2.0 if quick else 6.0
    try:
        with serve(MODEL) as server:
            big = asyncio.run(_steps(server.url, count))
        with serve(MODEL, options={"width": 32, "height": 16}) as server:
            tiny = asyncio.run(_steps(server.url, count))
        cpu: dict[str, float] = {}
        for path in ("push_frame", "aiortc", "aiortc", "push_frame", "push_frame", "aiortc"):
            with serve(MODEL) as server:
                value = asyncio.run(_push_cpu(server.url, seconds, path))
            cpu[path] = min(cpu.get(path, value), value)
    except ChildFailed as exc:
        return [Row(figure=FIGURE, metric="a step, one 640x360 frame out", unit="ms",
                    ours=float("nan"), note=str(exc))]
    step_ms = median(big)
    return [
        judge(Row(figure=FIGURE, metric=f"a step, one 640x360 frame out (median of {count})",
                  unit="ms", ours=step_ms, goal=f"<= {GOAL_MS:.0f} ms",
                  note=f"our client, loopback; p90 {percentile(big, 90):.1f} ms"),
              step_ms <= GOAL_MS),
        Row(figure=FIGURE, metric=f"a step, one 32x16 frame out (median of {count})",
            unit="ms", ours=median(tiny), note="a step's cost apart from moving the frame"),
        judge(Row(figure=FIGURE, metric="push_frame CPU per 640x360 frame at 30 fps",
                  unit="ms", ours=cpu["push_frame"], baseline=cpu["aiortc"],
                  baseline_name="hand-written aiortc MediaStreamTrack", goal="<= 1.1x",
                  note="client process CPU, H.264 encode included, the echo paused; "
                  "the same moving frames; best of three, ABBA"),
              cpu["push_frame"] <= 1.1 * cpu["aiortc"]),
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
