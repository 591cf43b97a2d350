"""Recordings and clips (§10), sans-IO: vocabulary, validation, playlist, store, client.

* :mod:`.vocabulary` -- requests, ``Clip``, ``ClipFailure``; v0 JSON and v1 converters.
* :mod:`.validate` -- durations, ranges, recording ids, chunk names (typed errors).
* :mod:`.manifest` -- the ``/clips`` HLS playlist: build, parse, resolve URLs.
* :mod:`.store` -- :class:`RecordingStore`: chunks, cuts, evictions, answers to clip requests
  and to ``GET /clips``.
* :mod:`.client` -- correlation of replies, the playlist polling schedule, error mapping.
* :mod:`.routes` -- ``GET /clips`` and ``GET /clips/chunks/...`` as pure functions.
* :mod:`.download` -- the fetches of a clip download, its progress and its bytes.
"""

from typing import TYPE_CHECKING

from reactor_proto.lazy import lazy_attributes

if TYPE_CHECKING:
    from reactor_proto.recording.client import (
        ClipEvent,
        ClipRequestFailed,
        ClipRequests,
        ClipResolved,
        FetchNow,
        GiveUp,
        PlaylistOk,
        PlaylistPoll,
        WaitThen,
        check_clip_duration,
        chunk_error,
        failure_error,
        fetch_error,
    )
    from reactor_proto.recording.manifest import (
        Playlist,
        Segment,
        build_playlist,
        parse_playlist,
        playlist_path,
        resolve_chunk_url,
        resolve_url,
    )
    from reactor_proto.recording.store import (
        ChunkInfo,
        ClipPlan,
        Cut,
        PlaylistAnswer,
        PlaylistBadRange,
        PlaylistGone,
        PlaylistPending,
        PlaylistReady,
        RecordingConfig,
        RecordingStore,
        Timeline,
    )
    from reactor_proto.recording.validate import (
        ChunkNameError,
        ClipRangeError,
        check_duration,
        check_range,
        chunk_name,
        parse_chunk_name,
        parse_chunk_path,
        parse_clip_query,
    )
    from reactor_proto.recording.vocabulary import (
        Clip,
        ClipFailure,
        ClipKind,
        ClipReply,
        ClipRequest,
        RecordingRequest,
        decode_reply,
    )
else:  # imported on first use (PEP 562): see reactor_proto.lazy
    __getattr__, __dir__ = lazy_attributes(__name__, {
        "ClipEvent": ".client",
        "ClipRequestFailed": ".client",
        "ClipRequests": ".client",
        "ClipResolved": ".client",
        "FetchNow": ".client",
        "GiveUp": ".client",
        "PlaylistOk": ".client",
        "PlaylistPoll": ".client",
        "WaitThen": ".client",
        "check_clip_duration": ".client",
        "chunk_error": ".client",
        "failure_error": ".client",
        "fetch_error": ".client",
        "Playlist": ".manifest",
        "Segment": ".manifest",
        "build_playlist": ".manifest",
        "parse_playlist": ".manifest",
        "playlist_path": ".manifest",
        "resolve_chunk_url": ".manifest",
        "resolve_url": ".manifest",
        "ChunkInfo": ".store",
        "ClipPlan": ".store",
        "Cut": ".store",
        "PlaylistAnswer": ".store",
        "PlaylistBadRange": ".store",
        "PlaylistGone": ".store",
        "PlaylistPending": ".store",
        "PlaylistReady": ".store",
        "RecordingConfig": ".store",
        "RecordingStore": ".store",
        "Timeline": ".store",
        "ChunkNameError": ".validate",
        "ClipRangeError": ".validate",
        "check_duration": ".validate",
        "check_range": ".validate",
        "chunk_name": ".validate",
        "parse_chunk_name": ".validate",
        "parse_chunk_path": ".validate",
        "parse_clip_query": ".validate",
        "Clip": ".vocabulary",
        "ClipFailure": ".vocabulary",
        "ClipKind": ".vocabulary",
        "ClipReply": ".vocabulary",
        "ClipRequest": ".vocabulary",
        "RecordingRequest": ".vocabulary",
        "decode_reply": ".vocabulary",
    })

__all__ = [
    "ChunkInfo", "ChunkNameError", "Clip", "ClipEvent", "ClipFailure", "ClipKind", "ClipPlan",
    "ClipRangeError", "ClipReply", "ClipRequest", "ClipRequestFailed", "ClipRequests",
    "ClipResolved", "Cut", "FetchNow", "GiveUp", "Playlist", "PlaylistAnswer",
    "PlaylistBadRange", "PlaylistGone", "PlaylistOk", "PlaylistPending", "PlaylistPoll",
    "PlaylistReady", "RecordingConfig", "RecordingRequest", "RecordingStore", "Segment",
    "Timeline", "WaitThen", "build_playlist", "check_clip_duration", "check_duration",
    "check_range", "chunk_error", "chunk_name", "decode_reply", "failure_error", "fetch_error",
    "parse_chunk_name", "parse_chunk_path", "parse_clip_query", "parse_playlist",
    "playlist_path", "resolve_chunk_url", "resolve_url",
]
