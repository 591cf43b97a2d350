"""The connect pipeline's steps, and what each peer-connection input does to the machine.

Each step moves the phase with the trigger that names what just finished (``phases.py``
says where it leads) and queues the exchanges or peer actions of the next step.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..bodies import TrackMappingEntry, parse_sdp_answer
from ..capabilities import TrackCapability
from ..constants import MAX_DATA_CHANNEL_MESSAGE_BYTES
from ..envelope import FileRef, encode_runtime_message
from ..errors import DisconnectedError, Failure, TransportError
from ..sdp import ice_identity, munge_answer, remote_max_message_size
from . import spare, v1
from .actions import ApplyAnswer, CreatePeer, SendChannel
from .events import OperationKind
from .exchanges import Exchange, Purpose
from .phases import FLOW_PHASES, PEER_PHASES, Phase, Trigger
from .state import ClientState, act, complete, goto, report, set_session, start
from .stepping import check_connection
from .teardown import close_peer, end_flow, fail_flow, schedule_auto_reconnect
from .wire import CLIENT_STATS_INTERVAL, ConnectionWire, choose_wire

_FAILED_PEER_STATES = frozenset({"failed", "closed"})


def max_message_size(answer_sdp: str) -> int:
    """What we may send: the answer's ``a=max-message-size`` (0 = unlimited), else aiortc's
    assumed 64 KiB (F23), never above the protocol's 256 KiB envelope limit."""
    size = remote_max_message_size(answer_sdp)
    return MAX_DATA_CHANNEL_MESSAGE_BYTES if size == 0 else min(
        size, MAX_DATA_CHANNEL_MESSAGE_BYTES)


def track_directions(tracks: tuple[TrackCapability, ...], direction: str) -> list[str]:
    return [t.name for t in tracks if t.direction == direction]


# ---- starting ----------------------------------------------------------------------------


def begin_connect(s: ClientState, now: float, session_id: str | None) -> None:
    """The first step of connect(): token, session creation or an adopted session's poll."""
    config = s.config
    if config.api_key is not None and not config.local:
        goto(s, Trigger.CONNECT_WITH_KEY, now)
        if session_id is not None:
            s.created_session = False
            set_session(s, session_id)
        start(s, Purpose.TOKEN, s.req.token(), now)
    elif config.local:
        goto(s, Trigger.CONNECT, now)
        start(s, Purpose.START_SESSION, s.req.start_session(), now)
    elif session_id is not None:
        s.created_session = False
        goto(s, Trigger.ADOPT, now)
        set_session(s, session_id)
        begin_session_poll(s, now)
    else:
        goto(s, Trigger.CONNECT, now)
        start(s, Purpose.CREATE_SESSION, s.req.create_session(s.jwt), now)


def begin_reconnect(s: ClientState, now: float, *, op: int | None) -> None:
    """Return to the retained session on a fresh connection (``op`` None: scheduled)."""
    s.flow_op, s.flow_kind = op, OperationKind.RECONNECT
    s.reconnect_at = None  # an explicit reconnect supersedes a scheduled one
    s.reconnecting = True
    if s.config.api_key is not None and not s.config.local:
        goto(s, Trigger.RECONNECT_WITH_KEY, now)
        start(s, Purpose.TOKEN, s.req.token(), now)
    elif not s.config.local:
        goto(s, Trigger.RECONNECT, now)
        begin_session_poll(s, now)
    else:
        enter_preparing(s, now, Trigger.RECONNECT_LOCAL)


# ---- pipeline steps ----------------------------------------------------------------------


def after_token(s: ClientState, now: float) -> None:
    if s.session_id is None:
        goto(s, Trigger.TOKEN, now)
        start(s, Purpose.CREATE_SESSION, s.req.create_session(s.jwt), now)
    else:
        goto(s, Trigger.TOKEN_FOR_SESSION, now)
        begin_session_poll(s, now)


def begin_session_poll(s: ClientState, now: float) -> None:
    assert s.session_id is not None
    s.poll_until = now + s.config.deadlines.session_ready
    start(s, Purpose.POLL_SESSION, s.req.get_session(s.session_id, s.jwt), now)


