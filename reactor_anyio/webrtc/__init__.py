"""The aiortc (WebRTC) layer of the anyio adapters, for the client (offerer) and the local
runtime (answerer).

It knows nothing of HTTP or of the protocol state machines: a driver feeds the sans-IO core
and calls these classes.  aiortc is asyncio-only, so every aiortc object is created, used and
closed inside :class:`ClientPeer` / :class:`ServerPeer` on one asyncio loop (checked), which
lets the trio bridge host them on their own loop thread; frames leave through
:class:`LatestWinsMailbox`, which any asyncio or trio task can read.  What the client driver
needs of a peer is :class:`Peer` (built by a :class:`PeerFactory`); :mod:`.bridges` picks the
factory for the running async library.
"""

from typing import TYPE_CHECKING

from reactor_proto.lazy import lazy_attributes

if TYPE_CHECKING:
    from .bridges import BRIDGE_MODULES, peer_factory_builder, register_peer_factory
    from .client_peer import ClientPeer, TrackLike, TrackSpec
    from .codecs import DEFAULT_VIDEO_CODEC_ORDER
    from .convert import RgbArray, frame_to_rgb, rgb_to_frame
    from .ice import (
        LOOPBACK_HOST_ADDRESSES,
        IceConfig,
        install_host_address_filter,
        restricted_host_addresses,
    )
    from .mailbox import LatestWinsMailbox
    from .peer_base import ChannelMessage
    from .protocols import Peer, PeerFactory, PeerFactoryBuilder
    from .server_peer import MappedTrack, ServerPeer, TrackMappingLike
    from .stats import PeerStats, TrackFrameStats
    from .tracks import NdarrayVideoTrack, PausableTrack, ProducerVideoTrack
else:  # imported on first use (PEP 562): see reactor_proto.lazy
    __getattr__, __dir__ = lazy_attributes(__name__, {
        "BRIDGE_MODULES": ".bridges",
        "peer_factory_builder": ".bridges",
        "register_peer_factory": ".bridges",
        "ClientPeer": ".client_peer",
        "TrackLike": ".client_peer",
        "TrackSpec": ".client_peer",
        "DEFAULT_VIDEO_CODEC_ORDER": ".codecs",
        "RgbArray": ".convert",
        "frame_to_rgb": ".convert",
        "rgb_to_frame": ".convert",
        "LOOPBACK_HOST_ADDRESSES": ".ice",
        "IceConfig": ".ice",
        "install_host_address_filter": ".ice",
        "restricted_host_addresses": ".ice",
        "LatestWinsMailbox": ".mailbox",
        "ChannelMessage": ".peer_base",
        "Peer": ".protocols",
        "PeerFactory": ".protocols",
        "PeerFactoryBuilder": ".protocols",
        "MappedTrack": ".server_peer",
        "ServerPeer": ".server_peer",
        "TrackMappingLike": ".server_peer",
        "PeerStats": ".stats",
        "TrackFrameStats": ".stats",
        "NdarrayVideoTrack": ".tracks",
        "PausableTrack": ".tracks",
        "ProducerVideoTrack": ".tracks",
    })

__all__ = [
    "BRIDGE_MODULES",
    "DEFAULT_VIDEO_CODEC_ORDER",
    "LOOPBACK_HOST_ADDRESSES",
    "ChannelMessage",
    "ClientPeer",
    "IceConfig",
    "LatestWinsMailbox",
    "MappedTrack",
    "NdarrayVideoTrack",
    "PausableTrack",
    "Peer",
    "PeerFactory",
    "PeerFactoryBuilder",
    "PeerStats",
    "ProducerVideoTrack",
    "RgbArray",
    "ServerPeer",
    "TrackFrameStats",
    "TrackLike",
    "TrackMappingLike",
    "TrackSpec",
    "frame_to_rgb",
    "install_host_address_filter",
    "peer_factory_builder",
    "register_peer_factory",
    "restricted_host_addresses",
    "rgb_to_frame",
]
