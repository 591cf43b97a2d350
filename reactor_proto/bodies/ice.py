"""ICE servers: the one parser from the wire and from user configuration into :class:`IceServer`.

The wire (§5.1) spells an entry ``{"uris": [...], "credentials": {"username", "password"}}``;
WebRTC's ``RTCIceServer`` spells it ``{"urls": [...], "username", "credential"}``.  Both
spellings appear in hand-written server configs and in what users pass to the adapters, so one
entry parser reads either (and a lone string for the URL list).  When an entry has both, the
flat ``username``/``credential`` win and ``credentials`` fills what they leave out.

:func:`parse_ice_servers` reads the body of ``GET …/ice_servers`` and raises
:class:`~reactor_proto.errors.DecodeError`; :func:`ice_server_from` reads one configured
server (an :class:`IceServer`, a URL string or a mapping) and raises
:class:`~reactor_proto.errors.LocalProtocolError`, since a bad setting is the caller's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import DecodeError, LocalProtocolError
from ..jsonfields import Fields
from .records import IceServer

__all__ = ["ice_server_from", "ice_servers_from", "parse_ice_server", "parse_ice_servers"]

_URLS_EXPECTED = "an array of URI strings (`uris`, or the RTCIceServer spelling `urls`)"


def _uri_list(fields: Fields) -> tuple[str, ...]:
    key = "uris" if "uris" in fields.raw or "urls" not in fields.raw else "urls"
    if key not in fields.raw:
        where = fields.where(key)
        raise DecodeError(f"{where}: required field is missing: {_URLS_EXPECTED}", field=where)
    raw = fields.raw[key]
    if isinstance(raw, str):
        raw = [raw]
    # A tuple never comes from JSON, but does from Python configuration.
    if not isinstance(raw, list | tuple):
        raise fields.fail(key, _URLS_EXPECTED, raw)
    if not raw:
        raise fields.fail(key, f"at least one URI in {_URLS_EXPECTED}", raw)
    for index, uri in enumerate(raw):
        if not isinstance(uri, str) or not uri:
            raise fields.fail(f"{key}[{index}]", "a non-empty string", uri)
    return tuple(raw)


def parse_ice_server(obj: Any, path: str = "ice_server") -> IceServer:
    """One ICE-server entry, in the wire or the RTCIceServer spelling (see the module doc)."""
    server = Fields(obj, path)
    urls = _uri_list(server)
    credentials = server.opt_obj("credentials")
    username = server.opt_str("username")
    credential = server.opt_str("credential")
    if credentials is not None:
        username = username if username is not None else credentials.opt_str("username")
        credential = credential if credential is not None else credentials.opt_str("password")
    return IceServer(urls=urls, username=username, credential=credential)


def parse_ice_servers(obj: Any) -> tuple[IceServer, ...]:
    """``GET …/ice_servers`` (§5.1): ``uris`` → ``urls``, ``credentials`` → username/credential."""
    fields = Fields(obj, "ice_servers")
    return tuple(parse_ice_server(element, path) for path, element in fields.items("ice_servers"))


def ice_server_from(value: object, path: str = "ice_servers[0]") -> IceServer:
    """A configured ICE server: an :class:`IceServer` (kept), a URL string, or a mapping in
    either spelling.  LocalProtocolError naming ``path`` and the field otherwise."""
    if isinstance(value, IceServer):
        return value
    if isinstance(value, str):
        value = {"urls": [value]}
    if not isinstance(value, Mapping):
        raise LocalProtocolError(
            f"{path}: expected an IceServer, a URL string or a mapping with `urls`, got "
            f"{type(value).__name__}")
    try:
        return parse_ice_server(dict(value), path)
    except DecodeError as exc:
        raise LocalProtocolError(exc.message) from None


def ice_servers_from(values: Iterable[object], name: str = "ice_servers") -> tuple[IceServer, ...]:
    """Every configured server through :func:`ice_server_from`, paths numbered under ``name``."""
    if isinstance(values, str | bytes | Mapping):
        raise LocalProtocolError(
            f"{name}: expected a sequence of ICE servers, got {type(values).__name__}")
    return tuple(ice_server_from(v, f"{name}[{i}]") for i, v in enumerate(values))