def enter_preparing(s: ClientState, now: float, trigger: Trigger) -> None:
    """Register the connection, fetch ICE servers (once per session), create the peer."""
    goto(s, trigger, now)
    assert s.session_id is not None
    if s.given_connection_id is not None and not s.reconnecting:
        s.connection_id = s.given_connection_id
    else:
        start(s, Purpose.REGISTER, s.req.register_connection(s.session_id, s.jwt), now)
    if s.ice_servers is None:
        start(s, Purpose.ICE_SERVERS, s.req.ice_servers(s.session_id, s.jwt), now)
    else:
        create_peer(s)


def create_peer(s: ClientState) -> None:
    assert s.ice_servers is not None
    s.next_peer_id += 1
    s.peer_id = s.next_peer_id
    # the wire of this connection, decided from what we know now (wire.py): no probe
    s.wire = ConnectionWire(wire=choose_wire(s.config.wire, local=s.config.local,
                                             snapshot=s.session_snapshot))
    act(s, CreatePeer(peer_id=s.peer_id, tracks=s.tracks, ice_servers=s.ice_servers))
    s.spare_asked = False  # the adapter takes the spare for this peer, or drops it


def maybe_send_offer(s: ClientState, now: float) -> None:
    """Send the offer once both the offer and the connection id are known."""
    if s.phase is not Phase.PREPARING or s.offer_sdp is None or s.connection_id is None:
        return
    assert s.session_id is not None
    mapping = [TrackMappingEntry(mid=s.mids[t.name], name=t.name, kind=t.kind,
                                 direction=t.direction) for t in s.tracks]
    goto(s, Trigger.OFFER_READY, now)
    request = s.req.offer(s.session_id, s.jwt, s.connection_id, s.wire.offer(s.offer_sdp),
                          mapping, renegotiate=False)
    start(s, Purpose.OFFER, request, now)


def offer_sent(s: ClientState, now: float) -> None:
    goto(s, Trigger.OFFER_SENT, now)
    s.poll_until = now + s.config.deadlines.answer
    assert s.session_id is not None
    assert s.connection_id is not None
    start(s, Purpose.POLL_ANSWER, s.req.poll_answer(s.session_id, s.jwt, s.connection_id),
          now)


def answer_received(s: ClientState, body: object, now: float) -> bool:
    """Apply the answer; False when it is the replaced connection's (F9: poll again)."""
    answer = parse_sdp_answer(body)
    identity = ice_identity(answer.sdp)
    if identity == s.previous_answer_identity and identity != (None, None):
        return False
    munged = munge_answer(answer.sdp)
    s.answer_identity = identity
    s.max_message_bytes = max_message_size(munged)
    s.wire.answer(answer.sdp, s.max_message_bytes)
    check_connection(s.config.generation, s.wire)  # §15.2: a step needs v1 + chunking
    goto(s, Trigger.ANSWER_RECEIVED, now)
    assert s.peer_id is not None
    act(s, ApplyAnswer(peer_id=s.peer_id, sdp=munged))
    return True


# ---- adapter inputs: the peer connection -------------------------------------------------


def is_current(s: ClientState, peer_id: int) -> bool:
    return peer_id == s.peer_id and s.phase in PEER_PHASES


def offer_created(s: ClientState, peer_id: int, sdp: str, mids: Mapping[str, str],
                  now: float) -> None:
    if not is_current(s, peer_id) or s.phase is not Phase.PREPARING:
        return
    missing = [t.name for t in s.tracks if t.name not in mids]
    if missing:
        fail_flow(s, TransportError(f"offer has no MID for track(s) {missing}"), now)
        return
    s.offer_sdp = sdp
    s.mids = dict(mids)
    maybe_send_offer(s, now)


def answer_applied(s: ClientState, peer_id: int, now: float) -> None:
    if not is_current(s, peer_id) or s.phase is not Phase.APPLYING_ANSWER:
        return
    goto(s, Trigger.ANSWER_APPLIED, now)
    check_transport_up(s, now)


