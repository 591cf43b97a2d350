"""IceConfig and the per-context host-address filter installed into aioice."""

from __future__ import annotations

import threading

import aioice.ice
import pytest
from aiortc import RTCIceServer

from reactor_anyio.webrtc import (
    LOOPBACK_HOST_ADDRESSES,
    IceConfig,
    install_host_address_filter,
    restricted_host_addresses,
)
from reactor_anyio.webrtc import ice as ice_module
from reactor_anyio.webrtc.ice import rtc_configuration, rtc_ice_server, to_ice_server
from reactor_proto.bodies import IceServer
from reactor_proto.errors import LocalProtocolError


def test_defaults_contact_no_stun_server() -> None:
    config = IceConfig()
    assert config.host_addresses is None
    assert config.ice_servers == ()
    rtc = rtc_configuration(config)
    # an explicit empty list: None would make aiortc add stun.l.google.com
    assert rtc.iceServers == []
    assert rtc.bundlePolicy.value == "max-bundle"


def test_loopback_config() -> None:
    assert IceConfig.loopback().host_addresses == LOOPBACK_HOST_ADDRESSES == ("127.0.0.1",)
    assert IceConfig(host_addresses=["::1", "127.0.0.1"]).host_addresses == ("::1", "127.0.0.1")


@pytest.mark.parametrize(
    ("value", "message"),
    [(["localhost"], r"host_addresses\[0\] is not an IP address: 'localhost'"),
     ("127.0.0.1", "not the string '127.0.0.1'"),
     ((), "is empty")],
)
def test_bad_host_addresses(value: object, message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        IceConfig(host_addresses=value)  # type: ignore[arg-type]


def test_ice_server_like_objects_are_accepted() -> None:
    # Everything becomes the core's IceServer (reactor_proto.bodies.ice_server_from, plus
    # aiortc's own RTCIceServer here); the adapter only turns it back into an RTCIceServer.
    entries = IceConfig(ice_servers=[
        IceServer(urls=("stun:s.example:3478",)),
        "stun:one.example",
        RTCIceServer(urls="stun:x.example", username="a", credential="b"),
        {"uris": ["turn:w.example"], "credentials": {"username": "wu", "password": "wp"}},
        {"urls": ("turn:t.example:3478",), "username": "u", "credential": "p"},
    ]).ice_servers
    assert entries == (
        IceServer(urls=("stun:s.example:3478",)),
        IceServer(urls=("stun:one.example",)),
        IceServer(urls=("stun:x.example",), username="a", credential="b"),
        IceServer(urls=("turn:w.example",), username="wu", credential="wp"),
        IceServer(urls=("turn:t.example:3478",), username="u", credential="p"),
    )
    rtc = rtc_configuration(IceConfig(ice_servers=entries[4:5]))
    assert rtc.iceServers is not None
    assert (rtc.iceServers[0].urls, rtc.iceServers[0].username,
            rtc.iceServers[0].credential) == (["turn:t.example:3478"], "u", "p")
    back = rtc_ice_server(entries[2])
    assert to_ice_server(back) == entries[2]


@pytest.mark.parametrize("server", [{}, {"urls": []}, {"urls": [1]}, {"urls": [""]}, object(),
                                    {"urls": "stun:a", "username": 5}])
def test_bad_ice_servers(server: object) -> None:
    with pytest.raises(LocalProtocolError, match=r"ice_servers\[0\]\.(urls|uris|username)|urls"):
        to_ice_server(server)


@pytest.mark.parametrize("servers", ["stun:a", {"urls": ["stun:a"]}])
def test_ice_servers_must_be_a_sequence(servers: object) -> None:
    with pytest.raises(LocalProtocolError, match="sequence of ICE servers"):
        IceConfig(ice_servers=servers)  # type: ignore[arg-type]


def test_filter_is_installed_once_and_scoped_to_the_context() -> None:
    install_host_address_filter()
    install_host_address_filter()
    original = ice_module._original_get_host_addresses
    assert original is not None
    assert original is not ice_module._filtered_get_host_addresses
    assert aioice.ice.get_host_addresses is ice_module._filtered_get_host_addresses
    unrestricted = aioice.ice.get_host_addresses(True, True)
    assert unrestricted == original(True, True)
    assert "127.0.0.1" not in unrestricted  # aioice's own rule, the reason for the filter
    seen_elsewhere: list[list[str]] = []
    with restricted_host_addresses(("127.0.0.1", "::1")):
        assert aioice.ice.get_host_addresses(True, True) == ["127.0.0.1", "::1"]
        assert aioice.ice.get_host_addresses(True, False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(False, True) == ["::1"]
        thread = threading.Thread(
            target=lambda: seen_elsewhere.append(aioice.ice.get_host_addresses(True, True)))
        thread.start()
        thread.join()
    assert seen_elsewhere == [unrestricted]  # another thread is not affected
    with restricted_host_addresses(None):
        assert aioice.ice.get_host_addresses(True, True) == unrestricted
    assert aioice.ice.get_host_addresses(True, True) == unrestricted
