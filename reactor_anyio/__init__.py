"""reactor_anyio: the Reactor client (and local runtime) over anyio sockets and aiortc.

A drop-in for the official ``reactor_sdk`` imports::

    from reactor_anyio import Reactor, ReactorStatus

    async with Reactor(model_name="helios", local=True) as reactor:
        await reactor.connect()            # returns at READY
        await reactor.send_command("schedule_prompt", {"prompt": "A forest", "chunk": 0})

Code written from the official docs runs with only its import line changed; the remaining
differences are listed in docs/migrating.md.
"""

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
