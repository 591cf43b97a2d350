"""Figure 2: the frame path, our client vs a bare aiortc receiver of the same stream.

The runtime (its own process) serves :class:`StampedHelios`: the synthetic Helios model
whose frames carry, in a strip of black/white blocks at the top, the CLOCK_MONOTONIC
microseconds (mod 2**32) at which the frame was rendered; the same bits follow inverted in a
second row, so a frame whose blocks VP8/H.264 smeared is recognised and skipped rather than
misread.  CLOCK_MONOTONIC is system-wide on Linux, so a receiver in another process reads
the frame's age directly.

Each trial is a fresh receiver process, alternating (ABBA) between

* **ours**: ``reactor_anyio.Reactor`` with a frame callback (RGB numpy frames), and
* **baseline**: a bare ``aiortc.RTCPeerConnection`` (signalled by hand over the legacy flat
  routes, same codec preferences as ours) whose task loops ``track.recv()`` and converts
  each frame to RGB (``to_ndarray(format="rgb24")``): the least any aiortc client can do.

Both call the same recorder, which reads the stamp on receipt.  After a warm-up the receiver
measures its own process CPU (``time.process_time``, every thread: aiortc's decoder thread
included) over a fixed window; figures are CPU per received frame and end-to-end latency
(render -> RGB frame in the callback) p50/p99, medians over trials.

**OpenCV-style consumer** (640x360, the runtime on ``127.0.0.1:8080``, where the official
client connects): a callback that wants a BGR array per frame.  Ours asks for it
(``frame_format="bgr24"``: the decoder's picture is converted once, straight to BGR, in
aiortc's decoder thread); the baseline is the official ``reactor-sdk`` 0.8.0 client, whose
callback gets RGB and makes the BGR copy itself (``cv2.cvtColor``'s numpy equivalent,
``bench/official_frames.py --cpu-seconds``).  Figure: process CPU per frame, medians over
fresh processes alternating ABBA.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

from .common import (
    OFFICIAL_PYTHON,
    REPO,
    ChildFailed,
    CpuWindow,
    Row,
    abba_order,
    emit_result,
    judge,
    median,
    percentile,
    run_child,
    serve,
)
from .frame_stamp import RgbArray, age_ms, now_us, read_stamp

NAME = "frame_path"
TITLE = "2. frame path: receive CPU per frame and end-to-end latency"

SIZES: tuple[tuple[int, int], ...] = ((640, 360), (1280, 720))
FPS = 30
MODEL_SPEC = "bench.frame_stamp:StampedHelios"

# ---- the receiver (runs in a child process) ----------------------------------------------------


class Recorder:
    """Reads stamps in the frame callback; optionally costs ``cost_s`` per frame (sleeping,
    i.e. blocking its thread like a synchronous processing step would)."""

    def __init__(self, cost_s: float = 0.0) -> None:
        self.cost_s = cost_s
        self.first_frame = asyncio.Event()
        self.recording = False
        self.started = time.monotonic()
        self.frames = 0
        self.unreadable = 0
        self.samples: list[tuple[float, float]] = []  # (seconds since start, latency ms)

    def on_frame(self, rgb: RgbArray) -> None:
        now = now_us()
        if not self.first_frame.is_set():
            self.first_frame.set()
        if self.recording:
            self.frames += 1
            stamp = read_stamp(rgb)
            if stamp is None:
                self.unreadable += 1
            else:
                self.samples.append((time.monotonic() - self.started, age_ms(stamp, now)))
        if self.cost_s:
            time.sleep(self.cost_s)

    async def measure(self, warmup: float, seconds: float) -> dict[str, Any]:
        await asyncio.wait_for(self.first_frame.wait(), 30)
        await asyncio.sleep(warmup)
        cpu = CpuWindow()
        self.started = time.monotonic()
        cpu.start()
        self.recording = True
        await asyncio.sleep(seconds)
        self.recording = False
        cpu.stop()
        return {"frames": self.frames, "unreadable": self.unreadable, "cpu_s": cpu.cpu,
                "wall_s": cpu.wall, "samples": self.samples}


def restrict_ice_to_loopback() -> None:
    from reactor_anyio.webrtc import LOOPBACK_HOST_ADDRESSES, restricted_host_addresses

    # enter the per-context restriction for the rest of this (single-purpose) process
    restricted_host_addresses(LOOPBACK_HOST_ADDRESSES).__enter__()


async def run_ours(url: str, recorder: Recorder, warmup: float, seconds: float,
                   frame_buffer: int) -> dict[str, Any]:
    from reactor_anyio import Reactor

    reactor = Reactor(model_name="helios", local=True, api_url=url, frame_buffer=frame_buffer)
    reactor.set_frame_callback(recorder.on_frame)
    try:
        await reactor.connect()
        result = await recorder.measure(warmup, seconds)
        stats = await reactor.get_stats()
        result["dropped"] = stats.frames_dropped if stats is not None else 0
    finally:
        await reactor.aclose()
    return result


async def run_ours_bgr(url: str, warmup: float, seconds: float) -> dict[str, Any]:
    """The OpenCV-style consumer on our client: BGR arrays asked for, kept, counted."""
    from reactor_anyio import Reactor

    state: dict[str, Any] = {"frames": 0, "counting": False, "last": None}
    first = asyncio.Event()

    def on_frame(bgr: RgbArray) -> None:
        state["last"] = bgr
        first.set()
        if state["counting"]:
            state["frames"] += 1

    reactor = Reactor(model_name="helios", local=True, api_url=url, frame_format="bgr24")
    reactor.set_frame_callback(on_frame)
    try:
        await reactor.connect()
        await asyncio.wait_for(first.wait(), 30)
        await asyncio.sleep(warmup)
        cpu = CpuWindow()
        cpu.start()
        state["counting"] = True
        await asyncio.sleep(seconds)
        state["counting"] = False
        cpu.stop()
    finally:
        await reactor.aclose()
    return {"frames": state["frames"], "cpu_s": cpu.cpu, "wall_s": cpu.wall}


def http_json(url: str, method: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
        return response.status, json.loads(raw) if raw else None


async def bare_connect(url: str, codecs: Sequence[str], *, register: bool = False,
                       channels_open: asyncio.Event | None = None) -> tuple[Any, Any, str]:
    """A plain RTCPeerConnection receiving ``main_video``; returns (pc, remote video track,
    session id).  Signalled by hand: over the legacy flat routes (connection 1001, whose
    outputs the runtime resumes itself), or with ``register`` over a registered connection
    (several viewers at once), sending ``resume_track`` when the control channel opens."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription

    descriptor = (await asyncio.to_thread(http_json, f"{url}/start_session", "POST", {}))[1]
    session = str(descriptor["session_id"])
    base = f"{url}/sessions/{session}/transport/webrtc"
    if register:
        connection = (await asyncio.to_thread(http_json, f"{base}/connections", "POST"))[1]
        base = f"{base}/connections/{connection['connection_id']}"
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver("video", direction="recvonly")
    available = RTCRtpSender.getCapabilities("video").codecs
    preferred = [c for mime in codecs for c in available if c.mimeType.lower() == mime.lower()]
    transceiver.setCodecPreferences(
        preferred + [c for c in available if c.mimeType == "video/rtx"])
    control = pc.createDataChannel("control")
    data = pc.createDataChannel("data")
    if channels_open is not None:
        def opened() -> None:
            if control.readyState == data.readyState == "open":
                channels_open.set()

        control.on("open", opened)
        data.on("open", opened)
    if register:
        resume = {"type": "notification", "event": "resume_track",
                  "data": {"name": "main_video"}}
        control.on("open", lambda: control.send(json.dumps(resume)))
    track: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def on_track(remote: Any) -> None:
        if remote.kind == "video" and not track.done():
            track.set_result(remote)

    pc.on("track", on_track)
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"sdp_offer": pc.localDescription.sdp,
             "client_info": {"sdk_version": "bench", "sdk_type": "python"},
             "track_mapping": [{"mid": transceiver.mid, "name": "main_video", "kind": "video",
                                "direction": "recvonly"}]}
    await asyncio.to_thread(http_json, f"{base}/sdp_params", "POST", offer)
    for _ in range(500):
        status, body = await asyncio.to_thread(http_json, f"{base}/sdp_params", "GET")
        if status == 200:
            await pc.setRemoteDescription(RTCSessionDescription(body["sdp_answer"], "answer"))
            return pc, await asyncio.wait_for(track, 10), session
        await asyncio.sleep(0.02)
    raise TimeoutError("no SDP answer")


