"""The connect pipeline: what each HTTP result and each peer event does to the machine.

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
    TrackMappingEntry,
    decode_json_body,
    parse_connection_registered,
    parse_created_session,
    parse_ice_servers,
    parse_sdp_answer,
    parse_session,
    parse_token,
    parse_upload_slot,
)
from ..capabilities import TrackCapability
from ..constants import MAX_DATA_CHANNEL_MESSAGE_BYTES
from ..envelope import FileRef, encode_runtime_message
from ..errors import (
    BadRequestError,
    DecodeError,
    DisconnectedError,
    NotFoundError,
    ReactorError,
    RemoteProtocolError,
    RequestTimeoutError,
    SessionGoneError,
    SessionTerminalError,
    TransportError,
)
from ..http import HttpResponse
from ..schema import ModelSchema, parse_openapi, schema_from_capabilities
from ..sdp import ice_identity, munge_answer, remote_max_message_size
from ..status import error_for_status, is_retryable
from .actions import ApplyAnswer, CancelHttp, CreatePeer, SendChannel
from .config import PollSchedule
from .core import MachineCore
from .events import (
    CapabilitiesReceived,
    OperationKind,
    SchemaReceived,
    SessionExpirationChanged,
)
from .exchanges import Exchange, Purpose
from .phases import FLOW_PHASES, PEER_PHASES, Phase, Trigger

_FAILED_PEER_STATES = frozenset({"failed", "closed"})
_UPLOADS = (Purpose.UPLOAD_SLOT, Purpose.UPLOAD_PUT)
#: Marks a create-session exchange whose connect() was cancelled while it was in flight.
ABANDONED = "abandoned"


def max_message_size(answer_sdp: str) -> int:
    """What we may send: the answer's ``a=max-message-size`` (0 = unlimited), else aiortc's
    assumed 64 KiB (F23), never above the protocol's 256 KiB envelope limit."""
    size = remote_max_message_size(answer_sdp)
    return MAX_DATA_CHANNEL_MESSAGE_BYTES if size == 0 else min(
        size, MAX_DATA_CHANNEL_MESSAGE_BYTES)


