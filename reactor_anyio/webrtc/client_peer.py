"""The offerer: the client side of docs/protocol §5.6 on aiortc.

It knows nothing of HTTP or of the client state machine: the driver calls
:meth:`ClientPeer.create_offer`, sends the SDP and mapping itself, and hands the (already
munged) answer to :meth:`ClientPeer.apply_answer`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from collections.abc import Sequence
from typing import Protocol

import aioice.ice
import attrs
from aiortc import RTCRtpTransceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcdtlstransport import RTCCertificate

from reactor_proto import sctp_packets
from reactor_proto.constants import CLIENT_ICE_GATHERING_DEADLINE, CONTROL_CHANNEL, DATA_CHANNEL
from reactor_proto.errors import InvalidStateError, LocalProtocolError, TransportError

from .codecs import DEFAULT_VIDEO_CODEC_ORDER, apply_video_codec_preferences
from .ice import IceConfig, restricted_host_addresses
from .ice_pacing import end_pacing_when_idle_all, return_on_completion_all
from .peer_base import PeerBase
from .sctp import set_packet_limits

logger = logging.getLogger(__name__)

KINDS = ("video", "audio")
CLIENT_DIRECTIONS = ("recvonly", "sendonly")


class TrackLike(Protocol):
    """A capability track: the core's ``TrackCapability`` or :class:`TrackSpec`."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def direction(self) -> str: ...


@attrs.frozen(kw_only=True)
class TrackSpec:
    """One track, direction from the client's point of view (§5.5)."""

    name: str
    kind: str = "video"
    direction: str = "recvonly"


def check_tracks(tracks: Sequence[TrackLike], field: str = "tracks") -> None:
    """Names unique and non-empty, kinds video/audio, directions recvonly/sendonly."""
    seen: set[str] = set()
    for index, track in enumerate(tracks):
        where = f"{field}[{index}]"
        if not track.name or track.name in seen:
            raise LocalProtocolError(f"{where}.name must be unique and non-empty: {track.name!r}")
        seen.add(track.name)
        if track.kind not in KINDS:
            raise LocalProtocolError(f"{where}.kind must be one of {KINDS}: {track.kind!r}")
        if track.direction not in CLIENT_DIRECTIONS:
            raise LocalProtocolError(
                f"{where}.direction must be one of {CLIENT_DIRECTIONS}: {track.direction!r}"
            )


_warm_up_started = False


def warm_up_in_background(modules: Sequence[str] = ()) -> bool:
    """Once per process, in a daemon thread: pay what the first connect would pay cold.

    aiortc makes a fresh DTLS certificate for every peer; the first one in a process costs
    10-25 ms (cryptography loads its OpenSSL backend and key-generation code), the later ones
    0.2-0.6 ms (the DTLS handshake then loads cryptography's serializers, a few ms more).
    Then the thread imports ``modules``: what the client leaves out of its own import (issue
    20: the v1 codec and protobuf) but the first session needs, in the order it needs
    them.  The client starts it while it is being imported (``reactor_anyio.client.options``),
    so that cost overlaps with the rest of the import and the caller's start-up instead of
    sitting in front of (or sharing the GIL with) the first offer and the first v1 message.
    True when this call started the thread.
    """
    global _warm_up_started
    if _warm_up_started:
        return False
    _warm_up_started = True

    def warm() -> None:
        try:
            # the fingerprints (SDP) and the DTLS handshake load cryptography's serializers
            RTCCertificate.generateCertificate().getFingerprints()
            importlib.import_module("cryptography.hazmat.primitives.serialization")
            for name in modules:
                importlib.import_module(name)
        except Exception:  # pragma: no cover - only speed is lost
            logger.debug("warm-up failed", exc_info=True)

    threading.Thread(target=warm, name="reactor-warm-up", daemon=True).start()
    return True


