"""Validation of what a peer names: clip durations, clip ranges, recording ids, chunk names.

Every check raises :class:`ClipRangeError` or :class:`ChunkNameError` (both
:class:`~reactor_proto.recording.errors.RecordingError`), naming the field and the value, so the
runtime answers 400 / 404 / ``clipFailed`` and the client raises ``INVALID_DURATION`` from one
rule.  Chunk names are matched against a closed grammar, never joined to a path unchecked:
path traversal (``..``, ``/``, ``%2F``, NUL) is impossible by construction.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from reactor_proto.recording.errors import RecordingError, RecordingErrorCode

#: A duration above this is "huge" and refused outright; anything finite below it and above
#: the runtime's ``clip_max_seconds`` is capped instead, as §10 says.
MAX_DURATION_SECONDS = 86_400.0
#: The longest number a query parameter may spell (``start``/``end``).
MAX_NUMBER_TEXT = 32
INIT_NAME = "init.mp4"
CHUNK_DIGITS = 5
#: chunk indices fit the five-digit name of §10 (``chunk_NNNNN.m4s``)
MAX_CHUNK_INDEX = 10**CHUNK_DIGITS - 1
_CHUNK_NAME = re.compile(r"chunk_([0-9]{5})\.m4s")
_NUMBER = re.compile(r"[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_RECORDING_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _show(value: Any) -> str:
    """A short, always-printable form of a value (an int of 5000 digits cannot be repr'd)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<integer of {value.bit_length()} bits>"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ClipRangeError(RecordingError):
    """A duration, ``start`` or ``end`` is not acceptable; ``field`` says which."""

    def __init__(self, field: str, value: Any, why: str) -> None:
        super().__init__(RecordingErrorCode.INVALID_DURATION, f"{field}: {why}, got {_show(value)}",
                         recoverable=False)
        self.field = field
        self.value = value


class ChunkNameError(RecordingError):
    """A chunk URL names no chunk of ours (bad grammar, traversal, unknown recording)."""

    def __init__(self, field: str, value: Any, why: str) -> None:
        super().__init__(RecordingErrorCode.CLIP_GONE, f"{field}: {why}, got {_show(value)}",
                         recoverable=False)
        self.field = field
        self.value = value


def _real(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ClipRangeError(field, value, "expected a number")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        number = math.inf
    if math.isnan(number):
        raise ClipRangeError(field, value, "expected a number, not NaN")
    if math.isinf(number):
        raise ClipRangeError(field, value, "expected a finite number")
    return number


def check_duration(value: Any, *, max_seconds: float | None = None,
                   field: str = "duration_seconds") -> float:
    """A clip length in seconds: a real, finite number in (0, MAX_DURATION_SECONDS], capped
    at ``max_seconds`` when given (the runtime's ``clip_max_seconds``)."""
    number = _real(value, field)
    if number <= 0:
        raise ClipRangeError(field, value, "expected a number above 0")
    if number > MAX_DURATION_SECONDS:
        raise ClipRangeError(field, value, f"expected at most {MAX_DURATION_SECONDS:g} s")
    return number if max_seconds is None else min(number, max_seconds)


def parse_marker(text: Any, field: str) -> float:
    """A ``start``/``end`` query value: a plain non-negative decimal, at most
    :data:`MAX_NUMBER_TEXT` characters (no exponent, no ``nan``/``inf``, no sign but ``+``)."""
    if not isinstance(text, str):
        raise ClipRangeError(field, text, "expected a decimal number")
    if len(text) > MAX_NUMBER_TEXT or not _NUMBER.fullmatch(text):
        raise ClipRangeError(field, text[:MAX_NUMBER_TEXT + 1],
                             "expected a non-negative decimal number")
    return float(text)


def check_range(start: float, end: float) -> tuple[float, float]:
    """``start`` < ``end``, both finite and non-negative."""
    for field, value in (("start", start), ("end", end)):
        number = _real(value, field)
        if number < 0:
            raise ClipRangeError(field, value, "expected a number >= 0")
    if not end > start:
        raise ClipRangeError("end", end, f"expected a number above start ({start!r})")
    return float(start), float(end)


def check_recording_id(value: Any, field: str = "session_id") -> str:
    """A recording id is a lowercase canonical UUID (what the runtime mints)."""
    if not isinstance(value, str) or not _RECORDING_ID.fullmatch(value):
        raise ChunkNameError(field, value, "expected a recording id (a UUID)")
    return value


def parse_clip_query(params: Mapping[str, Any]) -> tuple[str, float, float]:
    """``session_id``, ``start``, ``end`` of a ``GET /clips`` query, checked.  A bad id is a
    :class:`ChunkNameError` (410: no such recording); a bad range a :class:`ClipRangeError`
    (400)."""
    session_id = check_recording_id(params.get("session_id"))
    start = parse_marker(params.get("start"), "start")
    end = parse_marker(params.get("end"), "end")
    return (session_id, *check_range(start, end))


def chunk_name(index: int) -> str:
    """The file name of chunk ``index``: ``chunk_00012.m4s``."""
    if isinstance(index, bool) or not isinstance(index, int) or not (
            0 <= index <= MAX_CHUNK_INDEX):
        raise ChunkNameError("index", index, f"expected an integer 0..{MAX_CHUNK_INDEX}")
    return f"chunk_{index:0{CHUNK_DIGITS}d}.m4s"


def parse_chunk_name(name: Any) -> int | None:
    """The chunk index a file name names, or None for the init segment (``init.mp4``).
    Anything else (other names, separators, ``..``, escapes) is a :class:`ChunkNameError`."""
    if not isinstance(name, str):
        raise ChunkNameError("name", name, "expected a chunk file name")
    if name == INIT_NAME:
        return None
    match = _CHUNK_NAME.fullmatch(name)
    if match is None:
        raise ChunkNameError("name", name, f"expected {INIT_NAME} or chunk_NNNNN.m4s")
    return int(match.group(1))


def parse_chunk_path(path: str) -> tuple[str, int | None]:
    """``(recording id, chunk index or None for init)`` of a
    ``/clips/chunks/{id}/{name}`` path; any other shape is a :class:`ChunkNameError`."""
    prefix = "/clips/chunks/"
    if not isinstance(path, str) or not path.startswith(prefix):
        raise ChunkNameError("path", path, f"expected {prefix}<id>/<name>")
    parts = path[len(prefix):].split("/")
    if len(parts) != 2:
        raise ChunkNameError("path", path, "expected exactly <id>/<name>")
    return check_recording_id(parts[0], "recording id"), parse_chunk_name(parts[1])
