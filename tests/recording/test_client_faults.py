"""What goes wrong with a clip, seen from our ``Reactor``: each failure is a typed
``RecordingError`` naming what was wrong, on both wires and both backends, and nothing is
left behind (no task, no socket, no partial file).

Faults are injected into ``reactor serve`` by wrapping its recordings adapter (the answer to
a clip request, or the ``/clips`` HTTP routes)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest

from reactor_anyio import Reactor
from reactor_anyio.runtime import LocalRuntime
from reactor_anyio.runtime.recordings import Recordings
from reactor_proto.http import HttpRequest, HttpResponse
from reactor_proto.recording import ClipFailure
from reactor_proto.recording.errors import RecordingError

from ..e2e.conftest import open_fds, trio_tasks
from ..e2e.test_client_e2e import hosted, wait_for


def entries(directory: Path) -> list[Path]:
    """What a directory holds (sync: a helper, not in the async test body)."""
    return list(directory.iterdir()) if directory.is_dir() else []


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


def recordings_of(runtime: Any) -> Recordings:
    inner = runtime if isinstance(runtime, LocalRuntime) else runtime.runtime
    found: Recordings = inner.recordings
    return found


def live_tasks() -> set[Any]:
    import sniffio

    if sniffio.current_async_library() == "trio":
        return trio_tasks()
    return {t for t in asyncio.all_tasks() if not t.done()}


async def streaming(runtime: LocalRuntime, wire: str) -> Reactor:
    frames: list[np.ndarray] = []
    reactor = Reactor(model_name="helios", local=True, api_url=runtime.url, wire=wire)
    reactor.set_frame_callback(frames.append)
    await reactor.connect()
    await wait_for(lambda: len(frames) >= 60, 15)
    return reactor


def stall_prepare(recordings: Recordings, seconds: float) -> None:
    """The runtime answers clip requests only after ``seconds`` (then with a clipFailed)."""
    async def slow(request: Any) -> ClipFailure:
        await asyncio.sleep(seconds)  # runs on the runtime's own asyncio loop
        return ClipFailure(reason="too late")

    recordings.prepare = slow  # type: ignore[method-assign]


def fail_chunk(recordings: Recordings, status: int) -> None:
    """The second part of every playlist (the first media chunk) answers ``status``."""
    respond = recordings.respond

    def faulty(request: HttpRequest) -> HttpResponse | None:
        if request.target.endswith(".m4s") and "/chunks/" in request.target:
            return HttpResponse(status=status, body=b"injected")
        return respond(request)

    recordings.respond = faulty  # type: ignore[method-assign]


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("status", [404, 500])
async def test_a_chunk_failing_is_typed_and_leaves_no_file(runtime: LocalRuntime, wire: str,
                                                           status: int,
                                                           tmp_path: Path) -> None:
    async with await streaming(runtime, wire) as reactor:
        clip = await reactor.request_clip(1)
        fail_chunk(recordings_of(runtime), status)
        target = tmp_path / "out" / "clip.mp4"
        with pytest.raises(RecordingError) as info:
            await reactor.download_clip_as_file(clip, target)
        error = info.value
        assert (error.code, error.status) == ("CHUNK_FETCH_FAILED", status)
        assert f"HTTP {status}" in error.message and ".m4s" in error.message
        assert target not in entries(target.parent) and not entries(tmp_path / "out")
        with pytest.raises(RecordingError) as info:
            await reactor.download(clip)
        assert info.value.code == "CHUNK_FETCH_FAILED"


@pytest.mark.parametrize("wire", WIRES)
async def test_no_reply_in_time_then_a_late_reply(runtime: LocalRuntime, wire: str) -> None:
    async with await streaming(runtime, wire) as reactor:
        stall_prepare(recordings_of(runtime), 1.5)
        started = time.monotonic()
        with pytest.raises(RecordingError) as info:
            await reactor.request_clip(1, timeout=0.5)
        assert info.value.code == "REQUEST_TIMEOUT" and "0.5 s" in info.value.message
        assert time.monotonic() - started < 1.4
        # the late "too late" reply must not answer the next request (v0 has no ids)
        await anyio.sleep(1.5)
        with pytest.raises(RecordingError) as info:
            await reactor.request_clip(1, timeout=3)
        assert info.value.code == "INTERNAL_ERROR" and info.value.reason == "too late"


@pytest.mark.parametrize("wire", WIRES)
async def test_disconnect_fails_a_pending_request_promptly(runtime: LocalRuntime,
                                                           wire: str) -> None:
    reactor = await streaming(runtime, wire)
    stall_prepare(recordings_of(runtime), 30)
    outcome: list[BaseException] = []

    async def ask() -> None:
        try:
            await reactor.request_recording()
        except RecordingError as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask)
        await anyio.sleep(0.3)
        started = time.monotonic()
        await reactor.disconnect()
        await wait_for(lambda: bool(outcome), 5)
    assert time.monotonic() - started < 5
    assert [getattr(e, "code", None) for e in outcome] == ["DISCONNECTED"]
    await reactor.aclose()


@pytest.mark.parametrize("wire", WIRES)
async def test_a_clip_of_an_earlier_session_is_gone(runtime: LocalRuntime, wire: str) -> None:
    async with await streaming(runtime, wire) as reactor:
        clip = await reactor.request_clip(1)
    async with await streaming(runtime, wire) as reactor:
        with pytest.raises(RecordingError) as info:
            await reactor.download_clip_as_file(clip)
        error = info.value
        assert (error.code, error.status) == ("CLIP_GONE", 410)
        assert clip.session_id in error.message
        with pytest.raises(Exception, match="expected a Clip"):
            await reactor.download({"playlist_url": 3})  # type: ignore[arg-type]


async def test_nothing_is_left_behind(runtime: LocalRuntime, tmp_path: Path) -> None:
    async def one_round() -> None:
        async with await streaming(runtime, "v1") as reactor:
            await reactor.download_clip(1, tmp_path / "c.mp4")
            with pytest.raises(RecordingError):
                await reactor.request_clip(-1)
            fail_chunk(recordings_of(runtime), 500)
            with pytest.raises(RecordingError):
                await reactor.download_clip(1)
            recordings = recordings_of(runtime)
            del recordings.respond  # back to the class's own method

    await one_round()  # warm up: pools, codecs, thread caches
    await anyio.sleep(0.5)
    sockets, tasks = open_fds(), live_tasks()
    await one_round()
    assert await _settled(lambda: open_fds() <= sockets), f"sockets: {open_fds() - sockets}"
    assert await _settled(lambda: live_tasks() <= tasks), f"tasks: {live_tasks() - tasks}"
    assert sorted(p.name for p in entries(tmp_path) if p.suffix in (".mp4", ".part")) == [
        "c.mp4"]


async def _settled(predicate: Callable[[], bool]) -> bool:
    with anyio.move_on_after(8):
        while not predicate():  # noqa: ASYNC110
            await anyio.sleep(0.05)
        return True
    return False
