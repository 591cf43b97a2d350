"""Fuzz the ICE-server coercion behind ``IceConfig(ice_servers=...)`` with JSON-shaped input
(the core's ``ice_server_from`` on each entry; aiortc's ``RTCIceServer`` is the adapter's).

Oracle: a list of entries is accepted or rejected with ``LocalProtocolError``; an accepted
entry is the core's ``IceServer`` with non-empty ``urls`` of ``str``, round-trips through the
wire (``build_ice_servers`` / ``parse_ice_servers``) and through ``rtc_configuration``.
"""

from __future__ import annotations

import json

from reactor_anyio.webrtc.ice import IceConfig, rtc_configuration
from reactor_proto.bodies import IceServer, build_ice_servers, parse_ice_servers
from reactor_proto.errors import LocalProtocolError

ACCEPTED: tuple[type[BaseException], ...] = (LocalProtocolError,)


def one_input(data: bytes) -> None:
    try:
        value = json.loads(data.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return  # not JSON: the core rejects it before it gets here
    servers = value if isinstance(value, list) else [value]
    config = IceConfig(ice_servers=servers)
    assert all(isinstance(entry, IceServer) for entry in config.ice_servers)
    assert parse_ice_servers(build_ice_servers(config.ice_servers)) == config.ice_servers
    rtc = rtc_configuration(config)
    assert rtc.iceServers is not None
    assert len(rtc.iceServers) == len(config.ice_servers) == len(servers)
    for entry, server in zip(config.ice_servers, rtc.iceServers, strict=True):
        assert entry.urls
        assert all(isinstance(u, str) and u for u in entry.urls)
        assert list(entry.urls) == server.urls
        assert (entry.username, entry.credential) == (server.username, server.credential)
