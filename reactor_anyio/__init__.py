"""reactor_anyio: the Reactor client (and local runtime) over anyio sockets and aiortc.

A drop-in for the official ``reactor_sdk`` imports::

    from reactor_anyio import Reactor, ReactorStatus

    async with Reactor(model_name="helios", local=True) as reactor:
        await reactor.connect()            # returns at READY
        await reactor.send_command("schedule_prompt", {"prompt": "A forest", "chunk": 0})
"""

from reactor_proto.capabilities import Capabilities, CommandCapability, TrackCapability
from reactor_proto.client import ReactorStatus
from reactor_proto.envelope import FileRef
from reactor_proto.errors import (
    AbortedError,
    BadRequestError,
    CommandValidationError,
    ConflictError,
    ControlRequestError,
    DecodeError,
    DisconnectedError,
    InvalidStateError,
    LocalProtocolError,
    MessageTooLargeError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ReactorError,
    RemoteProtocolError,
    RequestTimeoutError,
    ServerError,
    SessionGoneError,
    SessionTerminalError,
    TransportError,
    UnauthorizedError,
    VersionMismatchError,
)

from .client.reactor import FrameCallback, Reactor, ReactorState
from .sdk import HeliosModel
from .webrtc.tracks import NdarrayVideoTrack as FrameSource

__all__ = [
    "AbortedError",
    "BadRequestError",
    "Capabilities",
    "CommandCapability",
    "CommandValidationError",
    "ConflictError",
    "ControlRequestError",
    "DecodeError",
    "DisconnectedError",
    "FileRef",
    "FrameCallback",
    "FrameSource",
    "HeliosModel",
    "InvalidStateError",
    "LocalProtocolError",
    "MessageTooLargeError",
    "NetworkError",
    "NotFoundError",
    "RateLimitedError",
    "Reactor",
    "ReactorError",
    "ReactorState",
    "ReactorStatus",
    "RemoteProtocolError",
    "RequestTimeoutError",
    "ServerError",
    "SessionGoneError",
    "SessionTerminalError",
    "TrackCapability",
    "TransportError",
    "UnauthorizedError",
    "VersionMismatchError",
]
