"""Receiving the same 640x360 VP8 stream with a plain asyncio ClientPeer vs a BridgedClientPeer
under trio, side by side in one run.

Run: `.venv/bin/python bench/trio_vs_asyncio.py [--trials 3] [--frames 150] [--warmup 30]`

The sender is a ServerPeer in a subprocess (so this process's CPU time is the receiver's
alone: decode, RGB conversion, delivery, plus the bridge under trio).  Each frame carries its
send time (wall clock, ms) as a row of 16x16 black/white blocks, read back in the frame
callback for the end-to-end latency; data-channel RTT is timed with echoed pings during the
measurement.  Trials alternate asyncio / trio; medians over trials and the trio/asyncio
ratios are printed (goal: CPU <= 1.1x).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import attrs
import numpy as np
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reactor_anyio.webrtc import (
    ClientPeer,
    IceConfig,
    MappedTrack,
    ServerPeer,
    TrackSpec,
)
from reactor_trio_compat import BridgedClientPeer

WIDTH, HEIGHT, FPS = 640, 360, 30
STAMP_BITS, BLOCK = 40, 16
TRACKS = (TrackSpec(name="main_video", kind="video", direction="recvonly"),)


# ---- the time stamp in the picture ---------------------------------------------------------


def stamp(frame: np.ndarray, ms: int) -> None:
    for bit in range(STAMP_BITS):
        value = 255 if (ms >> bit) & 1 else 0
        frame[:BLOCK, bit * BLOCK:(bit + 1) * BLOCK, :] = value


def read_stamp(frame: np.ndarray) -> int:
    row = frame[BLOCK // 2, BLOCK // 2::BLOCK, 1][:STAMP_BITS]
    return sum(1 << bit for bit, v in enumerate(row) if v > 127)


def now_ms() -> int:
    return int(time.time() * 1000) & ((1 << STAMP_BITS) - 1)


# ---- the sender (subprocess) ----------------------------------------------------------------


async def serve() -> None:
    """One ServerPeer per offer line on stdin; answers on stdout; echoes channel messages."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        request = json.loads(line)
        mapping = [MappedTrack(mid=request["mids"]["main_video"], name="main_video")]
        server = ServerPeer(mapping, ice=IceConfig.loopback(), fps=FPS)
        ended = asyncio.Event()

        def echo(label: str, message: str | bytes, server: ServerPeer = server) -> None:
            server.send(label, message)

        def state(value: str, ended: asyncio.Event = ended) -> None:
            if value in ("closed", "failed"):
                ended.set()

        server.on_channel_message = echo
        server.on_connection_state = state
        answer = await server.accept(request["offer"])
        sys.stdout.write(json.dumps({"answer": answer}) + "\n")
        sys.stdout.flush()
        server.set_output_paused("main_video", False)
        index = 0
        while not ended.is_set():
            frame = np.roll(texture, index * 4, axis=1)
            stamp(frame, now_ms())
            server.push_frame("main_video", frame)
            index += 1
            await asyncio.sleep(1 / FPS)
        await server.close()


# ---- the receiver -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Trial:
    host: str
    cpu_ms_per_frame: float
    latency_ms: float
    rtt_ms: float
    frames_dropped: int


