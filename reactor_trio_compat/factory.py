"""The ``PeerFactory`` a :class:`~reactor_anyio.Reactor` uses under trio.

Importing this module registers :func:`client_peer_factory` for ``"trio"`` in
:mod:`reactor_anyio.webrtc.bridges`, whose table names this module: a client running under
trio imports it on its first connect, and nothing else imports the bridge.

The factory is called by the client driver inside trio, synchronously, once per peer
connection; each :class:`BridgedClientPeer` takes a reference on the trio run's shared
:class:`AiortcLoopThread` and gives it back when closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reactor_anyio.webrtc import IceConfig, Peer, PeerFactory, register_peer_factory

from .peer import BridgedClientPeer, Spawn


def client_peer_factory(*, host_addresses: Sequence[str] | None,
                        extra_ice_servers: Sequence[Any] = (),
                        frame_capacity: int = 2,
                        spawn: Spawn | None = None,
                        big_sctp_packets: bool = False) -> PeerFactory:
    """A factory of :class:`BridgedClientPeer` gathering on ``host_addresses`` (``None``:
    every interface) with the session's ICE servers followed by ``extra_ice_servers``.

    ``spawn`` starts the frame-consumer tasks (e.g. a nursery's ``start_soon``); by default
    each is a trio system task that the peer cancels when it closes.
    """
    hosts = None if host_addresses is None else tuple(host_addresses)
    extra = tuple(extra_ice_servers)

    def make_peer(tracks: Sequence[Any], ice_servers: Sequence[Any]) -> Peer:
        ice = IceConfig(host_addresses=hosts, ice_servers=(*ice_servers, *extra))
        return BridgedClientPeer(tracks, ice=ice, frame_capacity=frame_capacity, spawn=spawn,
                                 big_sctp_packets=big_sctp_packets)

    return make_peer


register_peer_factory("trio", client_peer_factory)
