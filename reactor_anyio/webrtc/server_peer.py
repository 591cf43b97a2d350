"""The answerer: the runtime side of one client connection on aiortc.

Given the client's offer and ``track_mapping`` (directions from the CLIENT's point of view,
§5.5), :meth:`ServerPeer.accept` returns the answer with its candidates already embedded (the
server never trickles), so the runtime can publish it as soon as the offer request returns.

Outputs (client ``recvonly``) start paused (§6.7): each is a :class:`PausableTrack` around a
per-peer source (by default an :class:`NdarrayVideoTrack` the runtime pushes frames into),
sending nothing until :meth:`set_output_paused` ``(name, False)``.  An audio output needs a
given source (e.g. a :class:`~.audio_source.QueuedAudioTrack`); without one its m-line is
answered ``inactive``.  Video inputs (client ``sendonly``) are received and delivered as RGB
frames through the shared machinery; audio inputs named in ``audio_inputs`` are decoded to
PCM of their declared format (:class:`~.audio_source.AudioInput`), other audio is drained.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

import attrs
from aiortc import RTCDataChannel, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from reactor_proto import sctp_packets
from reactor_proto.errors import DecodeError, InvalidStateError, LocalProtocolError, TransportError
from reactor_proto.runtime.audio import AudioFormat

from .audio_receive import shorten_jitter_buffer
from .audio_rtp import install as install_audio_rtp
from .audio_source import AudioInput, PausableAudioTrack, PcmCallback
from .client_peer import TrackLike, check_tracks
from .convert import RgbArray
from .ice import IceConfig, restricted_host_addresses
from .ice_pacing import end_pacing_when_idle_all, return_on_completion_all
from .pacing import ChannelPacer
from .peer_base import CHANNEL_LABELS, CLOSE_TIMEOUT, ChannelMessage, PeerBase
from .resync import SenderResync
from .resync import install as install_resync
from .sctp import set_packet_limits
from .tracks import NdarrayVideoTrack, PausableTrack

logger = logging.getLogger(__name__)

SERVER_GATHERING_TIMEOUT = 3.0


class TrackMappingLike(TrackLike, Protocol):
    """One ``track_mapping`` entry: the core's parsed entry or :class:`TrackMappingEntry`."""

    @property
    def mid(self) -> str: ...


@attrs.frozen(kw_only=True)
class MappedTrack:
    """A ``track_mapping`` entry (direction from the client's point of view)."""

    mid: str
    name: str
    kind: str = "video"
    direction: str = "recvonly"


