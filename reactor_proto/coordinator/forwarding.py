"""Transport and upload routes: forwarded to the runtime hosting the session.

A forwarded request becomes a :class:`~.actions.ForwardToRuntime` action; the client's
answer is queued when the runtime's reply comes back (:meth:`Forwarding.finish`).  After a
transport call the session's runtime is polled at once, so a client that just connected
makes the session ACTIVE without waiting for the poll timer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import SplitResult

from ..constants import HEADER_AUTHORIZATION, HEADER_CONTENT_TYPE
from ..errors import DecodeError, UnauthorizedError
from ..http import HttpRequest, HttpResponse
from ..jsonfields import Fields
from .calls import CallKind, PendingCall, UploadContext
from .config import CoordinatorConfig
from .events import RuntimeCallFailed
from .lifecycle import Lifecycle
from .routes import BodyError, Reply, Route, decode_body, fail, header, json_reply, with_cors
from .runtime_link import forwarded_request
from .sessions import HOSTED_STATES, SessionRecord
from .tokens import InvalidTokenError, bearer_token, check_expiry, claims_from_mapping

MAX_UPLOADS_PER_SESSION = 1024
_HOST = re.compile(r"[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")


class Forwarding:
    def __init__(self, life: Lifecycle) -> None:
        self._life = life

    @staticmethod
    def _hosted(record: SessionRecord, what: str) -> tuple[int, str]:
        if (record.state not in HOSTED_STATES or record.slot is None
                or record.runtime_session_id is None):
            raise fail(409, f"session {record.session_id!r} is {record.state.value} and has "
                       f"no runtime; {what} needs state WAITING or ACTIVE")
        return record.slot, record.runtime_session_id

    def _forward(self, kind: CallKind, slot: int, request: HttpRequest, target: str, *,
                 request_id: int, now: float, session_id: str | None = None,
                 upload: UploadContext | None = None) -> None:
        forwarded = forwarded_request(method=request.method.upper(), target=target,
                                      headers=request.headers, body=request.body)
        if self._life.call(kind, slot, forwarded, now, session_id=session_id,
                           request_id=request_id, upload=upload) is None:
            raise fail(503, f"{kind.value}: too many runtime calls in flight")

    # ---- routes (each answers later, from ``finish``) ------------------------------------

    def steps(self, request: HttpRequest, route: Route, record: SessionRecord,
              request_id: int, now: float) -> None:
        """``GET /sessions/{id}/steps[/{n}[/{file}]]`` (§15.7): the runtime keeps a stepped
        session's results under the coordinator's session id."""
        slot, _ = self._hosted(record, "step results")
        self._forward(CallKind.STEPS, slot, request, f"/sessions/{record.session_id}{route.rest}",
                      request_id=request_id, now=now, session_id=record.session_id)

    def transport(self, request: HttpRequest, url: SplitResult, route: Route,
                  record: SessionRecord, request_id: int, now: float) -> None:
        slot, runtime_sid = self._hosted(record, "a transport route")
        target = f"/sessions/{runtime_sid}/transport/webrtc{route.rest}"
        if url.query:
            target += "?" + url.query
        self._forward(CallKind.TRANSPORT, slot, request, target, request_id=request_id,
                      now=now, session_id=record.session_id)

    def upload_slot(self, request: HttpRequest, url: SplitResult, record: SessionRecord,
                    request_id: int, now: float) -> None:
        slot, runtime_sid = self._hosted(record, "an upload")
        if self._life.table.upload_count(record.session_id) >= MAX_UPLOADS_PER_SESSION:
            raise fail(409, f"session {record.session_id!r} already has "
                       f"{MAX_UPLOADS_PER_SESSION} uploads")
        host = header(request.headers, "host") or url.netloc
        if not host or not _HOST.fullmatch(host):
            raise fail(400, f"Host: not a valid host {host[:64]!r}")
        scheme = url.scheme if url.scheme in ("http", "https") else "http"
        self._forward(CallKind.UPLOAD_SLOT, slot, request, f"/sessions/{runtime_sid}/uploads",
                      request_id=request_id, now=now, session_id=record.session_id,
                      upload=UploadContext(host=host, scheme=scheme,
                                           runtime_session_id=runtime_sid))

    def upload_put(self, request: HttpRequest, route: Route, request_id: int,
                   now: float) -> None:
        assert route.upload_id is not None
        session_id = self._life.table.upload_session(route.upload_id)
        record = self._life.table.get(session_id) if session_id is not None else None
        if record is None or record.state not in HOSTED_STATES or record.slot is None:
            raise fail(404, f"upload {route.upload_id!r} not found")
        content_type = header(request.headers, HEADER_CONTENT_TYPE)
        plain = HttpRequest(method="PUT", url=request.url,
                            headers=(() if content_type is None
                                     else ((HEADER_CONTENT_TYPE, content_type),)),
                            body=request.body)
        self._forward(CallKind.UPLOAD_PUT, record.slot, plain, f"/uploads/{route.upload_id}",
                      request_id=request_id, now=now)

    # ---- replies -------------------------------------------------------------------------

    def finish(self, call: PendingCall, response: HttpResponse | None, now: float) -> None:
        """Answer the client whose request ``call`` forwarded (502 if the runtime did not)."""
        assert call.request_id is not None
        if response is None:
            answer = fail(502, f"{call.kind.value}: the runtime failed to answer").response
        elif call.kind is CallKind.UPLOAD_SLOT:
            try:
                answer = self._upload_slot_reply(call, with_cors(response))
            except Reply as reply:
                answer = reply.response
        else:
            answer = with_cors(response)
        self._life.respond(call.request_id, answer)
        if (response is not None and call.kind is CallKind.TRANSPORT
                and call.session_id is not None):
            current = self._life.table.get(call.session_id)
            if current is not None:
                self._life.poll(current, now)

    def _upload_slot_reply(self, call: PendingCall, response: HttpResponse) -> HttpResponse:
        """The runtime's upload slot, re-addressed to the coordinator and the session."""
        upload, session_id = call.upload, call.session_id
        assert upload is not None and session_id is not None
        if response.status != 201:
            return response
        try:
            fields = Fields(decode_body(response.body, what="runtime upload slot",
                                        max_bytes=self._life.config.max_body_bytes), "upload")
            upload_id = str(uuid.UUID(fields.req_str("presigned_id")))
            path = fields.req_str("path")
        except (BodyError, DecodeError, ValueError) as exc:
            self._life.emit(RuntimeCallFailed(slot=call.slot, operation=call.kind.value,
                                              detail=str(exc)))
            raise fail(502, "upload_slot: the runtime returned a malformed upload slot") \
                from None
        record = self._life.table.get(session_id)
        if record is None or record.state not in HOSTED_STATES:
            # The session ended while the runtime made the slot: do not register it.
            raise fail(409, f"session {session_id!r} ended while its upload slot was made")
        prefix = f"sessions/{upload.runtime_session_id}/"
        if path.startswith(prefix):
            path = f"sessions/{session_id}/" + path[len(prefix):]
        self._life.table.add_upload(upload_id, session_id)
        return json_reply(201, {"presigned_id": upload_id,
                                "presigned_url": f"{upload.scheme}://{upload.host}/uploads/"
                                                 f"{upload_id}",
                                "path": path})