class ClientPeer(PeerBase):
    """One aiortc peer connection offering ``tracks`` (in order) and the two channels."""

    def __init__(
        self,
        tracks: Sequence[TrackLike],
        *,
        ice: IceConfig | None = None,
        video_codecs: Sequence[str] = DEFAULT_VIDEO_CODEC_ORDER,
        exclusive_codecs: bool = False,
        frame_capacity: int = 2,
        gathering_timeout: float = CLIENT_ICE_GATHERING_DEADLINE,
        big_sctp_packets: bool = False,
    ) -> None:
        check_tracks(tracks)
        super().__init__(ice=ice or IceConfig(), frame_capacity=frame_capacity)
        self._tracks = tuple(tracks)
        self._video_codecs = tuple(video_codecs)
        self._exclusive_codecs = exclusive_codecs
        self._gathering_timeout = gathering_timeout
        self._big_sctp_packets = big_sctp_packets
        self._transceivers: dict[str, RTCRtpTransceiver] = {}
        self._offered = False
        self._answered = False
        self._offer_sdp = ""
        for track in self._tracks:
            # slots exist from the start, so frame callbacks may be set before the offer
            if track.direction == "recvonly" and track.kind == "video":
                self._add_input(track.name)

    async def create_offer(self) -> tuple[str, dict[str, str]]:
        """Build transceivers and channels, gather candidates and return ``(sdp, {track name:
        mid})``.  aioice waits at most 5 s for STUN/TURN servers and then completes with the
        host candidates (an unreachable server costs those 5 s, not the connect).  Gathering
        is also bounded by ``gathering_timeout``: aiortc gathers inside
        ``setLocalDescription``, so that timeout raises :class:`TransportError` (there is no
        partial description to fall back on)."""
        self._check_open()
        if self._offered:
            raise InvalidStateError("ClientPeer.create_offer() was already called")
        self._offered = True
        for track in self._tracks:
            transceiver = self._pc.addTransceiver(track.kind, direction=track.direction)
            if track.kind == "video":
                apply_video_codec_preferences(
                    transceiver, self._video_codecs, exclusive=self._exclusive_codecs
                )
            self._transceivers[track.name] = transceiver
        # control first, then data (§6.1): an old runtime keeps the last one it sees
        for label in (CONTROL_CHANNEL, DATA_CHANNEL):
            self._register_channel(self._pc.createDataChannel(label, ordered=True))
        offer = await self._pc.createOffer()
        with restricted_host_addresses(self._ice.host_addresses):
            try:
                await asyncio.wait_for(
                    self._pc.setLocalDescription(offer), self._gathering_timeout
                )
            except TimeoutError:
                raise TransportError(
                    f"ICE gathering did not complete within {self._gathering_timeout} s"
                ) from None
        end_pacing_when_idle_all(self._ice_connections())  # before the checks start
        return_on_completion_all(self._ice_connections())  # figure 9: see ice_pacing.py
        mids: dict[str, str] = {}
        for name, transceiver in self._transceivers.items():
            if transceiver.mid is None:  # pragma: no cover - aiortc assigns mids on offer
                raise TransportError(f"transceiver of track {name!r} has no mid after the offer")
            mids[name] = str(transceiver.mid)
            self._mid_names[str(transceiver.mid)] = name
        # issue 24: declare that we accept big SCTP packets (only our runtime answers it).
        # Stepped sessions only (the client asks for it then): while video streams, 16 KiB
        # packets in a data-channel burst overflowed the UDP socket the RTP shares and froze
        # the video for 1.7-1.8 s (tests/e2e/test_runtime_recovery.py caught it in CI)
        offer = str(self._pc.localDescription.sdp)
        self._offer_sdp = (sctp_packets.with_declaration(offer) if self._big_sctp_packets
                           else offer)
        return self._offer_sdp, mids

    def host_candidates_current(self) -> bool:
        """True while every host candidate of the offer is on an address this machine still
        has.  A spare peer (``reactor_proto.client.spare``) is offered long before it is
        used; after a network change its offer would name addresses that are gone."""
        with restricted_host_addresses(self._ice.host_addresses):
            current = set(aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True))
        return all(candidate.host in current
                   for connection in self._ice_connections()
                   for candidate in connection.local_candidates if candidate.type == "host")

    async def apply_answer(self, sdp: str) -> None:
        """``setRemoteDescription`` of the (already munged) answer.  A rejected answer raises
        :class:`TransportError` with aiortc's reason."""
        self._check_open()
        if not self._offered or self._answered:
            raise InvalidStateError(
                "ClientPeer.apply_answer() needs exactly one create_offer() before it "
                f"(offered={self._offered}, answered={self._answered})"
            )
        self._answered = True
        set_packet_limits(self._pc.sctp, sctp_packets.declared_limit(self._offer_sdp),
                          sctp_packets.declared_limit(sdp))
        try:
            await self._pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except Exception as exc:
            raise TransportError(f"answer rejected by aiortc: {exc!r}") from exc

    def attach_track(self, name: str, track: MediaStreamTrack | None) -> None:
        """Send ``track`` on the sendonly transceiver of ``name`` (``None`` stops sending).
        The caller keeps ownership of ``track``."""
        self._check_open()
        spec = next((t for t in self._tracks if t.name == name), None)
        if spec is None or spec.direction != "sendonly":
            raise LocalProtocolError(f"attach_track(name) must name a sendonly track: {name!r}")
        if not self._offered:
            raise InvalidStateError("attach_track() needs create_offer() first")
        if track is not None and track.kind != spec.kind:
            raise LocalProtocolError(
                f"attach_track({name!r}) needs a {spec.kind} track, got kind {track.kind!r}"
            )
        self._transceivers[name].sender.replaceTrack(track)
