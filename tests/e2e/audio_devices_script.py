"""Exercise ``reactor_anyio.audio_devices`` on real PortAudio devices; print a JSON summary.

Run by tests/e2e/test_audio_devices.py with ``HOME`` pointing at a folder whose
``.asoundrc`` declares two ALSA devices over the ``file`` plugin: ``rxspeaker`` writes what
is played to ``<HOME>/out.raw``, ``rxmic`` captures ``<HOME>/in.raw`` (48 kHz mono int16).
PortAudio opens them through its ALSA host API like any sound card.  Neither is paced (no
hardware clock), so the speaker under-runs as fast as it drains; what it plays must still
be what it was given.  ``python audio_devices_script.py <scenario>``:

* ``submit`` -- a Speaker fed by hand with 300 ms of 440 Hz;
* ``tone`` -- a Speaker on the ``main_audio`` track of our Reactor streaming ``tone``;
* ``capture`` -- a Microphone on a stand-in track, then on our Reactor's ``mic`` track
  publishing to ``echo`` (what comes back on ``speaker``);
* ``stepped`` -- a Microphone refused for a stepped session.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from reactor_anyio import InvalidStateError, Reactor
from reactor_anyio.audio_devices import Microphone, Speaker
from reactor_anyio.runtime import LocalRuntime

RATE = 48_000
HOME = Path(os.environ["HOME"])


def dominant_hz(samples: np.ndarray[Any, Any]) -> float:
    data = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(data * np.hanning(len(data))))
    return float(np.argmax(spectrum) * RATE / len(data))


def played(channels: int = 1) -> np.ndarray[Any, Any]:
    """The first channel of what the speaker played; the file goes (an unpaced device
    writes silence at disk speed between the under-runs)."""
    path = HOME / "out.raw"
    out = np.fromfile(path, dtype="<i2")
    path.unlink()
    return out[: len(out) // channels * channels].reshape(-1, channels)[:, 0]


def sine(hz: float, samples: int) -> np.ndarray[Any, Any]:
    return (np.sin(2 * np.pi * hz * np.arange(samples) / RATE) * 8000).astype(np.int16)


def submit() -> dict[str, Any]:
    pcm = sine(440, RATE * 3 // 10)
    speaker = Speaker(device="rxspeaker").start()
    for start in range(0, len(pcm), 480):
        speaker.submit(pcm[start:start + 480].tobytes(), RATE, 1)
        time.sleep(0.002)
    speaker.submit(np.zeros((480, 2), np.int16), RATE, 2)  # another format: ignored
    time.sleep(0.1)
    speaker.stop()
    speaker.stop()
    out = played()
    sound = out[np.flatnonzero(out)[0]:] if out.any() else out
    return {"hz": dominant_hz(sound[:len(pcm)]) if len(sound) else None,
            # silence fills the under-runs; apart from it, what was submitted, in order,
            # up to a tail shorter than the preroll (which waits for more that never comes)
            "played_in_order": bool(np.array_equal(out[out != 0],
                                                   pcm[pcm != 0][:np.count_nonzero(out)])),
            "unplayed": int(np.count_nonzero(pcm) - np.count_nonzero(out)),
            "dropped_ms": speaker.dropped_ms, "under_runs": speaker.under_runs}


async def tone() -> dict[str, Any]:
    async with LocalRuntime("tone") as runtime, \
            Reactor("tone", local=True, api_url=runtime.url) as reactor:
        await reactor.connect()
        await reactor.send_command("set_frequency", {"hz": 880.0})
        track = reactor.tracks.with_direction("recvonly").with_kind("audio").one()
        await asyncio.sleep(0.5)  # the command is applied
        with Speaker(track, device="rxspeaker") as speaker:
            await asyncio.sleep(0.6)
        channels = speaker._format[1] if speaker._format else 1  # what the track delivered
        out = played(channels)
        loud = np.flatnonzero(np.abs(out.astype(np.int32)) > 2000)
        sound = out[out != 0]
        return {"track": track.name, "channels": channels, "loud": len(loud),
                "hz": dominant_hz(sound[-RATE // 5:]) if len(sound) > RATE // 5 else None}


class Pushes:
    """A stand-in for a published track: records what the microphone pushes."""

    name = "mic"

    def __init__(self) -> None:
        self.blocks: list[tuple[np.ndarray[Any, Any], int, int]] = []
        self._reactor = self  # what Microphone asks for the session's mode
        self.generation = "streamed"

    def push_frame(self, pcm: np.ndarray[Any, Any], *, sample_rate: int,
                   num_channels: int) -> None:
        self.blocks.append((pcm.copy(), sample_rate, num_channels))


async def capture() -> dict[str, Any]:
    pushes = Pushes()
    with Microphone(pushes, device="rxmic") as mic:  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
    captured = np.concatenate([b[0][:, 0] for b in pushes.blocks])
    source = np.fromfile(HOME / "in.raw", dtype="<i2")
    out: dict[str, Any] = {
        "blocks_sent": mic.blocks_sent, "pushes": len(pushes.blocks),
        "block_shapes": sorted({tuple(b[0].shape) for b in pushes.blocks}),
        "formats": sorted({(b[1], b[2]) for b in pushes.blocks}),
        "matches_source": bool(np.array_equal(captured[:RATE], source[:RATE]))}
    async with LocalRuntime("echo") as runtime, \
            Reactor("echo", local=True, api_url=runtime.url) as reactor:
        heard: list[np.ndarray[Any, Any]] = []
        reactor.track("speaker").on_frame(lambda frame: heard.append(frame[:, 0].copy()))
        await reactor.connect()
        track = await reactor.track("mic").publish()
        with Microphone(track, device="rxmic") as live:
            await asyncio.sleep(0.5)
        await asyncio.sleep(0.5)
        back = np.concatenate(heard) if heard else np.zeros(0, np.int16)
        loud = np.flatnonzero(np.abs(back.astype(np.int32)) > 2000)
        out["echo_blocks"] = live.blocks_sent
        out["echo_hz"] = (dominant_hz(back[loud[0]:loud[0] + RATE // 10])
                          if len(loud) > RATE // 10 else None)
    return out


async def stepped() -> dict[str, Any]:
    async with LocalRuntime("echo") as runtime, \
            Reactor("echo", local=True, api_url=runtime.url, generation="stepped") as reactor:
        await reactor.connect()
        track = await reactor.track("mic").publish()
        try:
            Microphone(track, device="rxmic").start()
        except InvalidStateError as exc:
            return {"refused": type(exc).__name__}
    return {"refused": None}


def main() -> None:
    scenario = sys.argv[1]
    if scenario == "submit":
        summary = submit()
    else:
        summary = asyncio.run({"tone": tone, "capture": capture, "stepped": stepped}[scenario]())
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
