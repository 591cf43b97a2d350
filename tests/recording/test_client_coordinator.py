"""Our ``Reactor``'s clip API through the coordinator emulator (production mode): the
playlist is fetched from the coordinator with the client's own JWT, on both wires and both
backends; the emulator's context checks that no thread, task or descriptor is left."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from reactor_proto.recording import ClipKind
from reactor_proto.recording.errors import RecordingError

from ..e2e.test_coordinator_support import client, emulator, until

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        times = [float(frame.time or 0.0) for frame in container.decode(video=0)]
    return max(times) - min(times) + 1 / 30


@pytest.mark.parametrize("wire", ["v0", "v1"])
async def test_clip_through_the_coordinator(wire: str, tmp_path: Path) -> None:
    async with emulator() as emu:
        frames: list[np.ndarray] = []
        reactor = client(emu, wire=wire)
        reactor.set_frame_callback(frames.append)
        try:
            await reactor.connect()
            assert reactor._machine.wire.value == wire
            await until(lambda: len(frames) >= 75, 15, "frames")
            clip = await reactor.request_clip(2)
            assert clip.kind is ClipKind.SNAP
            flat = await reactor.download_clip_as_file(clip, tmp_path / "clip.mp4")
            assert seconds(flat) >= 1.9 and b"moof" not in flat
            progress: list[tuple[int, int]] = []
            data = await reactor.download(clip, on_progress=lambda d, t: progress.append((d, t)))
            assert seconds(data) >= 1.9 and progress[-1][0] == progress[-1][1]
            recording = await reactor.request_recording()
            assert seconds(await reactor.download(recording)) >= 2.0
            # the playlist is behind the JWT: a wrong token is refused, typed
            with pytest.raises(RecordingError) as info:
                await reactor.download_clip_as_file(clip, jwt="not.a.jwt")
            assert (info.value.code, info.value.status) == ("PLAYLIST_FETCH_FAILED", 401)
        finally:
            await reactor.aclose()