class FlowLayer(MachineCore):
    # ---- adapter inputs: HTTP ------------------------------------------------------------

    def http_response(self, request_id: int, response: HttpResponse, now: float) -> None:
        """The exchange ``request_id`` got a complete response (any status)."""
        exchange = self._ex.take(request_id)
        if exchange is not None:
            self._on_response(exchange, response, now)

    def http_failed(self, request_id: int, error: ReactorError, now: float) -> None:
        """The exchange ``request_id`` got no response (reset, refused, TLS, truncated)."""
        exchange = self._ex.take(request_id)
        if exchange is not None:
            self._on_exchange_error(exchange, error, now)

    def _on_response(self, ex: Exchange, response: HttpResponse, now: float) -> None:
        status = response.status
        if ex.purpose is Purpose.POLL_ANSWER and status == 202:
            self._poll_again(ex, now, self.config.answer_poll, "the SDP answer")
            return
        if ex.purpose is Purpose.TERMINATE and status == 404:
            self._ex.finish(ex)
            self._finish_termination(None, now)  # already gone (§3.7)
            return
        if ex.context is ABANDONED and status == 409:
            self._ex.finish(ex)
            self._finish_termination(None, now)  # joined someone else's session: leave it
            return
        if ex.purpose is Purpose.START_SESSION and status == 409:
            # A 3.x runtime refuses a second start: join the running session instead.
            self._ex.finish(ex)
            self._start(Purpose.LOCAL_SESSION, self._req.local_session(), now)
            return
        error = error_for_status(
            status, body=response.body, headers=response.headers,
            operation=ex.purpose.value,
            check_version=ex.purpose not in (Purpose.TERMINATE, Purpose.UPLOAD_PUT))
        if error is not None:
            self._on_exchange_error(ex, error, now)
            return
        try:
            self._on_success(ex, response, now)
        except ReactorError as exc:
            self._ex.finish(ex)
            self._fail_exchange(ex, exc, now)

    def _on_exchange_error(self, ex: Exchange, error: ReactorError, now: float) -> None:
        error = self._refine_error(ex, error)
        limit = self._phase_deadline if (ex.flow or ex.purpose is Purpose.TERMINATE) else None
        if is_retryable(error) and ex.retries + 1 < self.config.retry.max_attempts:
            wait = self.config.retry.delay(ex.retries, error.retry_after, self._rng)
            if limit is None or now + wait < limit:
                ex.retries += 1
                self._ex.schedule(ex, now + wait)
                return
        self._ex.finish(ex)
        self._fail_exchange(ex, error, now)

    def _refine_error(self, ex: Exchange, error: ReactorError) -> ReactorError:
        """On a reconnect, 'not found' / 'no session running' mean the session is gone."""
        gone_purposes = (Purpose.POLL_SESSION, Purpose.REGISTER, Purpose.OFFER,
                         Purpose.ICE_SERVERS, Purpose.UPLOAD_SLOT, Purpose.RESTART_SESSION)
        if ex.purpose not in gone_purposes or self._session_id is None:
            return error
        gone = isinstance(error, NotFoundError) or (
            self.config.local and isinstance(error, BadRequestError)
            and ex.purpose is Purpose.REGISTER)
        if gone and (self._reconnecting or ex.purpose is Purpose.UPLOAD_SLOT
                     or self.config.local):
            return SessionGoneError(f"session {self._session_id!r} no longer exists "
                                    f"({error.message})", status=error.status)
        return error

    def _fail_exchange(self, ex: Exchange, error: ReactorError, now: float) -> None:
        if ex.purpose is Purpose.TERMINATE or ex.context is ABANDONED:
            self._finish_termination(error, now)
        elif ex.purpose in _UPLOADS:
            self._complete(ex.op, OperationKind.UPLOAD, error=error)
        elif ex.flow:
            self._fail_flow(error, now)

    def _expire_exchange(self, ex: Exchange, now: float) -> None:
        assert ex.request_id is not None
        self._act(CancelHttp(request_id=ex.request_id))
        self._ex.take(ex.request_id)
        error = RequestTimeoutError(f"{ex.purpose.value}: no response within "
                                    f"{self.config.deadlines.http_request:g} s")
        self._on_exchange_error(ex, error, now)

    def _poll_again(self, ex: Exchange, now: float, schedule: PollSchedule, what: str) -> None:
        limit = self._poll_until
        if limit is None or now >= limit:
            self._ex.finish(ex)
            budget = (self.config.deadlines.answer if ex.purpose is Purpose.POLL_ANSWER
                      else self.config.deadlines.session_ready)
            self._fail_exchange(ex, RequestTimeoutError(
                f"{what} was not ready within {budget:g} s ({ex.polls + 1} polls)"), now)
            return
        delay = schedule.delay(ex.polls)
        ex.polls += 1
        self._ex.schedule(ex, min(now + delay, limit))

    # ---- successful responses ------------------------------------------------------------

    def _on_success(self, ex: Exchange, response: HttpResponse, now: float) -> None:
        purpose = ex.purpose
        if purpose is Purpose.UPLOAD_PUT:
            self._ex.finish(ex)
            self._upload_stored(ex, now)
            return
        body = decode_json_body(response.body, what=f"{purpose.value} response")
        if purpose is Purpose.POLL_SESSION:
            polled = parse_session(body)
            if polled.is_terminal:
                inactive = polled.state.upper() == "INACTIVE"
                if self._reconnecting and inactive and not ex.context:
                    # Its GPU was lost (§8.4): move the session to another one, same id.
                    self._ex.finish(ex)
                    self._start(Purpose.RESTART_SESSION,
                                self._req.restart_session(polled.session_id, self._jwt), now)
                    return
                if self._reconnecting and not inactive:
                    # The grace window passed and the coordinator closed the session.
                    raise SessionGoneError(f"session {polled.session_id!r} is {polled.state}; "
                                           "it can no longer be resumed")
                raise SessionTerminalError(f"session {polled.session_id!r} is {polled.state}")
            if not polled.is_ready:
                self._poll_again(ex, now, self.config.session_poll, "the session")
                return
            self._ex.finish(ex)
            self._apply_snapshot(polled)
            self._enter_preparing(now)
            return
        if purpose is Purpose.RESTART_SESSION:
            self._ex.finish(ex)
            assert self._session_id is not None
            # Poll again (marked restarted, so a second INACTIVE fails instead of looping).
            self._start(Purpose.POLL_SESSION,
                        self._req.get_session(self._session_id, self._jwt), now,
                        context="restarted")
            return
        self._ex.finish(ex)
        if ex.context is ABANDONED:
            self._terminate_abandoned(purpose, body, now)
            return
        if purpose is Purpose.TOKEN:
            self._jwt = parse_token(body)
            self._after_token(now)
        elif purpose is Purpose.CREATE_SESSION:
            created = parse_created_session(body)
            self._created_session = True
            self._set_session(created.session_id)
            self._enter_session_poll(now)
        elif purpose in (Purpose.START_SESSION, Purpose.LOCAL_SESSION):
            snapshot = parse_session(body)
            # An idempotent start that returns a session already streaming means we joined
            # someone else's session: we must not stop it when we leave.
            self._created_session = (purpose is Purpose.START_SESSION and
                                     snapshot.state.upper() in ("WAITING", "READY", "CREATED"))
            self._set_session(snapshot.session_id)
            self._apply_snapshot(snapshot)
            self._enter_preparing(now)
        elif purpose is Purpose.ICE_SERVERS:
            self._ice_servers = parse_ice_servers(body)
            self._create_peer()
        elif purpose is Purpose.REGISTER:
            self._connection_id = parse_connection_registered(body)
            self._maybe_send_offer(now)
        elif purpose is Purpose.OFFER:
            self._goto(Phase.POLLING_ANSWER, Trigger.DONE, now,
                       self.config.deadlines.answer + self.config.deadlines.http_request)
            self._poll_until = now + self.config.deadlines.answer
            self._poll_answer(now)
        elif purpose is Purpose.POLL_ANSWER:
            self._on_answer(ex, body, now)
        elif purpose is Purpose.TERMINATE:
            self._finish_termination(None, now)
        elif purpose is Purpose.UPLOAD_SLOT:
            slot = parse_upload_slot(body)
            name, mime_type, data = ex.context
            put = self._req.upload_put(slot.presigned_url, mime_type, data)
            file = FileRef(upload_id=slot.presigned_id, name=name, mime_type=mime_type,
                           size=len(data))
            self._start(Purpose.UPLOAD_PUT, put, now, flow=False, op=ex.op, context=file)

    def _terminate_abandoned(self, purpose: Purpose, body: object, now: float) -> None:
        """A create that was in flight when the attempt was cancelled has answered: end the
        session it made, so a cancelled connect() never leaves one behind."""
        if purpose is Purpose.CREATE_SESSION:
            session_id = parse_created_session(body).session_id
        else:
            snapshot = parse_session(body)
            if snapshot.state.upper() not in ("WAITING", "READY", "CREATED"):
                self._finish_termination(None, now)  # joined a running session: leave it
                return
            session_id = snapshot.session_id
        request = self._req.terminate(session_id, self._jwt, "client cancelled")
        self._start(Purpose.TERMINATE, request, now, flow=False)

    def _apply_snapshot(self, snapshot: SessionSnapshot) -> None:
        self._session_snapshot = snapshot
        transport = snapshot.selected_transport
        if transport is not None and transport.protocol != "webrtc":
            raise RemoteProtocolError(
                f"selected_transport.protocol: expected 'webrtc', got {transport.protocol!r}")
        capabilities = snapshot.capabilities
        if capabilities is not None:
            if capabilities != self._capabilities:
                self._capabilities = capabilities
                self._emit(CapabilitiesReceived(capabilities=capabilities))
            tracks = self.config.model_tracks or capabilities.tracks
        else:
            tracks = self.config.model_tracks or ()
        if not tracks:
            raise DecodeError("capabilities.tracks: the model declares no tracks",
                              field="capabilities.tracks", value=[])
        self._tracks = tuple(tracks)
        self._adopt_schema(snapshot.schema, source="descriptor")
        if snapshot.expires_at != self._expires_at:
            self._expires_at = snapshot.expires_at
            self._emit(SessionExpirationChanged(expires_at=snapshot.expires_at))

    def _adopt_schema(self, document: Mapping[str, object] | None, *, source: str) -> None:
        schema: ModelSchema | None = None
        if document is not None:
            try:
                schema = parse_openapi(document)
            except DecodeError as exc:
                self._report(DecodeError(f"model schema from the {source} is unusable: "
                                         f"{exc.message}", field=exc.field))
        if schema is None and self._capabilities is not None and self._schema is None:
            schema = schema_from_capabilities(self._capabilities)
        if schema is not None and schema != self._schema:
            self._schema = schema
            self._emit(SchemaReceived(schema=schema))

    # ---- pipeline steps ------------------------------------------------------------------

    def _after_token(self, now: float) -> None:
        if self._session_id is None:
            self._goto(Phase.CREATING_SESSION, Trigger.DONE, now,
                       self.config.deadlines.create_session)
            self._start(Purpose.CREATE_SESSION, self._req.create_session(self._jwt), now)
        else:
            self._goto(Phase.POLLING_SESSION, Trigger.DONE, now,
                       self.config.deadlines.session_ready + self.config.deadlines.http_request)
            self._begin_session_poll(now)

    def _enter_session_poll(self, now: float) -> None:
        self._goto(Phase.POLLING_SESSION, Trigger.DONE, now,
                   self.config.deadlines.session_ready + self.config.deadlines.http_request)
        self._begin_session_poll(now)

    def _begin_session_poll(self, now: float) -> None:
        assert self._session_id is not None
        self._poll_until = now + self.config.deadlines.session_ready
        self._start(Purpose.POLL_SESSION, self._req.get_session(self._session_id, self._jwt), now)

    def _enter_preparing(self, now: float, trigger: Trigger = Trigger.DONE) -> None:
        budget = (max(self.config.deadlines.ice_servers,
                      self.config.deadlines.register_connection)
                  + self.config.deadlines.create_offer)
        self._goto(Phase.PREPARING, trigger, now, budget)
        assert self._session_id is not None
        if self._given_connection_id is not None and not self._reconnecting:
            self._connection_id = self._given_connection_id
        else:
            self._start(Purpose.REGISTER,
                        self._req.register_connection(self._session_id, self._jwt), now)
        if self._ice_servers is None:
            self._start(Purpose.ICE_SERVERS,
                        self._req.ice_servers(self._session_id, self._jwt), now)
        else:
            self._create_peer()

    def _create_peer(self) -> None:
        assert self._ice_servers is not None
        self._next_peer_id += 1
        self._peer_id = self._next_peer_id
        self._act(CreatePeer(peer_id=self._peer_id, tracks=self._tracks,
                             ice_servers=self._ice_servers))

    def _maybe_send_offer(self, now: float) -> None:
        if (self._phase is not Phase.PREPARING or self._offer_sdp is None
                or self._connection_id is None):
            return
        assert self._session_id is not None
        mapping = [TrackMappingEntry(mid=self._mids[t.name], name=t.name, kind=t.kind,
                                     direction=t.direction) for t in self._tracks]
        self._goto(Phase.SENDING_OFFER, Trigger.DONE, now, self.config.deadlines.send_offer)
        request = self._req.offer(self._session_id, self._jwt, self._connection_id,
                                  self._offer_sdp, mapping, renegotiate=False)
        self._start(Purpose.OFFER, request, now)

    def _poll_answer(self, now: float) -> None:
        assert self._session_id is not None
        assert self._connection_id is not None
        self._start(Purpose.POLL_ANSWER,
                    self._req.poll_answer(self._session_id, self._jwt, self._connection_id),
                    now)

    def _on_answer(self, ex: Exchange, body: object, now: float) -> None:
        answer = parse_sdp_answer(body)
        identity = ice_identity(answer.sdp)
        if identity == self._previous_answer_identity and identity != (None, None):
            # F9: the answer of the connection we replaced; the new one is not ready yet.
            self._poll_again(ex, now, self.config.answer_poll, "the SDP answer")
            return
        munged = munge_answer(answer.sdp)
        self._answer_identity = identity
        self._max_message_bytes = max_message_size(munged)
        self._goto(Phase.APPLYING_ANSWER, Trigger.DONE, now, self.config.deadlines.apply_answer)
        assert self._peer_id is not None
        self._act(ApplyAnswer(peer_id=self._peer_id, sdp=munged))

    # ---- adapter inputs: the peer connection -----------------------------------------------

    def _is_current(self, peer_id: int) -> bool:
        return peer_id == self._peer_id and self._phase in PEER_PHASES

    def offer_created(self, peer_id: int, sdp: str, mids: Mapping[str, str], now: float) -> None:
        """The peer's offer is ready (candidates gathered); ``mids`` maps track name -> MID."""
        if not self._is_current(peer_id) or self._phase is not Phase.PREPARING:
            return
        missing = [t.name for t in self._tracks if t.name not in mids]
        if missing:
            self._fail_flow(TransportError(f"offer has no MID for track(s) {missing}"), now)
            return
        self._offer_sdp = sdp
        self._mids = dict(mids)
        self._maybe_send_offer(now)

    def answer_applied(self, peer_id: int, now: float) -> None:
        if not self._is_current(peer_id) or self._phase is not Phase.APPLYING_ANSWER:
            return
        self._goto(Phase.CONNECTING_TRANSPORT, Trigger.DONE, now,
                   self.config.deadlines.transport)
        self._check_transport_up(now)

    def peer_failed(self, peer_id: int, reason: str, now: float) -> None:
        """Creating the offer, applying the answer, or the connection itself failed."""
        if self._is_current(peer_id):
            self._lose_transport(TransportError(f"peer connection failed: {reason}"), now)

    def peer_state(self, peer_id: int, state: str, now: float) -> None:
        if not self._is_current(peer_id):
            return
        if state == "connected":
            self._peer_connected = True
            self._check_transport_up(now)
        elif state in _FAILED_PEER_STATES:
            self._lose_transport(TransportError(f"peer connection state became {state!r}"),
                                 now)

    def channel_opened(self, peer_id: int, label: str, now: float) -> None:
        if self._is_current(peer_id):
            self._open_channels.add(label)
            self._check_transport_up(now)

    def channel_closed(self, peer_id: int, label: str, now: float) -> None:
        # F6: a closed channel is the earliest sign that the runtime went away.
        if self._is_current(peer_id):
            self._open_channels.discard(label)
            self._lose_transport(TransportError(f"data channel {label!r} closed"), now)

    def _lose_transport(self, error: TransportError, now: float) -> None:
        if self._phase in FLOW_PHASES:
            self._fail_flow(error, now)
            return
        # READY: keep the session, report a recoverable error (never DELETE: F4).
        lost = TransportError(error.message, code="GPU_CONNECTION_ERROR", recoverable=True)
        self._report(lost)
        self._close_peer()
        self._goto(Phase.SUSPENDED, Trigger.TRANSPORT_LOST, now)
        self._schedule_auto_reconnect(now)

    def _check_transport_up(self, now: float) -> None:
        if (self._phase is Phase.CONNECTING_TRANSPORT and self._peer_connected
                and self.channels_open):
            self._become_ready(now)

    def _become_ready(self, now: float) -> None:
        assert self._peer_id is not None
        self._goto(Phase.READY, Trigger.DONE, now)
        # Outputs start paused on the runtime (§6.7): resume what the user has not paused.
        if self._auto_resume:
            for name in track_directions(self._tracks, "recvonly"):
                if name not in self._user_paused:
                    self._send_control_notification("resume_track", name)
        for queued in self._control.queued:
            self._send_control_notification(queued.event, queued.track)
        self._control.queued.clear()
        self._ping_due = now + self.config.ping_interval
        self._reconnecting = False
        self._reconnect_at = None
        self._grace_deadline = None
        if self._schema is None and self.config.request_schema:
            self._send_runtime("requestSchema")
        self._end_flow(None)

    def _send_control_notification(self, event: str, track: str) -> None:
        assert self._peer_id is not None
        self._act(SendChannel(peer_id=self._peer_id, channel="control",
                              text=self._control.notification(event, track)))

    def _upload_stored(self, ex: Exchange, now: float) -> None:
        file = ex.context
        assert isinstance(file, FileRef)
        if self._phase is not Phase.READY:
            self._complete(ex.op, OperationKind.UPLOAD, error=DisconnectedError(
                "the upload was stored but the connection closed before the runtime was told"))
            return
        self._send_runtime("fileUploaded", file.to_json())
        self._complete(ex.op, OperationKind.UPLOAD, value=file)

    def _send_runtime(self, type_: str, data: Mapping[str, object] | None = None) -> None:
        assert self._peer_id is not None
        text = encode_runtime_message(type_, dict(data or {}), max_bytes=self._max_message_bytes)
        self._act(SendChannel(peer_id=self._peer_id, channel="data", text=text))


def track_directions(tracks: tuple[TrackCapability, ...], direction: str) -> list[str]:
    return [t.name for t in tracks if t.direction == direction]
