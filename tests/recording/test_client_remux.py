"""A clip whose bytes PyAV cannot read: ``remux=True`` fails with a typed error and leaves no
file; ``remux=False`` hands the served bytes over as they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from reactor_proto.http import HttpRequest, HttpResponse
from reactor_proto.recording.errors import RecordingError

from .test_client_faults import entries, recordings_of, runtime, streaming  # noqa: F401

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_garbage_chunks(runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    async with await streaming(runtime, "v1") as reactor:
        clip = await reactor.request_clip(1)
        recordings = recordings_of(runtime)
        respond = recordings.respond

        def garbage(request: HttpRequest) -> HttpResponse | None:
            if "/chunks/" in request.target:
                return HttpResponse(status=200, body=b"not an mp4 " * 64)
            return respond(request)

        recordings.respond = garbage  # type: ignore[method-assign]
        target = tmp_path / "out" / "clip.mp4"
        with pytest.raises(RecordingError) as info:
            await reactor.download_clip_as_file(clip, target)
        assert info.value.code == "INTERNAL_ERROR" and "remux" in info.value.message
        assert entries(tmp_path / "out") == []
        with pytest.raises(RecordingError):
            await reactor.download_clip_as_file(clip)  # in memory: the same error
        raw = await reactor.download_clip_as_file(clip, remux=False)
        assert raw.startswith(b"not an mp4")
