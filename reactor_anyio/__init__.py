"""reactor_anyio: the Reactor client (and local runtime) over anyio sockets and aiortc.

A drop-in for the official ``reactor_sdk`` imports::

    from reactor_anyio import Reactor, ReactorStatus

    async with Reactor(model_name="helios", local=True) as reactor:
        await reactor.connect()            # returns at READY
        await reactor.send_command("schedule_prompt", {"prompt": "A forest", "chunk": 0})

Code written from the official docs runs with only its import line changed; the remaining
differences are listed in docs/migrating.md.
"""

from typing import TYPE_CHECKING

from reactor_proto.lazy import lazy_attributes

if TYPE_CHECKING:
    from reactor_proto.client import ReactorStatus
    from reactor_proto.client.stepping import EncodedFrame, StepCommand
    from reactor_proto.envelope import FileRef
    from reactor_proto.errors import (
        AbortedError,
        BadRequestError,
        CommandValidationError,
        ConflictError,
        ControlRequestError,
        DataChannelChunkingRequiredError,
        DecodeError,
        DisconnectedError,
        GenerationModeMismatchError,
        InvalidStateError,
        LocalProtocolError,
        MessageTooLargeError,
        NetworkError,
        NoCapacityError,
        NotFoundError,
        RateLimitedError,
        ReactorError,
        RemoteProtocolError,
        RequestTimeoutError,
        ServerError,
        SessionGoneError,
        SessionTerminalError,
        StepCommandFailedError,
        StepNotReadyError,
        StepRefusedError,
        StepResultTooLargeError,
        StepSessionEndedError,
        TransportError,
        UnauthorizedError,
        UnsupportedFrameEncodingError,
        VersionMismatchError,
    )
    from reactor_proto.recording import Clip, ClipKind
    from reactor_proto.recording.errors import RecordingError, RecordingErrorCode

    from .client.auth import fetch_jwt_token
    from .client.reactor import Reactor
    from .client.steps import StepFile, StepFrame, StepResult, StepTrackOutput
    from .client.tracks import Track, TrackList
    from .client.types import (
        Capabilities,
        CommandCapability,
        ConnectionStats,
        ConnectionTimings,
        CreateSessionResponse,
        FrameCallback,
        MessageScope,
        ReactorEvent,
        ReactorState,
        TrackCapability,
        TrackDirection,
        TrackKind,
        WaitingInfo,
    )
    from .sdk import HeliosModel
    from .webrtc.tracks import NdarrayVideoTrack as FrameSource
else:  # imported on first use (PEP 562): see reactor_proto.lazy
    __getattr__, __dir__ = lazy_attributes(__name__, {
        "ReactorStatus": "reactor_proto.client",
        "EncodedFrame": "reactor_proto.client.stepping",
        "StepCommand": "reactor_proto.client.stepping",
        "FileRef": "reactor_proto.envelope",
        "AbortedError": "reactor_proto.errors",
        "BadRequestError": "reactor_proto.errors",
        "CommandValidationError": "reactor_proto.errors",
        "ConflictError": "reactor_proto.errors",
        "ControlRequestError": "reactor_proto.errors",
        "DataChannelChunkingRequiredError": "reactor_proto.errors",
        "DecodeError": "reactor_proto.errors",
        "DisconnectedError": "reactor_proto.errors",
        "GenerationModeMismatchError": "reactor_proto.errors",
        "InvalidStateError": "reactor_proto.errors",
        "LocalProtocolError": "reactor_proto.errors",
        "MessageTooLargeError": "reactor_proto.errors",
        "NetworkError": "reactor_proto.errors",
        "NoCapacityError": "reactor_proto.errors",
        "NotFoundError": "reactor_proto.errors",
        "RateLimitedError": "reactor_proto.errors",
        "ReactorError": "reactor_proto.errors",
        "RemoteProtocolError": "reactor_proto.errors",
        "RequestTimeoutError": "reactor_proto.errors",
        "ServerError": "reactor_proto.errors",
        "SessionGoneError": "reactor_proto.errors",
        "SessionTerminalError": "reactor_proto.errors",
        "StepCommandFailedError": "reactor_proto.errors",
        "StepNotReadyError": "reactor_proto.errors",
        "StepRefusedError": "reactor_proto.errors",
        "StepResultTooLargeError": "reactor_proto.errors",
        "StepSessionEndedError": "reactor_proto.errors",
        "TransportError": "reactor_proto.errors",
        "UnauthorizedError": "reactor_proto.errors",
        "UnsupportedFrameEncodingError": "reactor_proto.errors",
        "VersionMismatchError": "reactor_proto.errors",
        "Clip": "reactor_proto.recording",
        "ClipKind": "reactor_proto.recording",
        "RecordingError": "reactor_proto.recording.errors",
        "RecordingErrorCode": "reactor_proto.recording.errors",
        "fetch_jwt_token": ".client.auth",
        "Reactor": ".client.reactor",
        "StepFile": ".client.steps",
        "StepFrame": ".client.steps",
        "StepResult": ".client.steps",
        "StepTrackOutput": ".client.steps",
        "Track": ".client.tracks",
        "TrackList": ".client.tracks",
        "Capabilities": ".client.types",
        "CommandCapability": ".client.types",
        "ConnectionStats": ".client.types",
        "ConnectionTimings": ".client.types",
        "CreateSessionResponse": ".client.types",
        "FrameCallback": ".client.types",
        "MessageScope": ".client.types",
        "ReactorEvent": ".client.types",
        "ReactorState": ".client.types",
        "TrackCapability": ".client.types",
        "TrackDirection": ".client.types",
        "TrackKind": ".client.types",
        "WaitingInfo": ".client.types",
        "HeliosModel": ".sdk",
        "FrameSource": ".webrtc.tracks:NdarrayVideoTrack",
    })

__all__ = [
    "AbortedError",
    "BadRequestError",
    "Capabilities",
    "Clip",
    "ClipKind",
    "CommandCapability",
    "CommandValidationError",
    "ConflictError",
    "ConnectionStats",
    "ConnectionTimings",
    "ControlRequestError",
    "CreateSessionResponse",
    "DataChannelChunkingRequiredError",
    "DecodeError",
    "DisconnectedError",
    "EncodedFrame",
    "FileRef",
    "FrameCallback",
    "FrameSource",
    "GenerationModeMismatchError",
    "HeliosModel",
    "InvalidStateError",
    "LocalProtocolError",
    "MessageScope",
    "MessageTooLargeError",
    "NetworkError",
    "NoCapacityError",
    "NotFoundError",
    "RateLimitedError",
    "Reactor",
    "ReactorError",
    "ReactorEvent",
    "ReactorState",
    "ReactorStatus",
    "RecordingError",
    "RecordingErrorCode",
    "RemoteProtocolError",
    "RequestTimeoutError",
    "ServerError",
    "SessionGoneError",
    "SessionTerminalError",
    "StepCommand",
    "StepCommandFailedError",
    "StepFile",
    "StepFrame",
    "StepNotReadyError",
    "StepRefusedError",
    "StepResult",
    "StepResultTooLargeError",
    "StepSessionEndedError",
    "StepTrackOutput",
    "Track",
    "TrackCapability",
    "TrackDirection",
    "TrackKind",
    "TrackList",
    "TransportError",
    "UnauthorizedError",
    "UnsupportedFrameEncodingError",
    "VersionMismatchError",
    "WaitingInfo",
    "fetch_jwt_token",
]
