"""JSON bodies of every HTTP endpoint: the server role (our runtime and coordinator emulators).

Request parsers here are strict where the protocol lets a server refuse: a ``track_mapping``
direction other than ``recvonly``/``sendonly`` is a :class:`DecodeError` (which our servers
answer with 422/400) instead of the 500 [R2] produces.  Unknown keys are still ignored so
newer clients keep working.  Response builders produce exactly what the client parsers in
:mod:`reactor_proto.bodies` read back (round-trip tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..capabilities import Capabilities, capabilities_to_json
from ..errors import DecodeError
from ..jsonfields import Fields
from .records import (
    ClientInfo,
    CreatedSession,
    IceCandidates,
    IceServer,
    SdpOffer,
    SessionInfo,
    SessionSnapshot,
    TransportDeclaration,
    UploadRequest,
    UploadSlot,
    opt_text,
    read_bag,
    read_client_info,
    read_ice_candidate,
    read_track_mapping_entry,
    read_transport,
    req_text,
    require_connection_id,
    require_text,
    transport_json,
)


@attrs.frozen(kw_only=True)
class CreateSessionRequest:
    """A parsed ``POST /sessions`` body (§3.3).

    ``extra_args`` merges the two spellings of the free-form bag (F32): ``extra_configs``
    ([S08]) and ``extra_args`` ([JS], [R2]); on a key present in both, ``extra_args`` wins.
    """

    model_name: str
    model_version: str | None = None
    client_info: ClientInfo
    supported_transports: tuple[TransportDeclaration, ...] = ()
    extra_args: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class StartSessionRequest:
    """A parsed local ``POST /start_session`` body (§4.2); [R2] sends ``{}`` or nothing."""

    extra_args: Mapping[str, Any] = attrs.field(factory=dict)


def _merged_extra(fields: Fields) -> dict[str, Any]:
    merged = read_bag(fields, "extra_configs") or {}
    merged.update(read_bag(fields, "extra_args") or {})
    return merged


# ---- requests a server parses -------------------------------------------------------------


def parse_create_session_request(obj: Any) -> CreateSessionRequest:
    fields = Fields(obj, "create_session")
    model = fields.req_obj("model")
    transports = tuple(read_transport(Fields(element, path))
                       for path, element in fields.items("supported_transports")) \
        if fields.has("supported_transports") else ()
    return CreateSessionRequest(
        model_name=req_text(model, "name"),
        model_version=opt_text(model, "version"),
        client_info=read_client_info(fields.req_obj("client_info")),
        supported_transports=transports,
        extra_args=_merged_extra(fields),
    )


def parse_start_session_request(obj: Any) -> StartSessionRequest:
    """An empty body (``None``) is the same as ``{}``."""
    if obj is None:
        return StartSessionRequest()
    return StartSessionRequest(extra_args=_merged_extra(Fields(obj, "start_session")))


def parse_delete_session_request(obj: Any) -> str | None:
    """``DELETE /sessions/{id}`` → the optional ``reason`` (no body is allowed too)."""
    if obj is None:
        return None
    return Fields(obj, "delete_session").opt_str("reason")


def parse_sdp_offer(obj: Any) -> SdpOffer:
    """``POST|PUT …/sdp_params``.  ``track_mapping`` may be absent (legacy single-connection
    clients); when present, each entry needs ``video``/``audio`` and ``recvonly``/``sendonly``
    and MIDs must be distinct."""
    fields = Fields(obj, "sdp_offer")
    sdp = req_text(fields, "sdp_offer")
    info = fields.opt_obj("client_info")
    mapping = tuple(read_track_mapping_entry(path, element)
                    for path, element in fields.items("track_mapping")) \
        if fields.has("track_mapping") else ()
    seen: set[str] = set()
    for index, entry in enumerate(mapping):
        if entry.mid in seen:
            where = f"sdp_offer.track_mapping[{index}].mid"
            raise DecodeError(f"{where}: duplicate mid {entry.mid!r}", field=where,
                              value=entry.mid)
        seen.add(entry.mid)
    return SdpOffer(sdp=sdp, client_info=None if info is None else read_client_info(info),
                    track_mapping=mapping)


def parse_ice_candidates(obj: Any) -> IceCandidates:
    """``POST …/ice_candidates``; ``is_final`` defaults to false, ``client_info`` is ignored."""
    fields = Fields(obj, "ice_candidates")
    candidates = tuple(read_ice_candidate(path, element)
                       for path, element in fields.items("candidates"))
    return IceCandidates(candidates=candidates, is_final=bool(fields.opt_bool("is_final")))


def parse_upload_request(obj: Any) -> UploadRequest:
    """``POST /sessions/{id}/uploads``: name and mime_type non-empty, size > 0 (§4.1)."""
    fields = Fields(obj, "upload")
    name = req_text(fields, "name")
    mime_type = req_text(fields, "mime_type")
    size = fields.req_int("size")
    if size <= 0:
        raise fields.fail("size", "an integer > 0", size)
    return UploadRequest(name=name, size=size, mime_type=mime_type,
                         upload_id=opt_text(fields, "upload_id"))


# ---- responses a server builds ------------------------------------------------------------


def build_token(jwt: str) -> dict[str, Any]:
    return {"jwt": require_text("jwt", jwt)}


def _server_info(server_version: str | None) -> dict[str, Any]:
    return {} if server_version is None else {"server_info": {"server_version": server_version}}


def build_created_session(created: CreatedSession) -> dict[str, Any]:
    body: dict[str, Any] = {"session_id": created.session_id,
                            "model": {"name": created.model_name}, "state": created.state}
    body.update(_server_info(created.server_version))
    if created.cluster is not None:
        body["cluster"] = created.cluster
    return body


def build_session(snapshot: SessionSnapshot) -> dict[str, Any]:
    """A coordinator session or a local descriptor; ``None`` fields are left out."""
    body: dict[str, Any] = {"session_id": snapshot.session_id, "state": snapshot.state}
    if snapshot.cluster is not None:
        body["cluster"] = snapshot.cluster
    model = {key: value for key, value in (("name", snapshot.model_name),
                                           ("version", snapshot.model_version))
             if value is not None}
    if model:
        body["model"] = model
    body.update(_server_info(snapshot.server_version))
    if snapshot.selected_transport is not None:
        body["selected_transport"] = transport_json(snapshot.selected_transport)
    if snapshot.capabilities is not None:
        body["capabilities"] = capabilities_to_json(snapshot.capabilities)
    if snapshot.schema is not None:
        body["schema"] = dict(snapshot.schema)
    if snapshot.expires_at is not None:
        body["expires_at"] = snapshot.expires_at
    return body


def build_session_info(info: SessionInfo) -> dict[str, Any]:
    body: dict[str, Any] = {"session_id": info.session_id, "state": info.state}
    if info.cluster is not None:
        body["cluster"] = info.cluster
    return body


def build_ice_servers(servers: Sequence[IceServer]) -> dict[str, Any]:
    """RTCIceServer values → the wire's ``{uris, credentials}`` (§5.1)."""
    entries: list[dict[str, Any]] = []
    for server in servers:
        entry: dict[str, Any] = {"uris": list(server.urls)}
        if server.username is not None or server.credential is not None:
            credentials: dict[str, str] = {}
            if server.username is not None:
                credentials["username"] = server.username
            if server.credential is not None:
                credentials["password"] = server.credential
            entry["credentials"] = credentials
        entries.append(entry)
    return {"ice_servers": entries}


