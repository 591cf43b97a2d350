"""Fuzz the JSON body parsers of every coordinator and runtime endpoint (reactor_proto.bodies).

The first byte picks the parser; the rest is the HTTP body.  Oracle: parsed, or DecodeError.
Differential: whatever a parser accepts, the matching builder must rebuild and the parser
must read back to an equal value (build -> parse -> equal).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reactor_proto import bodies as b
from reactor_proto.errors import DecodeError
from reactor_proto.jsonfields import dumps

ACCEPTED = (DecodeError,)

MAX_BYTES = 64 * 1024
_INFO = b.ClientInfo(sdk_version="0", sdk_type="fuzz")


def _reparse(parse: Callable[[Any], Any], built: Any) -> Any:
    return parse(b.decode_json_body(dumps(built).encode("utf-8"), what="rebuilt"))


def _check(parse: Callable[[Any], Any], build: Callable[[Any], Any], value: Any) -> None:
    again = _reparse(parse, build(value))
    assert again == value, f"round trip changed {value!r} into {again!r}"


def _offer(value: b.SdpOffer) -> None:
    built = b.build_sdp_offer(value.sdp, value.client_info or _INFO, value.track_mapping)
    again = _reparse(b.parse_sdp_offer, built)
    assert (again.sdp, again.track_mapping) == (value.sdp, value.track_mapping)


def _create(value: b.CreateSessionRequest) -> None:
    built = b.build_create_session(value.model_name, value.client_info,
                                   model_version=value.model_version,
                                   extra_args=value.extra_args)
    again = _reparse(b.parse_create_session_request, built)
    assert (again.model_name, again.model_version, again.client_info, again.extra_args) == \
        (value.model_name, value.model_version, value.client_info, value.extra_args)


def _upload(value: b.UploadRequest) -> None:
    again = _reparse(b.parse_upload_request,
                     b.build_upload_request(value.name, value.size, value.mime_type))
    assert (again.name, again.size, again.mime_type) == (value.name, value.size, value.mime_type)


def _answer(value: b.SdpAnswer) -> None:
    _check(b.parse_sdp_answer, lambda v: b.build_sdp_answer(v.sdp, v.connection_id), value)


CHECKS: list[tuple[Callable[[Any], Any], Callable[[Any], None]]] = [
    (b.parse_token, lambda v: _check(b.parse_token, b.build_token, v)),
    (b.parse_created_session,
     lambda v: _check(b.parse_created_session, b.build_created_session, v)),
    (b.parse_session, lambda v: _check(b.parse_session, b.build_session, v)),
    (b.parse_session_info, lambda v: _check(b.parse_session_info, b.build_session_info, v)),
    (b.parse_ice_servers, lambda v: _check(b.parse_ice_servers, b.build_ice_servers, v)),
    (b.parse_connection_registered,
     lambda v: _check(b.parse_connection_registered, b.build_connection_registered, v)),
    (b.parse_sdp_answer, _answer),
    (b.parse_upload_slot, lambda v: _check(b.parse_upload_slot, b.build_upload_slot, v)),
    (b.parse_create_session_request, _create),
    (b.parse_start_session_request, lambda v: None),
    (b.parse_delete_session_request, lambda v: None),
    (b.parse_sdp_offer, _offer),
    (b.parse_ice_candidates,
     lambda v: _check(b.parse_ice_candidates, lambda c: b.build_ice_candidates(c, _INFO), v)),
    (b.parse_upload_request, _upload),
]


def one_input(data: bytes) -> None:
    if not data:
        return
    parse, check = CHECKS[data[0] % len(CHECKS)]
    obj = b.decode_json_body(data[1:], what="fuzz body", max_bytes=MAX_BYTES)
    value = parse(obj)
    check(value)
