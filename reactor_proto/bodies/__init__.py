"""JSON bodies of every HTTP endpoint (PROTOCOL.md §2-§5, §9), client and server roles.

Client-role request builders and response parsers live here; server-role request parsers and
response builders live in :mod:`reactor_proto.bodies.server` and are re-exported, so every
body helper can be imported from this module.

Parsers take *decoded* JSON (see :func:`decode_json_body`), ignore unknown fields (servers add
fields over time) and raise :class:`~reactor_proto.errors.DecodeError` naming the dotted field
path and the bad value.  Builders return plain ``dict`` values for ``jsonfields.dumps`` and
raise :class:`~reactor_proto.errors.LocalProtocolError` when the caller passes nonsense.
"""

from __future__ import annotations

from .client import (
    build_create_session,
    build_delete_session,
    build_ice_candidates,
    build_sdp_offer,
    build_start_session,
    build_upload_request,
    decode_json_body,
    parse_connection_registered,
    parse_created_session,
    parse_ice_servers,
    parse_sdp_answer,
    parse_session,
    parse_session_info,
    parse_token,
    parse_upload_slot,
)
from .ice import ice_server_from, ice_servers_from, parse_ice_server
from .records import (
    ClientInfo,
    CreatedSession,
    IceCandidate,
    IceCandidates,
    IceServer,
    SdpAnswer,
    SdpOffer,
    SessionInfo,
    SessionSnapshot,
    TrackMappingEntry,
    TransportDeclaration,
    UploadRequest,
    UploadSlot,
)
from .server import (
    CreateSessionRequest,
    StartSessionRequest,
    build_connection_registered,
    build_created_session,
    build_error_detail,
    build_health,
    build_ice_servers,
    build_offer_accepted,
    build_sdp_answer,
    build_session,
    build_session_info,
    build_token,
    build_upload_slot,
    parse_create_session_request,
    parse_delete_session_request,
    parse_ice_candidates,
    parse_sdp_offer,
    parse_start_session_request,
    parse_upload_request,
)

__all__ = [
    "ClientInfo",
    "CreateSessionRequest",
    "CreatedSession",
    "IceCandidate",
    "IceCandidates",
    "IceServer",
    "SdpAnswer",
    "SdpOffer",
    "SessionInfo",
    "SessionSnapshot",
    "StartSessionRequest",
    "TrackMappingEntry",
    "TransportDeclaration",
    "UploadRequest",
    "UploadSlot",
    "build_connection_registered",
    "build_create_session",
    "build_created_session",
    "build_delete_session",
    "build_error_detail",
    "build_health",
    "build_ice_candidates",
    "build_ice_servers",
    "build_offer_accepted",
    "build_sdp_answer",
    "build_sdp_offer",
    "build_session",
    "build_session_info",
    "build_start_session",
    "build_token",
    "build_upload_request",
    "build_upload_slot",
    "decode_json_body",
    "ice_server_from",
    "ice_servers_from",
    "parse_connection_registered",
    "parse_create_session_request",
    "parse_created_session",
    "parse_delete_session_request",
    "parse_ice_candidates",
    "parse_ice_server",
    "parse_ice_servers",
    "parse_sdp_answer",
    "parse_sdp_offer",
    "parse_session",
    "parse_session_info",
    "parse_start_session_request",
    "parse_token",
    "parse_upload_request",
    "parse_upload_slot",
]