def build_connection_registered(
    cid: int, track_map: Capabilities | Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """201 body of ``POST …/connections``; [R2] adds the legacy capabilities as ``track_map``."""
    body: dict[str, Any] = {"connection_id": require_connection_id("connection_id", cid)}
    if isinstance(track_map, Capabilities):
        body["track_map"] = capabilities_to_json(track_map)
    elif track_map is not None:
        body["track_map"] = dict(track_map)
    return body


def build_offer_accepted(cid: int) -> dict[str, Any]:
    """202 body of ``POST|PUT …/sdp_params``."""
    return {"connection_id": require_connection_id("connection_id", cid)}


def build_sdp_answer(sdp: str, cid: int | None) -> dict[str, Any]:
    """200 body of the answer poll; ``cid`` ``None`` mimics the legacy flat route."""
    body: dict[str, Any] = {"sdp_answer": require_text("sdp_answer", sdp)}
    if cid is not None:
        body["connection_id"] = require_connection_id("connection_id", cid)
    return body


def build_upload_slot(slot: UploadSlot) -> dict[str, Any]:
    return {"presigned_id": slot.presigned_id, "presigned_url": slot.presigned_url,
            "path": slot.path}


def build_health(*, state: str, status: str = "healthy", model: str | None = None,
                 detail: str | None = None) -> dict[str, Any]:
    """``GET /health``: [R2] sends ``model``, [R3] ``detail``; ``None`` values are left out."""
    body: dict[str, Any] = {"status": status}
    if model is not None:
        body["model"] = model
    body["state"] = state
    if detail is not None:
        body["detail"] = detail
    return body


def build_error_detail(text: str) -> dict[str, Any]:
    """The FastAPI-style error body every server route uses: ``{"detail": text}``."""
    return {"detail": text}