async def run_bare(url: str, recorder: Recorder, warmup: float, seconds: float,
                   codecs: Sequence[str]) -> dict[str, Any]:
    from aiortc.mediastreams import MediaStreamError

    pc, track, _ = await bare_connect(url, codecs)

    async def pull() -> None:
        try:
            while True:
                frame = await track.recv()
                recorder.on_frame(frame.to_ndarray(format="rgb24"))
        except MediaStreamError:
            return

    task = asyncio.get_running_loop().create_task(pull())
    try:
        result = await recorder.measure(warmup, seconds)
        result["dropped"] = 0  # nothing is ever dropped: aiortc's queue is unbounded
    finally:
        task.cancel()
        await pc.close()
        await asyncio.to_thread(http_json, f"{url}/stop_session", "POST")
    return result


def child_main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.frame_path --client ours|bare --url URL ...``: one trial."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--client", choices=("ours", "bare", "ours-bgr"), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--cost-ms", type=float, default=0.0)
    parser.add_argument("--frame-buffer", type=int, default=2)
    parser.add_argument("--codecs", default="video/H264,video/VP8")
    opts = parser.parse_args(argv)
    restrict_ice_to_loopback()
    recorder = Recorder(opts.cost_ms / 1000)
    if opts.client == "ours-bgr":
        emit_result(asyncio.run(run_ours_bgr(opts.url, opts.warmup, opts.seconds)))
        return 0
    if opts.client == "ours":
        coro = run_ours(opts.url, recorder, opts.warmup, opts.seconds, opts.frame_buffer)
    else:
        coro = run_bare(opts.url, recorder, opts.warmup, opts.seconds, opts.codecs.split(","))
    emit_result(asyncio.run(coro))
    return 0


