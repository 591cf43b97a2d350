"""Events the client machine reports, pulled one at a time with ``next_event()``.

The machine's state has already changed when an event is queued: an adapter that reads
``StatusChanged(READY)`` may send commands at once.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from ..capabilities import Capabilities
from ..envelope import FileRef
from ..errors import ReactorError
from ..schema import ModelSchema


class ReactorStatus(enum.Enum):
    """The public connection status (wire/string form is the lower-case value)."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    WAITING = "waiting"
    READY = "ready"

    def __str__(self) -> str:
        return self.value


class OperationKind(enum.Enum):
    CONNECT = "connect"
    RECONNECT = "reconnect"
    DISCONNECT = "disconnect"
    PUBLISH = "publish_track"
    UPLOAD = "upload_file"
    COMMAND = "send_command"
    SCHEMA = "request_schema"
    STEP = "step"
    CLIP = "request_clip"


@attrs.frozen(kw_only=True)
class StatusChanged:
    status: ReactorStatus
    previous: ReactorStatus


@attrs.frozen(kw_only=True)
class SessionIdChanged:
    session_id: str | None


@attrs.frozen(kw_only=True)
class SessionExpirationChanged:
    expires_at: float | None


@attrs.frozen(kw_only=True)
class CapabilitiesReceived:
    capabilities: Capabilities


@attrs.frozen(kw_only=True)
class SchemaReceived:
    schema: ModelSchema


@attrs.frozen(kw_only=True)
class MessageReceived:
    """An application-scope message (or an envelope-less one, delivered unchanged)."""

    payload: Any


@attrs.frozen(kw_only=True)
class RuntimeMessageReceived:
    payload: Any


@attrs.frozen(kw_only=True)
class ErrorOccurred:
    """The ``error`` event: something failed; ``error.recoverable`` says what to do next."""

    error: ReactorError


@attrs.frozen(kw_only=True)
class OperationCompleted:
    """A user operation finished: ``error`` is None on success, ``value`` its result.

    ``error`` is the specific failure (``UNAUTHORIZED``, ``PUBLISHER_SLOT_TAKEN``, ...);
    ``reported`` is the same failure in its documented form (``CONNECTION_FAILED`` with that
    code as ``cause``), the object the ``error`` event carried: what a public API raises."""

    op: int
    kind: OperationKind
    value: Any = None
    error: ReactorError | None = None
    reported: ReactorError | None = attrs.field(default=None, eq=False)

    @property
    def public_error(self) -> ReactorError | None:
        return self.reported if self.reported is not None else self.error


@attrs.frozen(kw_only=True)
class NotificationFailed:
    """A queued control notification could not be delivered (it is never dropped silently)."""

    event: str
    track: str
    error: ReactorError


@attrs.frozen(kw_only=True)
class UploadCompleted:
    op: int
    file: FileRef


ClientEvent = (
    StatusChanged
    | SessionIdChanged
    | SessionExpirationChanged
    | CapabilitiesReceived
    | SchemaReceived
    | MessageReceived
    | RuntimeMessageReceived
    | ErrorOccurred
    | OperationCompleted
    | NotificationFailed
)
