"""Records for the JSON bodies of every HTTP endpoint, and the field readers both roles share.

The client-role parsers/builders live in :mod:`reactor_proto.bodies.client`, the server-role ones in
:mod:`reactor_proto.bodies.server`; ``bodies`` re-exports everything, so callers import from
there.  Every reader raises :class:`~reactor_proto.errors.DecodeError` whose message names the
dotted field path (``session.selected_transport.protocol``) and the offending value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..capabilities import Capabilities
from ..constants import MAX_CONNECTION_ID
from ..errors import DecodeError, LocalProtocolError
from ..jsonfields import Fields, type_name

TERMINAL_SESSION_STATES = frozenset({"CLOSED", "INACTIVE"})
TRACK_DIRECTIONS = ("recvonly", "sendonly")
TRACK_KINDS = ("video", "audio")
# [R2] mints ids with randint(1000, 9999), so 1000 can come back from a real runtime (F20).
# The id is the server's own name for the connection, so the client accepts it as given;
# only ids a *user* picks are held to 1001-9999 (that check belongs to the client config).
MIN_SERVER_CONNECTION_ID = 1000


@attrs.frozen(kw_only=True)
class ClientInfo:
    """``client_info``: which SDK is talking (§3.3, §5.3)."""

    sdk_version: str
    sdk_type: str


@attrs.frozen(kw_only=True)
class TransportDeclaration:
    """One entry of ``supported_transports`` / the ``selected_transport`` (§3.3, §3.4)."""

    protocol: str
    version: str


@attrs.frozen(kw_only=True)
class IceServer:
    """An RTCIceServer: the wire's ``uris``/``credentials`` mapped to WebRTC names (§5.1)."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


@attrs.frozen(kw_only=True)
class TrackMappingEntry:
    """One ``track_mapping`` entry; ``direction`` is from the client's point of view (§5.5)."""

    mid: str
    name: str
    kind: str
    direction: str


@attrs.frozen(kw_only=True)
class CreatedSession:
    """The slim answer to ``POST /sessions`` (§3.3)."""

    session_id: str
    model_name: str
    state: str
    server_version: str | None = None
    cluster: str | None = None


@attrs.frozen(kw_only=True)
class SessionSnapshot:
    """``GET /sessions/{id}`` or a local descriptor (``/start_session``, ``GET /session``).

    ``schema`` is the raw OpenAPI document an [R2] descriptor carries; ``expires_at`` is our
    coordinator's extension (Unix seconds, key ``expires_at``).
    """

    session_id: str
    state: str
    cluster: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    server_version: str | None = None
    #: our runtime's marker: the wires it serves (``server_info.wire``, e.g. ``["v0", "v1"]``)
    server_wires: tuple[str, ...] = ()
    selected_transport: TransportDeclaration | None = None
    capabilities: Capabilities | None = None
    schema: Mapping[str, Any] | None = None
    expires_at: float | None = None
    #: §15.2: the generation mode a runtime reports (``streamed``/``stepped``); None: absent
    generation: str | None = None

    @property
    def is_ready(self) -> bool:
        """The runtime accepted the session: transport and capabilities are both known."""
        return self.selected_transport is not None and self.capabilities is not None

    @property
    def is_terminal(self) -> bool:
        """CLOSED or INACTIVE, in either case ([R3] descriptors are lower-case)."""
        return self.state.upper() in TERMINAL_SESSION_STATES


@attrs.frozen(kw_only=True)
class SessionInfo:
    """``GET /sessions/{id}/info`` (§3.5)."""

    session_id: str
    state: str
    cluster: str | None = None


@attrs.frozen(kw_only=True)
class SdpOffer:
    """The body of ``POST|PUT …/sdp_params`` (§5.3)."""

    sdp: str
    client_info: ClientInfo | None = None
    track_mapping: tuple[TrackMappingEntry, ...] = ()


@attrs.frozen(kw_only=True)
class SdpAnswer:
    """A 200 answer to the answer poll; ``connection_id`` is absent on older servers."""

    sdp: str
    connection_id: int | None = None


@attrs.frozen(kw_only=True)
class UploadRequest:
    """``POST /sessions/{id}/uploads``; ``upload_id`` is [R3]'s optional reservation (§4.4)."""

    name: str
    size: int
    mime_type: str
    upload_id: str | None = None


@attrs.frozen(kw_only=True)
class UploadSlot:
    """The 201 answer to an upload request (§9)."""

    presigned_id: str
    presigned_url: str
    path: str


@attrs.frozen(kw_only=True)
class IceCandidate:
    """One trickled candidate (§5.4)."""

    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None


@attrs.frozen(kw_only=True)
class IceCandidates:
    """The body of ``POST …/ice_candidates`` (§5.4)."""

    candidates: tuple[IceCandidate, ...]
    is_final: bool = False


