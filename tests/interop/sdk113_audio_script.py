"""Drive the official ``reactor-sdk==1.13.0`` against ``reactor serve`` with audio; print a
JSON summary as the last line of stdout.

Runs in the side venv (``.venv-sdk113``) inside the test's network namespace:
``python sdk113_audio_script.py <scenario> <api_url>``.  Scenarios:

* ``tone`` -- receive ``main_audio`` from the ``tone`` model; the dominant frequency of
  what arrives, before and after ``set_frequency``;
* ``echo`` -- publish a 660 Hz sine on ``mic`` (PCM pushed every 10 ms) to ``echo`` and
  measure what comes back on ``speaker``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import numpy as np
from reactor_sdk import Reactor

SINE_HZ = 660.0
RATE = 48_000


def dominant(pcm: np.ndarray, rate: int) -> float:
    """The strongest FFT bin (Hann window) of the first channel."""
    samples = pcm[:, 0].astype(np.float64) if pcm.ndim == 2 else pcm.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum) * rate / len(samples))


class Audio:
    """Every frame of one audio track, as the SDK's ``on_frame`` gives them."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.rate = 0
        self.channels = 0
        self.shapes: set[str] = set()

    def __call__(self, frame: Any, sample_rate: int, num_channels: int) -> None:
        self.parts.append(np.array(frame, copy=True))
        self.rate, self.channels = sample_rate, num_channels
        self.shapes.add(f"{frame.dtype}{list(frame.shape[1:])}")

    @property
    def samples(self) -> int:
        return sum(len(p) for p in self.parts)

    def last(self, seconds: float) -> np.ndarray:
        pcm = np.concatenate(self.parts) if self.parts else np.zeros((0, 1), np.int16)
        return pcm[-int(seconds * max(self.rate, 1)):]

    async def wait_more(self, seconds: float, within: float) -> bool:
        target = self.samples + int(seconds * (self.rate or RATE))
        deadline = time.monotonic() + within
        while self.samples < target and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        return self.samples >= target


async def tone(url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    reactor = Reactor("tone", local=True, api_url=url)
    audio = Audio()
    reactor.track("main_audio").on_frame(audio)
    await asyncio.wait_for(reactor.connect(), 20)
    out["received_first"] = await audio.wait_more(1.0, 15)
    out["rate"], out["channels"], out["shapes"] = audio.rate, audio.channels, sorted(audio.shapes)
    out["before_hz"] = dominant(audio.last(0.5), audio.rate) if audio.rate else None
    out["reply"] = await asyncio.wait_for(
        reactor.send_command("set_frequency", {"hz": 1000}), 10)
    out["received_after"] = await audio.wait_more(1.0, 15)
    out["after_hz"] = dominant(audio.last(0.5), audio.rate) if audio.rate else None
    await reactor.disconnect()
    return out


async def echo(url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    reactor = Reactor("echo", local=True, api_url=url)
    speaker = Audio()
    reactor.track("speaker").on_frame(speaker)
    await asyncio.wait_for(reactor.connect(), 20)
    mic = await asyncio.wait_for(reactor.publish_track("mic"), 10)
    block = RATE // 100  # 10 ms per push, paced at the capture rate
    start, pushed = time.monotonic(), 0
    while time.monotonic() - start < 4.0:
        t = (pushed + np.arange(block)) / RATE
        pcm = (np.sin(2 * np.pi * SINE_HZ * t) * 12_000).astype(np.int16)
        mic.push_frame(pcm, sample_rate=RATE, num_channels=1)
        pushed += block
        await asyncio.sleep(max(0.0, start + pushed / RATE - time.monotonic()))
    out["pushed_samples"] = pushed
    out["received_samples"] = speaker.samples
    out["rate"], out["channels"] = speaker.rate, speaker.channels
    out["echo_hz"] = dominant(speaker.last(0.5), speaker.rate) if speaker.rate else None
    await reactor.disconnect()
    return out


def main() -> None:
    scenario, url = sys.argv[1], sys.argv[2]
    result = asyncio.run(tone(url) if scenario == "tone" else echo(url))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
