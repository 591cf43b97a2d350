"""Typed payloads of the v1 wire (docs/protocol §6.8.4 and §15).

One frozen attrs class per protobuf message, named as in the ``.proto`` files and with the
same field names, so the codec can map between the two by name.  Conventions:

* JSON bodies (``google.protobuf.Struct`` on the wire) are plain ``dict``s; every number
  comes back as ``float`` because Struct carries only doubles (§6.8.5).
* Repeated fields are tuples, map fields dicts.
* ``X | None`` marks explicit presence: proto3 ``optional`` scalars and sub-messages
  that may be absent.  Plain scalars use proto3 defaults (``""``, ``0``, ``False``) for
  "absent", exactly as the wire does.
* Enum fields hold the member, or the bare ``int`` of a value this version does not know.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from reactor_proto.wire_v1.enums import (
    AudioCodec,
    FrameEncoding,
    StepFailureCode,
    TrackDirection,
    TrackKind,
    VideoCodec,
)

JsonObject = Mapping[str, Any]

# Typed converters (rather than bare ``tuple``/``dict``) so mypy's attrs plugin types each
# constructor argument: a list or any iterable is accepted and stored as a tuple, so equality
# with a decoded message never depends on the container the caller used.


def _json(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


def _floats(value: Mapping[str, float]) -> dict[str, float]:
    return dict(value)


def _uploads(value: Mapping[str, UploadReference]) -> dict[str, UploadReference]:
    return dict(value)


def _strs(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _ints(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(value)


def _commands(value: Iterable[Command]) -> tuple[Command, ...]:
    return tuple(value)


def _frames(value: Iterable[Frame]) -> tuple[Frame, ...]:
    return tuple(value)


def _track_frames(value: Iterable[TrackFrames]) -> tuple[TrackFrames, ...]:
    return tuple(value)


def _files(value: Iterable[StepFileRef]) -> tuple[StepFileRef, ...]:
    return tuple(value)


def _track_stats(value: Iterable[ClientTrackStat]) -> tuple[ClientTrackStat, ...]:
    return tuple(value)


def _frame_stages(value: Iterable[FrameStage]) -> tuple[FrameStage, ...]:
    return tuple(value)


def _message_stages(value: Iterable[MessageStage]) -> tuple[MessageStage, ...]:
    return tuple(value)


# ---- shared ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Error:
    """A failure reply: stable ``code`` (e.g. ``invalid_command``) and a reason."""

    code: str = ""
    message: str = ""


# ---- model traffic (data channel) -----------------------------------------------------------


@attrs.frozen(kw_only=True)
class UploadReference:
    upload_id: str = ""
    name: str = ""
    mime_type: str = ""
    size: int = 0


@attrs.frozen(kw_only=True)
class Command:
    """A command: its name (``type``), argument object and file arguments by parameter."""

    type: str = ""
    data: JsonObject = attrs.field(factory=dict, converter=_json)
    uploads: Mapping[str, UploadReference] = attrs.field(factory=dict, converter=_uploads)


@attrs.frozen(kw_only=True)
class ModelMessage:
    """A message from the model: the v0 inner ``{type, data}``."""

    type: str = ""
    data: JsonObject = attrs.field(factory=dict, converter=_json)


# ---- platform (control channel) -------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Ping:
    """Liveness; never answered."""


@attrs.frozen(kw_only=True)
class RequestSchema:
    pass


@attrs.frozen(kw_only=True)
class ModelSchema:
    """The model's OpenAPI 3.1 document."""

    openapi: JsonObject = attrs.field(factory=dict, converter=_json)


@attrs.frozen(kw_only=True)
class FileUploaded:
    upload_id: str = ""
    name: str = ""
    mime_type: str = ""
    size: int = 0


@attrs.frozen(kw_only=True)
class RequestClip:
    duration_seconds: float = 0.0


@attrs.frozen(kw_only=True)
class RequestRecording:
    pass


@attrs.frozen(kw_only=True)
class ClipReady:
    session_id: str = ""
    kind: str = ""  # "snap" | "recording"
    start_marker: float = 0.0
    end_marker: float = 0.0
    now_marker: float = 0.0
    predicted_ready_at_ms: int = 0
    playlist_url: str = ""


@attrs.frozen(kw_only=True)
class ClipFailed:
    reason: str = ""


@attrs.frozen(kw_only=True)
class Moderation:
    action: str = ""
    input_kind: str = ""
    command: str = ""
    categories: tuple[str, ...] = attrs.field(factory=tuple, converter=_strs)
    message: str = ""


@attrs.frozen(kw_only=True)
class SessionEnded:
    reason: str = ""


# ---- track verbs (control channel) ----------------------------------------------------------


@attrs.frozen(kw_only=True)
class PublishTrack:
    name: str = ""


@attrs.frozen(kw_only=True)
class PauseTrack:
    name: str = ""


@attrs.frozen(kw_only=True)
class ResumeTrack:
    name: str = ""


@attrs.frozen(kw_only=True)
class UnpublishTrack:
    name: str = ""


