"""The two ``/clips`` routes as pure functions: a request's path and query in, an
``HttpResponse`` (or the chunk file to send) out, exactly as §10 says.

* ``GET /clips?session_id=&start=&end=`` -> 200 playlist / 202 + ``Retry-After`` / 410
  unknown or aged-out recording / 400 bad range / 422 a parameter missing;
* ``GET /clips/chunks/{recording id}/{init.mp4 | chunk_NNNNN.m4s}`` -> a :class:`ServeChunk`
  the adapter reads (``video/mp4`` or ``video/iso.segment``), 410 unknown recording, 404 bad
  name or evicted chunk.

``lookup`` maps a recording id to its :class:`~reactor_proto.recording.store.RecordingStore`
(None: unknown).  The runtime adds the routes to its table; the coordinator emulator puts
its JWT check in front (§10: production serves ``/clips`` with ``Authorization``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from reactor_proto.bodies import build_error_detail
from reactor_proto.http.records import HttpResponse, json_response
from reactor_proto.recording.manifest import (
    CHUNK_CONTENT_TYPE,
    CONTENT_TYPE,
    INIT_CONTENT_TYPE,
)
from reactor_proto.recording.store import (
    PlaylistBadRange,
    PlaylistGone,
    PlaylistPending,
    RecordingStore,
)
from reactor_proto.recording.validate import (
    ChunkNameError,
    ClipRangeError,
    parse_chunk_path,
    parse_clip_query,
)

CLIPS_PATH = "/clips"
CHUNKS_PREFIX = "/clips/chunks/"
_QUERY_FIELDS = ("session_id", "start", "end")

Lookup = Callable[[str], RecordingStore | None]


@attrs.frozen(kw_only=True)
class ServeChunk:
    """200: send the bytes of this chunk (``index`` None: the init segment) with this
    content type; if the file is gone by the time it is read, answer :func:`chunk_missing`."""

    recording_id: str
    index: int | None
    content_type: str


def _error(status: int, detail: str, headers: tuple[tuple[str, str], ...] = ()
           ) -> HttpResponse:
    return json_response(status, build_error_detail(detail), headers)


def chunk_missing() -> HttpResponse:
    return _error(404, "chunk not found")


def is_clips_route(path: str) -> bool:
    return path == CLIPS_PATH or path.startswith(CHUNKS_PREFIX)


def playlist_response(query: Mapping[str, str], lookup: Lookup) -> HttpResponse:
    """Answer ``GET /clips`` (``query``: the decoded query parameters)."""
    missing = [name for name in _QUERY_FIELDS if name not in query]
    if missing:
        return _error(422, f"missing query parameter(s): {', '.join(missing)}")
    try:
        recording_id, start, end = parse_clip_query(query)
    except ChunkNameError as exc:
        return _error(410, exc.reason)
    except ClipRangeError as exc:
        return _error(400, exc.reason)
    store = lookup(recording_id)
    if store is None:
        return _error(410, f"session_id: no recording {recording_id}")
    answer = store.answer(start, end)
    if isinstance(answer, PlaylistPending):
        return _error(202, "the clip's last chunk is still being written",
                      (("Retry-After", str(answer.retry_after)),))
    if isinstance(answer, PlaylistGone):
        return _error(410, answer.reason)
    if isinstance(answer, PlaylistBadRange):
        return _error(400, answer.error.reason)
    return HttpResponse(status=200, headers=(("Content-Type", CONTENT_TYPE),),
                        body=answer.text.encode("utf-8"))


def chunk_response(path: str, lookup: Lookup) -> HttpResponse | ServeChunk:
    """Answer ``GET /clips/chunks/{id}/{name}``: what to send, or the error response."""
    try:
        recording_id, index = parse_chunk_path(path)
    except ChunkNameError as exc:
        status = 410 if exc.field == "recording id" else 404
        return _error(status, exc.reason)
    store = lookup(recording_id)
    if store is None or store.expired:
        return _error(410, f"no recording {recording_id}")
    if index is None:
        if store.retained_start is None:
            return chunk_missing()
        return ServeChunk(recording_id=recording_id, index=None,
                          content_type=INIT_CONTENT_TYPE)
    if store.chunk(index) is None:
        return chunk_missing()
    return ServeChunk(recording_id=recording_id, index=index, content_type=CHUNK_CONTENT_TYPE)
