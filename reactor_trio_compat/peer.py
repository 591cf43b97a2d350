"""A client peer for trio programs: a proxy to an aiortc :class:`ClientPeer` on the loop thread.

:class:`BridgedClientPeer` implements the client driver's ``Peer`` protocol.  The real
:class:`~reactor_anyio.webrtc.ClientPeer` is created, used and closed only on the
:class:`~reactor_trio_compat.loop_thread.AiortcLoopThread`; this object lives in trio and
every public method must be called from the trio thread that created it (checked).

* async methods (``create_offer``, ``apply_answer``, ``stats``, ``close``) run on the loop
  through :meth:`AiortcLoopThread.run`, so cancelling them in trio cancels them in aiortc;
* sync methods (``send``, ``attach_track``) validate what can be validated in trio, raise
  the same errors as ``ClientPeer`` would, then post the call to the loop; a failure there is
  reported back through the matching callback (a failed send -> ``on_channel_close(label)``,
  as the driver does for a synchronous failure) or, with no matching callback, logged and
  kept in :attr:`BridgedClientPeer.last_error`;
* aiortc's callbacks reach trio through ``TrioToken.run_sync_soon`` and are guarded there;
* frames: the peer's latest-wins mailbox is read by a consumer task in trio (one per track
  with a callback, parked with :mod:`.mailbox_reader`), which calls the frame callback;
  aiortc's decoder thread puts each frame in that mailbox itself (the loop thread takes no
  part), and the media loop never runs user code.
  The callback's pixel format is sent to the loop, so frames are converted once, in aiortc's
  decoder thread; a frame converted before a format change is converted again in trio.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import attrs
import trio

from reactor_anyio.webrtc import ClientPeer, IceConfig, LatestWinsMailbox, PeerStats, RgbArray
from reactor_anyio.webrtc.client_peer import TrackLike, check_tracks
from reactor_anyio.webrtc.convert import convert_frame
from reactor_anyio.webrtc.peer_base import (
    CHANNEL_LABELS,
    CLOSE_TIMEOUT,
    REMOTE_DEFAULT_MAX_MESSAGE_SIZE,
)
from reactor_anyio.webrtc.receiver import TaggedFrame, unwrap_callback
from reactor_proto.errors import (
    InvalidStateError,
    LocalProtocolError,
    MessageTooLargeError,
    ReactorError,
    TransportError,
)

from .loop_thread import AiortcLoopThread
from .mailbox_reader import next_item

logger = logging.getLogger(__name__)

ChannelMessage = str | bytes
FrameCallback = Callable[[RgbArray], None]
#: starts a task running ``fn()`` (``nursery.start_soon`` or ``TaskGroup.start_soon``)
Spawn = Callable[[Callable[[], Awaitable[None]]], None]

_peer_ids = itertools.count(1)


@attrs.frozen(kw_only=True)
class BridgedRemoteTrack:
    """What trio sees of a remote aiortc track: the aiortc object itself stays on the loop
    thread (its ``recv`` is asyncio-only); frames arrive through the frame callback."""

    name: str
    kind: str
    id: str


def _spawn_system_task(fn: Callable[[], Awaitable[None]]) -> None:
    trio.lowlevel.spawn_system_task(fn, name="reactor-bridged-frames")


class BridgedClientPeer:
    """The driver's ``Peer`` for trio; see the module docstring."""

    def __init__(self, tracks: Sequence[TrackLike], *, ice: IceConfig | None = None,
                 frame_capacity: int = 2, spawn: Spawn | None = None,
                 loop_thread: AiortcLoopThread | None = None,
                 **client_options: Any) -> None:
        check_tracks(tracks)
        self._tracks = tuple(tracks)
        self._owner = threading.get_ident()
        self._key = next(_peer_ids)
        self._spawn = spawn or _spawn_system_task
        self._owns_reference = loop_thread is None
        self._lt = AiortcLoopThread.acquire() if loop_thread is None else loop_thread
        self.on_connection_state: Callable[[str], None] | None = None
        self.on_channel_open: Callable[[str], None] | None = None
        self.on_channel_close: Callable[[str], None] | None = None
        self.on_channel_message: Callable[[str, ChannelMessage], None] | None = None
        self.on_track: Callable[[str, Any], None] | None = None
        self.last_error: ReactorError | None = None
        self.connection_state = "new"
        self._open_channels: set[str] = set()
        self._max_message_size = REMOTE_DEFAULT_MAX_MESSAGE_SIZE
        self._offered = False
        self._closing: trio.Event | None = None
        self._frame_callbacks: dict[str, tuple[FrameCallback, str]] = {}
        self._consumers: dict[str, trio.CancelScope] = {}
        self._live_consumers = 0
        self._consumers_done = trio.Event()
        self._consumers_done.set()
        # loop-thread state: written and read on the loop thread only
        self._inner: ClientPeer | None = None
        self._create_error: BaseException | None = None
        # filled on the loop thread before any run() task can start (FIFO), read in trio
        self._mailboxes: dict[str, LatestWinsMailbox[TaggedFrame]] = {}
        # a freshly acquired loop thread is running, so only a caller's own one can fail here
        self._post(self._create_on_loop, ice or IceConfig(), frame_capacity, client_options)

    # ---- the loop side ------------------------------------------------------------------

    def _create_on_loop(self, ice: IceConfig, frame_capacity: int,
                        options: dict[str, Any]) -> None:
        self._lt.require_loop_thread("BridgedClientPeer._create_on_loop()")
        try:
            inner = ClientPeer(self._tracks, ice=ice, frame_capacity=frame_capacity, **options)
        except BaseException as exc:
            self._create_error = exc
            return
        self._mailboxes = {t.name: inner.tagged_frames(t.name) for t in self._tracks
                           if t.direction == "recvonly" and t.kind == "video"}
        to_trio = self._lt.to_trio
        inner.on_connection_state = lambda state: to_trio(self._fire_state, state)
        inner.on_channel_open = lambda label: to_trio(self._fire_open, label,
                                                      inner.max_message_size)
        inner.on_channel_close = lambda label: to_trio(self._fire_close, label)
        inner.on_channel_message = lambda label, msg: to_trio(self._fire_message, label, msg)
        inner.on_track = lambda name, track: to_trio(
            self._fire_track, BridgedRemoteTrack(name=name, kind=str(track.kind),
                                                 id=str(track.id)))
        self._inner = inner
        self._lt.register_closer(self._key, inner.close)

    def _require_inner(self) -> ClientPeer:
        self._lt.require_loop_thread("BridgedClientPeer (aiortc side)")
        if self._inner is None:
            raise TransportError(f"creating the aiortc ClientPeer failed: "
                                 f"{self._create_error!r}") from self._create_error
        return self._inner

    async def _offer_on_loop(self) -> tuple[str, dict[str, str]]:
        return await self._require_inner().create_offer()

    async def _answer_on_loop(self, sdp: str) -> None:
        await self._require_inner().apply_answer(sdp)

    async def _stats_on_loop(self) -> PeerStats:
        return await self._require_inner().stats()

    async def _close_on_loop(self, wait_at_most: float) -> None:
        self._lt.require_loop_thread("BridgedClientPeer._close_on_loop()")
        inner = self._inner
        if inner is None:
            return
        self._lt.unregister_closer(self._key)
        await inner.close(wait_at_most)

    def _send_on_loop(self, label: str, message: ChannelMessage) -> None:
        try:
            self._require_inner().send(label, message)
        except ReactorError as exc:
            self._lt.to_trio(self._report_send_failure, label, exc)

    def _attach_on_loop(self, name: str, track: Any) -> None:
        try:
            self._require_inner().attach_track(name, track)
        except ReactorError as exc:
            self._lt.to_trio(self._report_failure, f"attach_track({name!r})", exc)

    # ---- callbacks, in trio ---------------------------------------------------------------

    def _dispatch(self, callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is None or self._closing is not None:
            return
        try:
            callback(*args)
        except Exception:
            logger.exception("BridgedClientPeer callback %r raised", callback)

    def _fire_state(self, state: str) -> None:
        self.connection_state = state
        self._dispatch(self.on_connection_state, state)

    def _fire_open(self, label: str, max_message_size: int) -> None:
        self._open_channels.add(label)
        self._max_message_size = max_message_size
        self._dispatch(self.on_channel_open, label)

    def _fire_close(self, label: str) -> None:
        if label in self._open_channels:
            self._open_channels.discard(label)
            self._dispatch(self.on_channel_close, label)

    def _fire_message(self, label: str, message: ChannelMessage) -> None:
        self._dispatch(self.on_channel_message, label, message)

    def _fire_track(self, track: BridgedRemoteTrack) -> None:
        self._dispatch(self.on_track, track.name, track)

    def _report_send_failure(self, label: str, error: ReactorError) -> None:
        logger.warning("send on data channel %r failed on the aiortc loop: %s", label, error)
        self.last_error = error
        self._fire_close(label)

    def _report_failure(self, what: str, error: ReactorError) -> None:
        logger.error("%s failed on the aiortc loop: %s", what, error)
        self.last_error = error

    # ---- guards ---------------------------------------------------------------------------

    def _check_thread(self) -> None:
        if threading.get_ident() != self._owner:
            raise InvalidStateError(
                "BridgedClientPeer used outside the trio thread that created it "
                f"(thread {threading.current_thread().name!r})")

    def _check_open(self) -> None:
        self._check_thread()
        if self._closing is not None:
            raise InvalidStateError("BridgedClientPeer is closed")

    @property
    def closed(self) -> bool:
        return self._closing is not None

    @property
    def loop_thread(self) -> AiortcLoopThread:
        return self._lt

    def channel_state(self, label: str) -> str | None:
        """``"open"`` while trio has seen the channel open and not closed, else ``None``."""
        return "open" if label in self._open_channels else None

    @property
    def max_message_size(self) -> int:
        return self._max_message_size

    # ---- the Peer protocol ----------------------------------------------------------------

    async def create_offer(self) -> tuple[str, dict[str, str]]:
        self._check_open()
        if self._offered:
            raise InvalidStateError("BridgedClientPeer.create_offer() was already called")
        self._offered = True
        return await self._lt.run(self._offer_on_loop)

    async def apply_answer(self, sdp: str) -> None:
        self._check_open()
        await self._lt.run(self._answer_on_loop, sdp)

    async def stats(self) -> PeerStats:
        self._check_open()
        return await self._lt.run(self._stats_on_loop)

    def send(self, label: str, message: ChannelMessage) -> None:
        """Validate as :meth:`ClientPeer.send` does, then queue on the loop thread."""
        self._check_open()
        if label not in CHANNEL_LABELS:
            raise LocalProtocolError(f"send(label) must be one of {CHANNEL_LABELS}: {label!r}")
        if label not in self._open_channels:
            raise InvalidStateError(f"data channel {label!r} is not open")
        if isinstance(message, str):
            size = len(message.encode("utf-8"))
        elif isinstance(message, bytes):
            size = len(message)
        else:
            raise LocalProtocolError(
                f"send(message) must be str or bytes, got {type(message).__name__}")
        limit = self._max_message_size
        if limit and size > limit:
            raise MessageTooLargeError(
                f"message on data channel {label!r} is {size} bytes, over the remote's "
                f"max-message-size {limit}")
        self._post(self._send_on_loop, label, message)

    def attach_track(self, name: str, track: Any) -> None:
        """Validate the name and kind in trio, then replace the sender's track on the loop."""
        self._check_open()
        spec = next((t for t in self._tracks if t.name == name), None)
        if spec is None or spec.direction != "sendonly":
            raise LocalProtocolError(f"attach_track(name) must name a sendonly track: {name!r}")
        if not self._offered:
            raise InvalidStateError("attach_track() needs create_offer() first")
        if track is not None and getattr(track, "kind", None) != spec.kind:
            raise LocalProtocolError(f"attach_track({name!r}) needs a {spec.kind} track, got "
                                     f"kind {getattr(track, 'kind', None)!r}")
        self._post(self._attach_on_loop, name, track)

    def set_audio_sink(self, name: str, sink: Any) -> None:
        """Queue remote audio ``name`` into ``sink`` (thread-safe) from the loop thread."""
        self._check_open()
        self._post(self._audio_sink_on_loop, name, sink)

    def _audio_sink_on_loop(self, name: str, sink: Any) -> None:
        with contextlib.suppress(ReactorError):
            self._require_inner().set_audio_sink(name, sink)

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            self._lt.call_soon(fn, *args)
        except InvalidStateError as exc:
            raise TransportError(f"the aiortc loop thread is gone: {exc.message}") from exc

    # ---- frames -----------------------------------------------------------------------------

    def set_frame_callback(self, name: str, callback: FrameCallback | None) -> None:
        """Call ``callback(frame)`` in trio for each frame of incoming video track ``name``
        (latest wins when slower than the stream), in the pixel format a
        :class:`~reactor_anyio.webrtc.receiver.FormattedCallback` names (else ``rgb24``);
        ``None`` stops delivery."""
        self._check_open()
        spec = next((t for t in self._tracks if t.name == name), None)
        if spec is None or spec.direction != "recvonly" or spec.kind != "video":
            raise LocalProtocolError(
                f"track name {name!r} is not an incoming video track of this peer")
        if callback is None:
            self._frame_callbacks.pop(name, None)
            scope = self._consumers.pop(name, None)
            if scope is not None:
                scope.cancel()
            return
        plain, pixel_format = unwrap_callback(callback)
        assert plain is not None  # a None callback returned above
        self._frame_callbacks[name] = (plain, pixel_format)
        self._post(self._set_format_on_loop, name, pixel_format)
        if name not in self._consumers:
            scope = self._consumers[name] = trio.CancelScope()
            self._live_consumers += 1
            self._consumers_done = trio.Event()
            self._spawn(lambda: self._consume(name, scope))

    def _set_format_on_loop(self, name: str, pixel_format: str) -> None:
        inner = self._inner
        if inner is not None and not inner.closed:
            inner.set_pixel_format(name, pixel_format)

    async def _mailbox(self, name: str) -> LatestWinsMailbox[TaggedFrame]:
        mailbox = self._mailboxes.get(name)
        if mailbox is None:  # not created yet: a round trip through the loop orders us after
            await self._lt.run(_noop)
            mailbox = self._mailboxes.get(name)
        if mailbox is None:
            raise TransportError(f"no frame mailbox for track {name!r}: "
                                 f"{self._create_error!r}")
        return mailbox

    async def _consume(self, name: str, scope: trio.CancelScope) -> None:
        try:
            with scope:
                mailbox = await self._mailbox(name)
                while True:
                    tagged = await next_item(mailbox)
                    entry = self._frame_callbacks.get(name)
                    if entry is None:
                        return
                    callback, pixel_format = entry
                    try:
                        if tagged.pixel_format == pixel_format and tagged.value is not None:
                            callback(tagged.value)
                        else:  # converted before the format changed (a transition only)
                            callback(convert_frame(tagged.frame, pixel_format))
                    except Exception:
                        logger.exception("frame callback for track %r raised", name)
        except anyio.EndOfStream:
            pass
        except Exception:  # a system task must never raise: it would crash trio.run
            logger.exception("frame consumer for track %r failed", name)
        finally:
            if self._consumers.get(name) is scope:
                del self._consumers[name]
            self._live_consumers -= 1
            if self._live_consumers == 0:
                self._consumers_done.set()

    # ---- close ------------------------------------------------------------------------------

    async def close(self, wait_at_most: float = CLOSE_TIMEOUT) -> None:
        """Stop frame delivery, close the aiortc peer on the loop thread and drop this
        peer's reference to the loop thread (the last one stops it).  Idempotent; a
        second call waits for the first.  Shielded, bounded by ``wait_at_most`` (plus the
        loop thread's own stop when this was its last user)."""
        self._check_thread()
        if self._closing is not None:
            with trio.CancelScope(shield=True):
                await self._closing.wait()
            return
        self._closing = closing = trio.Event()
        with trio.CancelScope(shield=True):
            try:
                for scope in self._consumers.values():
                    scope.cancel()
                with trio.move_on_after(wait_at_most):
                    with contextlib.suppress(InvalidStateError):
                        await self._lt.run(self._close_on_loop, wait_at_most)
                    await self._consumers_done.wait()
                self._open_channels.clear()
                self.connection_state = "closed"
            finally:
                if self._owns_reference:
                    self._owns_reference = False
                    await self._lt.release()
                closing.set()


async def _noop() -> None:
    return None
