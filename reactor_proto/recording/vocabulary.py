"""The clip and recording vocabulary: requests, the ``Clip`` record, the two replies.

Codec-neutral typed records (§10), with their v0 JSON form (the inner ``data`` of the
runtime-scope messages ``requestClip``, ``requestRecording``, ``clipReady`` and
``clipFailed``) and converters to and from the v1 protobuf payloads of
:mod:`reactor_proto.wire_v1.payloads` (§6.8.6, which has no ``first_real_frame_marker``).
Decoding checks types and names the offending field; it does not judge the duration (that
is :func:`reactor_proto.recording.validate.check_duration`'s job, on the side that decides).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from reactor_proto.envelope import Envelope, RuntimeMessageType, Scope
from reactor_proto.jsonfields import Fields
from reactor_proto.wire_v1 import payloads as v1


class ClipKind(enum.StrEnum):
    """``snap`` answers a clip request (last N seconds), ``recording`` the whole session."""

    SNAP = "snap"
    RECORDING = "recording"


@attrs.frozen(kw_only=True)
class ClipRequest:
    """``requestClip``: the last ``duration_seconds`` seconds (not yet validated)."""

    duration_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"duration_seconds": self.duration_seconds}

    @classmethod
    def from_json(cls, data: Any, *, path: str = "data") -> ClipRequest:
        # Kept loose on purpose: a string or NaN must reach the validator, which answers
        # with the documented ``invalid duration_seconds`` failure instead of a decode error.
        fields = Fields(data, path)
        if "duration_seconds" not in fields.raw:
            raise fields.fail("duration_seconds", "a number")
        return cls(duration_seconds=fields.raw["duration_seconds"])

    def to_envelope(self) -> Envelope:
        return Envelope(scope=Scope.RUNTIME, type=RuntimeMessageType.REQUEST_CLIP.value,
                        data=self.to_json())

    def to_v1(self) -> v1.RequestClip:
        return v1.RequestClip(duration_seconds=float(self.duration_seconds))

    @classmethod
    def from_v1(cls, message: v1.RequestClip) -> ClipRequest:
        return cls(duration_seconds=message.duration_seconds)


@attrs.frozen(kw_only=True)
class RecordingRequest:
    """``requestRecording``: the whole session so far."""

    def to_json(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_json(cls, data: Any, *, path: str = "data") -> RecordingRequest:
        Fields({} if data is None else data, path)  # an object (or nothing), any keys
        return cls()

    def to_envelope(self) -> Envelope:
        return Envelope(scope=Scope.RUNTIME, type=RuntimeMessageType.REQUEST_RECORDING.value,
                        data={})

    def to_v1(self) -> v1.RequestRecording:
        return v1.RequestRecording()

    @classmethod
    def from_v1(cls, message: v1.RequestRecording) -> RecordingRequest:
        return cls()


@attrs.frozen(kw_only=True)
class Clip:
    """A clip the runtime promised (the ``clipReady`` payload; the official ``Clip``).

    Markers are seconds on the recording's own timeline; ``predicted_ready_at_ms`` is Unix
    epoch milliseconds; ``playlist_url`` is usually a path to resolve against the API base.
    ``session_id`` is the *recording's* id, not the transport session's.
    """

    session_id: str
    kind: ClipKind
    start_marker: float
    end_marker: float
    now_marker: float
    predicted_ready_at_ms: int
    playlist_url: str
    first_real_frame_marker: float | None = None

    @property
    def duration_seconds(self) -> float:
        return self.end_marker - self.start_marker

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "session_id": self.session_id, "kind": self.kind.value,
            "start_marker": self.start_marker, "end_marker": self.end_marker,
            "now_marker": self.now_marker, "predicted_ready_at_ms": self.predicted_ready_at_ms,
            "playlist_url": self.playlist_url,
        }
        if self.first_real_frame_marker is not None:
            out["first_real_frame_marker"] = self.first_real_frame_marker
        return out

    @classmethod
    def from_json(cls, data: Any, *, path: str = "data") -> Clip:
        fields = Fields(data, path)
        kind = fields.req_str("kind")
        if kind not in ClipKind.__members__.values():
            raise fields.fail("kind", '"snap" or "recording"', kind)
        predicted = fields.req_number("predicted_ready_at_ms")
        return cls(
            session_id=fields.req_str("session_id"), kind=ClipKind(kind),
            start_marker=fields.req_number("start_marker"),
            end_marker=fields.req_number("end_marker"),
            now_marker=fields.req_number("now_marker"),
            predicted_ready_at_ms=int(predicted), playlist_url=fields.req_str("playlist_url"),
            first_real_frame_marker=fields.opt_number("first_real_frame_marker"))

    def to_envelope(self) -> Envelope:
        return Envelope(scope=Scope.RUNTIME, type=RuntimeMessageType.CLIP_READY.value,
                        data=self.to_json())

    def to_v1(self) -> v1.ClipReady:
        return v1.ClipReady(
            session_id=self.session_id, kind=self.kind.value, start_marker=self.start_marker,
            end_marker=self.end_marker, now_marker=self.now_marker,
            predicted_ready_at_ms=self.predicted_ready_at_ms, playlist_url=self.playlist_url)

    @classmethod
    def from_v1(cls, message: v1.ClipReady) -> Clip:
        # proto3 has no presence for ``kind``: an unknown or empty kind is taken as a snap,
        # the only kind a runtime sends without being asked for the whole recording.
        kind = ClipKind.RECORDING if message.kind == ClipKind.RECORDING else ClipKind.SNAP
        return cls(session_id=message.session_id, kind=kind,
                   start_marker=message.start_marker, end_marker=message.end_marker,
                   now_marker=message.now_marker,
                   predicted_ready_at_ms=message.predicted_ready_at_ms,
                   playlist_url=message.playlist_url)


@attrs.frozen(kw_only=True)
class ClipFailure:
    """``clipFailed``: the runtime could not promise a clip; ``reason`` is free text."""

    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason}

    @classmethod
    def from_json(cls, data: Any, *, path: str = "data") -> ClipFailure:
        return cls(reason=Fields(data, path).req_str("reason"))

    def to_envelope(self) -> Envelope:
        return Envelope(scope=Scope.RUNTIME, type=RuntimeMessageType.CLIP_FAILED.value,
                        data=self.to_json())

    def to_v1(self) -> v1.ClipFailed:
        return v1.ClipFailed(reason=self.reason)

    @classmethod
    def from_v1(cls, message: v1.ClipFailed) -> ClipFailure:
        return cls(reason=message.reason)


ClipReply = Clip | ClipFailure


def decode_reply(type_: str, data: Mapping[str, Any] | Any) -> ClipReply | None:
    """The typed reply for an inbound runtime message, or None when it is not one."""
    if type_ == RuntimeMessageType.CLIP_READY:
        return Clip.from_json(data)
    if type_ == RuntimeMessageType.CLIP_FAILED:
        return ClipFailure.from_json(data)
    return None


#: Reasons our runtime sends (the official runtime's wording, so official clients map them).
REASON_DISABLED = "recorder disabled"
REASON_NO_MEDIA = "no media generated yet"
REASON_INVALID_DURATION = "invalid duration_seconds"
REASON_STEPPED = "a stepped session is not recorded, so it has no clips"


def internal_error_reason(detail: str) -> str:
    return f"internal error: {detail}"
