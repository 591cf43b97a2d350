"""Typed errors shared by every part of the protocol.

One hierarchy serves both raised exceptions and the ``error`` event payload, so a caller that
catches an exception and a handler that receives an event see the same ``code``,
``recoverable`` and ``retry_after``.  Two families split the blame, as h11 does:

* :class:`LocalProtocolError` -- the caller misused the API (wrong state, bad command, ...).
* :class:`RemoteProtocolError` -- the peer sent something we cannot accept.

Everything else is a failure of the exchange itself (network, HTTP status, timeouts).
Messages always name the field and the offending value, so a log line is enough to debug.

The *documented* vocabulary (docs/protocol §11.1, docs/protocol/11-errors.md) names the
operation that failed (``CONNECTION_FAILED``, ``MESSAGE_SEND_FAILED``, ...), not why.
:func:`documented` turns a specific error into that form for one :class:`Failure`: the code
and component become the documented ones, while the specific code moves to ``cause`` and the
class stays, so ``except UnauthorizedError`` and ``error.cause == "UNAUTHORIZED"`` keep
working.  The client machine decides which failure a situation is; this table decides the
code.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar


class ErrorCode(enum.StrEnum):
    """Stable error codes; the string values are part of the public API."""

    INTERNAL_ERROR = "INTERNAL_ERROR"
    NETWORK_ERROR = "NETWORK_ERROR"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    UNAUTHORIZED = "UNAUTHORIZED"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    BAD_REQUEST = "BAD_REQUEST"
    SERVER_ERROR = "SERVER_ERROR"
    CLIENT_VERSION_TOO_OLD = "CLIENT_VERSION_TOO_OLD"
    SERVER_VERSION_TOO_OLD = "SERVER_VERSION_TOO_OLD"
    DECODE_FAILED = "DECODE_FAILED"
    INVALID_STATE = "INVALID_STATE"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    INVALID_COMMAND = "INVALID_COMMAND"
    MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
    SESSION_TERMINAL = "SESSION_TERMINAL"
    SESSION_GONE = "SESSION_GONE"
    TRANSPORT_ERROR = "TRANSPORT_ERROR"
    DISCONNECTED = "DISCONNECTED"
    ABORTED = "ABORTED"
    CONTROL_REQUEST_FAILED = "CONTROL_REQUEST_FAILED"
    # Codes the official client emits on its ``error`` event; kept for drop-in compatibility.
    CONNECTION_FAILED = "CONNECTION_FAILED"
    RECONNECTION_FAILED = "RECONNECTION_FAILED"
    GPU_CONNECTION_ERROR = "GPU_CONNECTION_ERROR"
    MESSAGE_SEND_FAILED = "MESSAGE_SEND_FAILED"
    TRACK_PUBLISH_FAILED = "TRACK_PUBLISH_FAILED"
    TRACK_UNPUBLISH_FAILED = "TRACK_UNPUBLISH_FAILED"
    # Ours, in the same style (the official client has no upload failure code).
    UPLOAD_FAILED = "UPLOAD_FAILED"
    # A session could not start because no GPU is free and queueing was refused.
    NO_CAPACITY = "NO_CAPACITY"
    # Control-channel codes sent by runtimes.
    PUBLISHER_SLOT_TAKEN = "PUBLISHER_SLOT_TAKEN"
    UNKNOWN_METHOD = "UNKNOWN_METHOD"
    UNKNOWN_TRACK = "UNKNOWN_TRACK"
    INVALID_REQUEST = "INVALID_REQUEST"
    COMMAND_REJECTED = "COMMAND_REJECTED"


class Component(enum.StrEnum):
    """Which side of the system an error comes from (the official ``component`` field).

    ``LOCAL`` marks caller mistakes inside the core; a reported error is always ``api`` or
    ``gpu`` (see :func:`documented`)."""

    API = "api"
    GPU = "gpu"
    LOCAL = "local"


class Failure(enum.Enum):
    """Which public operation failed: selects the documented code of a reported error."""

    CONNECT = "connect"
    RECONNECT = "reconnect"
    TRANSPORT = "transport"
    SEND = "send_command"
    PUBLISH = "publish_track"
    UNPUBLISH = "unpublish_track"
    UPLOAD = "upload_file"
    OTHER = "other"


# failure -> (documented code, component); OTHER keeps the error's own code.
_DOCUMENTED: dict[Failure, tuple[str | None, str]] = {
    Failure.CONNECT: (ErrorCode.CONNECTION_FAILED, Component.API),
    Failure.RECONNECT: (ErrorCode.RECONNECTION_FAILED, Component.API),
    Failure.TRANSPORT: (ErrorCode.GPU_CONNECTION_ERROR, Component.GPU),
    Failure.SEND: (ErrorCode.MESSAGE_SEND_FAILED, Component.GPU),
    Failure.PUBLISH: (ErrorCode.TRACK_PUBLISH_FAILED, Component.GPU),
    Failure.UNPUBLISH: (ErrorCode.TRACK_UNPUBLISH_FAILED, Component.GPU),
    Failure.UPLOAD: (ErrorCode.UPLOAD_FAILED, Component.API),
    Failure.OTHER: (None, Component.API),
}
DOCUMENTED_CODES: frozenset[str] = frozenset(
    code for code, _ in _DOCUMENTED.values() if code is not None)


class ReactorError(RuntimeError):
    """Base of every error this library raises or reports.

    Attributes mirror the official ``ReactorError`` record: ``code``, ``message``,
    ``timestamp`` (Unix seconds, stamped by the adapter that reports it, ``None`` inside the
    core, which never reads a clock), ``recoverable``, ``component`` and ``retry_after``
    (seconds), plus the HTTP ``status`` when one was involved and ``cause``: the specific
    code (``UNAUTHORIZED``, ``SESSION_GONE``, ...) behind a documented one, else ``None``.
    A ``RuntimeError``, as the official ``connect()`` documents for its failures.
    """

    default_code: ClassVar[str] = ErrorCode.INTERNAL_ERROR
    default_recoverable: ClassVar[bool] = False
    default_component: ClassVar[str] = Component.API

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        recoverable: bool | None = None,
        retry_after: float | None = None,
        component: str | None = None,
        status: int | None = None,
        timestamp: float | None = None,
        cause: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code: str = str(code if code is not None else self.default_code)
        self.recoverable: bool = (
            self.default_recoverable if recoverable is None else recoverable
        )
        self.retry_after = retry_after
        self.component: str = str(component if component is not None else self.default_component)
        self.status = status
        self.timestamp = timestamp
        self.cause: str | None = cause

    def __str__(self) -> str:
        return f"[{self.component}:{self.code}] {self.message}"

    def __repr__(self) -> str:
        extra = f", status={self.status}" if self.status is not None else ""
        if self.cause is not None:
            extra += f", cause={self.cause!r}"
        if self.retry_after is not None:
            extra += f", retry_after={self.retry_after}"
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"recoverable={self.recoverable}{extra})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-friendly record form (the shape of the official error event)."""
        return {
            "code": self.code,
            "message": self.message,
            "timestamp": self.timestamp,
            "recoverable": self.recoverable,
            "component": self.component,
            "retry_after": self.retry_after,
            "cause": self.cause,
        }


