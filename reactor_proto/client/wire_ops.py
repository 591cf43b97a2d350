"""The operations whose outcome depends on the wire: a command's reply, the schema request.

Both return an operation id on either wire, so a caller never branches on the wire:

* ``send_command``: on v1 the op completes with the model's reply (``{"type", "data"}``),
  None for an ack, or the typed error of an error reply; on v0, where replies are not
  correlated, it completes at once with None (a reply still arrives as a ``message``).
* ``request_schema``: completes with the OpenAPI document; on v0 with the ``data`` of the
  next ``modelSchema`` runtime message (bounded, with the control-request deadline).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..envelope import encode_command
from ..errors import DataChannelChunkingRequiredError, InvalidStateError, LocalProtocolError
from ..recording.client import REQUEST_TIMEOUT
from ..wire_v1 import Frame
from . import clips, v1
from .actions import SendChannel
from .events import OperationKind
from .flow import send_runtime
from .phases import Phase
from .state import ClientState, act, complete, new_op
from .stepping import STEPPED, build_request, check_ready_to_step
from .wire import MAX_SCHEMA_WAITERS, Purpose


def send_command(s: ClientState, command: str, payload: Mapping[str, Any], now: float) -> int:
    """Encode and send a checked command; raises (and sends nothing) when it cannot."""
    assert s.peer_id is not None
    if s.wire.is_v1:
        op = new_op(s)
        v1.send_command(s, command, payload, op, now)
        return op
    text = encode_command(command, payload, max_bytes=s.max_message_bytes)
    act(s, SendChannel(peer_id=s.peer_id, channel="data", text=text))
    op = new_op(s)
    complete(s, op, OperationKind.COMMAND)  # v0 has no replies
    return op


def request_schema(s: ClientState, now: float) -> int:
    if s.phase is not Phase.READY:
        raise InvalidStateError(f"request_schema(): the connection is {s.status.value}, "
                                "not ready")
    if s.wire.is_v1:
        op = new_op(s)
        v1.request_schema(s, op, now)
        return op
    waiters = s.wire.schema_waiters
    if len(waiters) >= MAX_SCHEMA_WAITERS:
        raise InvalidStateError(f"request_schema(): {MAX_SCHEMA_WAITERS} requests already "
                                "wait for the schema")
    send_runtime(s, "requestSchema")
    op = new_op(s)
    waiters.append((op, now + s.config.deadlines.control_request))
    return op


def schema_arrived(s: ClientState, document: Any) -> None:
    """v0: a ``modelSchema`` arrived; it answers every schema request waiting."""
    waiters = s.wire.schema_waiters
    while waiters:
        complete(s, waiters.popleft()[0], OperationKind.SCHEMA, value=document)


def request_clip(s: ClientState, what: str, duration_seconds: object, now: float,
                 timeout: float | None) -> int:
    """A clip (``request_clip(...)``) or the whole recording (``request_recording()``); the
    op completes with the :class:`~reactor_proto.recording.Clip` or a RecordingError."""
    request = clips.check_request(s, what, duration_seconds)
    if timeout is not None and not (isinstance(timeout, int | float) and 0 < timeout < 1e6):
        raise LocalProtocolError(f"{what}: timeout: expected seconds above 0, got {timeout!r}")
    op = new_op(s)
    if s.wire.is_v1:
        v1.request_clip(s, request, op, now, REQUEST_TIMEOUT if timeout is None else timeout)
    else:
        clips.send_v0(s, request, op, now, timeout)
    return op


def publish_pending(s: ClientState, name: str) -> bool:
    return any(r.purpose is Purpose.PUBLISH and r.name == name
               for r in s.wire.requests.values())


def publish_track_v1(s: ClientState, name: str, op: int, now: float) -> None:
    v1.publish_track(s, name, op, now)


# ---- stepped generation (§15; the rules are in stepping.py) ---------------------------------


def push_step_frame(s: ClientState, track: str, frame: Frame, rate: int | None = None) -> None:
    """Buffer a frame for the next step; only on an input track of a stepped session
    (``rate``: the sample rate of an audio frame)."""
    if s.config.generation != STEPPED:
        raise InvalidStateError(f"push_frame({track!r}): frames are buffered for a step only "
                                "in a stepped session")
    _check_input_track(s, track)
    s.step_inputs.push(track, frame, rate=rate)


def clear_step_inputs(s: ClientState) -> None:
    if s.config.generation != STEPPED:
        raise InvalidStateError("clear_step_inputs(): needs a stepped session: create the "
                                "client with generation='stepped'")
    s.step_inputs.clear()


def step(s: ClientState, state: object, commands: object,
         media: Sequence[tuple[str, Frame]], now: float) -> int:
    """Check, encode and send one step.  Anything refused here leaves the pushed frames
    where they were; once the request is encoded they belong to this step."""
    check_ready_to_step(s.config.generation, s.phase is Phase.READY, s.status.value)
    if not s.wire.is_v1 or s.wire.send_limit is None:  # connect() checked; a reconnect may not
        raise DataChannelChunkingRequiredError("step(): this connection has no chunking")
    for track, _ in media:
        _check_input_track(s, track)
    pushed = s.step_inputs.peek()
    request = build_request(state, commands, [*pushed, *media], s.step_inputs.rates())
    op = new_op(s)
    v1.request_step(s, request, op, now)  # raises MessageTooLargeError before sending
    s.step_inputs.clear()
    return op


def _check_input_track(s: ClientState, track: str) -> None:
    inputs = [t.name for t in s.tracks if t.direction == "sendonly"]
    if s.tracks and track not in inputs:
        raise LocalProtocolError(f"track {track!r}: not an input track of the model "
                                 f"(inputs: {', '.join(inputs) or 'none'})")
