"""Audio test helpers: a plain aiortc peer (no runtime) that plays a sine and records what it
is sent, and a numpy FFT to name the dominant frequency of what arrives."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from collections.abc import Callable
from typing import Any

import av
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from reactor_anyio.webrtc import LOOPBACK_HOST_ADDRESSES, restricted_host_addresses
from reactor_anyio.webrtc.audio_receive import frame_to_pcm

RATE = 48_000


def dominant_hz(pcm: np.ndarray[Any, Any], rate: int) -> float:
    """The strongest frequency of the first channel (Hann window, DC removed)."""
    signal = pcm.reshape(pcm.shape[0], -1)[:, 0].astype(np.float64)
    signal -= signal.mean()
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size)))
    return float(np.argmax(spectrum) * rate / signal.size)


def sine(hz: float, seconds: float, rate: int = RATE, channels: int = 1,
         amplitude: float = 0.5, start: int = 0) -> np.ndarray[Any, Any]:
    """int16 ``(n, channels)`` sine."""
    n = int(seconds * rate)
    t = (np.arange(n) + start) / rate
    mono = np.rint(np.sin(2 * np.pi * hz * t) * amplitude * 32767).astype(np.int16)
    return np.repeat(mono[:, None], channels, axis=1)


class SineTrack(MediaStreamTrack):
    """A paced 48 kHz mono sine, 20 ms per frame; ``hz`` may change while it plays."""

    kind = "audio"

    def __init__(self, hz: float = 440.0) -> None:
        super().__init__()
        self.hz = hz
        self._sent = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        samples = RATE // 50
        if self._start is None:
            self._start = time.monotonic()
        else:
            delay = self._start + self._sent / RATE - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        pcm = sine(self.hz, samples / RATE, start=self._sent)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._sent
        frame.time_base = fractions.Fraction(1, RATE)
        self._sent += samples
        return frame


class PlainPeer:
    """A bare aiortc answerer on the running asyncio loop: plays a :class:`SineTrack` on the
    client's recvonly audio tracks and records, per name, the PCM of what the client sends."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.sines: dict[str, SineTrack] = {}
        self.received: dict[str, list[np.ndarray[Any, Any]]] = {}
        self._names: dict[str, str] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        mid = next(t.mid for t in self.pc.getTransceivers() if t.receiver.track is track)
        name = self._names.get(str(mid), str(mid))
        chunks = self.received.setdefault(name, [])
        self._tasks.append(asyncio.get_running_loop().create_task(self._record(track, chunks)))

    @staticmethod
    async def _record(track: MediaStreamTrack, chunks: list[np.ndarray[Any, Any]]) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                chunks.append(frame_to_pcm(frame))

    async def answer(self, offer: str, mids: dict[str, str], play: dict[str, float]) -> str:
        """``play``: recvonly track name (client side) -> sine frequency."""
        self._names = {mid: name for name, mid in mids.items()}
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        for transceiver in self.pc.getTransceivers():
            name = self._names.get(str(transceiver.mid))
            if name in play:
                track = self.sines[name] = SineTrack(play[name])
                transceiver.direction = "sendonly"
                transceiver.sender.replaceTrack(track)
        answer = await self.pc.createAnswer()
        with restricted_host_addresses(LOOPBACK_HOST_ADDRESSES):
            await self.pc.setLocalDescription(answer)
        return str(self.pc.localDescription.sdp)

    def recorded(self, name: str) -> np.ndarray[Any, Any]:
        chunks = self.received.get(name, [])
        return np.concatenate(chunks) if chunks else np.zeros((0, 2), np.int16)

    async def close(self) -> None:
        for sine_track in self.sines.values():
            sine_track.stop()
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def wait_until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    """Poll ``predicate`` on the asyncio loop until it holds (the test fails after
    ``within`` seconds)."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within} s")
        await asyncio.sleep(0.01)
