"""Codec ordering, RGB conversion and the outgoing tracks."""

from __future__ import annotations

import asyncio
import fractions
import itertools
import threading
import time

import numpy as np
import pytest
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecCapability
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reactor_anyio.webrtc import (
    NdarrayVideoTrack,
    PausableTrack,
    ProducerVideoTrack,
    frame_to_rgb,
    rgb_to_frame,
)
from reactor_anyio.webrtc.codecs import apply_video_codec_preferences, only_codecs, order_codecs
from reactor_anyio.webrtc.convert import check_rgb, convert_off_loop
from reactor_anyio.webrtc.tracks import VIDEO_TIME_BASE
from reactor_proto.errors import LocalProtocolError

MIMES = ["video/VP8", "video/rtx", "video/H264", "video/H264", "video/AV1", "video/rtx"]


def caps(mimes: list[str]) -> list[RTCRtpCodecCapability]:
    return [RTCRtpCodecCapability(mimeType=m, clockRate=90000) for m in mimes]


@given(st.lists(st.sampled_from(MIMES), max_size=10),
       st.lists(st.sampled_from(["video/h264", "video/VP8", "video/AV1"]), unique=True))
def test_order_codecs_is_a_permutation_with_preferred_first(
    mimes: list[str], preferred: list[str]
) -> None:
    ordered = order_codecs(caps(mimes), preferred)
    assert sorted(c.mimeType for c in ordered) == sorted(mimes)
    rank = [m.lower() for m in preferred]
    head = [c.mimeType.lower() for c in ordered if c.mimeType.lower() in rank]
    assert head == sorted(head, key=rank.index)
    assert [c.mimeType.lower() for c in ordered[: len(head)]] == head


def test_only_codecs_keeps_rtx() -> None:
    kept = only_codecs(caps(MIMES), ["video/VP8"])
    assert [c.mimeType for c in kept] == ["video/VP8", "video/rtx", "video/rtx"]


@pytest.mark.anyio
async def test_codec_preference_matching_nothing_is_refused() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        with pytest.raises(LocalProtocolError, match="video/theora"):
            apply_video_codec_preferences(transceiver, ["video/theora"], exclusive=True)
    finally:
        await pc.close()


even = st.integers(1, 12).map(lambda n: n * 2)


@given(even.flatmap(lambda h: even.flatmap(
    lambda w: arrays(np.uint8, (h, w, 3)))), st.integers(0, 2**32))
def test_rgb_frame_round_trip(array: np.ndarray, pts: int) -> None:
    frame = rgb_to_frame(array, pts=pts, time_base=VIDEO_TIME_BASE)
    assert (frame.width, frame.height, frame.pts) == (array.shape[1], array.shape[0], pts)
    assert frame.time_base == fractions.Fraction(1, 90000)
    back = frame_to_rgb(frame)
    assert back.dtype == np.uint8
    assert np.array_equal(back, array)


@pytest.mark.parametrize(
    ("value", "message"),
    [([[1]], "numpy array, got list"),
     (np.zeros((4, 4, 3), np.float32), "dtype must be uint8"),
     (np.zeros((4, 4), np.uint8), r"shape must be \(H, W, 3\), got \(4, 4\)"),
     (np.zeros((4, 4, 4), np.uint8), r"\(4, 4, 4\)"),
     (np.zeros((3, 4, 3), np.uint8), r"even H and W >= 2, got \(3, 4, 3\)")],
)
def test_check_rgb_names_the_problem(value: object, message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        check_rgb(value)


def test_off_loop_threshold() -> None:
    assert not convert_off_loop(640, 360)
    assert convert_off_loop(1280, 720)


@pytest.mark.parametrize("fps", [0, -1, 1000])
def test_fps_is_validated(fps: float) -> None:
    with pytest.raises(LocalProtocolError, match="fps"):
        NdarrayVideoTrack(fps=fps)


@pytest.mark.anyio
async def test_ndarray_track_repeats_last_frame_at_fps_with_increasing_pts() -> None:
    track = NdarrayVideoTrack(fps=100)
    with pytest.raises(LocalProtocolError, match=r"push\(array\)"):
        track.push(np.zeros((3, 3, 3), np.uint8))
    waiter = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.02)
    assert not waiter.done()  # waits for the first frame
    track.push(np.full((4, 6, 3), 1, np.uint8))
    first = await asyncio.wait_for(waiter, 1)
    start = time.monotonic()
    frames = [first] + [await track.recv() for _ in range(9)]
    elapsed = time.monotonic() - start
    assert elapsed >= 0.08  # paced: 9 frames at 100 fps
    pts = [int(f.pts or 0) for f in frames]
    assert pts == sorted(set(pts))
    assert pts[0] == 0
    assert all(f.time_base == VIDEO_TIME_BASE for f in frames)
    assert 8100 <= pts[-1] <= (elapsed + 0.011) * 90_000  # real time, in 1/90000 s ticks
    track.push(np.full((4, 6, 3), 2, np.uint8))
    track.push(np.full((4, 6, 3), 3, np.uint8))
    assert track.pushes_dropped == 1
    assert frame_to_rgb(await track.recv())[0, 0, 0] == 3
    assert track.frames_sent == 11
    assert track.fps == 100
    track.stop()
    with pytest.raises(MediaStreamError):
        await track.recv()


