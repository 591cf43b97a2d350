"""``reactor serve`` records and serves clips (docs/protocol §10), end to end: a v0 and a v1
client ask for a clip on the data / control channel, the playlist and its chunks come over
HTTP, bad requests get their documented statuses, and ``record=False`` refuses.

asyncio only: the recorder is the same under either backend (its own thread), and trio's
hosting of the runtime is covered by the other e2e tests.
"""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import quote

import av
import pytest

from reactor_anyio.http import HttpClient
from reactor_anyio.runtime import LocalRuntime
from reactor_proto.recording import Clip, parse_playlist
from reactor_proto.wire_v1 import ClipFailed, ClipReady, RequestClip, ResumeTrack

from .conftest import HELIOS_TRACKS, RawClient, wait_for
from .test_runtime_v1 import V1Client

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def get(http: HttpClient, url: str) -> tuple[int, dict[str, str], bytes]:
    response = await http.request_json("GET", url, timeout=5.0)
    headers = {name.lower(): value for name, value in response.headers}
    return response.status, headers, response.body or b""


async def fetch_clip(http: HttpClient, base: str, clip: Clip) -> bytes:
    status, headers, text = await get(http, base + clip.playlist_url)
    assert status == 200, text
    assert headers["content-type"] == "application/vnd.apple.mpegurl"
    playlist = parse_playlist(text.decode())
    parts = []
    for uri in (playlist.init_uri, *(s.uri for s in playlist.segments)):
        status, _, data = await get(http, base + uri)
        assert status == 200, uri
        parts.append(data)
    return b"".join(parts)


def listing(directory: Path) -> list[Path]:
    return list(directory.iterdir())


def seconds_of(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        times = [float(f.time or 0.0) for f in container.decode(video=0)]
    return max(times) - min(times) + 1 / 30


async def test_v0_clip_playlist_chunks_and_bad_requests(http: HttpClient,
                                                         tmp_path: Path) -> None:
    async with LocalRuntime("helios", model_options={"fps": 30}, chunk_seconds=1.0,
                            recording_dir=str(tmp_path)) as runtime:
        client = RawClient(runtime, http, HELIOS_TRACKS)
        try:
            await client.start_session()
            await client.connect()
            client.notify("resume_track", "main_video")
            await wait_for(lambda: runtime.frames_produced() >= 75)
            client.send_runtime("requestClip", {"duration_seconds": 2})
            client.send_runtime("requestClip", {"duration_seconds": "two"})
            await wait_for(lambda: client.runtime_messages("clipReady")
                           and client.runtime_messages("clipFailed"))
            clip = Clip.from_json(client.runtime_messages("clipReady")[0])
            assert client.runtime_messages("clipFailed") == [
                {"reason": "invalid duration_seconds"}]
            assert clip.duration_seconds == pytest.approx(2.0)
            data = await fetch_clip(http, runtime.url, clip)
            assert seconds_of(data) >= 2.0

            rid = quote(clip.session_id)
            base = f"{runtime.url}/clips"
            for url, status in [
                (f"{base}?session_id={rid}&start=2&end=1", 400),
                (f"{base}?session_id={rid}&start=abc&end=1", 400),
                (f"{base}?session_id={rid}&start=0&end=9999", 400),
                (f"{base}?session_id=00000000-0000-4000-8000-000000000000&start=0&end=1", 410),
                (f"{base}?session_id={rid}", 422),
                (f"{base}/chunks/{rid}/chunk_99999.m4s", 404),
                (f"{base}/chunks/{rid}/..%2F..%2Fetc%2Fpasswd", 404),
                (f"{base}/chunks/{rid}/../../x", 404),
                (f"{base}/chunks/not-a-uuid/init.mp4", 410),
            ]:
                got, _, text = await get(http, url)
                assert got == status, (url, got, text)
            # only the recording's own files exist, under its private directory
            (directory,) = listing(tmp_path)
            assert {p.name for p in listing(directory)} <= {"init.mp4"} | {
                f"chunk_{n:05d}.m4s" for n in range(100)}
        finally:
            await client.aclose()
    assert not listing(tmp_path)


async def test_v1_clip_request_is_answered_on_control(http: HttpClient) -> None:
    async with LocalRuntime("echo", chunk_seconds=1.0) as runtime:
        client = V1Client(runtime, http, chunked=False)
        try:
            await client.start_session()
            await client.connect()
            client.control_v1(ResumeTrack(name="main_video"))
            await wait_for(lambda: len(client.frames) >= 45)
            client.control_v1(RequestClip(duration_seconds=1.0), "k1")
            await wait_for(lambda: client.control_reply("k1") is not None)
            reply = client.control_reply("k1")
            assert reply is not None and isinstance(reply.payload, ClipReady), reply
            data = await fetch_clip(http, runtime.url, Clip.from_v1(reply.payload))
            assert seconds_of(data) >= 1.0
        finally:
            await client.aclose()


async def test_no_record_refuses(http: HttpClient) -> None:
    async with LocalRuntime("echo", record=False) as runtime:
        client = V1Client(runtime, http, chunked=False)
        try:
            await client.start_session()
            await client.connect()
            client.control_v1(RequestClip(duration_seconds=1.0), "k1")
            await wait_for(lambda: client.control_reply("k1") is not None)
            reply = client.control_reply("k1")
            assert reply is not None and reply.payload == ClipFailed(reason="recorder disabled")
            status, _, _ = await get(http, f"{runtime.url}/clips?session_id=x&start=0&end=1")
            assert status == 410
        finally:
            await client.aclose()