# ---- /clips (§10) -------------------------------------------------------------------------

#: The longest bearer token the ``/clips`` check reads (the same bound as every route's).
_CLIPS_TOKEN_CHARS = 8192


def authorize_clips(request: HttpRequest, *, verify: Callable[[str], Mapping[str, Any]],
                    config: CoordinatorConfig, unix_now: float) -> HttpResponse | None:
    """§10: in production ``GET /clips`` is the coordinator's and needs the client's JWT.
    None when the request may be answered (by the runtime holding the recording); a 401
    (with CORS) when the token is missing, bad, expired or not one of our keys'.  The chunk
    route needs no token: production hands out presigned object-store URLs for chunks."""
    path = request.target.partition("?")[0]
    if path.startswith("/clips/chunks/"):
        return None
    try:
        token = bearer_token(header(request.headers, HEADER_AUTHORIZATION))
        if len(token) > _CLIPS_TOKEN_CHARS:
            raise InvalidTokenError(f"token longer than {_CLIPS_TOKEN_CHARS} characters")
        try:
            raw = verify(token)
        except InvalidTokenError:
            raise
        except Exception as exc:
            raise InvalidTokenError(f"verification failed ({type(exc).__name__})") from None
        claims = claims_from_mapping(dict(raw))
        check_expiry(claims, unix_now)
        if config.key_by_id(claims.sub) is None:
            raise UnauthorizedError(f"token subject {claims.sub!r} is not a known API key")
    except UnauthorizedError as exc:
        prefix = "invalid token: " if isinstance(exc, InvalidTokenError) else ""
        return with_cors(fail(401, prefix + exc.message).response)
    return None
