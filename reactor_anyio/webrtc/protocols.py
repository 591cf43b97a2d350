"""What the client driver needs of a peer connection, whoever hosts aiortc.

:class:`~reactor_anyio.webrtc.ClientPeer` satisfies :class:`Peer` on the caller's asyncio loop;
``reactor_trio_compat.BridgedClientPeer`` satisfies it from trio, with aiortc on its own loop
thread.  A :class:`PeerFactory` builds one per ``CreatePeer`` action of the client machine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from reactor_proto.bodies import IceServer


class Peer(Protocol):
    """What the driver needs of a client peer connection (aiortc or a bridged one)."""

    on_connection_state: Callable[[str], None] | None
    on_channel_open: Callable[[str], None] | None
    on_channel_close: Callable[[str], None] | None
    on_channel_message: Callable[[str, str | bytes], None] | None
    on_track: Callable[[str, Any], None] | None

    async def create_offer(self) -> tuple[str, dict[str, str]]: ...
    async def apply_answer(self, sdp: str) -> None: ...
    def send(self, label: str, message: str | bytes) -> None: ...
    def attach_track(self, name: str, track: Any) -> None: ...
    def set_frame_callback(self, name: str, callback: Callable[[Any], None] | None) -> None: ...
    async def close(self, wait_at_most: float = ...) -> None: ...
    async def stats(self) -> Any: ...


class PeerFactory(Protocol):
    """Builds the peer of one connection attempt: its tracks (the core's ``TrackCapability``
    values, in transceiver order) and every ICE server it may use."""

    def __call__(self, tracks: Sequence[Any], ice_servers: Sequence[IceServer]) -> Peer: ...


class PeerFactoryBuilder(Protocol):
    """Makes the :class:`PeerFactory` of one client: host candidates only on
    ``host_addresses`` (``None``: aioice's own discovery), ``frame_capacity`` frames buffered
    per received track; ``big_sctp_packets``: offer our big-SCTP-packet extension
    (docs/protocol/06-data-channels.md §6.9; stepped sessions only)."""

    def __call__(self, *, host_addresses: Sequence[str] | None,
                 frame_capacity: int, big_sctp_packets: bool = False) -> PeerFactory: ...
