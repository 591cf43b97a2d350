"""The one ICE-server parser (reactor_proto.bodies.ice): wire body and user configuration."""

from __future__ import annotations

import types

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.bodies import (
    IceServer,
    build_ice_servers,
    ice_server_from,
    ice_servers_from,
    parse_ice_server,
    parse_ice_servers,
)
from reactor_proto.errors import DecodeError, LocalProtocolError


def test_both_spellings_and_a_lone_string() -> None:
    wire = {"uris": ["turn:a"], "credentials": {"username": "u", "password": "p"}}
    webrtc = {"urls": "turn:a", "username": "u", "credential": "p"}
    expected = IceServer(urls=("turn:a",), username="u", credential="p")
    assert parse_ice_server(wire) == parse_ice_server(webrtc) == expected
    assert ice_server_from("stun:b") == IceServer(urls=("stun:b",))
    assert ice_server_from(expected) is expected
    assert ice_server_from(types.MappingProxyType({"urls": ("stun:c", "stun:d")})) == \
        IceServer(urls=("stun:c", "stun:d"))


def test_flat_names_win_and_credentials_fill_the_rest() -> None:
    server = parse_ice_server({"urls": ["turn:a"], "username": "flat",
                               "credentials": {"username": "nested", "password": "pw"}})
    assert (server.username, server.credential) == ("flat", "pw")


def test_wire_errors_name_the_field() -> None:
    with pytest.raises(DecodeError, match=r"ice_server\.uris: required field is missing") as info:
        parse_ice_server({})
    assert info.value.field == "ice_server.uris"
    with pytest.raises(DecodeError, match="urls") as info:
        parse_ice_server({"urls": 5})
    assert info.value.field == "ice_server.urls"
    with pytest.raises(DecodeError) as info:
        parse_ice_server({"urls": ["a"], "credential": 1})
    assert info.value.field == "ice_server.credential"


@pytest.mark.parametrize(("value", "message"), [
    (7, r"servers\[2\]: expected an IceServer, a URL string or a mapping with `urls`, got int"),
    ("", r"servers\[2\]\.urls\[0\]: expected a non-empty string"),
    ({"uris": []}, r"servers\[2\]\.uris: expected at least one URI"),
    ({"urls": ["a"], "credentials": []}, r"servers\[2\]\.credentials: expected an object"),
])
def test_configuration_errors_are_local(value: object, message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        ice_server_from(value, "servers[2]")


def test_a_list_of_servers_is_numbered() -> None:
    assert ice_servers_from(["stun:a", {"urls": ["stun:b"]}]) == (
        IceServer(urls=("stun:a",)), IceServer(urls=("stun:b",)))
    with pytest.raises(LocalProtocolError, match=r"extra\[1\]"):
        ice_servers_from(["stun:a", 1], "extra")
    for whole in ("stun:a", b"stun:a", {"urls": ["stun:a"]}):
        with pytest.raises(LocalProtocolError, match="sequence of ICE servers"):
            ice_servers_from(whole)  # type: ignore[arg-type]


text = st.text(min_size=1, max_size=8)


@given(st.lists(st.builds(IceServer, urls=st.lists(text, min_size=1, max_size=3).map(tuple),
                          username=st.none() | text, credential=st.none() | text), max_size=4))
def test_every_spelling_round_trips(servers: list[IceServer]) -> None:
    assert parse_ice_servers(build_ice_servers(servers)) == tuple(servers)
    flat = [{"urls": list(s.urls), "username": s.username, "credential": s.credential}
            for s in servers]
    assert ice_servers_from(flat) == tuple(servers)
    assert ice_servers_from(servers) == tuple(servers)
