"""Inbound channel messages and timers: the inputs that are neither HTTP nor the user's."""

from __future__ import annotations

from typing import Any

from ..control import ControlResponse, decode_control
from ..envelope import Scope, decode_inbound
from ..errors import DecodeError, ErrorCode, ReactorError, RequestTimeoutError, TransportError
from ..schema import parse_openapi
from ..wire_v1 import Wire, sniff
from . import clips, spare, v1
from .actions import AttachTrack
from .events import MessageReceived, OperationKind, RuntimeMessageReceived, SchemaReceived
from .flow import begin_reconnect, is_current, send_runtime
from .phases import FLOW_PHASES, Phase
from .responses import expire_exchange
from .state import ClientState, act, complete, emit, report, send
from .teardown import fail_flow, finish_termination
from .wire_ops import schema_arrived

# ---- channel messages ------------------------------------------------------------------------


def channel_message(s: ClientState, peer_id: int, label: str, message: str | bytes,
                    now: float = 0.0) -> None:
    if not is_current(s, peer_id):
        return
    wholes, errors = s.wire.unchunk(label, message, now)
    for error in errors:
        report(s, error)
    for whole in wholes:
        # each message is sniffed: a v1 connection may still get the runtime's early v0 text
        if isinstance(whole, bytes) and sniff(whole) is Wire.V1:
            v1.on_message(s, label, whole)
        elif label == "control":
            on_control_message(s, whole)
        else:
            on_data_message(s, whole, now)


def on_data_message(s: ClientState, message: str | bytes, now: float = 0.0) -> None:
    try:
        inbound = decode_inbound(message)
    except DecodeError as exc:
        report(s, exc)
        return
    if inbound.scope is Scope.RUNTIME:
        on_runtime_message(s, inbound.payload)
        emit(s, RuntimeMessageReceived(payload=inbound.payload))
        if isinstance(inbound.payload, dict):  # after the event, as the reply completes an op
            clips.on_v0_message(s, inbound.payload.get("type"), inbound.payload.get("data"),
                                now)
    else:
        emit(s, MessageReceived(payload=inbound.payload))


def on_runtime_message(s: ClientState, payload: Any) -> None:
    kind = payload.get("type") if isinstance(payload, dict) else None
    data = payload.get("data") if isinstance(payload, dict) else None
    if kind == "modelSchema":
        try:
            schema = parse_openapi(data)
        except DecodeError as exc:
            report(s, exc)
            return
        if schema != s.schema:
            s.schema = schema
            emit(s, SchemaReceived(schema=schema))
        schema_arrived(s, data)
    elif kind == "commandRejected" and isinstance(data, dict):
        report(s, ReactorError(
            f"the runtime rejected command {data.get('command')!r}: "
            f"{data.get('reason')}", code="COMMAND_REJECTED", component="gpu"))


def on_control_message(s: ClientState, message: str | bytes) -> None:
    try:
        decoded = decode_control(message)
    except DecodeError as exc:
        report(s, exc)
        return
    if not isinstance(decoded, ControlResponse):
        return
    resolved = s.control.resolve(decoded)
    if resolved is None:
        return
    pending, error = resolved
    if error is None and pending.method == "publish_track":
        s.published.add(pending.track)
        assert s.peer_id is not None
        act(s, AttachTrack(peer_id=s.peer_id, track=pending.track))
    complete(s, pending.op, OperationKind.PUBLISH, error=error)


# ---- timers ----------------------------------------------------------------------------------


def next_deadline(s: ClientState) -> float | None:
    times = [s.ex.next_deadline(), s.control.next_deadline(), s.ping_due, s.reconnect_at,
             s.phase_deadline, s.wire.next_deadline(), s.spare_due]
    present = [t for t in times if t is not None]
    return min(present) if present else None


def handle_timeout(s: ClientState, now: float) -> None:
    wake, late = s.ex.due(now)
    for exchange in late:
        if exchange.in_flight:
            expire_exchange(s, exchange, now)
    for exchange in wake:
        if exchange.wake_at is not None and exchange.wake_at <= now:
            send(s, exchange, now)
    for pending, error in s.control.expire(now):
        complete(s, pending.op, OperationKind.PUBLISH, error=error)
    v1.expire(s, now)
    if s.phase_deadline is not None and now >= s.phase_deadline:
        on_phase_deadline(s, now)
    if s.phase is Phase.READY and s.ping_due is not None and now >= s.ping_due:
        send_runtime(s, "ping")
        s.ping_due = now + s.config.ping_interval
    spare.on_timeout(s, now)
    if s.phase is Phase.SUSPENDED and s.reconnect_at is not None and now >= s.reconnect_at:
        s.reconnect_at = None
        begin_reconnect(s, now, op=None)


_PHASE_WORK = {
    Phase.PREPARING: "preparing the connection (ICE servers, registration, offer)",
    Phase.APPLYING_ANSWER: "applying the SDP answer",
    Phase.CONNECTING_TRANSPORT: "ICE/DTLS/SCTP connection to the runtime",
}


def on_phase_deadline(s: ClientState, now: float) -> None:
    phase = s.phase
    if phase is Phase.TERMINATING:
        finish_termination(s, ReactorError(
            "terminating the session timed out; it will expire on the server",
            code=ErrorCode.REQUEST_TIMEOUT, recoverable=False), now)
        return
    if phase in FLOW_PHASES:
        what = _PHASE_WORK.get(phase, phase.value.replace("_", " "))
        error: ReactorError = RequestTimeoutError(f"{what} did not finish in time")
        if phase is Phase.CONNECTING_TRANSPORT:
            error = TransportError(f"{what} did not come up within "
                                   f"{s.config.deadlines.transport:g} s")
        fail_flow(s, error, now)
