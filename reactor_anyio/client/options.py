"""The ``Reactor``'s own options (beyond ``ClientConfig``) and its file reading.

Split from :mod:`.reactor` along a seam: how the client's peers are built (ICE host addresses,
extra ICE servers, the frame buffer, which :class:`~reactor_anyio.webrtc.PeerFactory`) is
checked once, at construction, and does not change afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import IO, Any

import anyio
import attrs
import numpy  # noqa: F401  - the frame path needs it at the first frame (0.8.0 imports it too)
import sniffio

from reactor_proto.addresses import is_loopback_host
from reactor_proto.bodies import IceServer
from reactor_proto.errors import LocalProtocolError
from reactor_proto.http import parse_url

from ..webrtc import LOOPBACK_HOST_ADDRESSES, IceConfig, Peer, PeerFactory, peer_factory_builder
from ..webrtc.client_peer import warm_up_in_background
from ..webrtc.convert import DEFAULT_PIXEL_FORMAT, check_pixel_format
from ..webrtc.receiver import FormattedCallback, FrameCallback

#: imported by the warm-up thread after the DTLS key: the v1 codec (the first v1 message)
WARM_UP_MODULES = ("reactor_proto.wire_v1.codec",)
# Started while the rest of the client is still being imported (issue 20): the first DTLS key
# (10-25 ms cold) and the v1 codec are then ready by the first connect.  Started at the first
# Reactor() instead, the thread shared the GIL with that connect: first connect -> READY went
# from 0.5x to 1.1x reactor-sdk 0.8.0's, for an import about 5 % shorter.
warm_up_in_background(WARM_UP_MODULES)


@attrs.frozen(kw_only=True)
class PeerOptions:
    """How the client builds its peers.

    ``ice`` holds the host addresses to gather on and the extra ICE servers (appended to the
    session's).  ``factory`` is the caller's :class:`PeerFactory`, or ``None`` to pick one for
    the running async library at each connect (see :mod:`reactor_anyio.webrtc.bridges`).
    """

    ice: IceConfig
    frame_buffer: int
    factory: PeerFactory | None = None
    #: the pixel format frame callbacks get unless ``set_frame_callback(format=...)`` says
    frame_format: str = DEFAULT_PIXEL_FORMAT

    @classmethod
    def create(cls, api_url: str, *, ice_host_addresses: Sequence[str] | None,
               ice_servers: Sequence[Any] | None, frame_buffer: int,
               peer_factory: PeerFactory | None,
               frame_format: str = DEFAULT_PIXEL_FORMAT) -> PeerOptions:
        """Check the constructor's options; LocalProtocolError names the bad one."""
        if ice_host_addresses is None and is_loopback_host(parse_url(api_url).host):
            ice_host_addresses = LOOPBACK_HOST_ADDRESSES  # a local session stays local
        if peer_factory is not None and not callable(peer_factory):
            raise LocalProtocolError(f"peer_factory: expected a callable, got "
                                     f"{type(peer_factory).__name__}")
        ice = IceConfig(host_addresses=ice_host_addresses, ice_servers=ice_servers or ())
        return cls(ice=ice, frame_buffer=frame_buffer, factory=peer_factory,
                   frame_format=check_pixel_format(frame_format, field="frame_format"))

    def frame_callback(self, callback: FrameCallback | None,
                       pixel_format: str | None = None) -> FrameCallback | None:
        """``callback`` tagged with the pixel format it consumes (``pixel_format``, else
        :attr:`frame_format`): the receiver converts each frame to it once, in aiortc's
        decoder thread.  :class:`~reactor_anyio.webrtc.convert.PixelFormatError` for a
        format not in :data:`~reactor_anyio.webrtc.convert.PIXEL_FORMATS`."""
        chosen = self.frame_format if pixel_format is None else check_pixel_format(
            pixel_format, field="format")
        if callback is None:
            return None
        if isinstance(callback, FormattedCallback):
            callback = callback.callback
        return FormattedCallback(callback, chosen)

    def bind(self, *, stepped: bool = False) -> PeerFactory:
        """The factory this connect uses: the caller's, or the running library's bridge
        (:class:`~reactor_proto.errors.InvalidStateError` when there is none); a ``stepped``
        session's peers offer big SCTP packets (issue 24, docs/protocol §6.9)."""
        if self.factory is not None:
            chosen = self.factory
        else:
            builder = peer_factory_builder(sniffio.current_async_library())
            # the extension's flag only when asked: a builder registered with the older
            # signature (host_addresses, frame_capacity) keeps working for streamed sessions
            extension = {"big_sctp_packets": True} if stepped else {}
            chosen = builder(host_addresses=self.ice.host_addresses,
                             frame_capacity=self.frame_buffer, **extension)
        extra = self.ice.ice_servers

        def make_peer(tracks: Sequence[Any], ice_servers: Sequence[IceServer]) -> Peer:
            return chosen(tracks, (*ice_servers, *extra))

        return make_peer


async def read_upload(file: str | os.PathLike[str] | bytes | IO[bytes]) -> tuple[bytes, str | None]:
    """``upload_file``'s argument as bytes, with the file's own name when it has one."""
    if isinstance(file, bytes | bytearray | memoryview):
        return bytes(file), None
    if isinstance(file, str | os.PathLike):
        path = anyio.Path(os.fspath(file))
        return await path.read_bytes(), path.name
    reader = getattr(file, "read", None)
    if reader is None:
        raise LocalProtocolError(f"upload_file: expected a path, bytes or a binary file, got "
                                 f"{type(file).__name__}")
    data = await anyio.to_thread.run_sync(reader)
    if not isinstance(data, bytes):
        raise LocalProtocolError("upload_file: the file object must be opened in binary mode")
    raw_name = getattr(file, "name", None)
    return data, os.path.basename(raw_name) if isinstance(raw_name, str) else None
