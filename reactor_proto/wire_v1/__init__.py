"""The v1 wire (docs/protocol §6.8 and §15): protobuf messages on both data channels.

* :mod:`.payloads`, :mod:`.envelopes`, :mod:`.enums` -- typed frozen message classes;
* :mod:`.codec` -- :func:`encode` / :func:`decode` over Google's protobuf runtime, with the
  generated modules in :mod:`.proto` (``bash scripts/gen_proto.sh`` rewrites them);
* :mod:`.fastpath`, :mod:`.structwire` -- model messages and commands written and read as
  bytes, the same bytes protobuf writes (the codec's hot path; anything else goes through
  protobuf);
* :mod:`.sniff` -- which wire a connection speaks (latched on its first inbound frame);
* :mod:`.correlation` -- request ids and the matching of replies on one connection;
* :mod:`.chunks` -- data-channel chunking: splitter and bounded reassembler;
* :mod:`.negotiation` -- the SDP attributes for chunking and frame metadata;
* :mod:`.trailer` -- the per-frame metadata trailer of encoded video frames.

Everything here is I/O-free, like the rest of :mod:`reactor_proto`.
"""

from typing import TYPE_CHECKING

from reactor_proto.lazy import lazy_attributes

if TYPE_CHECKING:
    from reactor_proto.wire_v1.chunks import (
        ChunkError,
        ChunkErrorReason,
        ChunkReassembler,
        WholeMessage,
        split_message,
    )
    from reactor_proto.wire_v1.codec import DEFAULT_MAX_BYTES, decode, encode
    from reactor_proto.wire_v1.correlation import Correlator, Pending, UnexpectedReplyError
    from reactor_proto.wire_v1.enums import (
        AudioCodec,
        FrameEncoding,
        MessageKind,
        StepFailureCode,
        TrackDirection,
        TrackKind,
        VideoCodec,
    )
    from reactor_proto.wire_v1.envelopes import (
        Channel,
        ControlClientMessage,
        ControlServerMessage,
        DataClientMessage,
        DataServerMessage,
        Envelope,
        Sender,
        channel_of,
        envelope_type,
    )
    from reactor_proto.wire_v1.payloads import (
        ClientConnectionStat,
        ClientEnvironment,
        ClientStats,
        ClientTrackStat,
        ClipFailed,
        ClipReady,
        Command,
        Error,
        FileUploaded,
        Frame,
        FrameMetadata,
        FrameStage,
        MessageStage,
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
        StepFileRef,
        StepResult,
        TrackFrames,
        UnpublishTrack,
        UploadReference,
    )
    from reactor_proto.wire_v1.sniff import Wire, WireLatch, sniff
else:  # imported on first use (PEP 562): see reactor_proto.lazy
    __getattr__, __dir__ = lazy_attributes(__name__, {
        "ChunkError": ".chunks",
        "ChunkErrorReason": ".chunks",
        "ChunkReassembler": ".chunks",
        "WholeMessage": ".chunks",
        "split_message": ".chunks",
        "DEFAULT_MAX_BYTES": ".codec",
        "decode": ".codec",
        "encode": ".codec",
        "Correlator": ".correlation",
        "Pending": ".correlation",
        "UnexpectedReplyError": ".correlation",
        "AudioCodec": ".enums",
        "FrameEncoding": ".enums",
        "MessageKind": ".enums",
        "StepFailureCode": ".enums",
        "TrackDirection": ".enums",
        "TrackKind": ".enums",
        "VideoCodec": ".enums",
        "Channel": ".envelopes",
        "ControlClientMessage": ".envelopes",
        "ControlServerMessage": ".envelopes",
        "DataClientMessage": ".envelopes",
        "DataServerMessage": ".envelopes",
        "Envelope": ".envelopes",
        "Sender": ".envelopes",
        "channel_of": ".envelopes",
        "envelope_type": ".envelopes",
        "ClientConnectionStat": ".payloads",
        "ClientEnvironment": ".payloads",
        "ClientStats": ".payloads",
        "ClientTrackStat": ".payloads",
        "ClipFailed": ".payloads",
        "ClipReady": ".payloads",
        "Command": ".payloads",
        "Error": ".payloads",
        "FileUploaded": ".payloads",
        "Frame": ".payloads",
        "FrameMetadata": ".payloads",
        "FrameStage": ".payloads",
        "MessageStage": ".payloads",
        "ModelMessage": ".payloads",
        "ModelSchema": ".payloads",
        "Moderation": ".payloads",
        "PauseTrack": ".payloads",
        "Ping": ".payloads",
        "PublishTrack": ".payloads",
        "PublishTrackResponse": ".payloads",
        "RequestClip": ".payloads",
        "RequestRecording": ".payloads",
        "RequestSchema": ".payloads",
        "RequestStep": ".payloads",
        "ResumeTrack": ".payloads",
        "SessionEnded": ".payloads",
        "StepFileRef": ".payloads",
        "StepResult": ".payloads",
        "TrackFrames": ".payloads",
        "UnpublishTrack": ".payloads",
        "UploadReference": ".payloads",
        "Wire": ".sniff",
        "WireLatch": ".sniff",
        "sniff": ".sniff",
    })

__all__ = [
    "DEFAULT_MAX_BYTES", "AudioCodec", "Channel", "ChunkError", "ChunkErrorReason",
    "ChunkReassembler", "ClientConnectionStat", "ClientEnvironment", "ClientStats",
    "ClientTrackStat", "ClipFailed", "ClipReady", "Command", "ControlClientMessage",
    "ControlServerMessage", "Correlator", "DataClientMessage", "DataServerMessage", "Envelope",
    "Error", "FileUploaded", "Frame", "FrameEncoding", "FrameMetadata", "FrameStage",
    "MessageKind", "MessageStage", "ModelMessage", "ModelSchema", "Moderation", "PauseTrack",
    "Pending", "Ping", "PublishTrack", "PublishTrackResponse", "RequestClip",
    "RequestRecording", "RequestSchema", "RequestStep", "ResumeTrack", "Sender",
    "SessionEnded", "StepFailureCode", "StepFileRef", "StepResult", "TrackDirection",
    "TrackFrames", "TrackKind", "UnexpectedReplyError", "UnpublishTrack", "UploadReference",
    "VideoCodec", "WholeMessage", "Wire", "WireLatch", "channel_of", "decode", "encode",
    "envelope_type", "sniff", "split_message",
]
