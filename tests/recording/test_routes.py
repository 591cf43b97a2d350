"""The /clips routes as pure functions: every documented status."""

from __future__ import annotations

from collections.abc import Callable

from reactor_proto.recording import RecordingStore, parse_playlist
from reactor_proto.recording.routes import (
    ServeChunk,
    chunk_missing,
    chunk_response,
    is_clips_route,
    playlist_response,
)

RID = "0b0e7c2a-1d0e-4c57-9d5f-7a1f3b2c4d5e"
OTHER = "1b0e7c2a-1d0e-4c57-9d5f-7a1f3b2c4d5e"


def recorded(seconds: float) -> RecordingStore:
    store = RecordingStore(RID)
    for n in range(round(seconds * 10)):
        cut = store.on_frame(n / 10)
        if cut is not None and cut.closes is not None:
            store.chunk_closed(cut.closes, size=100)
    return store


def lookup_of(store: RecordingStore) -> Callable[[str], RecordingStore | None]:
    return lambda rid: store if rid == RID else None


def query(start: str, end: str, rid: str = RID) -> dict[str, str]:
    return {"session_id": rid, "start": start, "end": end}


def test_playlist_statuses() -> None:
    lookup = lookup_of(recorded(10))
    ok = playlist_response(query("0", "8"), lookup)
    assert ok.status == 200 and ok.header("content-type") == "application/vnd.apple.mpegurl"
    assert len(parse_playlist(ok.body).segments) == 2
    pending = playlist_response(query("8", "9.5"), lookup)
    assert pending.status == 202 and pending.header("retry-after") == "3"
    assert playlist_response(query("5", "3"), lookup).status == 400
    assert playlist_response(query("nan", "3"), lookup).status == 400
    assert playlist_response(query("0", "500"), lookup).status == 400
    assert playlist_response(query("0", "1", OTHER), lookup).status == 410
    assert playlist_response(query("0", "1", "../x"), lookup).status == 410
    missing = playlist_response({"session_id": RID}, lookup)
    assert missing.status == 422 and b"start, end" in missing.body


def test_aged_out_is_410() -> None:
    store = recorded(10)
    store.chunk_lost(0)
    assert playlist_response(query("0", "4"), lookup_of(store)).status == 410


def test_chunk_statuses() -> None:
    store = recorded(10)
    lookup = lookup_of(store)
    served = chunk_response(f"/clips/chunks/{RID}/chunk_00001.m4s", lookup)
    assert served == ServeChunk(recording_id=RID, index=1, content_type="video/iso.segment")
    init = chunk_response(f"/clips/chunks/{RID}/init.mp4", lookup)
    assert isinstance(init, ServeChunk) and init.content_type == "video/mp4"
    for path, status in ((f"/clips/chunks/{RID}/chunk_00002.m4s", 404),  # being written
                         (f"/clips/chunks/{RID}/../../etc/passwd", 404),
                         (f"/clips/chunks/{RID}/x.mp4", 404),
                         (f"/clips/chunks/{OTHER}/init.mp4", 410),
                         ("/clips/chunks/not-a-uuid/init.mp4", 410)):
        response = chunk_response(path, lookup)
        assert not isinstance(response, ServeChunk) and response.status == status, path
    empty = RecordingStore(RID)
    assert chunk_response(f"/clips/chunks/{RID}/init.mp4", lookup_of(empty)) == chunk_missing()
    store.session_ended(0)
    store.handle_timeout(1e9)
    response = chunk_response(f"/clips/chunks/{RID}/chunk_00001.m4s", lookup)
    assert not isinstance(response, ServeChunk) and response.status == 410


def test_is_clips_route() -> None:
    assert is_clips_route("/clips") and is_clips_route("/clips/chunks/x/y")
    assert not is_clips_route("/clipsx") and not is_clips_route("/sessions")
