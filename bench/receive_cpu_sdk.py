"""Figure 16: receive CPU per video frame, our client beside reactor-sdk 1.13.0, on the same
stream from our runtime.

Issue 23 asks that our client's receive CPU per frame be no more than 1.13.0's on the same
stream (measured against the official runtime: ours 3.25 ms, 1.13.0 3.00 ms a frame at
640x360).  Here both receive ``reactor serve --model helios --fps 30`` (640x360) from one
runtime:

* **ours**: ``Reactor(local=True)`` (asyncio, default wire), a frame callback receiving RGB
  numpy arrays (aiortc decodes, the receiver converts), in a fresh process
  (``python -m bench.receive_cpu_sdk child URL``);
* **baseline**: the unmodified ``reactor-sdk==1.13.0`` (native libwebrtc decode and RGB
  conversion) with ``Track.on_frame``, in ``.venv-sdk113`` (``bench/sdk113_receive_script.py``).

Each trial starts the stream (``schedule_prompt``, ``start``), lets 30 frames pass, then
takes the process CPU time (all threads) over the next 90 frames.
libwebrtc gathers no ICE candidates on loopback, so everything runs in a private network
namespace (as figures 9 and 12), the runtime on the veth address; trials alternate (ABBA) and
the figure is the median.  Goal: <= 1.0x.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from .common import REPO, ChildFailed, Row, abba_order, child_env, emit_result, judge, median
from .sdk_v1 import PORT, SDK113_PYTHON, serve_in

sys.path.insert(0, str(REPO))  # the namespace helper lives with the interop tests
from tests.interop.netns import Namespace, namespace, unavailable_reason

NAME = "receive_cpu_sdk"
TITLE = "16. receive CPU per frame: our client vs reactor-sdk 1.13.0, same stream"
FIGURE = "16 receive CPU vs 1.13.0"
SCRIPT = REPO / "bench" / "sdk113_receive_script.py"
MODEL = "helios"
WARM_FRAMES = 30
MEASURED_FRAMES = 90
ISSUE_FIGURE = "official runtime: ours 3.25 ms, 1.13.0 3.00 ms (issue 23)"


async def _ours(url: str, warm: int, measured: int) -> dict[str, Any]:
    from reactor_anyio import Reactor

    frames = 0
    shape: list[int] = []

    def on_frame(frame: Any) -> None:
        nonlocal frames
        frames += 1
        if not shape:
            shape.extend(int(n) for n in frame.shape)

    reactor = Reactor(model_name=MODEL, local=True, api_url=url)
    reactor.set_frame_callback(on_frame)
    await reactor.connect()
    try:
        await reactor.send_command("schedule_prompt", {"prompt": "A forest", "chunk": 0})
        await reactor.send_command("start", {})
        deadline = time.monotonic() + 60
        while frames < warm and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        first, cpu, wall = frames, time.process_time(), time.monotonic()
        while frames < first + measured and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        got = frames - first
        return {"cpu_ms_per_frame": (time.process_time() - cpu) * 1000 / max(got, 1),
                "fps": got / max(time.monotonic() - wall, 1e-9), "frames": got,
                "shape": shape, "wire": str(reactor.wire) if hasattr(reactor, "wire") else ""}
    finally:
        await reactor.aclose()


def child_main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.receive_cpu_sdk child URL [WARM MEASURED]``: our client's side."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("warm", type=int, nargs="?", default=WARM_FRAMES)
    parser.add_argument("measured", type=int, nargs="?", default=MEASURED_FRAMES)
    opts = parser.parse_args(argv)
    emit_result(asyncio.run(_ours(opts.url, opts.warm, opts.measured)))
    return 0


def _trial(ns: Namespace, side: str, measured: int) -> dict[str, Any]:
    url = f"http://{ns.server_address}:{PORT}"
    if side == "ours":
        argv = [*ns.exec_prefix(), sys.executable, "-m", "bench.receive_cpu_sdk", "child",
                url, str(WARM_FRAMES), str(measured)]
    else:
        argv = [*ns.exec_prefix(), str(SDK113_PYTHON), str(SCRIPT), url, str(WARM_FRAMES),
                str(measured)]
    proc = subprocess.run(argv, cwd=REPO, env=child_env(), capture_output=True, text=True,
                          timeout=120, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-10:])
        raise ChildFailed(f"{side} exited {proc.returncode}:\n{tail}")
    last = lines[-1]
    result: dict[str, Any] = json.loads(last.split(" ", 1)[1] if last.startswith("BENCH-")
                                        else last)
    return result


def run(quick: bool = False) -> list[Row]:
    why = unavailable_reason()
    if why is None and not SDK113_PYTHON.exists():
        why = ("reactor-sdk 1.13.0 missing: python3 -m venv .venv-sdk113 && "
               ".venv-sdk113/bin/pip install reactor-sdk==1.13.0 numpy")
    if why is not None:
        return [Row(figure=FIGURE, metric="receive CPU per frame 640x360", unit="ms",
                    ours=math.nan, note=why)]
    trials, measured = (1, 45) if quick else (3, MEASURED_FRAMES)
    cpu: dict[str, list[float]] = {"ours": [], "baseline": []}
    fps: dict[str, list[float]] = {"ours": [], "baseline": []}
    failures: list[str] = []
    with namespace("rxcpu") as ns, serve_in_helios(ns):
        for side in abba_order(trials):
            try:
                result = _trial(ns, side, measured)
            except (ChildFailed, subprocess.SubprocessError, ValueError) as exc:
                failures.append(f"{side}: {str(exc).splitlines()[-1]}")
                continue
            cpu[side].append(float(result["cpu_ms_per_frame"]))
            fps[side].append(float(result["fps"]))
    note = (f"{trials} processes each, {measured} frames after {WARM_FRAMES}; fps "
            f"{median(fps['ours']):.1f} vs {median(fps['baseline']):.1f}; {ISSUE_FIGURE}"
            + (f"; {len(failures)} failed, first: {failures[0]}" if failures else ""))
    row = Row(figure=FIGURE, metric="receive CPU per frame 640x360 (process, all threads)",
              unit="ms", ours=median(cpu["ours"]), baseline=median(cpu["baseline"]),
              baseline_name="reactor-sdk 1.13.0 (libwebrtc)", goal="<= 1.0x", note=note)
    return [judge(row, row.ratio <= 1.0)]


def serve_in_helios(ns: Namespace) -> Any:
    """``reactor serve --model helios --fps 30`` on the namespace's veth address."""
    return serve_in(ns, ns.server_address, model=MODEL, extra=("--fps", "30"))


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        sys.exit(child_main(sys.argv[2:]))
    for printed in run(quick="--quick" in sys.argv):
        print(printed)
