"""Our decoder thread (reactor_anyio.webrtc.decode_worker): real VP8 frames through it, handed
on in the thread to a hooked queue, through the loop to any other queue, and a corrupt frame
costs only itself."""

from __future__ import annotations

import asyncio
import fractions
import queue
import threading
from typing import Any

import aiortc.rtcrtpreceiver
import av
import numpy as np
import pytest
from aiortc.codecs import depayload, get_encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from reactor_anyio.webrtc import decode_worker
from reactor_anyio.webrtc.decode_worker import PUT_IN_THREAD, decoder_worker

pytestmark = pytest.mark.anyio

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)


def encoded_frames(count: int) -> list[JitterFrame]:
    encoder = get_encoder(VP8)
    out = []
    for i in range(count):
        frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 40 * i, np.uint8),
                                           format="rgb24")
        frame.pts, frame.time_base = i * 3000, fractions.Fraction(1, 90000)
        payloads, timestamp = encoder.encode(frame, force_keyframe=i == 0)
        out.append(JitterFrame(data=b"".join(depayload(VP8, p) for p in payloads),
                               timestamp=timestamp))
    return out


def test_installed_in_place_of_aiortcs_worker() -> None:
    assert aiortc.rtcrtpreceiver.decoder_worker is decoder_worker  # at receiver import
    assert decode_worker.install() is True
    assert aiortc.rtcrtpreceiver.decoder_worker is decoder_worker


@pytest.mark.parametrize("hooked", [True, False])
async def test_frames_go_in_the_thread_when_hooked_else_through_the_loop(hooked: bool) -> None:
    loop = asyncio.get_running_loop()
    inbox: queue.Queue[Any] = queue.Queue()
    output: asyncio.Queue[Any] = asyncio.Queue()
    in_thread: list[tuple[int, Any]] = []
    if hooked:
        setattr(output, PUT_IN_THREAD,
                lambda frame: in_thread.append((threading.get_ident(), frame)))
    error = threading.Event()
    worker = threading.Thread(target=decoder_worker, args=(loop, inbox, output, error))
    worker.start()
    good = encoded_frames(3)
    inbox.put((VP8, good[0]))
    inbox.put((VP8, JitterFrame(data=b"\x00\x01garbage" * 3, timestamp=1)))  # corrupt
    for frame in good[1:]:
        inbox.put((VP8, frame))
    inbox.put(None)
    await asyncio.to_thread(worker.join, 10)
    assert not worker.is_alive()
    assert error.is_set()  # the corrupt frame was reported, and cost only itself
    received = []
    while True:
        item = await asyncio.wait_for(output.get(), 5)
        if item is None:  # the end always goes through the queue
            break
        received.append(item)
    if hooked:
        assert received == []
        assert {ident for ident, _ in in_thread} == {worker.ident}
        frames = [frame for _, frame in in_thread]
    else:
        assert in_thread == []
        frames = received
    assert [f.width for f in frames] == [32, 32, 32]
    assert all(isinstance(f, av.VideoFrame) for f in frames)
