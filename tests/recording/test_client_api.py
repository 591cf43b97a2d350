"""Our ``Reactor``'s clip API against ``reactor serve``: request_clip / request_recording over
both wires, every download form (0.8.0's and 1.13.0's), on asyncio and trio."""

from __future__ import annotations

import io
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from reactor_anyio import Reactor
from reactor_anyio.runtime import LocalRuntime
from reactor_proto.recording import Clip, ClipKind
from reactor_proto.recording.errors import RecordingError
from reactor_proto.wire_v1 import Wire

from ..e2e.test_client_e2e import hosted, wait_for

pytestmark = pytest.mark.anyio
WIRES = ["v0", "v1"]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def runtime(anyio_backend: str, tmp_path: Path) -> AsyncIterator[LocalRuntime]:
    async with hosted(anyio_backend, "helios", model_options={"fps": 30}, chunk_seconds=1.0,
                      recording_dir=str(tmp_path)) as served:
        yield served


def decoded_seconds(source: bytes | Path) -> float:
    """Seconds of video a file holds, by decoding every frame with PyAV."""
    opened: Any = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    with av.open(opened) as container:
        times = [float(frame.time or 0.0) for frame in container.decode(video=0)]
    assert times, "no frame decoded"
    return max(times) - min(times) + 1 / 30


def is_flat(data: bytes) -> bool:
    """A flat MP4 has no ``moof`` box; a fragmented one has one per fragment."""
    return b"moof" not in data


async def streaming(runtime: LocalRuntime, wire: str) -> Reactor:
    frames: list[np.ndarray] = []
    reactor = Reactor(model_name="helios", local=True, api_url=runtime.url, wire=wire)
    reactor.set_frame_callback(frames.append)
    await reactor.connect()
    assert reactor._machine.wire is Wire(wire)
    await wait_for(lambda: len(frames) >= 75, 15)
    return reactor


@pytest.mark.parametrize("wire", WIRES)
async def test_request_clip_download_and_decode(runtime: LocalRuntime, wire: str,
                                                tmp_path: Path) -> None:
    async with await streaming(runtime, wire) as reactor:
        clip = await reactor.request_clip(2)
        assert isinstance(clip, Clip) and clip.kind is ClipKind.SNAP
        assert clip.duration_seconds == pytest.approx(2.0, abs=0.05)

        seen: list[tuple[int, int | None]] = []
        flat = await reactor.download_clip_as_file(
            clip, tmp_path / "out" / "clip.mp4", progress=lambda d, t: seen.append((d, t)))
        assert (tmp_path / "out" / "clip.mp4").read_bytes() == flat
        assert not list((tmp_path / "out").glob("*.part"))
        assert is_flat(flat)
        assert decoded_seconds(tmp_path / "out" / "clip.mp4") >= 2.0 - 0.1
        dones = [d for d, _ in seen]
        assert dones == sorted(dones) and len(set(dones)) == len(dones)
        assert all(t is None for _, t in seen[:-1]) and seen[-1][1] == seen[-1][0]

        fragmented = await reactor.download_clip_as_file(clip, remux=False)
        assert not is_flat(fragmented)
        assert decoded_seconds(fragmented) >= 2.0 - 0.1

        recording = await reactor.request_recording()
        assert recording.kind is ClipKind.RECORDING and recording.start_marker == 0
        assert decoded_seconds(await reactor.download(recording)) >= 2.0


@pytest.mark.parametrize("wire", WIRES)
async def test_the_113_names(runtime: LocalRuntime, wire: str, tmp_path: Path) -> None:
    async with await streaming(runtime, wire) as reactor:
        parts: list[tuple[int, int]] = []

        async def on_progress(done: int, total: int) -> None:  # async callbacks are awaited
            parts.append((done, total))

        assert await reactor.download_clip(1.5, tmp_path / "a.mp4",
                                           on_progress=on_progress) is None
        assert parts and parts[-1][0] == parts[-1][1]
        assert [d for d, _ in parts] == list(range(1, len(parts) + 1))
        assert decoded_seconds(tmp_path / "a.mp4") >= 1.4
        data = await reactor.download_clip(1, remux=True)
        assert is_flat(data) and decoded_seconds(data) >= 0.9
        assert await reactor.download_recording(tmp_path / "r.mp4", ready_timeout=5) is None
        assert decoded_seconds(tmp_path / "r.mp4") >= 2.0


@pytest.mark.parametrize("wire", WIRES)
async def test_bad_durations_are_typed_and_nothing_is_sent(runtime: LocalRuntime,
                                                           wire: str) -> None:
    async with await streaming(runtime, wire) as reactor:
        for bad in (-1, 0, math.nan, math.inf, 1e12, "two", None, True):
            with pytest.raises(RecordingError) as info:
                await reactor.request_clip(bad)  # type: ignore[arg-type]
            assert info.value.code == "INVALID_DURATION", bad
            assert "duration_seconds" in info.value.message
        clip = await reactor.request_clip(1)  # the connection is unharmed
        assert clip.duration_seconds == pytest.approx(1.0, abs=0.05)


async def test_not_connected_is_typed(runtime: LocalRuntime) -> None:
    reactor = Reactor(model_name="helios", local=True, api_url=runtime.url)
    with pytest.raises(RecordingError) as info:
        await reactor.request_clip(1)
    assert info.value.code == "DISCONNECTED" and "not connected" in info.value.message
    with pytest.raises(RecordingError) as info:
        await reactor.request_recording()
    assert info.value.code == "DISCONNECTED"
    await reactor.aclose()
