"""Which :class:`PeerFactory` hosts aiortc under the running async library.

aiortc is asyncio-only.  Under asyncio a client's peers are plain :class:`ClientPeer` objects
on the caller's loop; under another library a *bridge* hosts aiortc somewhere asyncio runs
and hands the client peers it can use from its own library.  The table below is keyed by the
name ``sniffio.current_async_library()`` returns:

* a bridge registers its :class:`PeerFactoryBuilder` with :func:`register_peer_factory` when
  its module is imported (``reactor_trio_compat.factory`` does, for ``"trio"``);
* :data:`BRIDGE_MODULES` names, per library, the module whose import registers it, so the
  client imports a bridge only when a client actually runs under that library, and never by
  name in its own code.

A program can register its own bridge (or replace one) before connecting, or bypass the
table entirely with ``Reactor(peer_factory=...)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, Final

from reactor_proto.bodies import IceServer
from reactor_proto.errors import InvalidStateError

from .client_peer import ClientPeer
from .ice import IceConfig
from .protocols import Peer, PeerFactory, PeerFactoryBuilder

#: library name -> (module whose import registers its bridge, what to install if it is missing)
BRIDGE_MODULES: Final[dict[str, tuple[str, str]]] = {
    "trio": ("reactor_trio_compat.factory", "pip install 'reactor-sansio[trio]'"),
}

_builders: dict[str, PeerFactoryBuilder] = {}


def register_peer_factory(library: str, builder: PeerFactoryBuilder) -> None:
    """Use ``builder`` for every client that connects under ``library`` from now on."""
    _builders[library] = builder


def peer_factory_builder(library: str) -> PeerFactoryBuilder:
    """The builder registered for ``library``, importing its bridge module on first use.

    :class:`InvalidStateError` when no bridge is known, or its module cannot be imported.
    """
    builder = _builders.get(library)
    if builder is None and library in BRIDGE_MODULES:
        module, install = BRIDGE_MODULES[library]
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise InvalidStateError(
                f"WebRTC under {library!r} needs {module}, which did not import ({exc}): "
                f"{install}") from exc
        builder = _builders.get(library)
    if builder is None:
        known = sorted({*_builders, *BRIDGE_MODULES})
        raise InvalidStateError(f"WebRTC under {library!r} is not supported: run the client "
                                f"under {' or '.join(known)}")
    return builder


def asyncio_peer_factory(*, host_addresses: Sequence[str] | None,
                         frame_capacity: int, big_sctp_packets: bool = False) -> PeerFactory:
    """asyncio needs no bridge: a :class:`ClientPeer` on the running loop."""

    def make_peer(tracks: Sequence[Any], ice_servers: Sequence[IceServer]) -> Peer:
        ice = IceConfig(host_addresses=host_addresses, ice_servers=ice_servers)
        return ClientPeer(tracks, ice=ice, frame_capacity=frame_capacity,
                          big_sctp_packets=big_sctp_packets)

    return make_peer


register_peer_factory("asyncio", asyncio_peer_factory)