class ServerPeer(PeerBase):
    """One aiortc peer connection answering a client's offer."""

    def __init__(
        self,
        mapping: Sequence[TrackMappingLike],
        *,
        ice: IceConfig | None = None,
        fps: float = 30.0,
        outputs: Mapping[str, MediaStreamTrack] | None = None,
        frame_capacity: int = 2,
        gathering_timeout: float = SERVER_GATHERING_TIMEOUT,
        audio_inputs: Mapping[str, AudioFormat] | None = None,
    ) -> None:
        check_tracks(mapping, field="track_mapping")
        mids = [entry.mid for entry in mapping]
        if len(set(mids)) != len(mids):
            raise DecodeError(f"track_mapping has duplicate mids: {mids!r}",
                              field="track_mapping.mid", value=mids)
        super().__init__(ice=ice or IceConfig(), frame_capacity=frame_capacity)
        self._mapping = tuple(mapping)
        self._gathering_timeout = gathering_timeout
        self._outputs: dict[str, PausableTrack] = {}
        self._audio_inputs: dict[str, AudioInput] = {}
        given = dict(outputs or {})
        formats = dict(audio_inputs or {})
        for entry in self._mapping:
            self._mid_names[entry.mid] = entry.name
            if entry.direction == "sendonly" and entry.kind == "video":
                self._add_input(entry.name)
            elif entry.direction == "sendonly" and entry.name in formats:
                self._audio_inputs[entry.name] = AudioInput(entry.name, formats[entry.name])
            elif entry.direction == "recvonly" and entry.kind == "video":
                source = given.pop(entry.name, None) or NdarrayVideoTrack(fps=fps)
                gate = PausableTrack(source, paused=True)
                self._outputs[entry.name] = gate
                self._owned_tracks.append(gate)
            elif entry.direction == "recvonly" and entry.name in given:
                gate = PausableAudioTrack(given.pop(entry.name), paused=True)
                self._outputs[entry.name] = gate
                self._owned_tracks.append(gate)
        if given:
            raise LocalProtocolError(
                f"outputs names no client-recvonly track: {sorted(given)!r}"
            )
        self._accepted = False
        #: per output name, the loss recovery of its sender (issue 21), once accepted
        self.resyncs: dict[str, SenderResync] = {}
        #: data-channel replies are paced so a flood of them cannot swamp the client's
        #: socket (and its video) with datagrams (issue 21)
        self.pacer = ChannelPacer(self._deliver, loop=self._loop)
        self._pc.on("datachannel", self._handle_datachannel)

    def _handle_datachannel(self, channel: RTCDataChannel) -> None:
        label = str(channel.label)
        if label not in CHANNEL_LABELS:
            logger.warning("closing data channel with unexpected label %r", label)
            channel.close()
            return
        self._register_channel(channel)
        if channel.readyState == "open":  # aiortc announces remote channels already open
            self._fire(self.on_channel_open, label)

    async def accept(self, offer_sdp: str) -> str:
        """Apply the client's offer and return the answer SDP (candidates included)."""
        self._check_open()
        if self._accepted:
            raise InvalidStateError("ServerPeer.accept() was already called")
        self._accepted = True
        try:
            await self._pc.setRemoteDescription(
                RTCSessionDescription(sdp=offer_sdp, type="offer")
            )
        except Exception as exc:
            raise DecodeError(f"offer rejected by aiortc: {exc!r}", field="sdp_offer",
                              value=offer_sdp[:200]) from exc
        end_pacing_when_idle_all(self._ice_connections())  # issue 20: see ice_pacing.py
        return_on_completion_all(self._ice_connections())  # figure 9: see ice_pacing.py
        offered = sctp_packets.declared_limit(offer_sdp)  # issue 24: big SCTP packets
        declared = sctp_packets.answer_limit(offered)
        set_packet_limits(self._pc.sctp, declared, offered)
        transceivers = {t.mid: t for t in self._pc.getTransceivers()}
        for index, entry in enumerate(self._mapping):
            transceiver = transceivers.get(entry.mid)
            if transceiver is None or transceiver.kind != entry.kind:
                found = None if transceiver is None else transceiver.kind
                raise DecodeError(
                    f"track_mapping[{index}].mid {entry.mid!r} ({entry.kind}) has no matching "
                    f"m-line in the offer (found kind {found!r})",
                    field=f"track_mapping[{index}].mid", value=entry.mid,
                )
            gate = self._outputs.get(entry.name)
            if gate is not None:
                transceiver.direction = "sendonly"
                transceiver.sender.replaceTrack(gate)
                if isinstance(gate, PausableAudioTrack) and hasattr(gate.source, "recv_batch"):
                    install_audio_rtp(transceiver.sender)  # pre-encoded bursts: audio_rtp.py
            elif entry.direction == "recvonly":
                transceiver.direction = "inactive"  # an audio output nobody feeds
        answer = await self._pc.createAnswer()
        with restricted_host_addresses(self._ice.host_addresses):
            try:
                await asyncio.wait_for(
                    self._pc.setLocalDescription(answer), self._gathering_timeout
                )
            except TimeoutError:
                raise TransportError(
                    f"ICE gathering did not complete within {self._gathering_timeout} s"
                ) from None
        # the senders' transports are final (bundled) once the local description is set
        for transceiver in self._pc.getTransceivers():
            sender = transceiver.sender
            for name, gate in self._outputs.items():
                if sender.track is gate and gate.kind == "video":
                    self.resyncs[name] = install_resync(sender)
        # Returned as aiortc wrote it: the runtime core advertises the promised
        # a=max-message-size (RuntimeMachine.answer_created), one place for that rule.
        answer_sdp = str(self._pc.localDescription.sdp)
        if declared is not None:
            answer_sdp = sctp_packets.with_declaration(answer_sdp, declared)
        return answer_sdp

    # ---- audio inputs -------------------------------------------------------------------

    def _handle_track(self, track: MediaStreamTrack) -> None:
        transceiver = next((t for t in self._pc.getTransceivers()
                            if t.receiver.track is track), None)
        mid = transceiver.mid if transceiver is not None else None
        name = self._mid_names.get(mid) if mid is not None else None
        audio = self._audio_inputs.get(name) if name is not None else None
        if audio is None or track.kind != "audio":
            super()._handle_track(track)
            return
        if transceiver is not None:  # the model hears a published track 40-60 ms sooner
            shorten_jitter_buffer(transceiver.receiver)
        self._spawn(audio.run(track), name=f"reactor-audio-in-{name}")
        self._fire(self.on_track, name, track)

    def set_audio_callback(self, name: str, callback: PcmCallback | None) -> None:
        """Call ``callback(pcm)`` on this loop for each decoded frame of audio input
        ``name`` (``int16 (samples, channels)`` in its declared format)."""
        self._check_open()
        self._audio_input(name).callback = callback

    def _audio_input(self, name: str) -> AudioInput:
        audio = self._audio_inputs.get(name)
        if audio is None:
            raise LocalProtocolError(
                f"track name {name!r} is not an audio input of this peer "
                f"(known: {sorted(self._audio_inputs)})")
        return audio

    def set_input_enabled(self, name: str, enabled: bool) -> None:
        if name in self._audio_inputs:
            self._check_open()
            self._audio_inputs[name].enabled = enabled
            return
        super().set_input_enabled(name, enabled)

    # ---- data channels ------------------------------------------------------------------

    def send(self, label: str, message: ChannelMessage) -> None:
        """As :meth:`PeerBase.send` (same checks, raised now), but paced: beyond a burst,
        messages wait in FIFO order for :class:`ChannelPacer` to hand them to aiortc."""
        self._sendable(label, message)
        size = len(message.encode("utf-8")) if isinstance(message, str) else len(message)
        self.pacer.send(label, message, size)

    def _deliver(self, label: str, message: ChannelMessage) -> None:
        super().send(label, message)

    async def close(self, wait_at_most: float = CLOSE_TIMEOUT) -> None:
        """Hand what the pacer still holds to aiortc (it goes out before the channels'
        reset), then close as :meth:`PeerBase.close`."""
        if not self.closed:
            self.pacer.flush()
        await super().close(wait_at_most)

    # ---- outputs ------------------------------------------------------------------------

    def _output(self, name: str) -> PausableTrack:
        gate = self._outputs.get(name)
        if gate is None:
            raise LocalProtocolError(
                f"track name {name!r} is not an output video track of this peer "
                f"(known: {sorted(self._outputs)})"
            )
        return gate

    def output_track(self, name: str) -> MediaStreamTrack:
        """The source behind output ``name`` (an :class:`NdarrayVideoTrack` unless given)."""
        return self._output(name).source

    def push_frame(self, name: str, frame: RgbArray) -> None:
        """Push an RGB frame into output ``name`` (its source must be an
        :class:`NdarrayVideoTrack`); any thread, latest wins."""
        source = self._output(name).source
        if not isinstance(source, NdarrayVideoTrack):
            raise LocalProtocolError(
                f"push_frame({name!r}): the output's source is a {type(source).__name__}"
            )
        source.push(frame)

    def set_output_paused(self, name: str, paused: bool) -> None:
        self._check_open()
        self._output(name).set_paused(paused)

    def output_paused(self, name: str) -> bool:
        return self._output(name).paused
