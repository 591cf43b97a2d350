"""The client's audio API without a network: handlers (1.13.0's arity rule, async, errors)
fed through the per-track queues on asyncio and trio, stats, and PcmAudioTrack's checks,
bounds and pacing."""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
import anyio.lowlevel
import numpy as np
import pytest

from reactor_anyio import Reactor
from reactor_anyio.client.audio import positional_arity
from reactor_anyio.client.types import core_tracks
from reactor_anyio.webrtc.audio_receive import AudioFrameQueue, ReceivedAudio, frame_to_pcm
from reactor_anyio.webrtc.audio_send import PcmAudioTrack
from reactor_proto.client.audio import AudioFormatError

from .conftest import sine

pytestmark = pytest.mark.anyio

MODEL_TRACKS = [
    {"name": "main_video", "kind": "video", "direction": "recvonly"},
    {"name": "main_audio", "kind": "audio", "direction": "recvonly"},
    {"name": "other_audio", "kind": "audio", "direction": "recvonly"},
    {"name": "mic", "kind": "audio", "direction": "sendonly"},
]


TRACKS = core_tracks(MODEL_TRACKS)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class FakePeer:
    def __init__(self) -> None:
        self.sinks: dict[str, AudioFrameQueue | None] = {}
        self.on_track: Any = None

    def set_audio_sink(self, name: str, sink: AudioFrameQueue | None) -> None:
        self.sinks[name] = sink

    def set_frame_callback(self, name: str, callback: Any) -> None:
        pass


def frame(i: int, channels: int = 2) -> ReceivedAudio:
    pcm = np.full((960, channels), i, np.int16)
    return ReceivedAudio(pcm=pcm, sample_rate=48_000, timestamp_us=i * 20_000)


async def wait_for(predicate: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within} s")
        await anyio.sleep(0.005)


def reactor() -> Reactor:
    return Reactor("tone", local=True, model_tracks=MODEL_TRACKS)


async def test_track_on_frame_gets_pcm_with_the_arguments_it_asks_for() -> None:
    r = reactor()
    two: list[tuple[Any, ...]] = []
    four: list[tuple[Any, ...]] = []
    every: list[int] = []

    @r.track("main_audio").on_frame
    def handler(frame: np.ndarray, sample_rate: int) -> None:
        two.append((frame.shape, frame.dtype, sample_rate))

    r.track("other_audio").on_frame(lambda f, rate, ch, ts: four.append((rate, ch, ts)))

    @r.on_audio_frame
    def everything(frame: np.ndarray) -> None:  # not called: both tracks have their own
        every.append(1)

    peer = FakePeer()
    r._audio_peer_changed(peer, TRACKS)
    assert set(peer.sinks) == {"main_audio", "other_audio"}
    for i in range(3):
        assert peer.sinks["main_audio"] is not None and peer.sinks["other_audio"] is not None
        peer.sinks["main_audio"].put(frame(i))
        peer.sinks["other_audio"].put(frame(i, channels=1))
    await wait_for(lambda: len(two) == 3 and len(four) == 3)
    assert two[0] == ((960, 2), np.dtype(np.int16), 48_000)
    assert four == [(48_000, 1, 0), (48_000, 1, 20_000), (48_000, 1, 40_000)]
    assert every == []
    stats = r._audio_stats()
    assert stats["main_audio"].frames_received == 3
    assert stats["main_audio"].frames_delivered == 3
    assert stats["main_audio"].frames_dropped == 0
    r.track("other_audio").off_frame()
    r._audio_peer_changed(None)
    await r.aclose()


async def test_reactor_decorator_an_async_handler_and_a_raising_one(
        caplog: pytest.LogCaptureFixture) -> None:
    r = reactor()
    got: list[int] = []

    @r.on_audio_frame
    async def handler(frame: np.ndarray, sample_rate: int, num_channels: int) -> None:
        await anyio.lowlevel.checkpoint()
        if int(frame[0, 0]) == 1:
            raise RuntimeError("boom")
        got.append(int(frame[0, 0]))

    peer = FakePeer()
    r._audio_peer_changed(peer, TRACKS)
    queue = peer.sinks["main_audio"]
    assert queue is not None
    with caplog.at_level(logging.ERROR):
        for i in range(3):
            queue.put(frame(i))
        await wait_for(lambda: got == [0, 2])
    assert "audio handler for track 'main_audio' raised" in caplog.text
    r._audio_peer_changed(None)
    await r.aclose()


async def test_slow_handler_drops_the_oldest_frames_and_stats_count_them() -> None:
    r = reactor()
    r.set_audio_buffer(4)
    seen: list[int] = []
    release = anyio.Event()

    async def slow(frame: np.ndarray) -> None:
        seen.append(int(frame[0, 0]))
        await release.wait()

    r.set_audio_callback(slow, track="main_audio")
    peer = FakePeer()
    r._audio_peer_changed(peer, TRACKS)
    queue = peer.sinks["main_audio"]
    assert queue is not None
    queue.put(frame(0))
    await wait_for(lambda: seen == [0])
    for i in range(1, 11):
        queue.put(frame(i))
    release.set()
    await wait_for(lambda: len(seen) == 5)
    assert seen == [0, 7, 8, 9, 10]  # the oldest went
    stats = r._audio_stats()["main_audio"]
    assert stats.frames_dropped == 6 and stats.frames_received == 11
    assert stats.direction == "recvonly"
    r._audio_peer_changed(None)
    await r.aclose()