@attrs.frozen(kw_only=True)
class PublishTrackResponse:
    """A publish grant (the runtime sends it with ``name`` empty)."""

    name: str = ""


# ---- client stats (control channel, §6.8.9) -------------------------------------------------


@attrs.frozen(kw_only=True)
class FrameStage:
    name: str = ""
    total_ms: float = 0.0
    frames: int = 0
    part_of: str = ""


@attrs.frozen(kw_only=True)
class MessageStage:
    name: str = ""
    total_ms: float = 0.0
    messages: int = 0
    part_of: str = ""


@attrs.frozen(kw_only=True)
class ClientEnvironment:
    sdk_type: str = ""
    sdk_version: str = ""
    os: str = ""
    os_version: str = ""
    arch: str = ""
    device_model: str = ""


@attrs.frozen(kw_only=True)
class ClientTrackStat:
    """Stats of one track.  At most one of ``video_codec``/``audio_codec`` (a oneof)."""

    timestamp: int = 0
    track_name: str = ""
    kind: TrackKind | int = TrackKind.UNSPECIFIED
    direction: TrackDirection | int = TrackDirection.UNSPECIFIED
    video_codec: VideoCodec | int | None = None
    audio_codec: AudioCodec | int | None = None
    paused: bool = False
    metrics: Mapping[str, float] = attrs.field(factory=dict, converter=_floats)
    frame_stages: tuple[FrameStage, ...] = attrs.field(factory=tuple, converter=_frame_stages)
    codec_implementation: str = ""
    hardware_codec: bool | None = None


@attrs.frozen(kw_only=True)
class ClientConnectionStat:
    timestamp: int = 0
    metrics: Mapping[str, float] = attrs.field(factory=dict, converter=_floats)
    environment: ClientEnvironment | None = None
    message_stages: tuple[MessageStage, ...] = attrs.field(factory=tuple, converter=_message_stages)


@attrs.frozen(kw_only=True)
class ClientStats:
    track_stats: tuple[ClientTrackStat, ...] = attrs.field(factory=tuple, converter=_track_stats)
    connection_stat: ClientConnectionStat | None = None


# ---- stepped generation (data channel, §15) -------------------------------------------------


@attrs.frozen(kw_only=True)
class Frame:
    """One media frame of a step (§15.4): raw RGB/int16 samples or one H.264 access unit."""

    encoding: FrameEncoding | int = FrameEncoding.UNSPECIFIED
    dtype: str = ""
    shape: tuple[int, ...] = attrs.field(factory=tuple, converter=_ints)
    data: bytes = b""
    metadata: bytes | None = None
    capture_time_us: int | None = None


@attrs.frozen(kw_only=True)
class TrackFrames:
    track: str = ""
    kind: TrackKind | int = TrackKind.UNSPECIFIED
    frames: tuple[Frame, ...] = attrs.field(factory=tuple, converter=_frames)
    rate: float = 0.0


@attrs.frozen(kw_only=True)
class RequestStep:
    """Ask for one step: state setters, further commands and input frames (§15.3)."""

    state: JsonObject = attrs.field(factory=dict, converter=_json)
    commands: tuple[Command, ...] = attrs.field(factory=tuple, converter=_commands)
    media_input: tuple[TrackFrames, ...] = attrs.field(factory=tuple, converter=_track_frames)


@attrs.frozen(kw_only=True)
class StepFileRef:
    name: str = ""
    content_type: str = ""
    size: int = 0


@attrs.frozen(kw_only=True)
class StepResult:
    """The answer to a step (§15.5); ``failure_code`` says how it went (§15.6)."""

    step: int = 0
    tracks: tuple[TrackFrames, ...] = attrs.field(factory=tuple, converter=_track_frames)
    elapsed_seconds: float = 0.0
    files: tuple[StepFileRef, ...] = attrs.field(factory=tuple, converter=_files)
    error: str | None = None
    failure_code: StepFailureCode | int = StepFailureCode.UNSPECIFIED
    code: str | None = None
    entry: str | None = None


# ---- per-frame metadata trailer (§6.8.8; not a data-channel message) ------------------------


@attrs.frozen(kw_only=True)
class FrameMetadata:
    frame_id: int = 0  # 0 = unset
    capture_time_us: int = 0  # 0 = unset
    user_data: bytes = b""


PAYLOAD_TYPES: tuple[type, ...] = (
    Error, UploadReference, Command, ModelMessage, Ping, RequestSchema, ModelSchema,
    FileUploaded, RequestClip, RequestRecording, ClipReady, ClipFailed, Moderation,
    SessionEnded, PublishTrack, PauseTrack, ResumeTrack, UnpublishTrack, PublishTrackResponse,
    FrameStage, MessageStage, ClientEnvironment, ClientTrackStat, ClientConnectionStat,
    ClientStats, Frame, TrackFrames, RequestStep, StepFileRef, StepResult, FrameMetadata,
)
"""Every payload class; the codec maps each to the protobuf message of the same name."""
