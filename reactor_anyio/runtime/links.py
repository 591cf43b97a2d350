"""Peer bookkeeping and ICE helpers for :mod:`.server`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aiortc import RTCIceCandidate
from aiortc.sdp import candidate_from_sdp

from reactor_anyio.webrtc import ServerPeer
from reactor_anyio.webrtc.ice import to_ice_server
from reactor_proto.addresses import is_loopback_host as is_loopback
from reactor_proto.bodies import IceCandidate, IceServer

from .media import OutputTrack

logger = logging.getLogger(__name__)


def default_host_addresses(host: str) -> tuple[str, ...] | None:
    """Loopback-only candidates when bound to loopback; else aioice's own discovery."""
    if not is_loopback(host):
        return None
    return ("::1",) if host == "::1" else ("127.0.0.1",)


def ice_entry(server: Any) -> IceServer:
    """An ICE server from a URL string or anything ``to_ice_server`` accepts."""
    return to_ice_server(server)


class Link:
    """The peers of one connection id, by negotiation id; ``active`` gets the actions."""

    def __init__(self) -> None:
        self.peers: dict[int, ServerPeer] = {}
        self.outputs: dict[int, dict[str, OutputTrack]] = {}
        self.active: int | None = None

    def active_peer(self) -> ServerPeer | None:
        return None if self.active is None else self.peers.get(self.active)


async def add_candidates(peer: ServerPeer, candidates: Sequence[IceCandidate]) -> None:
    """Trickled remote candidates (no official client trickles; [S113] does)."""
    pc = peer._pc  # ServerPeer has no public way to add remote candidates yet
    for found in candidates:
        text = found.candidate.removeprefix("a=").removeprefix("candidate:")
        try:
            parsed: RTCIceCandidate = candidate_from_sdp(text)
            parsed.sdpMid = found.sdp_mid
            parsed.sdpMLineIndex = found.sdp_mline_index
            if parsed.sdpMid is None and parsed.sdpMLineIndex is None:
                parsed.sdpMLineIndex = 0
            await pc.addIceCandidate(parsed)
        except Exception as exc:  # garbage from the network: skip that candidate
            logger.debug("ignoring remote candidate %r: %r", found.candidate[:100], exc)
