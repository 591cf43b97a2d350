"""The coordinator emulator serves ``/clips`` with the client's JWT, as production does
(docs/protocol §10): 401 without or with a bad token, the hosted runtime's playlist with one;
chunks need none (production hands out presigned URLs for them)."""

from __future__ import annotations

import numpy as np
import pytest

from reactor_anyio.client.auth import fetch_jwt_token
from reactor_anyio.http import HttpClient
from reactor_proto.recording import Clip, ClipRequest, parse_playlist

from .test_coordinator_support import KEY, client, connect_timed, emulator, until

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_clips_need_the_jwt_in_production() -> None:
    async with emulator() as emu, HttpClient() as http:
        frames: list[np.ndarray] = []
        reactor = client(emu)
        reactor.set_frame_callback(frames.append)
        await connect_timed(reactor)
        await until(lambda: len(frames) >= 45, 10, "frames")
        clip = await emu.runtimes[0].runtime.recordings.prepare(ClipRequest(duration_seconds=1))
        assert isinstance(clip, Clip)
        url = emu.url + clip.playlist_url
        jwt = await fetch_jwt_token(KEY, emu.url)

        async def get(target: str, token: str | None) -> tuple[int, bytes]:
            headers = () if token is None else (("Authorization", f"Bearer {token}"),)
            response = await http.request_json("GET", target, headers=headers, timeout=5.0)
            return response.status, response.body or b""

        assert (await get(url, None))[0] == 401
        assert (await get(url, "not.a.jwt"))[0] == 401
        status, text = await get(url, jwt)
        assert status == 200, text
        playlist = parse_playlist(text.decode())
        for uri in (playlist.init_uri, *(s.uri for s in playlist.segments)):
            assert (await get(emu.url + uri, None))[0] == 200
        gone = f"{emu.url}/clips?session_id=00000000-0000-4000-8000-000000000000&start=0&end=1"
        assert (await get(gone, jwt))[0] == 410
        await reactor.disconnect()
        await reactor.aclose()
