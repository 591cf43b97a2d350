"""Figure 3: a consumer slower than the stream (50 ms per frame against 30 fps).

The stream is :mod:`bench.frame_path`'s stamped Helios at 640x360, 30 fps; the frame
callback blocks for 50 ms (a synchronous processing step) on every frame it gets, for 10 s.

* **ours**: ``Reactor`` delivers through its bounded latest-wins mailbox (two frames by
  default): the callback always gets one of the freshest frames and the overflow is dropped
  and counted (``(await get_stats()).frames_dropped``).
* **baseline**: the official client's pull design, a bare aiortc ``recv()`` loop calling the
  same callback for every frame (``reactor-sdk`` 0.8.0 ``_process_frames``): aiortc's receive
  queue is unbounded, so nothing is dropped and every frame is seen, later and later.

Figures: the frame's age (render -> callback) over the last second of the 10 s, the first
second for contrast, and the drops.  Goal: ours <= 2 frame intervals (66.7 ms at 30 fps).
"""

from __future__ import annotations

from typing import Any

from .common import Row, abba_order, judge, median, serve
from .frame_path import FPS, MODEL_SPEC, trial

NAME = "slow_consumer"
TITLE = "3. slow consumer: 50 ms per frame for 10 s"

COST_MS = 50.0
WIDTH, HEIGHT = 640, 360


def window_latency(samples: list[list[float]], start: float, end: float) -> float:
    """Median frame age (ms) of the samples taken between ``start`` and ``end`` seconds."""
    return median(lat for t, lat in samples if start <= t < end)


def summarize(result: dict[str, Any], seconds: float) -> dict[str, float]:
    samples = result["samples"]
    return {"first": window_latency(samples, 0.0, 1.0),
            "last": window_latency(samples, seconds - 1.0, seconds),
            "delivered": float(result["frames"]),
            "dropped": float(result.get("dropped", 0))}


def run(quick: bool = False) -> list[Row]:
    trials = 1 if quick else 3
    seconds = 5.0 if quick else 10.0
    interval_ms = 1000 / FPS
    goal_ms = 2 * interval_ms
    per_side: dict[str, list[dict[str, float]]] = {"ours": [], "baseline": []}
    options = {"width": WIDTH, "height": HEIGHT, "fps": FPS}
    with serve(MODEL_SPEC, options=options) as server:
        for side in abba_order(trials):
            client = "ours" if side == "ours" else "bare"
            result = trial(client, server.url, warmup=0.0, seconds=seconds, cost_ms=COST_MS)
            per_side[side].append(summarize(result, seconds))

    def med(side: str, key: str) -> float:
        return median(t[key] for t in per_side[side])

    figure = f"3 slow consumer {WIDTH}x{HEIGHT}"
    label = f"{seconds:g} s"
    last = Row(figure=figure, metric=f"frame age after {label}", unit="ms",
               ours=med("ours", "last"), baseline=med("baseline", "last"),
               baseline_name="aiortc recv() loop (official design)",
               goal=f"ours <= {goal_ms:.1f} ms",
               note=f"{COST_MS:g} ms blocking callback, {FPS} fps stream, {trials} trial(s) each")
    last = judge(last, last.ours <= goal_ms)
    first = Row(figure=figure, metric="frame age in the first second", unit="ms",
                ours=med("ours", "first"), baseline=med("baseline", "first"),
                baseline_name="aiortc recv() loop (official design)")
    delivered = Row(figure=figure, metric=f"frames seen by the callback in {label}", unit="",
                    ours=med("ours", "delivered"), baseline=med("baseline", "delivered"),
                    baseline_name="aiortc recv() loop (official design)")
    dropped = Row(figure=figure, metric=f"frames dropped (counted) in {label}", unit="",
                  ours=med("ours", "dropped"), baseline=med("baseline", "dropped"),
                  baseline_name="aiortc recv() loop (never drops, queues)")
    return [last, first, delivered, dropped]
