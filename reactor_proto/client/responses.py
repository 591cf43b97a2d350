"""What each HTTP result does to the client machine: retries, polls and successful bodies.

Retry policy (F14): a transient failure (no reply, timeout, 5xx, 429) is retried with
backoff, or after ``Retry-After`` when the server gives one, while attempts remain and the
wait ends before the phase's deadline; anything else fails the attempt at once with a typed
error.  Polls (202 / not ready yet) follow :class:`~.config.PollSchedule` and do not consume
retry attempts; the last poll happens at the deadline instead of a wasted final sleep (F16).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..bodies import (
    SessionSnapshot,
    decode_json_body,
    parse_connection_registered,
    parse_created_session,
    parse_ice_servers,
    parse_session,
    parse_token,
    parse_upload_slot,
)
from ..envelope import FileRef
from ..errors import (
    BadRequestError,
    DecodeError,
    NoCapacityError,
    NotFoundError,
    ReactorError,
    RemoteProtocolError,
    RequestTimeoutError,
    SessionGoneError,
    SessionTerminalError,
)
from ..http import HttpResponse
from ..schema import ModelSchema, parse_openapi, schema_from_capabilities
from ..status import error_for_status, is_retryable
from .actions import CancelHttp
from .config import PollSchedule
from .events import CapabilitiesReceived, OperationKind, SchemaReceived, SessionExpirationChanged
from .exchanges import ABANDONED, Exchange, Purpose
from .flow import (
    after_token,
    answer_received,
    begin_session_poll,
    create_peer,
    enter_preparing,
    maybe_send_offer,
    offer_sent,
    upload_stored,
)
from .phases import Trigger
from .state import ClientState, act, complete, emit, goto, report, set_session, start
from .stepping import check_descriptor
from .teardown import UPLOADS, fail_flow, finish_termination

# On a reconnect, 'not found' from these routes means the session is gone.
_GONE_PURPOSES = (Purpose.POLL_SESSION, Purpose.REGISTER, Purpose.OFFER, Purpose.ICE_SERVERS,
                  Purpose.UPLOAD_SLOT, Purpose.RESTART_SESSION)
# A session in one of these states was started by our request (not joined).
_FRESH_STATES = ("WAITING", "READY", "CREATED")


def http_response(s: ClientState, request_id: int, response: HttpResponse, now: float) -> None:
    exchange = s.ex.take(request_id)
    if exchange is not None:
        on_response(s, exchange, response, now)


def http_failed(s: ClientState, request_id: int, error: ReactorError, now: float) -> None:
    exchange = s.ex.take(request_id)
    if exchange is not None:
        on_exchange_error(s, exchange, error, now)


def on_response(s: ClientState, ex: Exchange, response: HttpResponse, now: float) -> None:
    status = response.status
    if ex.purpose is Purpose.POLL_ANSWER and status == 202:
        poll_again(s, ex, now, s.config.answer_poll, "the SDP answer")
        return
    if ex.purpose is Purpose.TERMINATE and status == 404:
        s.ex.finish(ex)
        finish_termination(s, None, now)  # already gone (§3.7)
        return
    if ex.context is ABANDONED and status == 409:
        s.ex.finish(ex)
        finish_termination(s, None, now)  # joined someone else's session: leave it
        return
    if ex.purpose is Purpose.START_SESSION and status == 409:
        # A 3.x runtime refuses a second start: join the running session instead.
        s.ex.finish(ex)
        start(s, Purpose.LOCAL_SESSION, s.req.local_session(), now)
        return
    error = error_for_status(
        status, body=response.body, headers=response.headers, operation=ex.purpose.value,
        check_version=ex.purpose not in (Purpose.TERMINATE, Purpose.UPLOAD_PUT))
    if error is not None:
        on_exchange_error(s, ex, error, now)
        return
    try:
        on_success(s, ex, response, now)
    except ReactorError as exc:
        s.ex.finish(ex)
        fail_exchange(s, ex, exc, now)


def on_exchange_error(s: ClientState, ex: Exchange, error: ReactorError, now: float) -> None:
    error = refine_error(s, ex, error)
    limit = s.phase_deadline if (ex.flow or ex.purpose is Purpose.TERMINATE) else None
    if is_retryable(error) and ex.retries + 1 < s.config.retry.max_attempts:
        wait = s.config.retry.delay(ex.retries, error.retry_after, s.rng)
        if limit is None or now + wait < limit:
            ex.retries += 1
            s.ex.schedule(ex, now + wait)
            return
    s.ex.finish(ex)
    fail_exchange(s, ex, error, now)


def refine_error(s: ClientState, ex: Exchange, error: ReactorError) -> ReactorError:
    """On a reconnect, 'not found' / 'no session running' mean the session is gone."""
    if ex.purpose not in _GONE_PURPOSES or s.session_id is None:
        return error
    gone = isinstance(error, NotFoundError) or (
        s.config.local and isinstance(error, BadRequestError)
        and ex.purpose is Purpose.REGISTER)
    if gone and (s.reconnecting or ex.purpose is Purpose.UPLOAD_SLOT or s.config.local):
        return SessionGoneError(f"session {s.session_id!r} no longer exists "
                                f"({error.message})", status=error.status)
    return error


def fail_exchange(s: ClientState, ex: Exchange, error: ReactorError, now: float) -> None:
    if ex.purpose is Purpose.TERMINATE or ex.context is ABANDONED:
        finish_termination(s, error, now)
    elif ex.purpose in UPLOADS:
        complete(s, ex.op, OperationKind.UPLOAD, error=error)
    elif ex.flow:
        fail_flow(s, error, now)


def expire_exchange(s: ClientState, ex: Exchange, now: float) -> None:
    """An in-flight exchange passed its deadline: cancel it and treat it as a timeout."""
    assert ex.request_id is not None
    act(s, CancelHttp(request_id=ex.request_id))
    s.ex.take(ex.request_id)
    error = RequestTimeoutError(f"{ex.purpose.value}: no response within "
                                f"{s.config.deadlines.http_request:g} s")
    on_exchange_error(s, ex, error, now)


def poll_again(s: ClientState, ex: Exchange, now: float, schedule: PollSchedule,
               what: str) -> None:
    limit = s.poll_until
    if limit is None or now >= limit:
        s.ex.finish(ex)
        budget = (s.config.deadlines.answer if ex.purpose is Purpose.POLL_ANSWER
                  else s.config.deadlines.session_ready)
        fail_exchange(s, ex, RequestTimeoutError(
            f"{what} was not ready within {budget:g} s ({ex.polls + 1} polls)"), now)
        return
    delay = schedule.delay(ex.polls)
    ex.polls += 1
    s.ex.schedule(ex, min(now + delay, limit))


# ---- successful responses ------------------------------------------------------------------


def on_success(s: ClientState, ex: Exchange, response: HttpResponse, now: float) -> None:
    purpose = ex.purpose
    if purpose is Purpose.UPLOAD_PUT:
        s.ex.finish(ex)
        upload_stored(s, ex)
        return
    body = decode_json_body(response.body, what=f"{purpose.value} response")
    if purpose is Purpose.POLL_SESSION:
        on_session_polled(s, ex, body, now)
        return
    if purpose is Purpose.RESTART_SESSION:
        s.ex.finish(ex)
        assert s.session_id is not None
        # Poll again (marked restarted, so a second INACTIVE fails instead of looping).
        start(s, Purpose.POLL_SESSION, s.req.get_session(s.session_id, s.jwt), now,
              context="restarted")
        return
    s.ex.finish(ex)
    if ex.context is ABANDONED:
        terminate_abandoned(s, purpose, body, now)
    elif purpose is Purpose.TOKEN:
        s.jwt = parse_token(body)
        after_token(s, now)
    elif purpose is Purpose.CREATE_SESSION:
        created = parse_created_session(body)
        s.created_session = True
        set_session(s, created.session_id)
        goto(s, Trigger.SESSION_CREATED, now)
        begin_session_poll(s, now)
    elif purpose in (Purpose.START_SESSION, Purpose.LOCAL_SESSION):
        snapshot = parse_session(body)
        # An idempotent start that returns a session already streaming means we joined
        # someone else's session: we must not stop it when we leave.
        s.created_session = (purpose is Purpose.START_SESSION
                             and snapshot.state.upper() in _FRESH_STATES)
        set_session(s, snapshot.session_id)
        apply_snapshot(s, snapshot)
        enter_preparing(s, now, Trigger.SESSION_STARTED)
    elif purpose is Purpose.ICE_SERVERS:
        s.ice_servers = parse_ice_servers(body)
        create_peer(s)
    elif purpose is Purpose.REGISTER:
        s.connection_id = parse_connection_registered(body)
        maybe_send_offer(s, now)
    elif purpose is Purpose.OFFER:
        offer_sent(s, now)
    elif purpose is Purpose.POLL_ANSWER:
        if not answer_received(s, body, now):
            # F9: the answer of the connection we replaced; the new one is not ready yet.
            poll_again(s, ex, now, s.config.answer_poll, "the SDP answer")
    elif purpose is Purpose.TERMINATE:
        finish_termination(s, None, now)
    elif purpose is Purpose.UPLOAD_SLOT:
        slot = parse_upload_slot(body)
        name, mime_type, data = ex.context
        put = s.req.upload_put(slot.presigned_url, mime_type, data)
        file = FileRef(upload_id=slot.presigned_id, name=name, mime_type=mime_type,
                       size=len(data))
        start(s, Purpose.UPLOAD_PUT, put, now, flow=False, op=ex.op, context=file)


def on_session_polled(s: ClientState, ex: Exchange, body: object, now: float) -> None:
    polled = parse_session(body)
    if polled.is_terminal:
        inactive = polled.state.upper() == "INACTIVE"
        if s.reconnecting and inactive and not ex.context:
            # Its GPU was lost (§8.4): move the session to another one, same id.
            s.ex.finish(ex)
            start(s, Purpose.RESTART_SESSION,
                  s.req.restart_session(polled.session_id, s.jwt), now)
            return
        if s.reconnecting and not inactive:
            # The grace window passed and the coordinator closed the session.
            raise SessionGoneError(f"session {polled.session_id!r} is {polled.state}; "
                                   "it can no longer be resumed")
        raise SessionTerminalError(f"session {polled.session_id!r} is {polled.state}")
    if not polled.is_ready:
        s.queue_position = queue_position(body)
        if s.queue_position is not None and not s.config.queue and not s.reconnecting:
            raise NoCapacityError(
                f"no GPU is free for {s.config.model_name!r} (queue position "
                f"{s.queue_position}) and queue=False: not waiting")
        poll_again(s, ex, now, s.config.session_poll, "the session")
        return
    s.ex.finish(ex)
    apply_snapshot(s, polled)
    enter_preparing(s, now, Trigger.SESSION_READY)


def queue_position(body: object) -> int | None:
    """Our coordinator's ``queue_position`` extension (1 = next); None when absent."""
    value = body.get("queue_position") if isinstance(body, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return None


def terminate_abandoned(s: ClientState, purpose: Purpose, body: object, now: float) -> None:
    """A create that was in flight when the attempt was cancelled has answered: end the
    session it made, so a cancelled connect() never leaves one behind."""
    if purpose is Purpose.CREATE_SESSION:
        session_id = parse_created_session(body).session_id
    else:
        snapshot = parse_session(body)
        if snapshot.state.upper() not in _FRESH_STATES:
            finish_termination(s, None, now)  # joined a running session: leave it
            return
        session_id = snapshot.session_id
    request = s.req.terminate(session_id, s.jwt, "client cancelled")
    start(s, Purpose.TERMINATE, request, now, flow=False)


def apply_snapshot(s: ClientState, snapshot: SessionSnapshot) -> None:
    s.session_snapshot = snapshot
    if snapshot.is_ready:
        check_descriptor(s.config.generation, snapshot)  # §15.2
    transport = snapshot.selected_transport
    if transport is not None and transport.protocol != "webrtc":
        raise RemoteProtocolError(
            f"selected_transport.protocol: expected 'webrtc', got {transport.protocol!r}")
    capabilities = snapshot.capabilities
    if capabilities is not None:
        if capabilities != s.capabilities:
            s.capabilities = capabilities
            emit(s, CapabilitiesReceived(capabilities=capabilities))
        tracks = s.config.model_tracks or capabilities.tracks
    else:
        tracks = s.config.model_tracks or ()
    if not tracks:
        raise DecodeError("capabilities.tracks: the model declares no tracks",
                          field="capabilities.tracks", value=[])
    s.tracks = tuple(tracks)
    adopt_schema(s, snapshot.schema, source="descriptor")
    if snapshot.expires_at != s.expires_at:
        s.expires_at = snapshot.expires_at
        emit(s, SessionExpirationChanged(expires_at=snapshot.expires_at))


def adopt_schema(s: ClientState, document: Mapping[str, object] | None, *,
                 source: str) -> None:
    schema: ModelSchema | None = None
    if document is not None:
        try:
            schema = parse_openapi(document)
        except DecodeError as exc:
            report(s, DecodeError(f"model schema from the {source} is unusable: "
                                  f"{exc.message}", field=exc.field))
    if schema is None and s.capabilities is not None and s.schema is None:
        schema = schema_from_capabilities(s.capabilities)
    if schema is not None and schema != s.schema:
        s.schema = schema
        emit(s, SchemaReceived(schema=schema))