def trial(client: str, url: str, *, warmup: float, seconds: float, cost_ms: float = 0.0,
          frame_buffer: int = 2) -> dict[str, Any]:
    return run_child(["-m", "bench.frame_path", "--client", client, "--url", url,
                      "--warmup", str(warmup), "--seconds", str(seconds),
                      "--cost-ms", str(cost_ms), "--frame-buffer", str(frame_buffer)],
                     timeout=warmup + seconds + 90)


# ---- the figure ----------------------------------------------------------------------------

BGR_PORT = 8080  # the only address the official client connects to with local=True
BGR_SIZE = (640, 360)


def bgr_trial(side: str, *, warmup: float, seconds: float) -> dict[str, Any]:
    if side == "ours":
        return run_child(["-m", "bench.frame_path", "--client", "ours-bgr", "--url",
                          f"http://localhost:{BGR_PORT}", "--warmup", str(warmup),
                          "--seconds", str(seconds)], timeout=warmup + seconds + 90)
    return run_child([str(REPO / "bench" / "official_frames.py"), "--cpu-seconds",
                      str(seconds), "--warmup", str(warmup)], timeout=warmup + seconds + 90,
                     python=OFFICIAL_PYTHON)


def run_bgr(quick: bool) -> list[Row]:
    """The OpenCV-style consumer: ours asking for BGR vs 0.8.0 converting RGB itself."""
    from .connect_ready import port_free

    metric = "CPU per frame, BGR array per frame"
    figure = f"2 BGR consumer {BGR_SIZE[0]}x{BGR_SIZE[1]}"
    if not OFFICIAL_PYTHON.exists() or not port_free(BGR_PORT):
        why = "official client missing" if not OFFICIAL_PYTHON.exists() else "port 8080 taken"
        return [Row(figure=figure, metric=metric, unit="ms", ours=math.nan, note=why)]
    trials = 2 if quick else 6
    warmup, seconds = (1.0, 3.0) if quick else (2.0, 8.0)
    per_side: dict[str, list[float]] = {"ours": [], "baseline": []}
    failures: list[str] = []
    options = {"width": BGR_SIZE[0], "height": BGR_SIZE[1], "fps": FPS}
    with serve(MODEL_SPEC, port=BGR_PORT, options=options):
        for side in abba_order(trials):
            try:
                result = bgr_trial(side, warmup=warmup, seconds=seconds)
            except ChildFailed as exc:
                failures.append(f"{side}: {str(exc).splitlines()[-1]}")
                continue
            if result["frames"]:
                per_side[side].append(result["cpu_s"] * 1000 / result["frames"])
    note = (f"ours: frame_format='bgr24'; official 0.8.0: RGB callback + numpy RGB->BGR copy "
            f"(cv2.cvtColor equivalent); {trials} processes each")
    if failures:
        note += f"; {len(failures)} failed, first: {failures[0]}"
    row = Row(figure=figure, metric=metric, unit="ms", ours=median(per_side["ours"]),
              baseline=median(per_side["baseline"]), baseline_name="reactor-sdk 0.8.0",
              goal="<= 1.0x", note=note)
    return [judge(row, row.ratio <= 1.0)]


