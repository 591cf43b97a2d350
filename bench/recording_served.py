"""Figure 11's served rows: what recording adds to a real stream of ``reactor serve``.

Two runtime processes serve ``helios`` at 640x360 and 30 fps, one with ``--record`` (the
default) and one with ``--no-record``; trials alternate between them (ABBA), each trial one
bare aiortc viewer (``python -m bench.runtime_cpu --viewers 1``: VP8, the whole session
path, RTP/DTLS/SRTP included).  Each runtime's CPU is sampled from ``/proc/<pid>/stat`` (as
figure 5 does) and divided by the frames the viewer received in the window.  This is the
measure issue 17 states ("runtime CPU per stream at 640x360 against the same run with
recording off"); the figure's in-process row times the frame work alone, without the
network path, so its ratio overstates the cost.

The recorder names its worker thread in the OS
(:data:`reactor_anyio.recording.native.WORKER_NAME`), so the same windows also split the
recording runtime's CPU: the worker's own (``/proc/<pid>/task/<tid>/stat``), and everything
else, set against the whole of the ``--no-record`` runtime.  A ratio near 1 there means
recording costs the served stream its encoder thread and nothing more (no slower event loop,
producer or VP8 encoder).
"""

from __future__ import annotations

import time
from pathlib import Path

from reactor_anyio.recording.native import WORKER_NAME

from .common import CLOCK_TICKS, Row, abba_order, judge, median, run_child, serve
from .runtime_cpu import CpuSampler

WIDTH, HEIGHT, FPS = 640, 360, 30
GOAL = 1.15


def named_threads_cpu(pid: int, name: str) -> dict[str, float]:
    """CPU seconds (user + system) of each live thread of ``pid`` called ``name``, by id."""
    found: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "stat").read_text()
        except OSError:  # the thread ended between the listing and the read
            continue
        if text[text.index("(") + 1:text.rindex(")")] == name:
            fields = text[text.rindex(")") + 2:].split()
            found[task.name] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return found


class ThreadCpuSampler(CpuSampler):
    """:class:`CpuSampler` of the threads of ``pid`` named ``name`` (a recorder's worker per
    session).  A thread that has ended keeps the CPU last read for it, so the sum never drops:
    the worker of a session ends a moment after the viewer's window, often before the
    sample that follows the window's end."""

    def __init__(self, pid: int, name: str, period: float = 0.1) -> None:
        super().__init__(pid, period)
        self.name = name
        self._seen: dict[str, float] = {}

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._seen.update(named_threads_cpu(self.pid, self.name))
            except OSError:
                return
            self.samples.append((time.monotonic(), sum(self._seen.values())))
            self._stop.wait(self.period)


def served_rows(figure: str, quick: bool) -> list[Row]:
    trials = 1 if quick else 6
    warmup, seconds = (1.0, 2.5) if quick else (2.0, 5.0)
    options = {"width": WIDTH, "height": HEIGHT, "fps": FPS}
    cpu_ms: dict[str, list[float]] = {"ours": [], "baseline": []}
    fps: dict[str, list[float]] = {"ours": [], "baseline": []}
    worker_ms: list[float] = []
    with serve("helios", options=options, flags=("--record",)) as recorded, \
            serve("helios", options=options, flags=("--no-record",)) as plain, \
            CpuSampler(recorded.pid) as recorded_cpu, CpuSampler(plain.pid) as plain_cpu, \
            ThreadCpuSampler(recorded.pid, WORKER_NAME) as worker_cpu:
        time.sleep(1.0)
        for side in abba_order(trials):
            server, sampler = (recorded, recorded_cpu) if side == "ours" else (plain, plain_cpu)
            result = run_child(["-m", "bench.runtime_cpu", "--url", server.url, "--viewers", "1",
                                "--warmup", str(warmup), "--seconds", str(seconds)],
                               timeout=120)
            time.sleep(0.2)  # let the sampler pass the window's end
            window = result["end"] - result["start"]
            frames = max(result["fps"][0] * window, 1.0)
            busy = sampler.utilisation(result["start"], result["end"]) * window
            cpu_ms[side].append(busy * 1000 / frames)
            fps[side].append(result["fps"][0])
            if side == "ours":
                worker = worker_cpu.utilisation(result["start"], result["end"]) * window
                worker_ms.append(worker * 1000 / frames)
    ours, baseline = median(cpu_ms["ours"]), median(cpu_ms["baseline"])
    # the rest of the recording runtime, trial by trial (the worker's share taken out)
    rest = median([whole - worker for whole, worker in zip(cpu_ms["ours"], worker_ms,
                                                           strict=True)])
    return [
        judge(Row(
            figure=figure, metric="reactor serve CPU per streamed frame, recording on vs off",
            unit="ms", ours=ours, baseline=baseline, baseline_name="--no-record, same run",
            goal=f"<= {GOAL}x",
            note=(f"one viewer each, {trials} trial(s) per side, ABBA; fps "
                  f"{median(fps['ours']):.1f} vs {median(fps['baseline']):.1f}")),
            ours <= GOAL * baseline),
        Row(figure=figure, metric="reactor serve: its recorder thread, CPU per streamed frame",
            unit="ms", ours=median(worker_ms),
            note=f"the worker named {WORKER_NAME!r}, read from /proc/<pid>/task"),
        Row(figure=figure, metric="reactor serve CPU per streamed frame but the recorder thread",
            unit="ms", ours=rest, baseline=baseline, baseline_name="--no-record, same run",
            note="what recording costs the rest of the process (event loop, producer, VP8)"),
    ]
