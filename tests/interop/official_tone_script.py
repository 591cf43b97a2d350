"""Drive the unmodified official ``reactor-sdk==0.8.0`` client against ``reactor serve --model
tone`` on ``http://localhost:8080``: a model with a video track *and* an audio track.

The client declares one transceiver per track the runtime's capabilities list, so the offer
carries an audio m-line beside the video one.  The script watches a few seconds (video frames
through ``set_frame_callback``, audio pulled from the ``main_audio`` track it is handed),
changes the frequency with ``set_frequency``, asks for a 4 s clip, downloads it with
``download_clip_as_file`` and decodes both streams with PyAV.  Runs in ``.venv-official``, in
its own process, with the loopback-only aioice patch of ``official_client_script.py``.
Prints one JSON summary line on stdout.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
from typing import Any

import aioice.ice
import av
import numpy as np


def _loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


aioice.ice.get_host_addresses = _loopback_host_addresses

from reactor_sdk import Reactor, ReactorStatus  # type: ignore[import-not-found]  # noqa: E402


def dominant_hz(samples: np.ndarray[Any, Any], rate: int) -> float:
    """The strongest frequency in ``samples`` (mono float)."""
    if len(samples) < 256 or rate <= 0:
        return 0.0
    window = samples * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(window))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum) * rate / len(samples))


class Heard:
    """Audio frames pulled from the received audio track (mono, float)."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray[Any, Any]] = []
        self.rate = 0
        self.frames = 0
        self.error: str | None = None

    async def pull(self, track: Any) -> None:
        try:
            while True:
                frame = await track.recv()
                pcm = frame.to_ndarray().astype(np.float64)
                channels = len(frame.layout.channels)
                if frame.format.is_planar:
                    mono = pcm.reshape(channels, -1).mean(axis=0)
                else:
                    mono = pcm.reshape(-1, channels).mean(axis=1)
                self.chunks.append(mono)
                self.rate = frame.sample_rate
                self.frames += 1
        except Exception as exc:  # the track ends when the connection closes
            if type(exc).__name__ != "MediaStreamError":
                self.error = f"{type(exc).__name__}: {exc}"

    def samples(self) -> int:
        return sum(len(c) for c in self.chunks)

    def last_hz(self, seconds: float) -> float:
        if not self.chunks or not self.rate:
            return 0.0
        tail = np.concatenate(self.chunks)[-int(seconds * self.rate):]
        return dominant_hz(tail, self.rate)


def decode_clip(data: bytes) -> dict[str, Any]:
    """What the clip holds: video frames and span, audio codec, seconds and frequency."""
    out: dict[str, Any] = {}
    with av.open(io.BytesIO(data)) as container:
        out["video_streams"] = len(container.streams.video)
        out["audio_streams"] = len(container.streams.audio)
        times: list[float] = []
        size = (0, 0)
        for frame in container.decode(video=0):
            times.append(float(frame.time) if frame.time is not None else 0.0)
            size = (frame.width, frame.height)
        out["frames"] = len(times)
        out["seconds"] = (max(times) - min(times)) if times else 0.0
        out["size"] = list(size)
    if out["audio_streams"]:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.audio[0]
            out["audio_codec"] = stream.codec_context.name
            out["audio_rate"] = stream.codec_context.sample_rate
            chunks = [f.to_ndarray().astype(np.float64).reshape(-1)
                      for f in container.decode(stream)]
            pcm = np.concatenate(chunks) if chunks else np.zeros(0)
            rate = int(out["audio_rate"] or 0)
            out["audio_seconds"] = len(pcm) / rate if rate else 0.0
            # the second half: the clip may begin before the frequency changed
            out["audio_hz"] = dominant_hz(pcm[len(pcm) // 2:], rate)
    return out


async def main(watch: float, seconds: float) -> dict[str, Any]:
    reactor = Reactor(model_name="tone", local=True)
    ready = asyncio.Event()
    statuses: list[str] = []
    frames: list[Any] = []
    heard = Heard()
    tracks: list[str] = []
    pulls: list[asyncio.Task[None]] = []

    def status(value: Any) -> None:
        statuses.append(str(getattr(value, "value", value)))
        if value == ReactorStatus.READY:
            ready.set()

    def track_received(name: str, track: Any) -> None:
        tracks.append(f"{name}:{track.kind}")
        if track.kind == "audio":
            pulls.append(asyncio.ensure_future(heard.pull(track)))

    reactor.on("status_changed", status)
    reactor.on("track_received", track_received)
    reactor.set_frame_callback(frames.append)
    await reactor.connect()
    await asyncio.wait_for(ready.wait(), 10)
    await asyncio.sleep(watch / 2)
    before_hz = heard.last_hz(0.5)
    await reactor.send_command("set_frequency", {"hz": 1000})
    await asyncio.sleep(watch / 2)
    after_hz = heard.last_hz(0.5)
    asked = time.monotonic()
    clip = await reactor.request_clip(seconds)
    data = await reactor.download_clip_as_file(clip)
    in_hand = time.monotonic()
    received = len(frames)
    shape = list(np.asarray(frames[-1]).shape) if frames else []
    await reactor.disconnect()
    for task in pulls:
        task.cancel()
    return {"statuses": statuses, "tracks": sorted(tracks), "frames": received,
            "frame_shape": shape, "audio_frames": heard.frames,
            "audio_samples": heard.samples(), "audio_rate": heard.rate,
            "audio_error": heard.error, "before_hz": before_hz, "after_hz": after_hz,
            "clip_seconds": clip.end_marker - clip.start_marker, "bytes": len(data),
            "in_hand_ms": (in_hand - asked) * 1000, "clip": decode_clip(data)}


if __name__ == "__main__":
    summary = asyncio.run(main(float(sys.argv[1]), float(sys.argv[2])))
    print(json.dumps(summary))