def summarize_trial(result: dict[str, Any]) -> dict[str, float]:
    latencies = [lat for _, lat in result["samples"]]
    frames = result["frames"]
    return {"cpu_ms_per_frame": result["cpu_s"] * 1000 / frames if frames else math.nan,
            "fps": frames / result["wall_s"] if result["wall_s"] else math.nan,
            "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
            "unreadable": result["unreadable"] / frames if frames else math.nan}


def run(quick: bool = False) -> list[Row]:
    trials = 2 if quick else 6
    warmup, seconds = (1.0, 3.0) if quick else (2.0, 8.0)
    sizes = SIZES[:1] if quick else SIZES
    rows: list[Row] = []
    for width, height in sizes:
        options = {"width": width, "height": height, "fps": FPS}
        per_side: dict[str, list[dict[str, float]]] = {"ours": [], "baseline": []}
        with serve(MODEL_SPEC, options=options) as server:
            for side in abba_order(trials):
                client = "ours" if side == "ours" else "bare"
                result = trial(client, server.url, warmup=warmup, seconds=seconds)
                per_side[side].append(summarize_trial(result))

        def med(side: str, key: str) -> float:
            return median(t[key] for t in per_side[side])  # noqa: B023 - used at once

        size = f"{width}x{height}"
        unreadable = max(med("ours", "unreadable"), med("baseline", "unreadable"))
        note = (f"H.264 (both offer H.264 first, like reactor-sdk); fps ours "
                f"{med('ours', 'fps'):.1f} / bare {med('baseline', 'fps'):.1f}; "
                f"{trials} trials each; unreadable stamps {unreadable:.1%}")
        cpu = Row(figure=f"2 frame path {size}", metric="receive CPU per frame", unit="ms",
                  ours=med("ours", "cpu_ms_per_frame"),
                  baseline=med("baseline", "cpu_ms_per_frame"), baseline_name="bare aiortc",
                  goal="<= 1.05x", note=note)
        cpu = judge(cpu, cpu.ratio <= 1.05)
        rows.append(cpu)
        for q in ("p50", "p99"):
            row = Row(figure=f"2 frame path {size}", metric=f"latency {q}", unit="ms",
                      ours=med("ours", q), baseline=med("baseline", q),
                      baseline_name="bare aiortc", goal="<= +3 ms")
            rows.append(judge(row, row.ours - row.baseline <= 3.0))
    return rows + run_bgr(quick)


if __name__ == "__main__":
    sys.exit(child_main())
