"""The frame path converts in aiortc's decoder thread, to the pixel format asked for."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpreceiver import RemoteStreamTrack

from reactor_anyio.webrtc.convert import PIXEL_FORMATS, PixelFormatError, check_pixel_format
from reactor_anyio.webrtc.receiver import FormattedCallback, InputSlot, unwrap_callback
from reactor_proto.errors import ErrorCode, LocalProtocolError

pytestmark = pytest.mark.anyio


def yuv_frame(width: int = 32, height: int = 16, red: int = 200) -> av.VideoFrame:
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 0] = red
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


async def decode_in_thread(track: RemoteStreamTrack, frames: list[Any]) -> list[int]:
    """What aiortc's decoder thread does with each frame (and the end of the stream)."""
    loop = asyncio.get_running_loop()
    idents: list[int] = []

    def worker() -> None:
        idents.append(threading.get_ident())
        for frame in frames:
            asyncio.run_coroutine_threadsafe(track._queue.put(frame), loop).result(5)

    await asyncio.to_thread(worker)
    return idents


@pytest.mark.parametrize("pixel_format", PIXEL_FORMATS)
async def test_each_format_arrives_converted_once(pixel_format: str) -> None:
    slot = InputSlot("main_video", capacity=4)
    got: list[Any] = []
    slot.set_callback(FormattedCallback(got.append, pixel_format))
    assert slot.pixel_format == pixel_format
    track = RemoteStreamTrack(kind="video")
    slot.attach(track)
    await asyncio.sleep(0)  # the delivery task starts
    await decode_in_thread(track, [yuv_frame(), yuv_frame()])
    for _ in range(100):
        if len(got) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(got) == 2 and slot.frames_received == 2
    value = got[0]
    if pixel_format == "frame":
        assert isinstance(value, av.VideoFrame)
    else:
        assert isinstance(value, np.ndarray) and value.dtype == np.uint8
        expected = {"rgb24": (16, 32, 3), "bgr24": (16, 32, 3), "gray": (16, 32),
                    "yuv420p": (24, 32)}[pixel_format]
        assert value.shape == expected
        if pixel_format == "rgb24":
            assert value[..., 0].mean() > 150 > value[..., 2].mean()
        if pixel_format == "bgr24":
            assert value[..., 2].mean() > 150 > value[..., 0].mean()
    await slot.aclose()


async def test_conversion_runs_in_the_decoder_thread_not_on_the_loop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from reactor_anyio.webrtc import receiver

    where: list[int] = []
    real = receiver.convert_frame

    def spy(frame: av.VideoFrame, pixel_format: str) -> Any:
        where.append(threading.get_ident())
        return real(frame, pixel_format)

    monkeypatch.setattr(receiver, "convert_frame", spy)
    slot = InputSlot("main_video", capacity=2)
    track = RemoteStreamTrack(kind="video")
    slot.attach(track)
    idents = await decode_in_thread(track, [yuv_frame()])
    assert await asyncio.wait_for(slot.mailbox.get(), 5) is not None
    assert where == idents  # converted once, in the "decoder" thread
    assert threading.get_ident() not in where
    # the end of the stream still ends the track
    await decode_in_thread(track, [None])
    for _ in range(100):
        if track.readyState == "ended":
            break
        await asyncio.sleep(0.01)
    assert track.readyState == "ended"
    await slot.aclose()


async def test_a_format_change_in_flight_is_converted_again() -> None:
    slot = InputSlot("main_video", capacity=2)
    track = RemoteStreamTrack(kind="video")
    slot.attach(track)
    prepared = receiver_prepared(yuv_frame(), "rgb24")
    slot.set_callback(FormattedCallback(lambda value: None, "gray"))
    slot.set_callback(None)  # back to the mailbox; the format stays rgb24 by default
    slot.pixel_format = "gray"
    await slot._arrived(track, prepared)
    assert (await slot.mailbox.get()).shape == (16, 32)
    await slot.aclose()


def receiver_prepared(frame: av.VideoFrame, pixel_format: str) -> Any:
    from reactor_anyio.webrtc.receiver import _Prepared

    return _Prepared(frame=frame, pixel_format=pixel_format,
                     value=frame.to_ndarray(format=pixel_format))


async def test_disabled_and_replaced_tracks_are_counted_not_delivered() -> None:
    slot = InputSlot("main_video", capacity=2)
    first = RemoteStreamTrack(kind="video")
    slot.attach(first)
    slot.enabled = False
    await decode_in_thread(first, [yuv_frame()])
    await asyncio.sleep(0.05)
    assert slot.frames_received == 1 and len(slot.mailbox) == 0
    slot.enabled = True
    second = RemoteStreamTrack(kind="video")
    slot.attach(second)
    await decode_in_thread(first, [yuv_frame()])  # the replaced track's late frame
    await asyncio.sleep(0.05)
    assert slot.frames_received == 1 and len(slot.mailbox) == 0
    await slot.aclose()


class PlainTrack(MediaStreamTrack):
    """A track that is not aiortc's RemoteStreamTrack: read with recv()."""

    kind = "video"

    def __init__(self, frames: list[av.VideoFrame]) -> None:
        super().__init__()
        self._frames = frames

    async def recv(self) -> av.VideoFrame:
        if not self._frames:
            await asyncio.sleep(3600)
        return self._frames.pop(0)


@pytest.mark.parametrize("size", [(32, 16), (1280, 720)])
async def test_an_unhookable_track_is_pulled_and_converted(size: tuple[int, int]) -> None:
    slot = InputSlot("main_video", capacity=2)
    got: list[Any] = []
    slot.set_callback(FormattedCallback(got.append, "bgr24"))
    slot.attach(PlainTrack([yuv_frame(*size)]))
    for _ in range(200):
        if got:
            break
        await asyncio.sleep(0.01)
    assert got[0].shape == (size[1], size[0], 3)
    await slot.aclose()


def test_unknown_formats_are_typed_errors() -> None:
    with pytest.raises(PixelFormatError) as caught:
        check_pixel_format("rgba")
    assert isinstance(caught.value, LocalProtocolError)
    assert caught.value.code == ErrorCode.INVALID_ARGUMENT
    with pytest.raises(PixelFormatError):
        FormattedCallback(print, "BGR")
    assert unwrap_callback(None) == (None, "rgb24")
    assert unwrap_callback(print) == (print, "rgb24")
    FormattedCallback(print, "gray")(np.zeros(1))  # calls through


async def test_the_trim_lease_is_taken_after_the_track_starts_and_returned(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from reactor_anyio.webrtc import heap, receiver

    trimmer = heap.PeriodicTrim(interval=3600.0, trim=lambda: None)
    monkeypatch.setattr(heap, "STREAMING_TRIM", trimmer)
    monkeypatch.setattr(receiver, "TRIM_LEASE_DELAY", 0.01)
    slot = InputSlot("main_video", capacity=2)
    slot.attach(RemoteStreamTrack(kind="video"))
    assert trimmer.holders == 0  # not inside the connect
    for _ in range(200):
        if trimmer.holders:
            break
        await asyncio.sleep(0.01)
    assert trimmer.holders == 1 and trimmer.running
    await slot.aclose()
    assert trimmer.holders == 0 and not trimmer.running
    # closed before the delay: the lease is never taken
    early = InputSlot("main_video", capacity=2)
    early.attach(RemoteStreamTrack(kind="video"))
    await early.aclose()
    await asyncio.sleep(0.05)
    assert trimmer.holders == 0
