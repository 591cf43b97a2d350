"""Figure 14: what audio costs the runtime's video: delivered video fps and runtime CPU per
video frame with ``tone``'s audio on, against the same run with it off.

The runtime serves ``tone`` (640x360 at 30 fps, a 48 kHz mono sine) in its own process.  A
second process connects one bare aiortc viewer (registered connection, VP8, both tracks
negotiated), resumes ``main_video`` and, in the "audio on" trials, ``main_audio`` too; it
counts video frames and audio samples over a window reported in CLOCK_MONOTONIC.  The suite
samples the runtime's CPU from ``/proc/<pid>/stat`` (as figure 5 does) and divides the
window's CPU by the video frames delivered in it; audio's own work (the model's sine, the
Opus encode, one RTP packet per frame, one wake-up of the audio thread and of the event loop
per 60 ms batch of frames, the recorder's AAC) is therefore counted against video,
which is what the goal bounds: within 5 % of the audio-off figure.  Trials alternate on/off
(ABBA) against the same server.  The full run repeats it with 60 ms audio frames (a
``TrackSpec(frame_ms=60)``): the cost of audio is per packet, not per sample.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from .common import Row, abba_order, emit_result, judge, median, run_child, serve
from .runtime_cpu import CpuSampler

NAME = "audio_runtime"
TITLE = "14. video fps and CPU per frame with audio on vs off"

FPS = 30
WIDTH, HEIGHT = 640, 360
GOAL = 1.05


async def view(url: str, audio: bool, warmup: float, seconds: float) -> dict[str, Any]:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    from .frame_path import http_json, restrict_ice_to_loopback

    restrict_ice_to_loopback()
    descriptor = (await asyncio.to_thread(http_json, f"{url}/start_session", "POST", {}))[1]
    base = f"{url}/sessions/{descriptor['session_id']}/transport/webrtc"
    connection = (await asyncio.to_thread(http_json, f"{base}/connections", "POST"))[1]
    base = f"{base}/connections/{connection['connection_id']}"
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    video = pc.addTransceiver("video", direction="recvonly")
    vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs
           if c.mimeType.lower() == "video/vp8"]
    video.setCodecPreferences(vp8)
    sound = pc.addTransceiver("audio", direction="recvonly")
    control = pc.createDataChannel("control")
    pc.createDataChannel("data")
    resumed = ["main_video", "main_audio"] if audio else ["main_video"]

    def resume() -> None:
        for name in resumed:
            control.send(json.dumps({"type": "notification", "event": "resume_track",
                                     "data": {"name": name}}))

    control.on("open", resume)
    counts = {"video": 0, "audio": 0}
    tasks: list[asyncio.Task[None]] = []

    async def pull(track: Any) -> None:
        try:
            while True:
                frame = await track.recv()
                counts[track.kind] += frame.samples if track.kind == "audio" else 1
        except MediaStreamError:
            return

    pc.on("track", lambda track: tasks.append(asyncio.ensure_future(pull(track))))
    await pc.setLocalDescription(await pc.createOffer())
    mapping = [{"mid": video.mid, "name": "main_video", "kind": "video",
                "direction": "recvonly"},
               {"mid": sound.mid, "name": "main_audio", "kind": "audio",
                "direction": "recvonly"}]
    await asyncio.to_thread(http_json, f"{base}/sdp_params", "POST", {
        "sdp_offer": pc.localDescription.sdp, "track_mapping": mapping,
        "client_info": {"sdk_version": "bench", "sdk_type": "python"}})
    for _ in range(500):
        status, body = await asyncio.to_thread(http_json, f"{base}/sdp_params", "GET")
        if status == 200:
            await pc.setRemoteDescription(RTCSessionDescription(body["sdp_answer"], "answer"))
            break
        await asyncio.sleep(0.02)
    try:
        deadline = time.monotonic() + 30
        while counts["video"] == 0 or (audio and counts["audio"] == 0):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no media: {counts}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(warmup)
        start, before = time.monotonic(), dict(counts)
        await asyncio.sleep(seconds)
        end, after = time.monotonic(), dict(counts)
    finally:
        await pc.close()
        for task in tasks:
            task.cancel()
        await asyncio.to_thread(http_json, f"{url}/stop_session", "POST")
    return {"start": start, "end": end, "video": after["video"] - before["video"],
            "audio_samples": after["audio"] - before["audio"]}


def child_main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.audio_runtime --url URL [--audio]``: one trial's viewer."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--audio", action="store_true")
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--seconds", type=float, default=4.0)
    opts = parser.parse_args(argv)
    emit_result(asyncio.run(view(opts.url, opts.audio, opts.warmup, opts.seconds)))
    return 0


def _tone_with_frames_of(frame_ms: int) -> type[Any]:
    from reactor_anyio.models import TrackSpec
    from reactor_anyio.models.tone import AUDIO_TRACK, Tone

    return type(f"Tone{frame_ms}ms", (Tone,), {
        "outputs": (Tone.outputs[0], TrackSpec(name=AUDIO_TRACK, kind="audio",
                                               frame_ms=frame_ms))})


#: ``tone`` with 60 ms audio frames (one Opus packet and one wake-up per 60 ms)
Tone60ms = _tone_with_frames_of(60)


def run(quick: bool = False) -> list[Row]:
    rows = _measure("tone", "20 ms frames", quick)
    if not quick:
        rows += _measure("bench.audio_runtime:Tone60ms", "60 ms frames", quick)
    return rows


def _measure(model: str, label: str, quick: bool) -> list[Row]:
    trials = 1 if quick else 3
    warmup, seconds = (1.0, 2.5) if quick else (2.0, 5.0)
    fps: dict[str, list[float]] = {"ours": [], "baseline": []}
    cpu_ms: dict[str, list[float]] = {"ours": [], "baseline": []}
    audio_rate: list[float] = []
    options = {"width": WIDTH, "height": HEIGHT, "fps": FPS}
    with serve(model, options=options) as server, CpuSampler(server.pid) as sampler:
        time.sleep(1.0)
        for variant in abba_order(trials):
            args = ["-m", "bench.audio_runtime", "--url", server.url, "--warmup", str(warmup),
                    "--seconds", str(seconds)]
            result = run_child([*args, "--audio"] if variant == "ours" else args, timeout=120)
            time.sleep(0.2)  # let the sampler pass the window's end
            window = result["end"] - result["start"]
            busy = sampler.utilisation(result["start"], result["end"]) * window
            fps[variant].append(result["video"] / window)
            cpu_ms[variant].append(busy * 1000 / max(result["video"], 1))
            if variant == "ours":
                audio_rate.append(result["audio_samples"] / window)
    figure = f"14 tone {WIDTH}x{HEIGHT} VP8 + Opus, {label}"
    return [
        Row(figure=figure, metric="delivered video fps", unit="fps", ours=median(fps["ours"]),
            baseline=median(fps["baseline"]), baseline_name="audio off, same run",
            note=f"audio received {median(audio_rate) / 1000:.1f} k samples/s; "
                 f"{trials} trial(s) each"),
        judge(Row(figure=figure, metric="runtime CPU per video frame", unit="ms",
                  ours=median(cpu_ms["ours"]), baseline=median(cpu_ms["baseline"]),
                  baseline_name="audio off, same run", goal=f"<= {GOAL}x"),
              median(cpu_ms["ours"]) <= GOAL * median(cpu_ms["baseline"])),
    ]


if __name__ == "__main__":
    sys.exit(child_main())
