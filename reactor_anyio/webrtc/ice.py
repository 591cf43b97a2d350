"""ICE configuration for aiortc peers, including loopback-only host candidates.

Why a patch at all: aioice builds its host candidates from every interface address *except*
the literal ``127.0.0.1`` (``aioice.ice.get_host_addresses``), and offers no option to choose
the addresses.  Two peers on one machine that may only talk over loopback therefore cannot
connect, and on a multi-homed machine candidates leak onto networks we must not touch.

How it is scoped: :func:`install_host_address_filter` replaces that one module-level function,
once (guarded by a lock), with a wrapper that consults a :class:`contextvars.ContextVar`.
When the variable is unset the wrapper calls aioice's original function, so peers that do
not ask for a restriction behave exactly as before.  A peer sets the variable only around its
own ``setLocalDescription`` (:func:`restricted_host_addresses`), which is where aiortc gathers
candidates; the gathering tasks aiortc spawns copy the caller's context, so the setting is
per peer, and per thread, with no global state beyond the installed wrapper.

No STUN server is ever contacted unless one is configured: aiortc substitutes a public Google
STUN server when ``iceServers`` is ``None``, so :func:`rtc_configuration` always passes an
explicit (possibly empty) list.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping

import aioice.ice
import attrs
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer

from reactor_proto.bodies import IceServer, ice_server_from, ice_servers_from
from reactor_proto.errors import LocalProtocolError

LOOPBACK_HOST_ADDRESSES: tuple[str, ...] = ("127.0.0.1",)

_host_addresses: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "reactor_ice_host_addresses", default=None
)
_install_lock = threading.Lock()
_original_get_host_addresses: Callable[[bool, bool], list[str]] | None = None


def _validate_address(index: int, address: str) -> str:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise LocalProtocolError(
            f"IceConfig.host_addresses[{index}] is not an IP address: {address!r}"
        ) from None
    return address


def _to_host_addresses(value: Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise LocalProtocolError(
            f"IceConfig.host_addresses must be a sequence of addresses, not the string {value!r}"
        )
    addresses = tuple(_validate_address(i, a) for i, a in enumerate(value))
    if not addresses:
        raise LocalProtocolError("IceConfig.host_addresses is empty: () would gather nothing")
    return addresses


def _plain(value: object) -> object:
    """aiortc's ``RTCIceServer`` as the mapping the core reads; anything else unchanged."""
    if isinstance(value, RTCIceServer):
        return {"urls": value.urls, "username": value.username, "credential": value.credential}
    return value


def to_ice_server(value: object, path: str = "ice_servers[0]") -> IceServer:
    """A configured ICE server as the core's :class:`IceServer`: what
    :func:`~reactor_proto.bodies.ice_server_from` accepts (an ``IceServer``, a URL string, a
    mapping in the wire or the RTCIceServer spelling), or an aiortc ``RTCIceServer``."""
    return ice_server_from(_plain(value), path)


def _to_ice_servers(value: Iterable[object]) -> tuple[IceServer, ...]:
    if not isinstance(value, str | bytes | Mapping):  # those the core refuses as a whole
        value = [_plain(server) for server in value]
    return ice_servers_from(value, "IceConfig.ice_servers")


@attrs.frozen(kw_only=True)
class IceConfig:
    """How a peer gathers candidates.

    ``host_addresses``: when set, the only addresses host candidates are gathered on (the
    adapter passes :data:`LOOPBACK_HOST_ADDRESSES` when the remote end is on loopback);
    ``None`` keeps aioice's own interface discovery.  ``ice_servers``: STUN/TURN servers; by
    default none, so no STUN server is contacted.
    """

    host_addresses: tuple[str, ...] | None = attrs.field(
        default=None, converter=_to_host_addresses
    )
    ice_servers: tuple[IceServer, ...] = attrs.field(default=(), converter=_to_ice_servers)

    @classmethod
    def loopback(cls) -> IceConfig:
        """Loopback only, no ICE servers: local development and every test."""
        return cls(host_addresses=LOOPBACK_HOST_ADDRESSES)


def rtc_configuration(config: IceConfig) -> RTCConfiguration:
    """The aiortc configuration: max-bundle and an explicit ICE-server list."""
    servers = [rtc_ice_server(server) for server in config.ice_servers]
    return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def rtc_ice_server(server: IceServer) -> RTCIceServer:
    """The core's :class:`IceServer` as aiortc's ``RTCIceServer`` (same names, a list of URLs)."""
    return RTCIceServer(urls=list(server.urls), username=server.username,
                        credential=server.credential)


def _filtered_get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    restricted = _host_addresses.get()
    if restricted is None:
        assert _original_get_host_addresses is not None
        return _original_get_host_addresses(use_ipv4, use_ipv6)
    wanted = []
    for address in restricted:
        version = ipaddress.ip_address(address).version
        if (version == 4 and use_ipv4) or (version == 6 and use_ipv6):
            wanted.append(address)
    return wanted


def install_host_address_filter() -> None:
    """Install the per-context host-address filter into aioice (idempotent, thread-safe)."""
    global _original_get_host_addresses
    with _install_lock:
        if aioice.ice.get_host_addresses is _filtered_get_host_addresses:
            return
        _original_get_host_addresses = aioice.ice.get_host_addresses
        aioice.ice.get_host_addresses = _filtered_get_host_addresses


@contextlib.contextmanager
def restricted_host_addresses(addresses: tuple[str, ...] | None) -> Iterator[None]:
    """Within this block (and tasks started from it) aioice gathers host candidates only on
    ``addresses``; ``None`` leaves discovery alone."""
    install_host_address_filter()
    token = _host_addresses.set(addresses)
    try:
        yield
    finally:
        _host_addresses.reset(token)
