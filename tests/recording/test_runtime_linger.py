"""The runtime's recordings adapter drives the store's linger with a timer: a finished
recording is served for ``linger_seconds`` after its session ends, then expires (410, its
chunks and directory deleted); a new session or closing the runtime cancels the timer."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from reactor_anyio.runtime.picture import to_yuv420
from reactor_anyio.runtime.recordings import Recordings
from reactor_proto.http import HttpRequest
from reactor_proto.recording import Clip, ClipRequest, RecordingConfig

from .conftest import FPS, counter_frame


def entries(directory: Path) -> list[Path]:
    """What a directory holds (sync: a helper, not in the async test body)."""
    return list(directory.iterdir()) if directory.is_dir() else []


pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the runtime's adapter lives on the runtime's asyncio loop


async def record(recordings: Recordings, frames: int) -> None:
    for n in range(frames):
        picture = to_yuv420(counter_frame(n).to_ndarray(format="rgb24"))
        recordings.offer("main_video", picture, n / FPS)  # as the media hub does
        if n % 10 == 9:
            await anyio.sleep(0.02)  # let the recorder's worker keep up (its queue is small)


def get(recordings: Recordings, path: str) -> int:
    response = recordings.respond(HttpRequest(method="GET", url="http://127.0.0.1" + path))
    assert response is not None
    return response.status


async def test_a_finished_recording_expires_after_its_linger(tmp_path: Path) -> None:
    recordings = Recordings(["main_video"], RecordingConfig(chunk_seconds=0.5,
                                                            linger_seconds=0.6),
                            parent_dir=tmp_path)
    try:
        recordings.session_started()
        await record(recordings, 2 * FPS)
        clip = await recordings.prepare(ClipRequest(duration_seconds=1))
        assert isinstance(clip, Clip)
        recordings.session_ended()
        ended = time.monotonic()
        deadline = recordings.linger_deadline()
        assert deadline is not None and deadline - ended == pytest.approx(0.6, abs=0.15)
        assert get(recordings, clip.playlist_url) == 200  # lingering: still served
        assert entries(tmp_path)
        with anyio.fail_after(5):
            while entries(tmp_path):  # noqa: ASYNC110 (the timer does the work)
                await anyio.sleep(0.05)
        assert time.monotonic() - ended >= 0.55
        assert get(recordings, clip.playlist_url) == 410
        assert recordings.linger_deadline() is None
    finally:
        recordings.close()


async def test_a_new_session_or_close_cancels_the_timer(tmp_path: Path) -> None:
    recordings = Recordings(["main_video"], RecordingConfig(chunk_seconds=0.5,
                                                            linger_seconds=0.3),
                            parent_dir=tmp_path)
    recordings.session_started()
    await record(recordings, FPS)
    recordings.session_ended()
    assert recordings.linger_armed
    recordings.session_started()  # the next session replaces (and deletes) the old one
    assert not recordings.linger_armed
    await record(recordings, FPS)
    recordings.session_ended()
    recordings.close()
    assert not recordings.linger_armed and not entries(tmp_path)
    assert recordings.expire_lingering() == 0  # nothing left: harmless
