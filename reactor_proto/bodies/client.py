"""JSON bodies of every HTTP endpoint (docs/protocol §2-§5, §9): the client role.

Client-role request builders and response parsers live here; the server role's live in
:mod:`reactor_proto.bodies.server`.  Import either from :mod:`reactor_proto.bodies`.

Parsers take *decoded* JSON (see :func:`decode_json_body`), ignore unknown fields (servers add
fields over time) and raise :class:`~reactor_proto.errors.DecodeError` naming the dotted field
path and the bad value.  Builders return plain ``dict`` values for ``jsonfields.dumps`` and
raise :class:`~reactor_proto.errors.LocalProtocolError` when the caller passes nonsense.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..capabilities import parse_capabilities
from ..constants import MAX_HTTP_BODY_BYTES, WEBRTC_VERSION
from ..jsonfields import Fields, loads_bounded
from .ice import parse_ice_servers as parse_ice_servers  # moved; re-exported
from .records import (
    ClientInfo,
    CreatedSession,
    IceCandidates,
    SdpAnswer,
    SessionInfo,
    SessionSnapshot,
    TrackMappingEntry,
    UploadSlot,
    client_info_json,
    ice_candidate_json,
    read_connection_id,
    read_transport,
    req_text,
    require_mapping_entry,
    require_size,
    require_text,
    track_mapping_json,
)

__all__ = [
    "build_create_session",
    "build_delete_session",
    "build_ice_candidates",
    "build_sdp_offer",
    "build_start_session",
    "build_upload_request",
    "decode_json_body",
    "parse_connection_registered",
    "parse_created_session",
    "parse_ice_servers",
    "parse_sdp_answer",
    "parse_session",
    "parse_session_info",
    "parse_token",
    "parse_upload_slot",
]

SUPPORTED_TRANSPORTS: tuple[dict[str, str], ...] = ({"protocol": "webrtc",
                                                     "version": WEBRTC_VERSION},)


def decode_json_body(body: bytes, *, what: str, max_bytes: int = MAX_HTTP_BODY_BYTES) -> Any:
    """Decode an HTTP body as JSON.  An empty (or all-whitespace) body decodes to ``None``.

    [R3] answers a pending answer poll with 202 and *no* body where [R2] sends ``null``;
    treating both the same keeps every caller simple.
    """
    if not body.strip():
        return None
    return loads_bounded(body, what=what, max_bytes=max_bytes)


# ---- requests the client sends ---------------------------------------------------------------


def _extra_bag(extra_args: Mapping[str, Any] | None) -> dict[str, Any]:
    # F32: [S08] names the free-form bag `extra_configs`, [JS] and [R2] `extra_args`, and the
    # production coordinator's choice is unknown.  Sending the same bag under both names
    # reaches whichever one the server reads; both are omitted when there is nothing to send,
    # as every official client does.
    if not extra_args:
        return {}
    bag = dict(extra_args)
    return {"extra_args": bag, "extra_configs": dict(bag)}


def build_create_session(
    model_name: str,
    client_info: ClientInfo,
    *,
    model_version: str | None = None,
    extra_args: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``POST /sessions`` (§3.3)."""
    model: dict[str, Any] = {"name": require_text("model_name", model_name)}
    if model_version is not None:
        model["version"] = require_text("model_version", model_version)
    return {
        "model": model,
        "client_info": client_info_json(client_info),
        "supported_transports": [dict(t) for t in SUPPORTED_TRANSPORTS],
        **_extra_bag(extra_args),
    }


