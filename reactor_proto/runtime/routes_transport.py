"""The WebRTC transport routes of the runtime (docs/protocol §5; Appendix C.2): ICE
servers, connection registration, offers and answers (per connection and legacy), ICE
candidates."""

from __future__ import annotations

from typing import Any, Final

from ..bodies import (
    build_connection_registered,
    build_ice_servers,
    build_offer_accepted,
    build_sdp_answer,
    parse_ice_candidates,
    parse_sdp_offer,
)
from ..bodies.records import SdpOffer
from ..constants import LEGACY_CONNECTION_ID
from ..errors import DecodeError
from ..http import HttpResponse, json_response
from ..sdp import validate_sdp
from .actions import AddIceCandidates
from .connections import Connection
from .events import SessionState
from .route_call import (
    Call,
    check_session,
    connection_of,
    error,
    fail,
    json_body,
    parse_cid,
    query_value,
)

WEBRTC: Final = "sessions/{sid}/transport/webrtc"


def ice_servers(call: Call) -> HttpResponse:
    check_session(call, running=False)
    return json_response(200, build_ice_servers(call.machine.config.ice_servers))


def register(call: Call) -> HttpResponse:
    check_session(call, running=True)
    machine = call.machine
    conn = machine.connections.mint(machine.rng_for_ids(), call.now)
    if conn is None:
        return error(503, f"No connection id available (limit "
                           f"{machine.config.max_connections} connections)")
    conn.negotiation_deadline = machine.config.negotiation_deadline(call.now)
    return json_response(201, build_connection_registered(
        conn.connection_id, track_map=machine.documents.capabilities))


def read_offer(call: Call) -> SdpOffer:
    obj = json_body(call, "sdp_offer")
    try:
        offer = parse_sdp_offer(obj)
        validate_sdp(offer.sdp)
    except DecodeError as exc:
        raise fail(422, exc.message) from None
    tracks = {track.name: track for track in call.machine.config.model_schema.tracks}
    for index, entry in enumerate(offer.track_mapping):
        where = f"sdp_offer.track_mapping[{index}]"
        track = tracks.get(entry.name)
        if track is None:
            raise fail(422, f"{where}.name: the model has no track {entry.name[:80]!r}")
        if (entry.kind, entry.direction) != (track.kind, track.direction):
            raise fail(422, f"{where}: track {entry.name[:80]!r} is {track.kind} "
                             f"{track.direction}, got {entry.kind} {entry.direction}")
    return offer


def accept_offer(call: Call, conn: Connection, offer: SdpOffer) -> HttpResponse:
    call.machine.accept_offer(conn, offer, call.now)
    return json_response(202, build_offer_accepted(conn.connection_id))


def offer(call: Call) -> HttpResponse:
    check_session(call, running=True)
    conn = connection_of(call, "Unknown connection; register via POST .../connections first")
    return accept_offer(call, conn, read_offer(call))


def legacy_offer(call: Call) -> HttpResponse:
    check_session(call, running=True)
    offer = read_offer(call)  # before touching 1001: a bad body registers nothing
    conn = call.machine.connections.legacy(call.now)
    if conn is None:
        return error(503, "No connection id available")
    return accept_offer(call, conn, offer)


def answer_response(call: Call, conn: Connection) -> HttpResponse:
    if conn.answer_error is not None:
        return error(500, f"negotiation failed: {conn.answer_error[:500]}")
    if conn.answer is None or (conn.answer_taken and call.machine.config.consume_answers):
        return json_response(202, None)
    conn.answer_taken = True
    return json_response(200, build_sdp_answer(conn.answer, conn.connection_id))


def poll_answer(call: Call) -> HttpResponse:
    check_session(call, running=False)
    return answer_response(call, connection_of(call, "Connection not found"))


def servable(call: Call, conn: Connection) -> bool:
    return conn.answer is not None and not (conn.answer_taken
                                            and call.machine.config.consume_answers)


def legacy_poll_answer(call: Call) -> HttpResponse:
    check_session(call, running=False)
    machine = call.machine
    wanted = query_value(call.query, "connection_id")
    if wanted is not None:
        conn = machine.connections.get(parse_cid(wanted, "connection_id"))
        if conn is None:
            return error(404, "No pending SDP offer")
        return answer_response(call, conn)
    legacy = machine.connections.get(LEGACY_CONNECTION_ID)
    if legacy is not None and (legacy.has_transport or legacy.answer is not None):
        return answer_response(call, legacy)
    for conn in machine.connections:
        if servable(call, conn):
            return answer_response(call, conn)
    if machine.state in (SessionState.WAITING, SessionState.ORPHANED):
        return json_response(202, None)
    return error(404, "No pending SDP offer")


def add_candidates(call: Call, conn: Connection, obj: Any) -> None:
    try:
        parsed = parse_ice_candidates(obj)
    except DecodeError as exc:
        raise fail(422, exc.message) from None
    if conn.negotiation_id is not None:
        call.machine.queue(AddIceCandidates(
            connection_id=conn.connection_id, negotiation_id=conn.negotiation_id,
            candidates=parsed.candidates, end_of_candidates=parsed.is_final))
        return
    room = call.machine.config.max_buffered_candidates - len(conn.buffered_candidates)
    conn.buffered_candidates.extend(parsed.candidates[:max(room, 0)])
    conn.candidates_dropped += max(len(parsed.candidates) - max(room, 0), 0)
    conn.end_of_candidates = conn.end_of_candidates or parsed.is_final


def ice_candidates(call: Call) -> HttpResponse:
    check_session(call, running=True)
    conn = connection_of(call, "Connection not found")
    add_candidates(call, conn, json_body(call, "ice_candidates"))
    return json_response(202, {})


def legacy_ice_candidates(call: Call) -> HttpResponse:
    check_session(call, running=True)
    obj = json_body(call, "ice_candidates")
    warn = isinstance(obj, dict) and "session_id" in obj
    if warn:
        obj = {key: value for key, value in obj.items() if key != "session_id"}
    conn = call.machine.connections.get(LEGACY_CONNECTION_ID)
    if conn is None:
        raise fail(404, "No pending SDP offer")
    add_candidates(call, conn, obj)
    if warn:
        return json_response(202, {"warning": "session_id in request body is ignored; "
                                              "the path is authoritative"})
    return json_response(202, {})
