"""A received video track stays readable by the application (``get_remote_tracks()`` and
``on_track`` hand out the raw track, documented as such) while our receiver takes its frames
at the decoder (issue 20's frame path)."""

from __future__ import annotations

import asyncio
from typing import Any

import av
import numpy as np
import pytest

from .conftest import Pair, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _remote_video_track(pair: Pair) -> Any:
    for transceiver in pair.client._pc.getTransceivers():
        track = transceiver.receiver.track
        if track is not None and track.kind == "video":
            return track
    raise AssertionError("no remote video track")


async def test_recv_on_the_raw_track_returns_frames_beside_the_callback(pair: Pair) -> None:
    got: list[np.ndarray] = []
    pair.client.set_frame_callback("main_video", got.append)
    pair.server.push_frame("main_video", np.zeros((120, 160, 3), np.uint8))
    pair.server.set_output_paused("main_video", False)
    await wait_until(lambda: len(got) >= 3)
    track = _remote_video_track(pair)
    frames = [await asyncio.wait_for(track.recv(), 5) for _ in range(3)]
    assert all(isinstance(f, av.VideoFrame) and f.width == 160 for f in frames)
    before = len(got)
    await wait_until(lambda: len(got) >= before + 3)  # the callback keeps its frames


async def test_an_unread_raw_track_queues_nothing(pair: Pair) -> None:
    got: list[np.ndarray] = []
    pair.client.set_frame_callback("main_video", got.append)
    pair.server.push_frame("main_video", np.zeros((120, 160, 3), np.uint8))
    pair.server.set_output_paused("main_video", False)
    await wait_until(lambda: len(got) >= 10)
    track = _remote_video_track(pair)
    assert track._queue.qsize() == 0  # nobody called recv(): aiortc's queue does not grow
