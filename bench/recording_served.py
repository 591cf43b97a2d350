"""Figure 11's served row: what recording adds to a real stream of ``reactor serve``.

Two runtime processes serve ``helios`` at 640x360 and 30 fps, one with ``--record`` (the
default) and one with ``--no-record``; trials alternate between them (ABBA), each trial one
bare aiortc viewer (``python -m bench.runtime_cpu --viewers 1``: VP8, the whole session
path, RTP/DTLS/SRTP included).  Each runtime's CPU is sampled from ``/proc/<pid>/stat`` (as
figure 5 does) and divided by the frames the viewer received in the window.  This is the
measure issue 17 states ("runtime CPU per stream at 640x360 against the same run with
recording off"); the figure's in-process row times the frame work alone, without the
network path, so its ratio overstates the cost.
"""

from __future__ import annotations

import time

from .common import Row, abba_order, judge, median, run_child, serve
from .runtime_cpu import CpuSampler

WIDTH, HEIGHT, FPS = 640, 360, 30
GOAL = 1.15


def served_rows(figure: str, quick: bool) -> list[Row]:
    trials = 1 if quick else 4
    warmup, seconds = (1.0, 2.5) if quick else (2.0, 5.0)
    options = {"width": WIDTH, "height": HEIGHT, "fps": FPS}
    cpu_ms: dict[str, list[float]] = {"ours": [], "baseline": []}
    fps: dict[str, list[float]] = {"ours": [], "baseline": []}
    with serve("helios", options=options, flags=("--record",)) as recorded, \
            serve("helios", options=options, flags=("--no-record",)) as plain, \
            CpuSampler(recorded.pid) as recorded_cpu, CpuSampler(plain.pid) as plain_cpu:
        time.sleep(1.0)
        for side in abba_order(trials):
            server, sampler = (recorded, recorded_cpu) if side == "ours" else (plain, plain_cpu)
            result = run_child(["-m", "bench.runtime_cpu", "--url", server.url, "--viewers", "1",
                                "--warmup", str(warmup), "--seconds", str(seconds)],
                               timeout=120)
            time.sleep(0.2)  # let the sampler pass the window's end
            window = result["end"] - result["start"]
            frames = result["fps"][0] * window
            busy = sampler.utilisation(result["start"], result["end"]) * window
            cpu_ms[side].append(busy * 1000 / max(frames, 1.0))
            fps[side].append(result["fps"][0])
    ours, baseline = median(cpu_ms["ours"]), median(cpu_ms["baseline"])
    return [judge(Row(
        figure=figure, metric="reactor serve CPU per streamed frame, recording on vs off",
        unit="ms", ours=ours, baseline=baseline, baseline_name="--no-record, same run",
        goal=f"<= {GOAL}x",
        note=(f"one viewer each, {trials} trial(s) per side, ABBA; fps "
              f"{median(fps['ours']):.1f} vs {median(fps['baseline']):.1f}")),
        ours <= GOAL * baseline)]
