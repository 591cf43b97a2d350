"""The one loopback rule (reactor_proto.addresses), against ipaddress as the oracle."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.addresses import is_loopback_host
from reactor_proto.client import config as client_config


@pytest.mark.parametrize("host", [
    "127.0.0.1", "127.255.0.9", "::1", "[::1]", "0:0:0:0:0:0:0:1", "[0::1]", "::1%lo",
    "::ffff:127.0.0.1", "[::ffff:127.1.2.3]", "localhost", "LocalHost", "localhost.",
])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", [
    "", "example.com", "10.0.0.1", "128.0.0.1", "0.0.0.0", "::", "::2", "[127.0.0.1]",
    "[[::1]]", "[::1", "::1]", "ip6-localhost", "foo.localhost", "localhost..", " localhost",
    "127.0.0.1:80", "::ffff:10.0.0.1", 7,
])
def test_other_hosts(host: str) -> None:
    assert not is_loopback_host(host)  # type: ignore[arg-type]


def test_client_config_re_exports_the_core_rule() -> None:
    assert client_config.is_loopback_host is is_loopback_host


@given(st.ip_addresses(v=4))
def test_ipv4_is_loopback_exactly_in_127_slash_8(address: ipaddress.IPv4Address) -> None:
    assert is_loopback_host(str(address)) == (address in ipaddress.ip_network("127.0.0.0/8"))
    assert not is_loopback_host(f"[{address}]")  # brackets are for IPv6 only
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    assert is_loopback_host(str(mapped)) == is_loopback_host(str(address))


@given(st.ip_addresses(v=6))
def test_ipv6_plain_and_bracketed_agree(address: ipaddress.IPv6Address) -> None:
    mapped = address.ipv4_mapped
    expected = address == ipaddress.IPv6Address("::1") or (
        mapped is not None and mapped in ipaddress.ip_network("127.0.0.0/8"))
    assert is_loopback_host(str(address)) == expected
    assert is_loopback_host(f"[{address}]") == expected
    assert is_loopback_host(address.exploded) == expected


@given(st.text(max_size=40))
def test_any_text_is_answered_without_raising(host: str) -> None:
    answer = is_loopback_host(host)
    assert isinstance(answer, bool)
    if answer and host.lower() not in ("localhost", "localhost."):
        inner = host[1:-1] if host.startswith("[") else host
        address = ipaddress.ip_address(inner)
        assert address.is_loopback or (
            isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None)