def documented(error: ReactorError, failure: Failure, *,
               retry_after: float | None = None) -> ReactorError:
    """``error`` as the ``error`` event reports it when ``failure`` is what failed.

    Returns a copy of the same class (the original is not changed): ``code`` is the
    documented code for ``failure`` (``OTHER`` keeps the error's own), ``component`` is
    ``api`` or ``gpu``, and ``cause`` is the specific code it replaced.  Idempotent: an
    error already in documented form keeps its cause.  ``retry_after`` fills a missing
    retry hint."""
    code, component = _DOCUMENTED[failure]
    clone = type(error).__new__(type(error), *error.args)
    clone.__dict__.update(error.__dict__)
    if code is not None and error.code != code:
        clone.cause = error.cause if error.code in DOCUMENTED_CODES else error.code
        clone.code = str(code)
    if failure is not Failure.OTHER or error.component not in (Component.API, Component.GPU):
        clone.component = str(component)
    if clone.retry_after is None and retry_after is not None:
        clone.retry_after = retry_after
    return clone


# ---- the caller's fault -------------------------------------------------------------------


class LocalProtocolError(ReactorError):
    """The caller asked for something the protocol does not allow."""

    default_code = ErrorCode.INVALID_ARGUMENT
    default_component = Component.LOCAL


class InvalidStateError(LocalProtocolError):
    """The operation is not allowed in the current state (e.g. send before READY)."""

    default_code = ErrorCode.INVALID_STATE


class MessageTooLargeError(LocalProtocolError):
    """An outgoing message exceeds the data-channel limit; nothing was sent."""

    default_code = ErrorCode.MESSAGE_TOO_LARGE


class CommandValidationError(LocalProtocolError):
    """A command payload does not match the model's schema; nothing was sent."""

    default_code = ErrorCode.INVALID_COMMAND

    def __init__(
        self, command: str, parameter: str | None, reason: str, **kwargs: Any
    ) -> None:
        where = f"{command}.{parameter}" if parameter else command
        super().__init__(f"invalid command {where}: {reason}", **kwargs)
        self.command = command
        self.parameter = parameter
        self.reason = reason


# ---- the peer's fault ---------------------------------------------------------------------


class RemoteProtocolError(ReactorError):
    """The peer sent something that does not follow the protocol."""

    default_code = ErrorCode.DECODE_FAILED