def peer_failed(s: ClientState, peer_id: int, reason: str, now: float) -> None:
    if is_current(s, peer_id):
        lose_transport(s, TransportError(f"peer connection failed: {reason}"), now)


def peer_state(s: ClientState, peer_id: int, state: str, now: float) -> None:
    if not is_current(s, peer_id):
        return
    if state == "connected":
        s.peer_connected = True
        check_transport_up(s, now)
    elif state in _FAILED_PEER_STATES:
        lose_transport(s, TransportError(f"peer connection state became {state!r}"), now)


def channel_opened(s: ClientState, peer_id: int, label: str, now: float) -> None:
    if is_current(s, peer_id):
        s.open_channels.add(label)
        if label == "control" and s.wire.is_v1:
            v1.first_frame(s)
        check_transport_up(s, now)


def channel_closed(s: ClientState, peer_id: int, label: str, now: float) -> None:
    # F6: a closed channel is the earliest sign that the runtime went away.
    if is_current(s, peer_id):
        s.open_channels.discard(label)
        lose_transport(s, TransportError(f"data channel {label!r} closed"), now)


def lose_transport(s: ClientState, error: TransportError, now: float) -> None:
    if s.phase in FLOW_PHASES:
        fail_flow(s, error, now)
        return
    # READY: keep the session, report a recoverable error (never DELETE: F4).
    report(s, TransportError(error.message, recoverable=True), Failure.TRANSPORT)
    close_peer(s)
    goto(s, Trigger.TRANSPORT_LOST, now)
    schedule_auto_reconnect(s, now)


def check_transport_up(s: ClientState, now: float) -> None:
    if s.phase is Phase.CONNECTING_TRANSPORT and s.peer_connected and s.channels_open:
        become_ready(s, now)


def become_ready(s: ClientState, now: float) -> None:
    assert s.peer_id is not None
    goto(s, Trigger.TRANSPORT_UP, now)
    # Outputs start paused on the runtime (§6.7): resume what the user has not paused.
    if s.auto_resume:
        for name in track_directions(s.tracks, "recvonly"):
            if name not in s.user_paused:
                send_control_notification(s, "resume_track", name)
    for queued in s.control.queued:
        send_control_notification(s, queued.event, queued.track)
    s.control.queued.clear()
    s.ping_due = now + s.config.ping_interval
    spare.arm(s, now)
    if s.wire.is_v1:
        s.wire.stats_due = now + CLIENT_STATS_INTERVAL
    s.reconnecting = False
    s.reconnect_at = None
    s.grace_deadline = None
    if s.schema is None and s.config.request_schema:
        send_runtime(s, "requestSchema", now=now)
    end_flow(s, None)


# ---- sending on the channels ---------------------------------------------------------------


def send_control_notification(s: ClientState, event: str, track: str) -> None:
    assert s.peer_id is not None
    if s.wire.is_v1:
        v1.notify_track(s, event, track)
        return
    act(s, SendChannel(peer_id=s.peer_id, channel="control",
                       text=s.control.notification(event, track)))


def send_runtime(s: ClientState, type_: str, data: Mapping[str, object] | None = None, *,
                 now: float = 0.0) -> None:
    """A v0 runtime message, or its v1 form (``now`` times a v1 schema request)."""
    assert s.peer_id is not None
    if s.wire.is_v1:
        v1.send_runtime(s, type_, data, now)
        return
    text = encode_runtime_message(type_, dict(data or {}), max_bytes=s.max_message_bytes)
    act(s, SendChannel(peer_id=s.peer_id, channel="data", text=text))


def upload_stored(s: ClientState, ex: Exchange) -> None:
    """The file is stored: tell the runtime (``fileUploaded``) and complete the upload."""
    file = ex.context
    assert isinstance(file, FileRef)
    if s.phase is not Phase.READY:
        complete(s, ex.op, OperationKind.UPLOAD, error=DisconnectedError(
            "the upload was stored but the connection closed before the runtime was told"))
        return
    send_runtime(s, "fileUploaded", file.to_json())
    complete(s, ex.op, OperationKind.UPLOAD, value=file)
