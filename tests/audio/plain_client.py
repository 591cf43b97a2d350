"""A client built on plain aiortc (no reactor_anyio client code) for the runtime's audio
tests: it offers the tracks it is given, receives audio into numpy and can publish an
aiortc audio track.  Asyncio only (aiortc)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from reactor_anyio.http import HttpClient
from reactor_anyio.webrtc.ice import LOOPBACK_HOST_ADDRESSES, restricted_host_addresses
from reactor_proto.sdp import munge_answer

BASE = "/sessions/local/transport/webrtc"
TIMEOUT = 10.0


def dominant_frequency(pcm: np.ndarray, sample_rate: int) -> float:
    """The frequency of the strongest FFT bin (Hann window) of mono ``pcm``."""
    samples = pcm.astype(np.float64).reshape(-1)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum) * sample_rate / len(samples))


async def wait_for(predicate: Any, within: float = TIMEOUT) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


class PlainClient:
    """``tracks``: (name, kind, direction) from the client's point of view."""

    def __init__(self, url: str, http: HttpClient,
                 tracks: Sequence[tuple[str, str, str]]) -> None:
        self.url, self.http, self.tracks = url, http, tuple(tracks)
        self.pc = RTCPeerConnection()
        self.channels = {label: self.pc.createDataChannel(label)
                         for label in ("control", "data")}
        self.messages: list[dict[str, Any]] = []
        self.channels["data"].on("message", lambda m: self.messages.append(json.loads(m)))
        self.audio: dict[str, list[np.ndarray]] = {}
        self.pts: dict[str, list[int]] = {}
        self.video_frames = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.senders: dict[str, Any] = {}
        self.pc.on("track", self._on_track)
        self._mids: dict[str, str] = {}

    def _on_track(self, track: MediaStreamTrack) -> None:
        mid = next(t.mid for t in self.pc.getTransceivers() if t.receiver.track is track)
        name = next(n for n, m in self._mids.items() if m == mid)
        self._tasks.append(asyncio.ensure_future(self._read(name, track)))

    async def _read(self, name: str, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if track.kind == "audio":
                    pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels))
                    self.audio.setdefault(name, []).append(pcm[:, 0].copy())
                    self.pts.setdefault(name, []).append(frame.pts)
                else:
                    self.video_frames += 1

    def received(self, name: str) -> np.ndarray:
        parts = self.audio.get(name, [])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    async def connect(self, publish: dict[str, MediaStreamTrack] | None = None) -> None:
        publish = publish or {}
        for name, kind, direction in self.tracks:
            if direction == "recvonly":
                self.pc.addTransceiver(kind, direction="recvonly")
            else:
                self.pc.addTransceiver(publish[name], direction="sendonly")
        with restricted_host_addresses(LOOPBACK_HOST_ADDRESSES):
            await self.pc.setLocalDescription(await self.pc.createOffer())
        transceivers = self.pc.getTransceivers()
        self._mids = {name: transceivers[i].mid for i, (name, _, _) in enumerate(self.tracks)}
        response = await self.http.request_json("POST", f"{self.url}/start_session", {},
                                                timeout=TIMEOUT)
        assert response.status == 200, response.body
        response = await self.http.request_json("POST", f"{self.url}{BASE}/connections",
                                                timeout=TIMEOUT)
        cid = json.loads(response.body)["connection_id"]
        path = f"{self.url}{BASE}/connections/{cid}/sdp_params"
        mapping = [{"mid": self._mids[n], "name": n, "kind": k, "direction": d}
                   for n, k, d in self.tracks]
        response = await self.http.request_json("POST", path, {
            "sdp_offer": self.pc.localDescription.sdp,
            "client_info": {"sdk_version": "audio-test", "sdk_type": "python"},
            "track_mapping": mapping}, timeout=TIMEOUT)
        assert response.status == 202, response.body
        response = await self.http.request_json("GET", path, timeout=TIMEOUT)
        assert response.status == 200, response.body
        answer = munge_answer(json.loads(response.body)["sdp_answer"])
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await wait_for(lambda: all(c.readyState == "open" for c in self.channels.values()))

    def notify(self, event: str, name: str) -> None:
        self.channels["control"].send(json.dumps(
            {"type": "notification", "event": event, "data": {"name": name}}))

    def request(self, method: str, name: str, request_id: str) -> None:
        self.channels["control"].send(json.dumps(
            {"type": "request", "method": method, "request_id": request_id,
             "data": {"name": name}}))

    def command(self, name: str, data: Any) -> None:
        self.channels["data"].send(json.dumps(
            {"scope": "application", "data": {"type": name, "data": data}}))

    async def aclose(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class SineTrack(MediaStreamTrack):
    """A 48 kHz mono sine, paced in real time, as an aiortc audio source."""

    kind = "audio"

    def __init__(self, hz: float, rate: int = 48_000) -> None:
        super().__init__()
        self.hz, self.rate, self._sent = hz, rate, 0
        self._start: float | None = None

    async def recv(self) -> Any:
        import fractions

        import av

        samples = self.rate // 50
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._sent / self.rate - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        t = (self._sent + np.arange(samples)) / self.rate
        pcm = (np.sin(2 * np.pi * self.hz * t) * 12_000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate, frame.pts = self.rate, self._sent
        frame.time_base = fractions.Fraction(1, self.rate)
        self._sent += samples
        return frame