# ---- shared readers --------------------------------------------------------------------------


def req_text(fields: Fields, key: str) -> str:
    """A required string that must not be empty."""
    value = fields.req_str(key)
    if not value:
        raise fields.fail(key, "a non-empty string", value)
    return value


def opt_text(fields: Fields, key: str) -> str | None:
    """An optional string; when present it must not be empty."""
    value = fields.opt_str(key)
    if value is not None and not value:
        raise fields.fail(key, "a non-empty string", value)
    return value


def read_client_info(fields: Fields) -> ClientInfo:
    return ClientInfo(sdk_version=fields.req_str("sdk_version"),
                      sdk_type=fields.req_str("sdk_type"))


def read_transport(fields: Fields) -> TransportDeclaration:
    return TransportDeclaration(protocol=req_text(fields, "protocol"),
                                version=req_text(fields, "version"))


def read_connection_id(fields: Fields, key: str, *, required: bool) -> int | None:
    value = fields.req_int(key) if required else fields.opt_int(key)
    if value is not None and not MIN_SERVER_CONNECTION_ID <= value <= MAX_CONNECTION_ID:
        raise DecodeError(
            f"{fields.where(key)}: expected a connection id in "
            f"{MIN_SERVER_CONNECTION_ID}..{MAX_CONNECTION_ID}, got {value!r}",
            field=fields.where(key), value=value)
    return value


def read_track_mapping_entry(path: str, element: Any) -> TrackMappingEntry:
    fields = Fields(element, path)
    kind = req_text(fields, "kind")
    if kind not in TRACK_KINDS:
        raise fields.fail("kind", "one of 'video', 'audio'", kind)
    direction = req_text(fields, "direction")
    if direction not in TRACK_DIRECTIONS:
        raise fields.fail("direction", "one of 'recvonly', 'sendonly'", direction)
    return TrackMappingEntry(mid=req_text(fields, "mid"), name=req_text(fields, "name"),
                             kind=kind, direction=direction)


def read_ice_candidate(path: str, element: Any) -> IceCandidate:
    fields = Fields(element, path)
    index = fields.opt_int("sdp_mline_index")
    if index is not None and index < 0:
        raise fields.fail("sdp_mline_index", "a non-negative integer", index)
    return IceCandidate(candidate=fields.req_str("candidate"), sdp_mid=fields.opt_str("sdp_mid"),
                        sdp_mline_index=index)


def read_bag(fields: Fields, key: str) -> dict[str, Any] | None:
    bag = fields.opt_obj(key)
    return None if bag is None else dict(bag.raw)


# ---- shared writers --------------------------------------------------------------------------


def client_info_json(info: ClientInfo) -> dict[str, Any]:
    return {"sdk_version": info.sdk_version, "sdk_type": info.sdk_type}


def transport_json(transport: TransportDeclaration) -> dict[str, Any]:
    return {"protocol": transport.protocol, "version": transport.version}


def track_mapping_json(entry: TrackMappingEntry) -> dict[str, Any]:
    return {"mid": entry.mid, "name": entry.name, "kind": entry.kind,
            "direction": entry.direction}


def ice_candidate_json(candidate: IceCandidate) -> dict[str, Any]:
    return {"candidate": candidate.candidate, "sdp_mid": candidate.sdp_mid,
            "sdp_mline_index": candidate.sdp_mline_index}


def require_text(name: str, value: Any) -> str:
    """Caller-side check for builders: a non-empty string, else LocalProtocolError."""
    if not isinstance(value, str) or not value:
        raise LocalProtocolError(
            f"{name}: expected a non-empty string, got {type_name(value)} {value!r:.80}")
    return value


def require_size(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise LocalProtocolError(f"{name}: expected a positive integer, got {value!r:.80}")
    return value


def require_connection_id(name: str, value: Any) -> int:
    if (isinstance(value, bool) or not isinstance(value, int)
            or not MIN_SERVER_CONNECTION_ID <= value <= MAX_CONNECTION_ID):
        raise LocalProtocolError(
            f"{name}: expected a connection id in {MIN_SERVER_CONNECTION_ID}.."
            f"{MAX_CONNECTION_ID}, got {value!r:.80}")
    return value


def require_mapping_entry(path: str, entry: TrackMappingEntry) -> None:
    require_text(f"{path}.mid", entry.mid)
    require_text(f"{path}.name", entry.name)
    if entry.kind not in TRACK_KINDS:
        raise LocalProtocolError(f"{path}.kind: expected one of 'video', 'audio', "
                                 f"got {entry.kind!r}")
    if entry.direction not in TRACK_DIRECTIONS:
        raise LocalProtocolError(f"{path}.direction: expected one of 'recvonly', 'sendonly', "
                                 f"got {entry.direction!r}")