def build_start_session(extra_args: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Local ``POST /start_session``: ``{}`` or the extra bag under both names (§4.2)."""
    return _extra_bag(extra_args)


def build_sdp_offer(sdp: str, client_info: ClientInfo,
                    track_mapping: Sequence[TrackMappingEntry]) -> dict[str, Any]:
    """``POST|PUT …/connections/{cid}/sdp_params`` (§5.3)."""
    require_text("sdp_offer", sdp)
    for index, entry in enumerate(track_mapping):
        require_mapping_entry(f"track_mapping[{index}]", entry)
    return {
        "sdp_offer": sdp,
        "client_info": client_info_json(client_info),
        "track_mapping": [track_mapping_json(entry) for entry in track_mapping],
    }


def build_ice_candidates(c: IceCandidates, client_info: ClientInfo) -> dict[str, Any]:
    """``POST …/connections/{cid}/ice_candidates`` (§5.4)."""
    return {
        "candidates": [ice_candidate_json(candidate) for candidate in c.candidates],
        "is_final": c.is_final,
        "client_info": client_info_json(client_info),
    }


def build_upload_request(name: str, size: int, mime_type: str) -> dict[str, Any]:
    """``POST /sessions/{id}/uploads`` (§9)."""
    return {"name": require_text("name", name), "size": require_size("size", size),
            "mime_type": require_text("mime_type", mime_type)}


def build_delete_session(reason: str | None) -> dict[str, Any] | None:
    """``DELETE /sessions/{id}``: no body at all unless there is a reason (§3.7)."""
    return None if reason is None else {"reason": reason}


# ---- responses the client parses ------------------------------------------------------------


def parse_token(obj: Any) -> str:
    """``POST /tokens`` → the JWT, which must be a non-empty string (§2.1)."""
    return req_text(Fields(obj, "token"), "jwt")


def _server_version(fields: Fields) -> str | None:
    info = fields.opt_obj("server_info")
    return None if info is None else info.opt_str("server_version")


def _server_wires(fields: Fields) -> tuple[str, ...]:
    # lenient: an extension key, so anything but a list of strings counts as absent
    info = fields.raw.get("server_info")
    wires = info.get("wire") if isinstance(info, dict) else None
    if not isinstance(wires, list):
        return ()
    return tuple(w for w in wires[:8] if isinstance(w, str))


def parse_created_session(obj: Any) -> CreatedSession:
    """``POST /sessions`` → the slim session (§3.3)."""
    fields = Fields(obj, "created_session")
    model = fields.req_obj("model")
    return CreatedSession(
        session_id=req_text(fields, "session_id"),
        model_name=req_text(model, "name"),
        state=req_text(fields, "state"),
        server_version=_server_version(fields),
        cluster=fields.opt_str("cluster"),
    )


def _present(fields: Fields, key: str) -> bool:
    # [S08] tests these keys for truthiness, so `{}` means "not yet" just like a missing key.
    value = fields.raw.get(key)
    return value is not None and value != {}


def parse_session(obj: Any) -> SessionSnapshot:
    """``GET /sessions/{id}``, or a local descriptor from ``/start_session``/``GET /session``.

    Accepts the coordinator's upper-case states and [R3]'s lower-case ones unchanged.
    """
    fields = Fields(obj, "session")
    model = fields.opt_obj("model")
    transport = read_transport(fields.req_obj("selected_transport")) \
        if _present(fields, "selected_transport") else None
    capabilities = None
    if _present(fields, "capabilities"):
        capabilities = parse_capabilities(fields.raw["capabilities"],
                                          path=fields.where("capabilities"))
    schema = fields.opt_obj("schema")
    expires_at = fields.opt_number("expires_at")
    return SessionSnapshot(
        session_id=req_text(fields, "session_id"),
        state=req_text(fields, "state"),
        cluster=fields.opt_str("cluster"),
        model_name=None if model is None else model.opt_str("name"),
        model_version=None if model is None else model.opt_str("version"),
        server_version=_server_version(fields),
        server_wires=_server_wires(fields),
        selected_transport=transport,
        capabilities=capabilities,
        schema=None if schema is None else schema.raw,
        expires_at=expires_at,
        generation=fields.opt_str("generation"),
    )


def parse_session_info(obj: Any) -> SessionInfo:
    """``GET /sessions/{id}/info`` (§3.5)."""
    fields = Fields(obj, "session_info")
    return SessionInfo(session_id=req_text(fields, "session_id"), state=req_text(fields, "state"),
                       cluster=fields.opt_str("cluster"))


def parse_connection_registered(obj: Any) -> int:
    """``POST …/connections`` → the minted id; ``track_map`` is ignored (§5.2).

    Accepts 1000-9999: [R2] can mint 1000 (F20) and it is the server's own name for the
    connection, so refusing it would only break a working exchange.
    """
    value = read_connection_id(Fields(obj, "connection"), "connection_id", required=True)
    assert value is not None
    return value


def parse_sdp_answer(obj: Any) -> SdpAnswer:
    """A 200 answer poll (§5.3).  Callers treat any 202 as "pending" without parsing."""
    fields = Fields(obj, "sdp_answer")
    sdp = req_text(fields, "sdp_answer")
    return SdpAnswer(sdp=sdp,
                     connection_id=read_connection_id(fields, "connection_id", required=False))


def parse_upload_slot(obj: Any) -> UploadSlot:
    """``POST /sessions/{id}/uploads`` → presigned slot (§9)."""
    fields = Fields(obj, "upload_slot")
    return UploadSlot(presigned_id=req_text(fields, "presigned_id"),
                      presigned_url=req_text(fields, "presigned_url"),
                      path=req_text(fields, "path"))

