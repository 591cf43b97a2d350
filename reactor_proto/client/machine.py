"""The client machine: a thin facade over one :class:`~.state.ClientState` and its handlers.

Driving it (the whole adapter contract)::

    machine = ClientMachine(config, rng=random.Random())
    op = machine.connect(now)
    while True:
        for action in machine.drain_actions():   # perform every action, after EVERY call
            ...
        while (event := machine.next_event()) is not None:
            ...                                   # OperationCompleted(op) ends the connect
        # wait for an I/O result or until machine.next_deadline(), then feed it:
        machine.http_response(request_id, response, now)  # or handle_timeout(now), ...

Operations return an operation id; their outcome arrives as ``OperationCompleted``.  Misuse
(wrong state, bad arguments, invalid command) raises at once and changes nothing but the
error record: like any failure of a public operation it is reported (``ErrorOccurred``,
``last_error``) in its documented form, which is also what is raised.  Every
method here only forwards to a handler function (``state.py`` lists the modules).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from ..bodies import SessionSnapshot
from ..capabilities import Capabilities, TrackCapability
from ..errors import Failure, ReactorError
from ..http import HttpResponse
from ..schema import ModelSchema
from ..wire_v1 import Frame, Wire
from . import flow, inbound, operations, responses, wire_ops
from .actions import ClientAction
from .config import ClientConfig
from .events import ClientEvent, ReactorStatus
from .phases import Phase
from .state import ClientState, report
from .timings import ConnectionTimings

T = TypeVar("T")


class ClientMachine:
    """Sans-IO Reactor client.  See the module docstring for how to drive it."""

    def __init__(self, config: ClientConfig, *, rng: random.Random) -> None:
        self._state = ClientState.create(config, rng)

    # ---- outbox and events -----------------------------------------------------------------

    def next_action(self) -> ClientAction | None:
        actions = self._state.actions
        return actions.popleft() if actions else None

    def drain_actions(self) -> list[ClientAction]:
        actions = list(self._state.actions)
        self._state.actions.clear()
        return actions

    def next_event(self) -> ClientEvent | None:
        events = self._state.events
        return events.popleft() if events else None

    def drain_events(self) -> list[ClientEvent]:
        events = list(self._state.events)
        self._state.events.clear()
        return events

    def pending_actions(self) -> Iterator[ClientAction]:
        return iter(self._state.actions)

    # ---- queries -----------------------------------------------------------------------------

    @property
    def config(self) -> ClientConfig:
        return self._state.config

    @property
    def phase(self) -> Phase:
        return self._state.phase

    @property
    def status(self) -> ReactorStatus:
        return self._state.status

    @property
    def jwt(self) -> str | None:
        """The token the coordinator gave (or the one configured): ``/clips`` needs it."""
        return self._state.jwt

    @property
    def session_id(self) -> str | None:
        return self._state.session_id

    @property
    def capabilities(self) -> Capabilities | None:
        return self._state.capabilities

    @property
    def session_info(self) -> SessionSnapshot | None:
        """The last session response (descriptor or readiness poll)."""
        return self._state.session_snapshot

    @property
    def schema(self) -> ModelSchema | None:
        return self._state.schema

    @property
    def tracks(self) -> tuple[TrackCapability, ...]:
        return self._state.tracks

    @property
    def last_error(self) -> ReactorError | None:
        return self._state.last_error

    @property
    def connection_id(self) -> int | None:
        return self._state.connection_id

    @property
    def peer_id(self) -> int | None:
        return self._state.peer_id

    @property
    def created_session(self) -> bool:
        return self._state.created_session

    @property
    def expires_at(self) -> float | None:
        return self._state.expires_at

    @property
    def max_message_bytes(self) -> int:
        return self._state.max_message_bytes

    @property
    def published_tracks(self) -> frozenset[str]:
        return frozenset(self._state.published)

    @property
    def paused_tracks(self) -> frozenset[str]:
        return frozenset(self._state.user_paused)

    @property
    def wire(self) -> Wire:
        """The wire of the current (or last) connection: v0 JSON or v1 protobuf."""
        return self._state.wire.wire

    @property
    def channels_open(self) -> bool:
        return self._state.channels_open

    @property
    def waiting_since(self) -> float | None:
        """When the status became WAITING (the ``now`` of that input); None otherwise."""
        return self._state.waiting_since

    @property
    def queue_position(self) -> int | None:
        """The coordinator's last queue position while WAITING (1 = next), if it sent one."""
        return self._state.queue_position

    @property
    def connection_timings(self) -> ConnectionTimings | None:
        """The steps of the last connect/reconnect that reached READY, with their times."""
        return self._state.timings

    def recvonly_tracks(self) -> list[str]:
        return flow.track_directions(self._state.tracks, "recvonly")

    def is_quiescent(self) -> bool:
        """True when nothing is in flight: idle/suspended/ready with no pending exchange."""
        s = self._state
        return (s.phase in (Phase.IDLE, Phase.SUSPENDED, Phase.READY)
                and len(s.ex) == 0 and s.control.pending_count == 0)

    # ---- timers ------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest time at which :meth:`handle_timeout` has work to do."""
        return inbound.next_deadline(self._state)

    def handle_timeout(self, now: float) -> None:
        inbound.handle_timeout(self._state, now)

    # ---- operations --------------------------------------------------------------------------

    def _guard(self, failure: Failure, call: Callable[[], T]) -> T:
        try:
            return call()
        except ReactorError as exc:
            # refused at once: reported like any failure; the documented form is raised
            raise report(self._state, exc, failure) from None

    def refuse(self, failure: Failure, error: ReactorError) -> ReactorError:
        """The adapter refused a call before it reached the machine (e.g. an argument only
        the adapter can check): report it as ``failure``; returns what to raise."""
        return report(self._state, error, failure)

    def connect(self, now: float, *, session_id: str | None = None,
                connection_id: int | None = None,
                auto_resume_tracks: bool | None = None) -> int:
        """Start connecting; the returned op completes when READY (or with the error)."""
        return self._guard(Failure.CONNECT, lambda: operations.connect(
            self._state, now, session_id=session_id, connection_id=connection_id,
            auto_resume_tracks=auto_resume_tracks))

    def reconnect(self, now: float) -> int:
        """Resume the retained session on a fresh connection (F7: raises when impossible)."""
        return self._guard(Failure.RECONNECT, lambda: operations.reconnect(self._state, now))

    def disconnect(self, now: float, *, recoverable: bool = False,
                   reason: str | None = None) -> int:
        """End the connection; keep the session when ``recoverable`` (F4, F11).

        Cancels a connect in progress (its op completes with ``AbortedError``).  The returned
        op completes once the session is terminated (creator only) or at once otherwise.
        """
        return operations.disconnect(self._state, now, recoverable=recoverable, reason=reason)

    def abort(self, now: float) -> int:
        """Cancellation: abandon whatever is in progress and end the session we created."""
        return self.disconnect(now, recoverable=False, reason="client cancelled")

    def send_command(self, command: str, data: Any, now: float) -> int:
        """Validate (when the schema is known), encode and send one command (F1, F2, F24).

        The op completes with the correlated reply on v1 (None for an ack) and at once with
        None on v0, which has no replies (``wire_ops.py``)."""
        return self._guard(Failure.SEND,
                           lambda: operations.send_command(self._state, command, data, now))

    def send_runtime_message(self, type_: str, data: Mapping[str, Any] | None,
                             now: float) -> None:
        def send() -> None:
            operations.require_ready(self._state, f"send_runtime_message({type_!r})")
            flow.send_runtime(self._state, type_, data, now=now)

        self._guard(Failure.SEND, send)

    def request_schema(self, now: float) -> int:
        """Ask the runtime for its OpenAPI command schema; the op completes with the
        document (v1: the correlated ``model_schema``; v0: the next ``modelSchema``)."""
        return wire_ops.request_schema(self._state, now)

    def request_clip(self, duration_seconds: object, now: float, *,
                     timeout: float | None = None) -> int:
        """Ask for the last ``duration_seconds`` seconds (§10); the op completes with the
        :class:`~reactor_proto.recording.Clip` or a typed ``RecordingError``."""
        return self._guard(Failure.OTHER, lambda: wire_ops.request_clip(
            self._state, f"request_clip({duration_seconds!r})", duration_seconds, now,
            timeout))

    def request_recording(self, now: float, *, timeout: float | None = None) -> int:
        """Ask for the whole session so far, like :meth:`request_clip`."""
        return self._guard(Failure.OTHER, lambda: wire_ops.request_clip(
            self._state, "request_recording()", None, now, timeout))

    def publish_track(self, name: str, now: float) -> int:
        """Ask for the publisher slot of a sendonly track; AttachTrack follows a grant."""
        return self._guard(Failure.PUBLISH,
                           lambda: operations.publish_track(self._state, name, now))

    def unpublish_track(self, name: str, now: float) -> None:
        self._guard(Failure.UNPUBLISH, lambda: operations.unpublish_track(self._state, name))

    def pause_track(self, name: str, now: float) -> None:
        operations.set_paused(self._state, name, True)

    def resume_track(self, name: str, now: float) -> None:
        operations.set_paused(self._state, name, False)

    def upload(self, name: str, mime_type: str, data: bytes, now: float) -> int:
        """Upload a file to the session (§9); completes with a FileRef."""
        return self._guard(Failure.UPLOAD, lambda: operations.upload(
            self._state, name, mime_type, data, now))

    # ---- stepped generation (§15, ``stepping.py``) ---------------------------------------------

    def step(self, state: object, commands: object, media: Sequence[tuple[str, Frame]],
             now: float) -> int:
        """Send one step (the frames pushed since the last one, then ``media``); the op
        completes with the wire ``StepResult`` or the step's typed error."""
        return self._guard(Failure.OTHER, lambda: wire_ops.step(
            self._state, state, commands, media, now))

    def push_step_frame(self, track: str, frame: Frame, *, rate: int | None = None) -> None:
        wire_ops.push_step_frame(self._state, track, frame, rate)

    def clear_step_inputs(self) -> None:
        wire_ops.clear_step_inputs(self._state)

    @property
    def buffered_step_frames(self) -> int:
        return len(self._state.step_inputs)

    # ---- adapter inputs: HTTP ----------------------------------------------------------------

    def http_response(self, request_id: int, response: HttpResponse, now: float) -> None:
        """The exchange ``request_id`` got a complete response (any status)."""
        responses.http_response(self._state, request_id, response, now)

    def http_failed(self, request_id: int, error: ReactorError, now: float) -> None:
        """The exchange ``request_id`` got no response (reset, refused, TLS, truncated)."""
        responses.http_failed(self._state, request_id, error, now)

    # ---- adapter inputs: the peer connection -------------------------------------------------

    def offer_created(self, peer_id: int, sdp: str, mids: Mapping[str, str], now: float) -> None:
        """The peer's offer is ready (candidates gathered); ``mids`` maps track name -> MID."""
        flow.offer_created(self._state, peer_id, sdp, mids, now)

    def answer_applied(self, peer_id: int, now: float) -> None:
        flow.answer_applied(self._state, peer_id, now)

    def peer_failed(self, peer_id: int, reason: str, now: float) -> None:
        """Creating the offer, applying the answer, or the connection itself failed."""
        flow.peer_failed(self._state, peer_id, reason, now)

    def peer_state(self, peer_id: int, state: str, now: float) -> None:
        flow.peer_state(self._state, peer_id, state, now)

    def channel_opened(self, peer_id: int, label: str, now: float) -> None:
        flow.channel_opened(self._state, peer_id, label, now)

    def channel_closed(self, peer_id: int, label: str, now: float) -> None:
        flow.channel_closed(self._state, peer_id, label, now)

    def channel_message(self, peer_id: int, label: str, message: str | bytes,
                        now: float) -> None:
        inbound.channel_message(self._state, peer_id, label, message, now)
