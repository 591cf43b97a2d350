"""The runtime session's transition table and the state shared by the machine's parts.

:class:`SessionCore` holds the configuration, the registries, the outbox and the session
state, and moves that state only through :data:`TRANSITIONS`;
:class:`~reactor_proto.runtime.transports.TransportInputs` adds the peer and channel
inputs and :class:`~reactor_proto.runtime.machine.RuntimeMachine` the rest.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from typing import Any, Final

from ..errors import InvalidStateError
from .actions import CloseTransport, RuntimeAction, TeardownSession
from .channels import Channels
from .config import RuntimeConfig
from .connections import ConnectionRegistry
from .descriptor import ModelDocuments
from .events import (
    ClientDisconnected,
    DisconnectReason,
    RuntimeEvent,
    SessionEnded,
    SessionStarted,
    SessionState,
    StartingInput,
    StateChanged,
)
from .outbox import Outbox
from .step_plan import StepRefusal, plan_calls
from .step_store import StepStore
from .stepping import StartOptions, Stepper, session_ended_result
from .uploads import UploadStore


class Trigger(enum.Enum):
    MODEL_LOADED = "model_loaded"
    START = "start_session"
    FIRST_CONNECTED = "client_connected"
    LAST_DISCONNECTED = "client_disconnected"
    STOP = "stop_session"
    ORPHAN_TIMEOUT = "timeout"
    CLEANUP_COMPLETE = "cleanup_complete"


_S = SessionState
#: The whole session life cycle (docs/protocol §1.5).  Self-loops (connections opening and
#: closing while others remain) change no state and are not listed.
TRANSITIONS: Final[Mapping[tuple[SessionState, Trigger], SessionState]] = {
    (_S.CREATED, Trigger.MODEL_LOADED): _S.READY,
    (_S.READY, Trigger.START): _S.WAITING,
    (_S.WAITING, Trigger.FIRST_CONNECTED): _S.STREAMING,
    (_S.ORPHANED, Trigger.FIRST_CONNECTED): _S.STREAMING,
    (_S.STREAMING, Trigger.LAST_DISCONNECTED): _S.ORPHANED,
    (_S.WAITING, Trigger.STOP): _S.CLOSING,
    (_S.STREAMING, Trigger.STOP): _S.CLOSING,
    (_S.ORPHANED, Trigger.STOP): _S.CLOSING,
    (_S.WAITING, Trigger.ORPHAN_TIMEOUT): _S.CLOSING,
    (_S.ORPHANED, Trigger.ORPHAN_TIMEOUT): _S.CLOSING,
    (_S.CLOSING, Trigger.CLEANUP_COMPLETE): _S.READY,
}
#: A session exists (transport routes and uploads are served).
RUNNING_STATES: Final = frozenset({_S.WAITING, _S.STREAMING, _S.ORPHANED})


class SessionCore:
    """The state every part of the machine shares, the table and the session inputs."""

    def __init__(self, config: RuntimeConfig, *, rng: random.Random) -> None:
        self.config = config
        self._rng = rng
        self.documents = ModelDocuments.build(config)
        self._outbox = Outbox()
        self.connections = ConnectionRegistry(max_connections=config.max_connections)
        self.uploads = UploadStore(max_upload_bytes=config.max_upload_bytes,
                                   max_total_bytes=config.max_total_upload_bytes,
                                   max_uploads=config.max_uploads)
        self.stepper = Stepper()
        self.step_store = StepStore(max_steps=config.step_results_max,
                                    max_bytes=config.step_results_max_bytes,
                                    retention=config.step_results_retention)
        self.channels = Channels(config=config, documents=self.documents,
                                 registry=self.connections, uploads=self.uploads,
                                 outbox=self._outbox, stepper=self.stepper)
        self._state = _S.READY if config.start_ready else _S.CREATED
        self.orphan_deadline: float | None = None
        self._negotiations = 0
        self._ending_reason = ""

    # ---- queries --------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def slots(self) -> Mapping[str, int]:
        """Input track name -> connection holding its publisher slot."""
        return dict(self.channels.slots)

    def allows(self, trigger: Trigger) -> bool:
        return (self._state, trigger) in TRANSITIONS

    def connected_users(self) -> int:
        return self.connections.installed_count()

    def slot_holder(self, track: str) -> int | None:
        """The connection holding input ``track``'s publisher slot: the only one whose media
        for that track reaches the model."""
        return self.channels.slots.get(track)

    # ---- outbox ---------------------------------------------------------------------------

    def next_action(self) -> RuntimeAction | None:
        return self._outbox.actions.popleft() if self._outbox.actions else None

    def drain_actions(self) -> list[RuntimeAction]:
        drained = list(self._outbox.actions)
        self._outbox.actions.clear()
        return drained

    def next_event(self) -> RuntimeEvent | None:
        return self._outbox.events.popleft() if self._outbox.events else None

    # ---- the table ------------------------------------------------------------------------

    def _fire(self, trigger: Trigger, now: float) -> None:
        target = TRANSITIONS.get((self._state, trigger))
        if target is None:
            raise InvalidStateError(
                f"{trigger.value}: not allowed in state {self._state.value}")
        previous, self._state = self._state, target
        self._outbox.tell(StateChanged(previous=previous, state=target))
        if target in (_S.WAITING, _S.ORPHANED):
            timeout = self.config.orphan_timeout
            self.orphan_deadline = now + timeout if timeout > 0 else None
        else:
            self.orphan_deadline = None
        if target is _S.CLOSING:
            self._teardown(now)

    def _teardown(self, now: float) -> None:
        """Entering CLOSING: every connection, slot, upload and timer goes."""
        remaining = self.connections.installed_count()
        # steps still in flight are answered before the notice (§15.6 SESSION_ENDED)
        for connection_id, request_id in self.stepper.end():
            conn = self.connections.get(connection_id)
            if conn is not None and conn.installed:
                self.channels.step_result(conn, request_id, session_ended_result())
        self.channels.session_ended(self._ending_reason)
        for conn in self.connections:
            if conn.has_transport:
                self._outbox.act(CloseTransport(connection_id=conn.connection_id))
            if conn.installed:
                remaining -= 1
                self._outbox.tell(ClientDisconnected(
                    connection_id=conn.connection_id, connected_users=remaining,
                    reason=DisconnectReason.SESSION_ENDED))
        self.channels.release_all_slots()
        self.connections.clear()
        self.uploads.clear()
        self._outbox.tell(SessionEnded(reason=self._ending_reason))
        if self.config.confirm_teardown:
            self._outbox.act(TeardownSession(reason=self._ending_reason))
        else:
            self._fire(Trigger.CLEANUP_COMPLETE, now)

    # ---- adapter inputs: model and session ------------------------------------------------

    def model_loaded(self, now: float) -> None:
        """The model finished loading: CREATED -> READY."""
        self._fire(Trigger.MODEL_LOADED, now)

    def cleanup_complete(self, now: float) -> None:
        """The teardown asked for by ``TeardownSession`` is done: CLOSING -> READY."""
        self._fire(Trigger.CLEANUP_COMPLETE, now)

    def check_start_options(self, options: StartOptions) -> str | None:
        """Why ``options.starting_input`` cannot run (the model's contract refuses it)."""
        calls = plan_calls([(entry, command, data, {})
                            for entry, command, data in options.starting_input],
                           schema=self.config.model_schema, completed=lambda _: None)
        return calls.error if isinstance(calls, StepRefusal) else None

    def start_session(self, extra_args: Mapping[str, Any], now: float, *,
                      options: StartOptions | None = None) -> bool:
        """READY -> WAITING; False (no change) when a session runs or none can start.
        ``options``: the stepping fields of the body (checked by the caller)."""
        if not self.allows(Trigger.START):
            return False
        options = options or StartOptions()
        calls = plan_calls([(entry, command, data, {})
                            for entry, command, data in options.starting_input],
                           schema=self.config.model_schema, completed=lambda _: None)
        if isinstance(calls, StepRefusal):
            raise InvalidStateError(f"start_session: {calls.error}")
        # not drawn from the rng: connection ids must not change with the mode
        session_id = options.session_id or f"session-{self.stepper.epoch + 1}"
        self.stepper.begin(options, session_id)
        self._fire(Trigger.START, now)
        self._outbox.tell(SessionStarted(extra_args=dict(extra_args),
                                         generation=options.generation))
        if calls:
            self._outbox.tell(StartingInput(calls=calls))
        return True

    def stop_session(self, reason: str, now: float) -> bool:
        """End the running session (stop_session route, or the host shutting down)."""
        if not self.allows(Trigger.STOP):
            return False
        self._ending_reason = reason
        self._fire(Trigger.STOP, now)
        return True
