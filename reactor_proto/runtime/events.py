"""Events for the model host, pulled one at a time with ``RuntimeMachine.next_event()``.

The machine's state has already changed when an event is queued: when the adapter reads
``ClientConnected`` the connection is installed and ``connected_users`` counts it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeAlias

import attrs

from .step_plan import StepCall, StepPlan
from .uploads import UploadedFile


class SessionState(enum.StrEnum):
    """The runtime session state; the wire form ([R2] descriptor) is the upper-case value."""

    CREATED = "CREATED"
    READY = "READY"
    WAITING = "WAITING"
    STREAMING = "STREAMING"
    ORPHANED = "ORPHANED"
    CLOSING = "CLOSING"


class DisconnectReason(enum.StrEnum):
    CLOSED = "closed"  # the adapter reported the transport closed
    PING_TIMEOUT = "ping_timeout"  # no ping within RuntimeConfig.ping_timeout
    SESSION_ENDED = "session_ended"  # stop_session or the orphan timer


@attrs.frozen(kw_only=True)
class StateChanged:
    previous: SessionState
    state: SessionState


@attrs.frozen(kw_only=True)
class SessionStarted:
    """``start_session`` moved READY -> WAITING; ``extra_args`` is the request's free bag."""

    extra_args: Mapping[str, Any]
    #: ``"streamed"`` or ``"stepped"`` (§15.2)
    generation: str = "streamed"


@attrs.frozen(kw_only=True)
class SessionEnded:
    """The session is over (``"stopped"`` or ``"orphan_timeout"``); model state may go."""

    reason: str


@attrs.frozen(kw_only=True)
class ClientConnected:
    connection_id: int
    connected_users: int


@attrs.frozen(kw_only=True)
class ClientDisconnected:
    connection_id: int
    connected_users: int
    reason: DisconnectReason


@attrs.frozen(kw_only=True)
class CommandReceived:
    """A validated application command; ``args`` is the schema-normalised argument object
    (upload parameters as reference objects), ``uploads`` the referenced files' bytes.

    When the model is done with it, report ``command_done`` (or ``command_failed``) with
    ``request_id``: a v1 client awaits exactly one reply (§6.8.3).  The id is the client's,
    or one the runtime made up when the client sent none (v0 commands never carry one)."""

    connection_id: int
    command: str
    args: Mapping[str, Any]
    uploads: Mapping[str, UploadedFile]
    request_id: str = ""


@attrs.frozen(kw_only=True)
class StartingInput:
    """The ``starting_input`` of ``/start_session`` (§15.2): run these calls (already
    validated) before anything a client sends; a failing call is logged and the rest run."""

    calls: tuple[StepCall, ...]


@attrs.frozen(kw_only=True)
class StepRequested:
    """Run one step (§15.3): decode the H.264 frames of ``plan.media`` (any failure:
    report ``StepOutcome(refused=True)``), run ``plan.calls`` in order (stop at the first
    failure), write the frames to the input tracks, generate once; then report
    ``RuntimeMachine.step_finished`` with ``connection_id``, ``request_id`` and ``epoch``."""

    connection_id: int
    request_id: str
    epoch: int
    plan: StepPlan


@attrs.frozen(kw_only=True)
class FileUploaded:
    """A client announced a completed upload with the runtime message ``fileUploaded``."""

    connection_id: int
    upload: UploadedFile


@attrs.frozen(kw_only=True)
class TrackPublished:
    connection_id: int
    track: str


@attrs.frozen(kw_only=True)
class TrackUnpublished:
    connection_id: int
    track: str


@attrs.frozen(kw_only=True)
class InternalErrorOccurred:
    """A bug: an input raised something unexpected.  The input was answered with 500 (HTTP)
    or dropped (channels) and the machine kept running; report it."""

    where: str
    error: str


RuntimeEvent: TypeAlias = (
    StateChanged
    | SessionStarted
    | SessionEnded
    | ClientConnected
    | ClientDisconnected
    | CommandReceived
    | StartingInput
    | StepRequested
    | FileUploaded
    | TrackPublished
    | TrackUnpublished
    | InternalErrorOccurred
)
