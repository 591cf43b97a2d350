"""The pieces as the next session wires them, with function calls for HTTP: the recorder
answers a clip request, ``/clips`` serves the playlist, the client-side download fetches
init and chunks through the chunk route, and the bytes decode to the frames asked for."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import anyio

from reactor_anyio.recording import Recorder
from reactor_proto.recording import (
    Clip,
    ClipKind,
    ClipPlan,
    ClipRequests,
    ClipResolved,
    FetchNow,
    PlaylistOk,
    PlaylistPoll,
    RecordingConfig,
    RecordingStore,
    parse_playlist,
)
from reactor_proto.recording.download import ClipDownload
from reactor_proto.recording.routes import ServeChunk, chunk_response, playlist_response

from .conftest import FPS, decode
from .test_recorder import feed, settle

BASE = "http://127.0.0.1:8080"


def test_request_serve_download_decode() -> None:
    with Recorder(RecordingConfig(chunk_seconds=1.0)) as recorder:

        def lookup(recording_id: str) -> RecordingStore | None:
            return recorder.store if recording_id == recorder.recording_id else None

        def get(url: str) -> tuple[int, dict[str, str], bytes]:
            parts = urlsplit(url)
            if parts.path == "/clips":
                response = playlist_response(dict(parse_qsl(parts.query)), lookup)
                return response.status, dict(response.headers), response.body
            answer = chunk_response(parts.path, lookup)
            if isinstance(answer, ServeChunk):
                body = recorder.read(answer.index)
                assert body is not None
                return 200, {"Content-Type": answer.content_type}, body
            return answer.status, dict(answer.headers), answer.body

        feed(recorder, 0, 3 * FPS)
        settle(recorder)
        # the client sends requestClip; the runtime answers once the boundary chunk is closed
        requests = ClipRequests()
        requests.start("1", ClipKind.SNAP, now=0)
        plan = recorder.request_clip(2.0)
        assert isinstance(plan, ClipPlan)
        feed(recorder, 3 * FPS, 1)
        anyio.run(lambda: recorder.wait_ready(plan.clip))
        wire = Clip.from_json(plan.clip.to_envelope().data)  # through the v0 JSON
        assert requests.reply(wire, now=0.1)
        resolved = requests.next_event()
        assert isinstance(resolved, ClipResolved)
        clip = resolved.clip

        poll = PlaylistPoll(clip, started_ms=clip.predicted_ready_at_ms)
        assert poll.first(now_ms=clip.predicted_ready_at_ms) == FetchNow()
        playlist_url = BASE + clip.playlist_url
        status, headers, body = get(playlist_url)
        assert poll.on_status(status, headers.get("Retry-After"), now_ms=0) == PlaylistOk()
        download = ClipDownload(parse_playlist(body), playlist_url)
        progress = []
        while (url := download.next_url()) is not None:
            status, _, part = get(url)
            progress.append(download.received(status, part))
        assert [p.fetched for p in progress] == list(range(1, len(download.urls) + 1))
        counters = [c for _, c in decode(download.result())]
        assert counters[-1] == 3 * FPS - 1
        assert 2 * FPS <= len(counters) <= 3 * FPS