class DecodeError(RemoteProtocolError):
    """A body or message could not be decoded; ``field`` names where, ``value`` what."""

    def __init__(self, message: str, *, field: str | None = None, value: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field = field
        self.value = value


# ---- failures of an exchange --------------------------------------------------------------


class NetworkError(ReactorError):
    """No HTTP reply: refused, reset, DNS or TLS failure."""

    default_code = ErrorCode.NETWORK_ERROR
    default_recoverable = True


class RequestTimeoutError(ReactorError):
    """A request was sent but no answer came before its deadline."""

    default_code = ErrorCode.REQUEST_TIMEOUT
    default_recoverable = True


class HttpStatusError(ReactorError):
    """Base for errors derived from an HTTP status code."""


class UnauthorizedError(HttpStatusError):
    default_code = ErrorCode.UNAUTHORIZED


class NotFoundError(HttpStatusError):
    default_code = ErrorCode.NOT_FOUND


class ConflictError(HttpStatusError):
    default_code = ErrorCode.CONFLICT


class RateLimitedError(HttpStatusError):
    default_code = ErrorCode.RATE_LIMITED
    default_recoverable = True


class BadRequestError(HttpStatusError):
    default_code = ErrorCode.BAD_REQUEST


class ServerError(HttpStatusError):
    default_code = ErrorCode.SERVER_ERROR
    default_recoverable = True


class VersionMismatchError(HttpStatusError):
    """426 (client too old) or 501 (server too old)."""

    default_code = ErrorCode.CLIENT_VERSION_TOO_OLD


class SessionTerminalError(ReactorError):
    """The coordinator reports the session CLOSED or INACTIVE."""

    default_code = ErrorCode.SESSION_TERMINAL


class SessionGoneError(ReactorError):
    """The session no longer exists (e.g. a reconnect after the grace window)."""

    default_code = ErrorCode.SESSION_GONE


class NoCapacityError(ReactorError):
    """No GPU is free for the model and the client was told not to queue (``queue=False``)."""

    default_code = ErrorCode.NO_CAPACITY
    default_recoverable = True


class TransportError(ReactorError):
    """The WebRTC transport failed (ICE, DTLS, SCTP, peer connection)."""

    default_code = ErrorCode.TRANSPORT_ERROR
    default_recoverable = True
    default_component = Component.GPU


class DisconnectedError(ReactorError):
    """The connection went away while an operation was in flight."""

    default_code = ErrorCode.DISCONNECTED
    default_recoverable = True
    default_component = Component.GPU


class AbortedError(ReactorError):
    """The operation was abandoned (cancelled or superseded)."""

    default_code = ErrorCode.ABORTED
    default_component = Component.LOCAL


class ControlRequestError(ReactorError):
    """The runtime answered a control-channel request with an error."""

    default_code = ErrorCode.CONTROL_REQUEST_FAILED
    default_component = Component.GPU

    def __init__(self, method: str, code: str, message: str, **kwargs: Any) -> None:
        super().__init__(f"control request {method!r} failed: {message}", code=code, **kwargs)
        self.method = method


# ---- stepped generation (§15.6) --------------------------------------------------------------
# step_* codes are lower-case as 1.13.0 names the runtime's outcomes; the client's are upper.


class GenerationModeMismatchError(ReactorError):
    """``connect()``: the session runs in another generation mode than the one asked for."""
    default_code = "GENERATION_MODE_MISMATCH"


class DataChannelChunkingRequiredError(ReactorError):
    """``connect()``: a stepped session needs the v1 wire with chunking, and did not get it."""
    default_code = "DATA_CHANNEL_CHUNKING_REQUIRED"


class UnsupportedFrameEncodingError(ReactorError):
    """A step result carries a frame encoding this client cannot turn into an array."""
    default_code = "UNSUPPORTED_FRAME_ENCODING"


class StepError(ReactorError):
    """Base of the runtime's step outcomes: ``entry`` names the part of the request at fault
    (``state.prompt``, ``commands[1]``, ``media_input[0]``) when the runtime said."""
    default_component = Component.GPU

    def __init__(self, message: str, *, entry: str | None = None, step: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.entry = entry
        self.step = step


class StepRefusedError(StepError):
    """The runtime refused the step after checking all of it: nothing was applied."""
    default_code = "step_refused"


class StepNotReadyError(StepError):
    """No session is running a step yet: nothing was applied; retry later."""
    default_code = "step_not_ready"
    default_recoverable = True


class StepResultTooLargeError(StepError):
    """The step ran but its output does not fit one message; the session goes on."""
    default_code = "step_result_too_large"


class StepCommandFailedError(StepError):
    """A setter or command of the step failed: the ones before it stay applied, the rest
    and the step itself did not run.  ``command_code`` is the handler's code."""
    default_code = "step_command_failed"

    def __init__(self, message: str, *, command_code: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.command_code = command_code


class StepSessionEndedError(StepError):
    """The session ended before the step's result went out: whether it ran is unknown."""
    default_code = "step_session_ended"
