"""The typed error of recordings and clips (docs/protocol §10, §11.1).

Kept beside the recording package that raises it; :class:`RecordingError` is a
:class:`~reactor_proto.errors.ReactorError` like every other failure.
"""

from __future__ import annotations

import enum
from typing import Any

from ..errors import ReactorError


class RecordingErrorCode(enum.StrEnum):
    """The documented codes of :class:`RecordingError`; the string values are public API."""

    RECORDER_DISABLED = "RECORDER_DISABLED"
    INVALID_DURATION = "INVALID_DURATION"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    DISCONNECTED = "DISCONNECTED"
    CLIP_GONE = "CLIP_GONE"
    CLIP_NOT_READY = "CLIP_NOT_READY"
    PLAYLIST_FETCH_FAILED = "PLAYLIST_FETCH_FAILED"
    CHUNK_FETCH_FAILED = "CHUNK_FETCH_FAILED"
    INVALID_PLAYLIST = "INVALID_PLAYLIST"
    DOWNLOAD_UNSUPPORTED = "DOWNLOAD_UNSUPPORTED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


#: codes where the same request may succeed later (a wait, a retry, a new connection)
_RECOVERABLE_RECORDING_CODES = frozenset({
    RecordingErrorCode.REQUEST_TIMEOUT, RecordingErrorCode.DISCONNECTED,
    RecordingErrorCode.CLIP_NOT_READY, RecordingErrorCode.PLAYLIST_FETCH_FAILED,
    RecordingErrorCode.CHUNK_FETCH_FAILED})


class RecordingError(ReactorError):
    """A clip or recording request, or a clip download, failed.  ``reason`` is the raw text
    from the runtime or the manifest endpoint (the official ``RecordingError(code, reason)``)."""

    default_code = RecordingErrorCode.INTERNAL_ERROR

    def __init__(self, code: str, reason: str, **kwargs: Any) -> None:
        kwargs.setdefault("recoverable", code in _RECOVERABLE_RECORDING_CODES)
        super().__init__(reason, code=code, **kwargs)
        self.reason = reason