class Sender:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve"], text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    async def answer(self, offer: str, mids: dict[str, str]) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"offer": offer, "mids": mids}) + "\n")
        self.proc.stdin.flush()
        line = await anyio.to_thread.run_sync(self.proc.stdout.readline)
        return str(json.loads(line)["answer"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


class Measure:
    """Frame callback and ping replies, shared by both hosts (all calls on one thread)."""

    def __init__(self, frames: int, warmup: int) -> None:
        self.frames, self.warmup = frames, warmup
        self.count = 0
        self.latencies: list[int] = []
        self.cpu_start = self.cpu_end = 0.0
        self.done = anyio.Event()
        self.pong: dict[str, float] = {}
        self.pong_event = anyio.Event()

    def on_frame(self, array: np.ndarray) -> None:
        self.count += 1
        if self.count == self.warmup:
            self.cpu_start = time.process_time()
        elif self.count > self.warmup:
            self.latencies.append(now_ms() - read_stamp(array))
            if self.count == self.warmup + self.frames:
                self.cpu_end = time.process_time()
                self.done.set()

    def on_message(self, label: str, message: str | bytes) -> None:
        self.pong[str(message)] = time.perf_counter()
        self.pong_event.set()

    async def pings(self, send: Callable[[str, str], None]) -> list[float]:
        rtts: list[float] = []
        index = 0
        while not self.done.is_set():
            key = f"ping-{index}"
            index += 1
            self.pong_event = anyio.Event()
            start = time.perf_counter()
            send("data", key)
            with anyio.move_on_after(1):
                await self.pong_event.wait()
            if key in self.pong:
                rtts.append((self.pong[key] - start) * 1000)
            await anyio.sleep(0.1)
        return rtts


async def run_trial(host: str, sender: Sender, peer: Any, frames: int, warmup: int,
                    close: Callable[[], Awaitable[None]]) -> Trial:
    measure = Measure(frames, warmup)
    opened = anyio.Event()
    peer.on_channel_open = lambda label: opened.set() if label == "data" else None
    peer.on_channel_message = measure.on_message
    peer.set_frame_callback("main_video", measure.on_frame)
    try:
        offer, mids = await peer.create_offer()
        await peer.apply_answer(await sender.answer(offer, mids))
        with anyio.fail_after(10):
            await opened.wait()
        with anyio.fail_after(frames / FPS * 3 + 20):
            rtts = await measure.pings(peer.send)
        stats = await peer.stats()
    finally:
        await close()
    cpu = (measure.cpu_end - measure.cpu_start) * 1000 / frames
    return Trial(host=host, cpu_ms_per_frame=cpu,
                 latency_ms=statistics.median(measure.latencies),
                 rtt_ms=statistics.median(rtts) if rtts else float("nan"),
                 frames_dropped=stats.tracks["main_video"].frames_dropped)


def asyncio_trial(sender: Sender, frames: int, warmup: int) -> Trial:
    async def main() -> Trial:
        peer = ClientPeer(TRACKS, ice=IceConfig.loopback(), video_codecs=("video/VP8",),
                          exclusive_codecs=True)
        return await run_trial("asyncio", sender, peer, frames, warmup, peer.close)

    return asyncio.run(main())


def trio_trial(sender: Sender, frames: int, warmup: int) -> Trial:
    async def main() -> Trial:
        peer = BridgedClientPeer(TRACKS, ice=IceConfig.loopback(),
                                 video_codecs=("video/VP8",), exclusive_codecs=True)
        return await run_trial("trio", sender, peer, frames, warmup, peer.close)

    return trio.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve())
        return
    sender = Sender()
    results: dict[str, list[Trial]] = {"asyncio": [], "trio": []}
    try:
        for index in range(args.trials):
            order = (asyncio_trial, trio_trial) if index % 2 == 0 else (trio_trial, asyncio_trial)
            for trial_fn in order:
                trial = trial_fn(sender, args.frames, args.warmup)
                results[trial.host].append(trial)
                print(f"trial {index + 1} {trial.host:8s} cpu {trial.cpu_ms_per_frame:6.2f} "
                      f"ms/frame  latency {trial.latency_ms:6.1f} ms  rtt {trial.rtt_ms:5.2f} ms"
                      f"  dropped {trial.frames_dropped}", flush=True)
    finally:
        sender.close()
    print(f"\n{WIDTH}x{HEIGHT} VP8 at {FPS} fps, {args.frames} frames per trial, "
          f"{args.trials} trials per host (medians)")
    print(f"{'':10s}{'CPU ms/frame':>14s}{'latency ms':>12s}{'DC RTT ms':>11s}")
    medians: dict[str, tuple[float, float, float]] = {}
    for host, trials in results.items():
        medians[host] = (statistics.median(t.cpu_ms_per_frame for t in trials),
                         statistics.median(t.latency_ms for t in trials),
                         statistics.median(t.rtt_ms for t in trials))
        cpu, latency, rtt = medians[host]
        print(f"{host:10s}{cpu:14.2f}{latency:12.1f}{rtt:11.2f}")
    (a_cpu, a_lat, a_rtt), (t_cpu, t_lat, t_rtt) = medians["asyncio"], medians["trio"]
    print(f"{'trio/asyncio':10s}{t_cpu / a_cpu:13.2f}x{t_lat / a_lat:11.2f}x"
          f"{t_rtt / a_rtt:10.2f}x")
    print(f"{'trio-asyncio':10s}{t_cpu - a_cpu:+13.2f} {t_lat - a_lat:+11.1f} "
          f"{t_rtt - a_rtt:+10.2f}  (absolute difference)")
    verdict = "meets" if t_cpu / a_cpu <= 1.1 else "misses"
    print(f"CPU goal (<= 1.1x): {verdict}")


if __name__ == "__main__":
    main()