async def test_audio_buffer_must_hold_a_frame() -> None:
    with pytest.raises(Exception, match="capacity"):
        reactor().set_audio_buffer(0)


def test_positional_arity() -> None:
    def star(*args: Any) -> None: ...
    def kw(a: Any, *, b: Any = 1) -> None: ...
    assert positional_arity(star, 4) == 4
    assert positional_arity(kw, 4) == 1
    assert positional_arity(lambda a, b, c, d, e: None, 4) == 4
    assert positional_arity(print, 4) == 4


# ---- PcmAudioTrack -----------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "field", "match"), [
    ({"pcm": np.zeros(960, np.int32)}, "pcm", "dtype int32"),
    ({"pcm": np.zeros((960, 2), np.int16)}, "pcm", r"expected \(samples, 1\)"),
    ({"pcm": np.zeros(960, np.int16), "sample_rate": 22_050}, "sample_rate", "22050"),
    ({"pcm": np.zeros(960, np.int16), "num_channels": 6}, "num_channels", "6"),
    ({"pcm": np.full(960, np.nan, np.float32)}, "pcm", "NaN"),
    ({"pcm": [0, 1, 2]}, "pcm", "numpy array or bytes"),
    ({"pcm": b"\x00\x01\x02"}, "pcm", "even"),
])
def test_bad_pushes_raise_typed_errors_naming_the_argument(
        kwargs: dict[str, Any], field: str, match: str) -> None:
    track = PcmAudioTrack()
    with pytest.raises(AudioFormatError, match=match) as caught:
        track.push(**kwargs)
    assert caught.value.field == field
    assert track.samples_pushed == 0


def test_floats_are_scaled_and_bytes_accepted() -> None:
    track = PcmAudioTrack()
    track.push(np.array([0.0, 1.0, -1.0, 2.0], np.float32))
    track.push(np.array([7, -7], np.int16).tobytes())
    queued = track._pop(6)
    assert queued[:, 0].tolist() == [0, 32767, -32767, 32767, 7, -7]
    assert queued.shape == (6, 2)  # sent as stereo


def test_a_burst_is_bounded_and_drops_the_oldest() -> None:
    track = PcmAudioTrack(buffer_ms=100)
    for i in range(100):  # 2 s pushed at once into a 100 ms buffer
        track.push(np.full(960, i, np.int16))
    assert track.samples_queued == 4800
    assert track.samples_dropped == 100 * 960 - 4800
    assert int(track._pop(1)[0, 0]) == 95  # the newest 100 ms are what is left
    huge = PcmAudioTrack(buffer_ms=20)
    huge.push(np.arange(5000, dtype=np.int16))
    assert huge.samples_queued == 960 and int(huge._pop(1)[0, 0]) == 5000 - 960


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # aiortc's side: asyncio only
async def test_recv_is_paced_sends_silence_when_idle_and_pads_a_tail() -> None:
    track = PcmAudioTrack()
    track.push(sine(440, 0.03))  # one and a half frames
    first = await track.recv()
    assert first.samples == 960 and first.sample_rate == 48_000 and first.pts == 0
    second = await track.recv()  # half a frame waits one interval ...
    assert not frame_to_pcm(second).any()
    third = await track.recv()  # ... then leaves padded
    pcm = frame_to_pcm(third)
    assert pcm[:480].any() and not pcm[480:].any()
    assert (track.frames_sent, track.silent_frames) == (3, 1)
    assert third.pts == 2 * 960
    track.stop()


def test_resampled_pushes_keep_their_length() -> None:
    track = PcmAudioTrack()
    track.push(sine(440, 1.0, rate=16_000), sample_rate=16_000)
    track.push(sine(440, 1.0, rate=44_100, channels=2), sample_rate=44_100, num_channels=2)
    assert abs(track.samples_pushed - 2 * 48_000) < 2 * 960
    track.stop()
    assert track.samples_queued == 0


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_standing_send_queue_is_trimmed() -> None:
    now = [0.0]
    track = PcmAudioTrack(clock=lambda: now[0])
    track.push(np.ones(960 * 20, np.int16))  # 400 ms ahead of the sender
    for _ in range(50):  # a second of real time, one push per interval
        track.push(np.ones(960, np.int16))
        await track.recv()
        now[0] += 0.02
    assert track.samples_trimmed == 960 * (21 - 2)
    assert track.samples_queued <= 2 * 960
    assert track.samples_dropped == track.samples_trimmed
    track.stop()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_late_sender_catches_up_instead_of_losing_time() -> None:
    now = [0.0]
    track = PcmAudioTrack(clock=lambda: now[0])
    await track.recv()
    now[0] = 0.5  # the loop stalled for half a second: 24 frames are due at once
    for _ in range(25):
        await track.recv()  # no sleeping: the clock does not move
    assert track.frames_sent == 26
    track.stop()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_jitter_buffer_shortening() -> None:
    from aiortc import RTCPeerConnection

    from reactor_anyio.webrtc.audio_receive import shorten_jitter_buffer

    pc = RTCPeerConnection()
    try:
        receiver = pc.addTransceiver("audio", direction="recvonly").receiver
        assert shorten_jitter_buffer(receiver, 2)
        assert receiver._RTCRtpReceiver__jitter_buffer._prefetch == 2
        assert not shorten_jitter_buffer(object())
    finally:
        await pc.close()
