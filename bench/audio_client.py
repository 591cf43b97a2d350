"""Figure 15: audio on the client, ours beside the unmodified ``reactor-sdk==1.13.0``.

* **receive CPU per second of 48 kHz audio**: a client process connects to
  ``reactor serve --model tone`` (a 48 kHz mono sine on ``main_audio``), pauses the video
  output, and hands every audio frame to a handler that keeps a running sum (so the PCM is
  really touched).  After a warm-up, the process's CPU time over a window is divided by the
  seconds of audio that arrived in it: CPU milliseconds per second of audio, lower is better.
* **end-to-end audio latency**: a client publishes ``mic`` to ``echo`` (which returns it on
  ``speaker``), streams silence in real time and now and then a click (20 ms of a loud
  1 kHz burst); latency is the time from the push of a click to the handler seeing it come
  back (median over the clicks).  Measured only once ``echo`` echoes audio; until then the
  row says so.

libwebrtc (1.13.0) never gathers ICE candidates on loopback, so, as figure 9, everything
runs in a private network namespace (``tests/interop/netns.py``: root needed, nothing routed
out): the runtime binds the veth address, each trial is a fresh client process inside the
namespace, alternating ours / 1.13.0 (ABBA); every figure is the median over trials.  The
1.13.0 child is a script passed with ``python -c`` to ``.venv-sdk113``'s interpreter.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from .common import (
    REACTOR_CLI,
    REPO,
    VENV_PYTHON,
    ChildFailed,
    Row,
    abba_order,
    child_env,
    judge,
    median,
    stop_process,
)

sys.path.insert(0, str(REPO))  # the namespace helper lives with the interop tests
from tests.interop.netns import Namespace, namespace, unavailable_reason

NAME = "audio_client"
TITLE = "15. Audio on the client: receive CPU per audio second, echo latency, vs 1.13.0"
FIGURE = "15 audio client"
SDK113_PYTHON = REPO / ".venv-sdk113" / "bin" / "python"
PORT = 8080
BASELINE = "reactor-sdk 1.13.0"
#: a click: a sample this loud (int16) in the echo's output
CLICK_LEVEL = 8000

# The child's code, the same text for both clients (their Track APIs agree): argv is
# ``side mode url seconds``, side "ours" or "sdk113", mode "cpu" or "latency".
CHILD = r'''
import asyncio, json, statistics, sys, time
import numpy as np

side, mode, url, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
if side == "ours":
    from reactor_anyio import Reactor
else:
    from reactor_sdk import Reactor

RATE = 48_000


async def receive_cpu() -> dict:
    got = {"samples": 0, "sum": 0}

    def on_audio(frame, sample_rate):
        got["samples"] += frame.shape[0]
        got["sum"] += int(frame[::97].sum())

    reactor = Reactor("tone", local=True, api_url=url)
    reactor.track("main_audio").on_frame(on_audio)
    started = time.perf_counter()
    await asyncio.wait_for(reactor.connect(), 20)
    ready_ms = (time.perf_counter() - started) * 1000
    await reactor.track("main_video").pause()
    await asyncio.sleep(1.5)  # warm-up: jitter buffers settle, the video stops
    cpu0, samples0, wall0 = time.process_time(), got["samples"], time.perf_counter()
    await asyncio.sleep(seconds)
    cpu, samples = time.process_time() - cpu0, got["samples"] - samples0
    wall = time.perf_counter() - wall0
    await reactor.disconnect()
    audio_s = samples / RATE
    return {"cpu_ms_per_audio_s": cpu * 1000 / audio_s if audio_s else float("nan"),
            "audio_per_wall": audio_s / wall, "ready_ms": ready_ms}


async def latency() -> dict:
    arrivals = []
    state = {"armed": False, "pushed": 0.0}

    def on_audio(frame, sample_rate):
        if state["armed"] and int(np.abs(frame.astype(np.int32)).max()) > CLICK_LEVEL:
            arrivals.append(time.perf_counter() - state["pushed"])
            state["armed"] = False

    reactor = Reactor("echo", local=True, api_url=url)
    reactor.track("speaker").on_frame(on_audio)
    await asyncio.wait_for(reactor.connect(), 20)
    mic = reactor.track("mic")
    await mic.publish()
    silence = np.zeros(960, np.int16)
    t = np.arange(960) / RATE
    click = (np.sin(2 * np.pi * 1000 * t) * 20_000).astype(np.int16)
    start = time.perf_counter()
    tick = 0
    clicks = int(seconds * 2)
    while len(arrivals) < clicks and time.perf_counter() - start < seconds * 4 + 10:
        tick += 1
        due = start + tick * 0.02
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        if tick > 50 and tick % 25 == 0 and not state["armed"]:
            state["armed"], state["pushed"] = True, time.perf_counter()
            mic.push_frame(click, sample_rate=RATE, num_channels=1)
        else:
            mic.push_frame(silence, sample_rate=RATE, num_channels=1)
    await reactor.disconnect()
    return {"latency_ms": statistics.median(arrivals) * 1000 if arrivals else float("nan"),
            "clicks": len(arrivals)}


result = asyncio.run(receive_cpu() if mode == "cpu" else latency())
print(json.dumps(result))
'''.replace("CLICK_LEVEL", str(CLICK_LEVEL))


@contextmanager
def serve_in(ns: Namespace, model: str) -> Iterator[None]:
    host = ns.server_address
    argv = [*ns.exec_prefix(), str(REACTOR_CLI), "serve", "--model", model, "--host", host,
            "--port", str(PORT), "--ice-host-address", host]
    proc = subprocess.Popen(argv, cwd=REPO, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise ChildFailed(f"reactor serve did not start: {line!r}")
        yield
    finally:
        stop_process(proc, 10)


def trial(ns: Namespace, side: str, mode: str, seconds: float) -> dict[str, float]:
    python = VENV_PYTHON if side == "ours" else SDK113_PYTHON
    proc = subprocess.run([*ns.exec_prefix(), str(python), "-c", CHILD, side, mode,
                           f"http://{ns.server_address}:{PORT}", str(seconds)], cwd=REPO,
                          env=child_env(), capture_output=True, text=True,
                          timeout=60 + seconds * 6, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-8:])
        raise ChildFailed(f"{side} {mode} exited {proc.returncode}:\n{tail}")
    result: dict[str, float] = json.loads(lines[-1])
    return result


def echoes_audio() -> bool:
    from reactor_anyio.models.echo import Echo

    return any(getattr(t, "kind", "video") == "audio" for t in Echo.outputs)


def unavailable() -> str | None:
    reason = unavailable_reason()
    if reason is not None:
        return f"needs a network namespace: {reason}"
    if not SDK113_PYTHON.exists():
        return ("reactor-sdk 1.13.0 missing: python3 -m venv .venv-sdk113 && "
                ".venv-sdk113/bin/pip install reactor-sdk==1.13.0 numpy")
    return None


def measure(model: str, mode: str, trials: int, seconds: float
            ) -> tuple[dict[str, list[dict[str, float]]], list[str]]:
    samples: dict[str, list[dict[str, float]]] = {"ours": [], "baseline": []}
    failures: list[str] = []
    with namespace("audio") as ns, serve_in(ns, model):
        for side in abba_order(trials):
            try:
                samples[side].append(trial(ns, "ours" if side == "ours" else "sdk113", mode,
                                           seconds))
            except (ChildFailed, subprocess.SubprocessError) as exc:
                failures.append(f"{side}: {str(exc).splitlines()[-1]}")
    return samples, failures


def _med(samples: dict[str, list[dict[str, float]]], side: str, key: str) -> float:
    values = [s[key] for s in samples[side] if key in s and not math.isnan(s[key])]
    return median(values) if values else math.nan


def run(quick: bool = False) -> list[Row]:
    why = unavailable()
    if why is not None:
        return [Row(figure=FIGURE, metric="receive CPU per second of 48 kHz audio",
                    unit="ms", ours=math.nan, note=why)]
    trials, seconds = (2, 3.0) if quick else (6, 8.0)
    samples, failures = measure("tone", "cpu", trials, seconds)
    note = f"{trials} processes each, {seconds:g} s windows; in a network namespace"
    if failures:
        note += f"; {len(failures)} failed trial(s), first: {failures[0]}"
    ours, base = _med(samples, "ours", "cpu_ms_per_audio_s"), _med(samples, "baseline",
                                                                    "cpu_ms_per_audio_s")
    rows = [judge(Row(figure=FIGURE, metric="receive CPU per second of 48 kHz audio",
                      unit="ms", ours=ours, baseline=base, baseline_name=BASELINE,
                      goal="<= 1.0x", note=note), ours <= base),
            Row(figure=FIGURE, metric="audio seconds received per wall second", unit="x",
                ours=_med(samples, "ours", "audio_per_wall"),
                baseline=_med(samples, "baseline", "audio_per_wall"), baseline_name=BASELINE)]
    if not echoes_audio():
        rows.append(Row(figure=FIGURE, metric="echo: click pushed -> click received",
                        unit="ms", ours=math.nan,
                        note="the echo model does not echo audio yet"))
        return rows
    samples, failures = measure("echo", "latency", trials, 3.0 if quick else 6.0)
    note = f"median of {trials} processes, each the median of its clicks"
    if failures:
        note += f"; {len(failures)} failed trial(s), first: {failures[0]}"
    ours, base = _med(samples, "ours", "latency_ms"), _med(samples, "baseline", "latency_ms")
    rows.append(judge(Row(figure=FIGURE, metric="echo: click pushed -> click received",
                          unit="ms", ours=ours, baseline=base, baseline_name=BASELINE,
                          goal="<= 1.0x", note=note), ours <= base))
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
