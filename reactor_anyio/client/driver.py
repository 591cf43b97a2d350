"""Drives a :class:`~reactor_proto.client.ClientMachine`: feed inputs, perform actions, sleep.

This is the whole adapter loop of ARCHITECTURE.md: every input is fed with ``now``, every
action is performed right after the call that queued it, and one timer task sleeps until
``next_deadline()``.  Policy (retries, deadlines, what an error means) stays in the core.

Actions that need I/O run as tasks of one task group: HTTP exchanges (each in its own
cancel scope, so ``CancelHttp`` really aborts it) and peer operations.  Peers are created
by a :class:`~reactor_anyio.webrtc.PeerFactory`, so a trio program can host aiortc on its own
thread.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup

from reactor_proto.client import (
    ApplyAnswer,
    AttachTrack,
    CancelHttp,
    ClientAction,
    ClientEvent,
    ClientMachine,
    ClosePeer,
    CreatePeer,
    DetachTrack,
    DiscardSparePeer,
    PrepareSparePeer,
    SendChannel,
    SendHttp,
)
from reactor_proto.errors import ReactorError

from ..http import HttpClient
from ..webrtc.protocols import Peer, PeerFactory

log = logging.getLogger("reactor_anyio.client")

CLOSE_PEER_TIMEOUT = 5.0
#: the key of the spare peer in ``ClientDriver.peers`` (the core's peer ids are positive), so
#: that stopping the driver closes it like any other peer
SPARE = -1


class ClientDriver:
    """Owns the task group in which the machine's I/O happens."""

    def __init__(self, machine: ClientMachine, *, http: HttpClient, peer_factory: PeerFactory,
                 on_event: Callable[[ClientEvent], None],
                 on_peer: Callable[[int, Peer | None], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.machine = machine
        self._http = http
        self._peer_factory = peer_factory
        self._on_event = on_event
        self._on_peer = on_peer
        self._clock = clock
        self._tg: TaskGroup | None = None
        self._wake = anyio.Event()
        self._started = anyio.Event()
        self._processing = False
        self._dirty = False
        self._running_due = False
        self._http_scopes: dict[int, anyio.CancelScope] = {}
        self.peers: dict[int, Peer] = {}
        self.published: dict[str, Any] = {}
        #: what the spare in ``peers[SPARE]`` was built for, and its offer, once created
        self._spare_for: tuple[Any, Any] | None = None
        self._spare_offer: tuple[str, dict[str, str]] | None = None

    # ---- the service ---------------------------------------------------------------------

    async def run(self) -> None:
        """The service body: run until cancelled; closes every peer on the way out."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                self._started.set()
                await self._timer_loop()
        finally:
            self._tg = None
            with anyio.CancelScope(shield=True):
                for peer_id in list(self.peers):
                    await self._close_peer(peer_id)

    async def started(self) -> None:
        await self._started.wait()

    async def _timer_loop(self) -> None:
        while True:
            deadline = self.machine.next_deadline()
            delay = math.inf if deadline is None else max(0.0, deadline - self._clock())
            with anyio.move_on_after(delay):
                await self._wake.wait()
            self._wake = anyio.Event()
            deadline = self.machine.next_deadline()
            if deadline is not None and deadline <= self._clock():
                self.feed(self.machine.handle_timeout)

    @property
    def running(self) -> bool:
        return self._tg is not None

    # ---- feeding -------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock()

    def feed(self, call: Callable[[float], Any]) -> Any:
        """Feed one input (a machine method taking ``now``), then perform what it queued
        (also when it raised: a refused call still reports its error event)."""
        try:
            return call(self._clock())
        finally:
            self.process()

    def process(self) -> None:
        if self._processing:
            self._dirty = True
            return
        self._processing = True
        try:
            while True:
                self._dirty = False
                actions = self.machine.drain_actions()
                for action in actions:
                    self._perform(action)
                events = self.machine.drain_events()
                for event in events:
                    self._on_event(event)
                if not actions and not events and not self._dirty:
                    break
        finally:
            self._processing = False
        if self._tg is not None and not self._running_due:
            deadline = self.machine.next_deadline()
            if deadline is not None and deadline <= self._clock():
                # already due (e.g. a reconnect with no delay): run it now rather than a
                # few loop iterations later in the timer task; once per call, so a deadline
                # the machine leaves in the past is left to the timer task
                self._running_due = True
                try:
                    self.feed(self.machine.handle_timeout)
                finally:
                    self._running_due = False
        self._wake.set()

    # ---- actions -------------------------------------------------------------------------

    def _perform(self, action: ClientAction) -> None:
        tg = self._tg
        if isinstance(action, SendHttp):
            scope = anyio.CancelScope()
            self._http_scopes[action.request_id] = scope
            assert tg is not None, "HTTP requested while the driver is not running"
            tg.start_soon(self._exchange, action, scope)
        elif isinstance(action, CancelHttp):
            scope_to_cancel = self._http_scopes.pop(action.request_id, None)
            if scope_to_cancel is not None:
                scope_to_cancel.cancel()
        elif isinstance(action, CreatePeer):
            assert tg is not None
            tg.start_soon(self._create_peer, action)
        elif isinstance(action, ApplyAnswer):
            assert tg is not None
            tg.start_soon(self._apply_answer, action)
        elif isinstance(action, SendChannel):
            self._send(action)
        elif isinstance(action, AttachTrack | DetachTrack):
            self._attach(action)
        elif isinstance(action, ClosePeer) and tg is not None:
            tg.start_soon(self._close_peer, action.peer_id)
        elif isinstance(action, PrepareSparePeer) and tg is not None:
            tg.start_soon(self._prepare_spare, action)
        elif isinstance(action, DiscardSparePeer):
            self._drop_spare()

    async def _exchange(self, action: SendHttp, scope: anyio.CancelScope) -> None:
        with scope:
            try:
                response = await self._http.request(action.request, timeout=action.timeout)
            except ReactorError as exc:
                error = exc
                if self._http_scopes.pop(action.request_id, None) is not None:
                    self.feed(lambda now: self.machine.http_failed(action.request_id, error,
                                                                   now))
                return
            if self._http_scopes.pop(action.request_id, None) is not None:
                self.feed(lambda now: self.machine.http_response(action.request_id, response,
                                                                 now))

    async def _create_peer(self, action: CreatePeer) -> None:
        peer_id = action.peer_id
        spare = self._take_spare(action)
        if spare is not None:  # built and offered ahead (reactor_proto.client.spare)
            peer, (sdp, mids) = spare
            self.peers[peer_id] = peer
            self._wire(peer_id, peer)
            self._on_peer(peer_id, peer)
            self.feed(lambda now: self.machine.offer_created(peer_id, sdp, mids, now))
            return
        try:
            peer = self._peer_factory(action.tracks, action.ice_servers)
        except ReactorError as exc:
            reason = exc.message
            self.feed(lambda now: self.machine.peer_failed(peer_id, reason, now))
            return
        self.peers[peer_id] = peer
        self._wire(peer_id, peer)
        self._on_peer(peer_id, peer)
        try:
            sdp, mids = await peer.create_offer()
        except ReactorError as exc:
            reason = exc.message
            self.feed(lambda now: self.machine.peer_failed(peer_id, reason, now))
            return
        self.feed(lambda now: self.machine.offer_created(peer_id, sdp, mids, now))

    # ---- the spare peer (PrepareSparePeer) -------------------------------------------------

    async def _prepare_spare(self, action: PrepareSparePeer) -> None:
        """Build the next connection's peer and offer; nothing is reported to the machine
        (a failure only costs the next reconnect the time it would have taken anyway)."""
        self._drop_spare()
        try:
            peer = self._peer_factory(action.tracks, action.ice_servers)
        except ReactorError as exc:
            log.debug("spare peer not built: %s", exc.message)
            return
        self.peers[SPARE] = peer
        try:
            offer = await peer.create_offer()
        except Exception as exc:  # closed meanwhile (taken or discarded), or aiortc refused
            log.debug("spare peer offer not created: %r", exc)
            if self.peers.get(SPARE) is peer:
                self._drop_spare()
            return
        if self.peers.get(SPARE) is peer:  # not taken or discarded while offering
            self._spare_for, self._spare_offer = (action.tracks, action.ice_servers), offer

    def _take_spare(self, action: CreatePeer) -> tuple[Peer, tuple[str, dict[str, str]]] | None:
        """The spare with its offer, if it was built for ``action``'s tracks and ICE servers;
        any other spare (or one still offering) is closed."""
        offer, wanted = self._spare_offer, (action.tracks, action.ice_servers)
        spare = self.peers.get(SPARE)
        # a peer that cannot tell (the trio bridge's) is taken as it is
        current = getattr(spare, "host_candidates_current", None)
        if (offer is not None and self._spare_for == wanted and spare is not None
                and (current is None or current())):
            self._spare_for = self._spare_offer = None
            return self.peers.pop(SPARE), offer
        self._drop_spare()
        return None

    def _drop_spare(self) -> None:
        self._spare_for = self._spare_offer = None
        tg = self._tg
        if SPARE in self.peers and tg is not None:
            tg.start_soon(self._close_detached, self.peers.pop(SPARE))

    async def _close_detached(self, peer: Peer) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_PEER_TIMEOUT):
            try:
                await peer.close()
            except Exception:
                log.exception("closing the spare peer failed")

    def _wire(self, peer_id: int, peer: Peer) -> None:
        m = self.machine
        peer.on_connection_state = lambda state: self.feed(
            lambda now: m.peer_state(peer_id, state, now))
        peer.on_channel_open = lambda label: self.feed(
            lambda now: m.channel_opened(peer_id, label, now))
        peer.on_channel_close = lambda label: self.feed(
            lambda now: m.channel_closed(peer_id, label, now))
        peer.on_channel_message = lambda label, text: self.feed(
            lambda now: m.channel_message(peer_id, label, text, now))

    async def _apply_answer(self, action: ApplyAnswer) -> None:
        peer = self.peers.get(action.peer_id)
        if peer is None:
            return
        try:
            await peer.apply_answer(action.sdp)
        except ReactorError as exc:
            reason = exc.message
            self.feed(lambda now: self.machine.peer_failed(action.peer_id, reason, now))
            return
        self.feed(lambda now: self.machine.answer_applied(action.peer_id, now))

    def _send(self, action: SendChannel) -> None:
        peer = self.peers.get(action.peer_id)
        if peer is None:
            return
        try:
            peer.send(action.channel, action.text)
        except ReactorError as exc:
            # The channel is gone: tell the core, which decides what a lost transport means.
            log.warning("send on %s failed: %s", action.channel, exc)
            self.feed(lambda now: self.machine.channel_closed(action.peer_id, action.channel,
                                                              now))

    def _attach(self, action: AttachTrack | DetachTrack) -> None:
        peer = self.peers.get(action.peer_id)
        if peer is None:
            return
        track = self.published.get(action.track) if isinstance(action, AttachTrack) else None
        if isinstance(action, DetachTrack):
            self.published.pop(action.track, None)
        try:
            peer.attach_track(action.track, track)
        except ReactorError as exc:
            log.warning("attaching track %r failed: %s", action.track, exc)

    async def _close_peer(self, peer_id: int) -> None:
        peer = self.peers.pop(peer_id, None)
        if peer is None:
            return
        self._on_peer(peer_id, None)
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_PEER_TIMEOUT):
            try:
                await peer.close()
            except Exception:
                log.exception("closing peer %d failed", peer_id)


