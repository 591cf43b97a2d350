"""``reactor demo --model tone``: the audio demo, end to end on one machine.

Starts the local runtime in-process with the ``tone`` model, connects with
:class:`~reactor_anyio.Reactor` (which resumes both outputs), steps the frequency through
:data:`STEPS` with ``set_frequency`` and writes ``DIR/demo.mp4`` with both streams: the video
frames the client received (H.264, at their receive times) and the audio the runtime sent
(AAC, 48 kHz mono, taken from the track's frames as they were encoded, placed by their
audio-clock ``pts`` on the same timeline).  The summary names the frequency heard in each
step (the strongest FFT bin of the middle of the step).
"""

from __future__ import annotations

import fractions
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import anyio
import attrs
import av
import numpy as np
import numpy.typing as npt

from .client.reactor import Reactor
from .runtime import LocalRuntime

STEPS: tuple[float, ...] = (440.0, 660.0, 880.0)
RATE = 48_000
VIDEO_TIME_BASE = 90_000

Frame = npt.NDArray[np.uint8]
Timed = tuple[float, Any]


@attrs.frozen(kw_only=True)
class ToneSummary:
    ready_ms: float
    frames: int
    audio_seconds: float
    #: (commanded, heard) hertz per step
    heard: tuple[tuple[float, float], ...]
    video: Path

    def lines(self) -> list[str]:
        steps = ", ".join(f"{want:g} -> {got:.0f}" for want, got in self.heard)
        return [
            f"time to READY        {self.ready_ms:8.1f} ms",
            f"video frames         {self.frames:8d}",
            f"audio                {self.audio_seconds:8.1f} s",
            f"frequencies (Hz)     {steps}",
            f"video + audio        {self.video}",
        ]


def dominant_hz(pcm: npt.NDArray[np.int16]) -> float:
    samples = pcm.astype(np.float64).reshape(-1)
    if len(samples) < 2:
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum) * RATE / len(samples))


def audio_timeline(taps: Sequence[tuple[float, int, Any]], origin: float
                   ) -> tuple[int, npt.NDArray[np.int16]]:
    """The tapped frames as one mono signal: (offset from ``origin`` in samples, samples).
    Frames are placed by their ``pts``; a gap (a skipped frame) stays silent."""
    if not taps:
        return 0, np.zeros(0, np.int16)
    first_time, first_pts, _ = taps[0]
    end = max(pts + len(pcm) for _, pts, pcm in taps) - first_pts
    signal = np.zeros(end, np.int16)
    for _, pts, pcm in taps:
        signal[pts - first_pts:pts - first_pts + len(pcm)] = pcm[:, 0]
    return max(0, round((first_time - origin) * RATE)), signal


async def run_tone_demo(out: Path, seconds: float, *, stream: TextIO = sys.stdout,
                        width: int = 320, height: int = 180, fps: float = 15.0) -> ToneSummary:
    await anyio.Path(out).mkdir(parents=True, exist_ok=True)
    frames: list[Timed] = []
    taps: list[tuple[float, int, Any]] = []
    marks: list[tuple[float, float]] = []
    started = time.monotonic()
    options = {"width": width, "height": height, "fps": fps}
    async with LocalRuntime("tone", model_options=options) as runtime, \
            Reactor(model_name="tone", local=True, api_url=runtime.url) as reactor:
        # list.append is atomic: the audio thread and the loop share these lists safely
        runtime.tap_audio("main_audio",
                          lambda pcm, pts: taps.append((time.monotonic(), pts, pcm.copy())))
        reactor.set_frame_callback(lambda frame: frames.append((time.monotonic(), frame)))
        await reactor.connect()
        ready_ms = (time.monotonic() - started) * 1000
        for hz in STEPS:
            await reactor.send_command("set_frequency", {"hz": hz})
            marks.append((time.monotonic(), hz))
            stream.write(f"\rplaying {hz:g} Hz ")
            stream.flush()
            await anyio.sleep(seconds / len(STEPS))
        end = time.monotonic()
        runtime.tap_audio("main_audio", None)
        await reactor.disconnect()
    stream.write("\n")
    origin = frames[0][0] if frames else started
    offset, signal = audio_timeline(taps, origin)
    heard = []
    for index, (at, hz) in enumerate(marks):
        until = marks[index + 1][0] if index + 1 < len(marks) else end
        middle = (at + until) / 2 - origin
        lo = max(0, round((middle - 0.15) * RATE) - offset)
        heard.append((hz, dominant_hz(signal[lo:lo + round(0.3 * RATE)])))
    video = write_av(out / "demo.mp4", frames, origin, offset, signal)
    return ToneSummary(ready_ms=ready_ms, frames=len(frames),
                       audio_seconds=len(signal) / RATE, heard=tuple(heard), video=video)


def write_av(path: Path, frames: Sequence[Timed], origin: float, audio_offset: int,
             audio: npt.NDArray[np.int16]) -> Path:
    """H.264 video at receive times and AAC audio at ``audio_offset`` samples, in one MP4."""
    with av.open(str(path), mode="w") as container:
        video: Any = container.add_stream("libx264", rate=30)
        if frames:
            video.height, video.width = frames[0][1].shape[:2]
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "veryfast", "crf": "23"}
        video.codec_context.time_base = fractions.Fraction(1, VIDEO_TIME_BASE)
        sound: Any = container.add_stream("aac", rate=RATE, layout="mono")
        last = -1
        for when, array in frames:
            picture = av.VideoFrame.from_ndarray(array, format="rgb24")
            last = picture.pts = max(round((when - origin) * VIDEO_TIME_BASE), last + 1)
            picture.time_base = fractions.Fraction(1, VIDEO_TIME_BASE)
            for packet in video.encode(picture):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        size = sound.codec_context.frame_size or 1024
        floats = audio.astype(np.float32) / 32768.0
        for start in range(0, len(floats), size):
            chunk = floats[start:start + size].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = RATE
            frame.pts = audio_offset + start
            for packet in sound.encode(frame):
                container.mux(packet)
        for packet in sound.encode():
            container.mux(packet)
    return path