@pytest.mark.anyio
async def test_ndarray_track_late_reader_does_not_burst() -> None:
    track = NdarrayVideoTrack(fps=100)
    track.push(np.zeros((2, 2, 3), np.uint8))
    await track.recv()
    await asyncio.sleep(0.1)  # ten periods late
    late = await track.recv()
    start = time.monotonic()
    await track.recv()
    assert time.monotonic() - start >= 0.005  # rescheduled from now, not caught up
    assert late.pts is not None
    assert late.pts >= 8000
    track.stop()


@pytest.mark.anyio
async def test_ndarray_track_stopped_while_waiting_for_first_frame() -> None:
    track = NdarrayVideoTrack()
    waiter = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.01)
    track.stop()
    with pytest.raises(MediaStreamError):
        await waiter


@pytest.mark.anyio
async def test_producer_track_runs_in_a_worker_thread_paced_by_time() -> None:
    calls: list[tuple[float, str]] = []

    def produce(now: float) -> np.ndarray:
        calls.append((now, threading.current_thread().name))
        if len(calls) == 3:
            raise ValueError("model hiccup")
        if len(calls) == 4:
            return np.zeros((3, 3, 3), np.uint8)  # bad shape: counted, skipped
        return np.full((4, 4, 3), len(calls), np.uint8)

    track = ProducerVideoTrack(produce, fps=50, name="helios")
    assert track.join(0)  # no thread before the first recv
    frames = [await asyncio.wait_for(track.recv(), 2) for _ in range(6)]
    assert {name for _, name in calls} == {"reactor-helios"}
    assert track.errors == 2
    assert track.frames_produced >= 6
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(calls)]
    assert min(gaps) >= 0.015  # 50 fps
    pts = [int(f.pts or 0) for f in frames]
    assert pts == sorted(set(pts))
    assert pts[0] == 0
    assert await track.aclose()
    # with the thread gone, every produced frame was read, replaced (dropped) or is the one
    # still waiting in the mailbox
    unread = track.frames_produced - len(frames) - track.frames_dropped
    assert unread in (0, 1), (track.frames_produced, track.frames_dropped)
    assert not any(t.name == "reactor-helios" for t in threading.enumerate())
    with pytest.raises(MediaStreamError):
        await track.recv()


@pytest.mark.anyio
async def test_producer_idles_without_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reactor_anyio.webrtc.tracks.PRODUCER_IDLE_AFTER", 0.05)
    calls: list[float] = []

    def produce(now: float) -> np.ndarray:
        calls.append(now)
        return np.zeros((2, 2, 3), np.uint8)

    track = ProducerVideoTrack(produce, fps=100)
    await track.recv()
    await asyncio.sleep(0.15)
    idle_count = len(calls)
    await asyncio.sleep(0.15)
    assert len(calls) == idle_count  # no reader: no production
    await asyncio.wait_for(track.recv(), 1)  # a read wakes it up
    assert len(calls) > idle_count
    track.stop()
    assert await asyncio.get_running_loop().run_in_executor(None, track.join, 2)


@pytest.mark.anyio
async def test_producer_stopped_while_reader_waits() -> None:
    track = ProducerVideoTrack(lambda now: np.zeros((2, 2, 3), np.uint8), fps=1)
    await track.recv()
    waiter = asyncio.ensure_future(track.recv())  # next frame due in 1 s
    await asyncio.sleep(0.02)
    track.stop()
    with pytest.raises(MediaStreamError):
        await waiter
    assert await track.aclose()


@pytest.mark.anyio
async def test_pausable_track_gates_its_source() -> None:
    source = NdarrayVideoTrack(fps=100)
    source.push(np.zeros((2, 2, 3), np.uint8))
    gate = PausableTrack(source)
    assert gate.paused
    assert gate.kind == "video"
    waiter = asyncio.ensure_future(gate.recv())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    assert source.frames_sent == 0
    gate.set_paused(False)
    await asyncio.wait_for(waiter, 1)
    # a pause arriving while the source is producing drops that frame
    pending = asyncio.ensure_future(gate.recv())
    await asyncio.sleep(0)
    gate.set_paused(True)
    await asyncio.sleep(0.05)
    assert not pending.done()
    gate.set_paused(False)
    await asyncio.wait_for(pending, 1)
    gate.stop()
    assert source.readyState == "ended"
    with pytest.raises(MediaStreamError):
        await gate.recv()
    other = NdarrayVideoTrack()
    PausableTrack(other, paused=False, owns=False).stop()
    assert other.readyState == "live"
