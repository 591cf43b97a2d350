"""What the client and server peers share: callbacks, data channels, incoming tracks, close.

Every method must be called on the asyncio loop that created the peer (aiortc silently
misbehaves when driven from another thread: a stray loop gets created), and is checked.
Callbacks are plain callables set by the driver; they run on that loop and an exception in
one is logged, never raised into aiortc.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import anyio
from aiortc import RTCDataChannel
from aiortc.mediastreams import MediaStreamTrack

from reactor_proto.constants import CONTROL_CHANNEL, DATA_CHANNEL
from reactor_proto.errors import (
    InvalidStateError,
    LocalProtocolError,
    MessageTooLargeError,
    TransportError,
)

from .audio_receive import AudioInputs
from .convert import RgbArray, check_pixel_format
from .decoder import stop_decoder
from .heap import session_closed as reclaim_after_session
from .ice import IceConfig, rtc_configuration
from .jitter import release_on_marker
from .mailbox import LatestWinsMailbox
from .receiver import FrameCallback, InputSlot, TaggedFrame, drain
from .remb import quick_remb
from .sctp import SctpTunedPeerConnection
from .stats import PeerStats, summarize
from .tracks import PausableTrack, ProducerVideoTrack

logger = logging.getLogger(__name__)

CHANNEL_LABELS: tuple[str, ...] = (CONTROL_CHANNEL, DATA_CHANNEL)
#: what aiortc assumes when the remote SDP has no ``a=max-message-size`` (RFC 8841 §6)
REMOTE_DEFAULT_MAX_MESSAGE_SIZE = 65_536
CLOSE_TIMEOUT = 5.0
#: how long close() waits for the remote to acknowledge the data channels' stream resets
CHANNEL_CLOSE_TIMEOUT = 0.5

ChannelMessage = str | bytes


class PeerBase(AudioInputs):
    """Base of :class:`ClientPeer` and :class:`ServerPeer`; not used on its own."""

    def __init__(self, *, ice: IceConfig, frame_capacity: int = 2) -> None:
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            raise InvalidStateError(
                f"{type(self).__name__} must be created inside a running asyncio loop"
            ) from None
        self._ice = ice
        self._frame_capacity = frame_capacity
        self._pc = SctpTunedPeerConnection(rtc_configuration(ice))
        self._channels: dict[str, RTCDataChannel] = {}
        self._inputs: dict[str, InputSlot] = {}
        self._mid_names: dict[str, str] = {}
        self._owned_tracks: list[MediaStreamTrack] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing: asyncio.Future[None] | None = None
        self._closed_reported = False
        self.on_connection_state: Callable[[str], None] | None = None
        self.on_channel_open: Callable[[str], None] | None = None
        self.on_channel_close: Callable[[str], None] | None = None
        self.on_channel_message: Callable[[str, ChannelMessage], None] | None = None
        self.on_track: Callable[[str, MediaStreamTrack], None] | None = None
        self._pc.on("connectionstatechange", self._handle_connection_state)
        self._pc.on("track", self._handle_track)

    # ---- guards and callbacks ---------------------------------------------------------

    def _check_loop(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not self._loop:
            raise InvalidStateError(
                f"{type(self).__name__} used outside the asyncio loop that created it"
            )

    def _check_open(self) -> None:
        self._check_loop()
        if self._closing is not None:
            raise InvalidStateError(f"{type(self).__name__} is closed")

    def _fire(self, callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            logger.exception("%s callback %r raised", type(self).__name__, callback)

    def _spawn(self, coro: Any, name: str) -> None:
        task: asyncio.Task[None] = self._loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- state --------------------------------------------------------------------------

    @property
    def connection_state(self) -> str:
        """aiortc's aggregate state: new, connecting, connected, failed or closed (from the
        moment :meth:`close` begins)."""
        return "closed" if self._closing is not None else str(self._pc.connectionState)

    @property
    def closed(self) -> bool:
        return self._closing is not None

    def _handle_connection_state(self) -> None:
        state = self.connection_state
        if state == "closed":
            if self._closed_reported:
                return
            self._closed_reported = True
        self._fire(self.on_connection_state, state)

    # ---- data channels ----------------------------------------------------------------

    def _register_channel(self, channel: RTCDataChannel) -> None:
        label = str(channel.label)
        self._channels[label] = channel

        def opened() -> None:
            self._fire(self.on_channel_open, label)

        def closed() -> None:
            self._fire(self.on_channel_close, label)

        def message(data: ChannelMessage) -> None:
            self._fire(self.on_channel_message, label, data)

        channel.on("open", opened)
        channel.on("close", closed)
        channel.on("message", message)

    def channel_state(self, label: str) -> str | None:
        """The ``readyState`` of channel ``label``, or ``None`` if there is none yet."""
        channel = self._channels.get(label)
        return None if channel is None else str(channel.readyState)

    @property
    def max_message_size(self) -> int:
        """Largest message the remote accepts (its ``a=max-message-size``, 65536 when it
        advertised none, 0 = unlimited); known once SCTP has started."""
        sctp = self._pc.sctp
        if sctp is None:
            return REMOTE_DEFAULT_MAX_MESSAGE_SIZE
        return int(getattr(sctp, "_remote_max_message_size", REMOTE_DEFAULT_MAX_MESSAGE_SIZE))

    def send(self, label: str, message: ChannelMessage) -> None:
        """Queue ``message`` on channel ``label``.

        Raises :class:`InvalidStateError` if the channel is not open and
        :class:`MessageTooLargeError` if the encoded message exceeds
        :attr:`max_message_size`; nothing is sent in either case.
        """
        channel = self._sendable(label, message)
        try:
            channel.send(message)
        except Exception as exc:  # aiortc: InvalidStateError / ValueError after a race
            raise TransportError(f"data channel {label!r} send failed: {exc!r}") from exc

    def _sendable(self, label: str, message: ChannelMessage) -> RTCDataChannel:
        """The open channel ``label`` if ``message`` may go out on it; raises as
        :meth:`send` documents."""
        self._check_open()
        if label not in CHANNEL_LABELS:
            raise LocalProtocolError(f"send(label) must be one of {CHANNEL_LABELS}: {label!r}")
        channel = self._channels.get(label)
        state = None if channel is None else channel.readyState
        if channel is None or state != "open":
            raise InvalidStateError(f"data channel {label!r} is not open (readyState={state!r})")
        if isinstance(message, str):
            size = len(message.encode("utf-8"))
        elif isinstance(message, bytes):
            size = len(message)
        else:
            raise LocalProtocolError(
                f"send(message) must be str or bytes, got {type(message).__name__}"
            )
        limit = self.max_message_size
        if limit and size > limit:
            raise MessageTooLargeError(
                f"message on data channel {label!r} is {size} bytes, over the remote's "
                f"max-message-size {limit}"
            )
        return channel

    # ---- incoming tracks --------------------------------------------------------------

    def _add_input(self, name: str) -> InputSlot:
        slot = self._inputs.get(name)
        if slot is None:
            slot = self._inputs[name] = InputSlot(name, capacity=self._frame_capacity)
        return slot

    def _handle_track(self, track: MediaStreamTrack) -> None:
        transceiver = next(
            (t for t in self._pc.getTransceivers() if t.receiver.track is track), None
        )
        mid = transceiver.mid if transceiver is not None else None
        name = self._mid_names.get(mid) if mid is not None else None
        slot = self._inputs.get(name) if name is not None else None
        if transceiver is not None and track.kind == "video":
            release_on_marker(transceiver.receiver)  # a frame a frame interval sooner
            quick_remb(transceiver.receiver)  # the same REMB for less CPU (remb.py)
        if slot is not None and track.kind == "video":
            slot.attach(track)
        elif name is not None and track.kind == "audio":
            self._attach_audio(name, track)  # see audio_receive.py
        else:
            # unmapped: still read it, so aiortc's queue cannot grow
            self._spawn(drain(track), name=f"reactor-drain-{mid}")
        if name is not None:
            self._fire(self.on_track, name, track)

    def frames(self, name: str) -> LatestWinsMailbox[RgbArray]:
        """The :class:`LatestWinsMailbox` of RGB frames of incoming video track ``name``, for
        pull consumers (any thread, asyncio or trio).  Do not combine with a callback."""
        return self._input(name).mailbox

    def tagged_frames(self, name: str) -> LatestWinsMailbox[TaggedFrame]:
        """Like :meth:`frames`, for a consumer on another thread that sets the pixel format
        itself (:meth:`set_pixel_format`): each item carries its format and decoded frame."""
        slot = self._input(name)
        slot.tag_values()
        return slot.mailbox

    def set_pixel_format(self, name: str, pixel_format: str) -> None:
        """Convert the frames of incoming track ``name`` to ``pixel_format`` from now on (a
        pull consumer's choice; a callback carries its own, see :class:`FormattedCallback`)."""
        self._input(name).pixel_format = check_pixel_format(pixel_format)

    def _input(self, name: str) -> InputSlot:
        slot = self._inputs.get(name)
        if slot is None:
            raise LocalProtocolError(
                f"track name {name!r} is not an incoming video track of this peer "
                f"(known: {sorted(self._inputs)})"
            )
        return slot

    def set_frame_callback(self, name: str, callback: FrameCallback | None) -> None:
        """Call ``callback(rgb)`` for each frame of incoming track ``name`` (latest wins
        when the callback is slower than the stream); ``None`` stops delivery."""
        self._check_open()
        self._input(name).set_callback(callback)

    def set_input_enabled(self, name: str, enabled: bool) -> None:
        """While disabled, frames of ``name`` are still read from aiortc but neither
        converted nor delivered."""
        self._check_open()
        self._input(name).enabled = enabled

    # ---- stats and close ----------------------------------------------------------------

    async def stats(self) -> PeerStats:
        self._check_open()
        report = await self._pc.getStats()
        return summarize(report, {name: s.stats() for name, s in self._inputs.items()})

    def _ice_connections(self) -> list[Any]:
        """aioice connections under this peer (private aiortc attributes, read-only)."""
        transports: list[Any] = []
        for transceiver in self._pc.getTransceivers():
            transports += [transceiver.sender.transport, transceiver.receiver.transport]
        sctp = self._pc.sctp
        if sctp is not None:
            transports.append(sctp.transport)
        connections = {id(c): c for c in (
            getattr(getattr(dtls, "transport", None), "_connection", None)
            for dtls in transports) if c is not None}
        return list(connections.values())

    @staticmethod
    async def _cancel_stray_consent_checks(connections: list[Any]) -> None:
        """Clean up after aioice when a peer closes mid-negotiation.

        * aioice starts its consent-freshness task when ICE completes, even when the
          connection was closed while the last check was in flight; that task would keep
          running on a closed connection.  Let connect() finish, then cancel it.
        * A candidate gathering still in progress when the connection closed adds its UDP
          sockets afterwards, and nothing closes them.  Wait (briefly) for it to end, then
          close whatever sockets the closed connection still holds.
        """
        for _ in range(3):
            await asyncio.sleep(0)
        for _ in range(50):  # at most ~0.5 s; gathering on loopback takes a few ms
            if not any(getattr(c, "_local_candidates_start", False)
                       and not getattr(c, "_local_candidates_end", True)
                       for c in connections):
                break
            await asyncio.sleep(0.01)
        stray = [task for task in (getattr(c, "_query_consent_task", None)
                                   for c in connections)
                 if task is not None and not task.done()]
        for task in stray:
            task.cancel()
        await asyncio.gather(*stray, return_exceptions=True)
        for connection in connections:
            for protocol in list(getattr(connection, "_protocols", ())):
                transport = getattr(protocol, "transport", None)
                if transport is not None and not transport.is_closing():
                    transport.close()

    async def _close_channels(self, wait_at_most: float) -> None:
        """Close the open data channels the graceful way before the peer connection goes.

        aiortc's ``RTCPeerConnection.close()`` ends SCTP with an ABORT chunk (it has no
        SHUTDOWN).  A browser whose channel is still open or closing when that ABORT lands
        fires ``error`` on it (an RTCErrorEvent, ``sctp-failure``, cause 12 "User-Initiated
        Abort"): the JS SDK logs ``[WebRTCTransport] Data channel error`` on most sessions,
        because its own ``close()`` of the channel races with our ABORT after
        ``stop_session``.  Closing a channel first sends a stream reset (RFC 8831 §6.7):
        the remote resets its side too and reports a plain ``close``; once both directions
        are reset aiortc marks the channel closed, and the ABORT that follows finds no open
        channel.  Queued messages go out before the reset, so a final message is delivered
        instead of being dropped by the ABORT.  Bounded: a remote that does not answer
        (gone, or SCTP not up) costs at most ``wait_at_most`` seconds.
        """
        sctp = self._pc.sctp
        if sctp is None or sctp.state != "connected":
            return
        channels = [c for c in self._channels.values() if c.readyState == "open"]
        if not channels:
            return
        done = asyncio.Event()

        def check() -> None:
            if all(c.readyState == "closed" for c in channels):
                done.set()

        for channel in channels:
            channel.on("close", check)
            channel.close()
        check()
        with anyio.move_on_after(wait_at_most):
            await done.wait()

    async def close(self, wait_at_most: float = CLOSE_TIMEOUT) -> None:
        """Close the peer connection and everything this peer started (idempotent; a
        second call waits for the first).  Shielded from cancellation, bounded by
        ``wait_at_most`` seconds."""
        self._check_loop()
        if self._closing is not None:
            await asyncio.shield(self._closing)
            return
        self._closing = self._loop.create_future()
        # "closed" now, not when aiortc gets there after the remote has answered the channel
        # resets below (tens of ms from a busy remote): an owner that did not ask for this
        # close (a dropped peer) can start over at once (figure 6)
        self._handle_connection_state()
        ice_connections = self._ice_connections()
        with anyio.move_on_after(wait_at_most, shield=True) as scope:
            # decoders stop meanwhile, backlog dropped (decoder.py): aiortc joins them on the loop
            decoders = [asyncio.ensure_future(stop_decoder(t.receiver))
                        for t in self._pc.getTransceivers() if t.kind == "video"]
            try:
                await self._close_channels(min(CHANNEL_CLOSE_TIMEOUT, wait_at_most / 2))
                await asyncio.gather(*decoders)
                await self._pc.close()
                await self._cancel_stray_consent_checks(ice_connections)
            finally:
                for slot in self._inputs.values():
                    await slot.aclose()
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                for track in self._owned_tracks:
                    track.stop()
                    source = track.source if isinstance(track, PausableTrack) else track
                    if isinstance(source, ProducerVideoTrack):
                        await source.aclose()  # joins its worker thread off the loop
                self._closing.set_result(None)
                # collect the session's cycles, give freed memory back (issue 21, heap.py)
                reclaim_after_session(self._loop)
        if scope.cancelled_caught:
            logger.warning("%s.close() took over %.1f s", type(self).__name__, wait_at_most)
            if not self._closing.done():
                self._closing.set_result(None)
