"""Figure 5: runtime CPU per served stream with 1, 2 and 4 viewers (VP8), and delivered fps.

The runtime serves ``helios`` at 30 fps in its own process; a second process runs N bare
aiortc viewers (registered connections, VP8 only, each sends ``resume_track``), waits until
every viewer has frames, then counts frames per viewer over a window whose start and end it
reports in CLOCK_MONOTONIC (shared by every process on Linux).  Meanwhile the suite samples
the runtime's CPU from ``/proc/<pid>/stat`` every 100 ms and interpolates it at the window's
ends, so the viewers' own start-up never counts.

Figures: runtime CPU (percent of one core) divided by N, the median over trials (N visited
in alternating order 1 2 4 4 2 1 ...); the baseline of each N is the 1-viewer figure of the
same run, so the ratio is how the per-stream cost scales (< 1: shared work such as rendering
is amortised; ~1: each viewer costs a full encode).  Delivered fps: the slowest viewer's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

from .common import Row, emit_result, median, proc_cpu_seconds, run_child, serve

NAME = "runtime_cpu"
TITLE = "5. runtime CPU per served stream, 1/2/4 viewers"

FPS = 30
SIZES: tuple[tuple[int, int], ...] = ((640, 360), (1280, 720))


class CpuSampler:
    """Samples a process's CPU seconds every ``period`` s in a thread."""

    def __init__(self, pid: int, period: float = 0.1) -> None:
        self.pid = pid
        self.period = period
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-cpu-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), proc_cpu_seconds(self.pid)))
            except OSError:
                return
            self._stop.wait(self.period)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def cpu_at(self, when: float) -> float:
        """CPU seconds at ``when``, linearly interpolated between samples."""
        times = [t for t, _ in self.samples]
        index = min(max(bisect_left(times, when), 1), len(times) - 1)
        (t0, c0), (t1, c1) = self.samples[index - 1], self.samples[index]
        return c0 + (c1 - c0) * (when - t0) / (t1 - t0) if t1 > t0 else c1

    def utilisation(self, start: float, end: float) -> float:
        return (self.cpu_at(end) - self.cpu_at(start)) / (end - start)


async def viewers(url: str, count: int, warmup: float, seconds: float) -> dict[str, Any]:
    from aiortc.mediastreams import MediaStreamError

    from .frame_path import bare_connect, restrict_ice_to_loopback

    restrict_ice_to_loopback()
    peers = [await bare_connect(url, ["video/VP8"], register=True) for _ in range(count)]
    counts = [0] * count
    first = [asyncio.Event() for _ in range(count)]

    async def pull(index: int, track: Any) -> None:
        try:
            while True:
                await track.recv()
                counts[index] += 1
                first[index].set()
        except MediaStreamError:
            return

    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(pull(i, track)) for i, (_, track, _) in enumerate(peers)]
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in first)), 30)
        await asyncio.sleep(warmup)
        start, before = time.monotonic(), list(counts)
        await asyncio.sleep(seconds)
        end, after = time.monotonic(), list(counts)
    finally:
        for task in tasks:
            task.cancel()
        for pc, _, _ in peers:
            await pc.close()
        from .frame_path import http_json

        await asyncio.to_thread(http_json, f"{url}/stop_session", "POST")
    fps = [(a - b) / (end - start) for a, b in zip(after, before, strict=True)]
    return {"start": start, "end": end, "fps": fps}


def child_main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.runtime_cpu --url URL --viewers N``: one trial's viewers."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--viewers", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--seconds", type=float, default=4.0)
    opts = parser.parse_args(argv)
    emit_result(asyncio.run(viewers(opts.url, opts.viewers, opts.warmup, opts.seconds)))
    return 0


def run(quick: bool = False) -> list[Row]:
    trials = 1 if quick else 3
    counts = (1, 2) if quick else (1, 2, 4)
    sizes = SIZES[:1] if quick else SIZES
    warmup, seconds = (1.0, 2.5) if quick else (2.0, 5.0)
    rows: list[Row] = []
    for width, height in sizes:
        per_stream: dict[int, list[float]] = {n: [] for n in counts}
        slowest_fps: dict[int, list[float]] = {n: [] for n in counts}
        options = {"width": width, "height": height, "fps": FPS}
        with serve("helios", options=options) as server, CpuSampler(server.pid) as sampler:
            time.sleep(1.0)
            idle = sampler.utilisation(time.monotonic() - 0.8, time.monotonic() - 0.1)
            for trial_index in range(trials):
                order = counts if trial_index % 2 == 0 else tuple(reversed(counts))
                for n in order:
                    result = run_child(
                        ["-m", "bench.runtime_cpu", "--url", server.url, "--viewers", str(n),
                         "--warmup", str(warmup), "--seconds", str(seconds)], timeout=120)
                    time.sleep(0.2)  # let the sampler pass the window's end
                    busy = sampler.utilisation(result["start"], result["end"])
                    per_stream[n].append(busy * 100 / n)
                    slowest_fps[n].append(min(result["fps"]))
        base = median(per_stream[1])
        for n in counts:
            figure = f"5 runtime {width}x{height} VP8"
            rows.append(Row(
                figure=figure, metric=f"CPU per stream, {n} viewer(s)", unit="% core",
                ours=median(per_stream[n]), baseline=base, baseline_name="1 viewer, same run",
                note=(f"idle runtime {idle * 100:.1f} % core; {trials} trial(s)"
                      if n == counts[0] else "")))
            rows.append(Row(
                figure=figure, metric=f"delivered fps (slowest of {n})", unit="fps",
                ours=median(slowest_fps[n]), baseline=float(FPS),
                baseline_name="model frame rate"))
    return rows


if __name__ == "__main__":
    sys.exit(child_main())
