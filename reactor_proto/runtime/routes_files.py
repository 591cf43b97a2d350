"""Uploads (docs/protocol §9) and stored step results (§15.7): the runtime routes that move
files."""

from __future__ import annotations

import re
from typing import Final

from ..bodies import build_upload_slot, parse_upload_request
from ..bodies.records import UploadSlot
from ..constants import LOCAL_SESSION_ID
from ..errors import DecodeError
from ..http import HttpResponse, json_response
from .route_call import Call, check_session, error, fail, json_body
from .step_store import list_response, step_response
from .uploads import UploadFailure, is_upload_id

_HOST: Final = re.compile(r"(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


def _host(call: Call) -> str:
    host = call.request.header("host")
    if host is not None and _HOST.fullmatch(host):
        return host
    return call.machine.config.default_host


def allocate_upload(call: Call) -> HttpResponse:
    check_session(call, running=True)
    obj = json_body(call, "upload")
    try:
        wanted = parse_upload_request(obj)
    except DecodeError as exc:
        raise fail(400, exc.message) from None
    machine = call.machine
    outcome = machine.uploads.allocate(machine.rng_for_ids(), name=wanted.name,
                                       mime_type=wanted.mime_type, size=wanted.size)
    if isinstance(outcome, UploadFailure):
        return error(outcome.status, outcome.detail)
    slot = UploadSlot(presigned_id=outcome,
                      presigned_url=f"http://{_host(call)}/uploads/{outcome}",
                      path=f"sessions/{LOCAL_SESSION_ID}/uploads/{outcome}/{wanted.name}")
    return json_response(201, build_upload_slot(slot))


def put_upload(call: Call) -> HttpResponse:
    upload_id = call.params["upload_id"]
    if not is_upload_id(upload_id):
        return error(422, f"upload_id: expected a lower-case UUID, got {upload_id[:60]!r}")
    failure = call.machine.uploads.put(upload_id, call.request.body or b"")
    if failure is not None:
        return error(failure.status, failure.detail)
    return json_response(200, None)


# ---- stepped results (§15.7) --------------------------------------------------------------


def list_steps(call: Call) -> HttpResponse:
    return list_response(call.machine.step_store, call.params["sid"], call.now)


def get_step(call: Call) -> HttpResponse:
    return step_response(call.machine.step_store, call.params["sid"], call.params["n"],
                         None, call.now)


def get_step_file(call: Call) -> HttpResponse:
    return step_response(call.machine.step_store, call.params["sid"], call.params["n"],
                         call.params["file"], call.now)
