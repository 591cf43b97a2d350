"""The four top-level v1 messages, one per channel and direction (docs/protocol §6.8.2-6.8.4).

Each carries the envelope (``request_id``, ``kind``) and at most one payload.  Which class
a frame decodes as is fixed by the channel it arrived on and who sent it
(:func:`envelope_type`), never by its content.  A :class:`DataServerMessage` without payload
is a command's acknowledgement.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeAlias

import attrs

from reactor_proto.wire_v1.enums import MessageKind
from reactor_proto.wire_v1.payloads import (
    ClientStats,
    ClipFailed,
    ClipReady,
    Command,
    Error,
    FileUploaded,
    ModelMessage,
    ModelSchema,
    Moderation,
    PauseTrack,
    Ping,
    PublishTrack,
    PublishTrackResponse,
    RequestClip,
    RequestRecording,
    RequestSchema,
    RequestStep,
    ResumeTrack,
    SessionEnded,
    StepResult,
    UnpublishTrack,
)


class Channel(enum.StrEnum):
    """The data-channel labels; ``data`` carries only model traffic, ``control`` the rest."""

    DATA = "data"
    CONTROL = "control"


class Sender(enum.StrEnum):
    CLIENT = "client"
    RUNTIME = "runtime"


DataClientPayload: TypeAlias = Command | RequestStep | Error
DataServerPayload: TypeAlias = ModelMessage | StepResult | Error
ControlClientPayload: TypeAlias = (
    Ping | RequestSchema | FileUploaded | RequestClip | RequestRecording | PublishTrack
    | PauseTrack | ResumeTrack | UnpublishTrack | ClientStats | Error
)
ControlServerPayload: TypeAlias = (
    ModelSchema | ClipReady | ClipFailed | Moderation | PublishTrackResponse | SessionEnded
    | Error
)


@attrs.frozen(kw_only=True)
class DataClientMessage:
    """``data``, client -> runtime: a command or a step request (``REQUEST`` with an id)."""

    request_id: str = ""
    kind: MessageKind = MessageKind.UNSPECIFIED
    payload: DataClientPayload | None = None


@attrs.frozen(kw_only=True)
class DataServerMessage:
    """``data``, runtime -> client: a reply, ack (no payload), error, step result or a
    model broadcast (``NOTIFICATION`` without id)."""

    request_id: str = ""
    kind: MessageKind = MessageKind.UNSPECIFIED
    payload: DataServerPayload | None = None


@attrs.frozen(kw_only=True)
class ControlClientMessage:
    """``control``, client -> runtime: ping, schema, uploads, clips, track verbs, stats."""

    request_id: str = ""
    kind: MessageKind = MessageKind.UNSPECIFIED
    payload: ControlClientPayload | None = None


@attrs.frozen(kw_only=True)
class ControlServerMessage:
    """``control``, runtime -> client: schema, clips, publish grant or refusal,
    moderation, session end."""

    request_id: str = ""
    kind: MessageKind = MessageKind.UNSPECIFIED
    payload: ControlServerPayload | None = None


Envelope: TypeAlias = (
    DataClientMessage | DataServerMessage | ControlClientMessage | ControlServerMessage
)

# The protobuf oneof member that carries each payload class, per envelope.  Field numbers
# live in envelopes.proto; the names here must match it (a test checks both ways).
PAYLOAD_FIELDS: Mapping[type, Mapping[type, str]] = {
    DataClientMessage: {Command: "command", RequestStep: "request_step", Error: "error"},
    DataServerMessage: {ModelMessage: "message", StepResult: "step_result", Error: "error"},
    ControlClientMessage: {
        Ping: "ping", RequestSchema: "request_schema", FileUploaded: "file_uploaded",
        RequestClip: "request_clip", RequestRecording: "request_recording",
        PublishTrack: "publish_track", PauseTrack: "pause_track",
        ResumeTrack: "resume_track", UnpublishTrack: "unpublish_track",
        ClientStats: "client_stats", Error: "error",
    },
    ControlServerMessage: {
        ModelSchema: "model_schema", ClipReady: "clip_ready", ClipFailed: "clip_failed",
        Moderation: "moderation", PublishTrackResponse: "publish_track",
        SessionEnded: "session_ended", Error: "error",
    },
}

_BY_ROUTE: Mapping[tuple[Channel, Sender], type[Envelope]] = {
    (Channel.DATA, Sender.CLIENT): DataClientMessage,
    (Channel.DATA, Sender.RUNTIME): DataServerMessage,
    (Channel.CONTROL, Sender.CLIENT): ControlClientMessage,
    (Channel.CONTROL, Sender.RUNTIME): ControlServerMessage,
}


def envelope_type(channel: Channel | str, sender: Sender | str) -> type[Envelope]:
    """The class a frame decodes as, from the channel it travels on and who sent it."""
    return _BY_ROUTE[Channel(channel), Sender(sender)]


def channel_of(message: Envelope) -> Channel:
    """The channel a message must be sent on."""
    if isinstance(message, DataClientMessage | DataServerMessage):
        return Channel.DATA
    return Channel.CONTROL
