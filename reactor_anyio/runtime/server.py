"""``LocalRuntime``: the local Reactor runtime (``reactor serve``) on aiortc, asyncio only.

A thin adapter over :class:`~reactor_proto.runtime.RuntimeMachine`: every HTTP request, every
channel message and every transport change is fed to the machine with ``now``
(``time.monotonic()``); the actions it queues are performed right after each call; a timer
task sleeps until ``next_deadline()``.  Statuses, validation, slots, timers and what a bad
message means are all decided by the machine.

Adapter choices:

* The answer is created *inside* the offer request: the 202 goes out once aiortc has applied
  the offer and gathered its (loopback) candidates, a few milliseconds, so the client's very
  first answer poll gets the 200.
* A connection counts as connected when its peer is ``connected`` and its ``data`` channel
  is open, plus its ``control`` channel except on the legacy connection 1001 (the JS SDK
  2.9.0 opens ``data`` only).  Its ``data`` channel closing, or the peer failing, closes it.
* A re-offer (PUT) builds a second peer for the same connection id; the old one keeps
  serving until the new one connects, then it is closed (the machine swaps it in place).
* ``on_session_end`` runs on the model's worker thread before any later
  ``on_session_start`` (FIFO), so the machine does not need ``confirm_teardown``: a client
  that stops a session and starts the next one at once is never refused with CLOSING.
* ``port_range`` is not supported: aioice binds every host candidate with port 0
  (``get_component_candidates``) and offers no hook to choose ports; restricting them would
  mean patching asyncio's ``create_datagram_endpoint``.  Passing one raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from reactor_anyio.http import HttpServer
from reactor_anyio.models import Model, resolve_model
from reactor_anyio.webrtc import IceConfig, ServerPeer
from reactor_proto.bodies import IceServer
from reactor_proto.constants import LEGACY_CONNECTION_ID
from reactor_proto.errors import InvalidStateError, LocalProtocolError, ReactorError
from reactor_proto.http import HttpRequest, HttpResponse
from reactor_proto.runtime import (
    AddIceCandidates,
    CloseTransport,
    CreateAnswer,
    RuntimeAction,
    RuntimeConfig,
    RuntimeMachine,
    SendControl,
    SendData,
    SetInputFlow,
    SetOutputFlow,
    TeardownSession,
    TrackUnpublished,
)

from .links import Link, add_candidates, default_host_addresses, ice_entry
from .media import FanoutTrack, MediaHub
from .model_host import ModelHost

logger = logging.getLogger(__name__)

#: bound on building one answer (aiortc applies the offer and gathers candidates)
ANSWER_TIMEOUT = 5.0
#: bound on the whole shutdown
CLOSE_TIMEOUT = 4.0


class LocalRuntime:
    """The local runtime serving one model over HTTP + WebRTC; an async context manager."""

    def __init__(self, model: str | type[Model] = "helios", *, host: str = "127.0.0.1",
                 port: int = 0, model_options: Mapping[str, Any] | None = None,
                 orphan_timeout: float = 30.0, ping_timeout: float = 20.0,
                 ice_servers: Sequence[Any] = (),
                 ice_host_addresses: Sequence[str] | None = None,
                 port_range: tuple[int, int] | None = None,
                 consume_answers: bool = False) -> None:
        if port_range is not None:
            raise LocalProtocolError(
                f"LocalRuntime.port_range: {port_range!r} is not supported (aioice binds "
                "host candidates to port 0 and offers no way to choose the ports)")
        model_class = resolve_model(model) if isinstance(model, str) else model
        entries = tuple(ice_entry(s) for s in ice_servers)
        self._host = host
        self._port = port
        host_addresses = (default_host_addresses(host) if ice_host_addresses is None
                          else tuple(ice_host_addresses))
        self._ice = IceConfig(host_addresses=host_addresses, ice_servers=entries)
        self._host_model = ModelHost(model_class, model_options or {})
        self._media = MediaHub([t.name for t in self.model.output_tracks if t.kind == "video"],
                               self.model.produce_frame, lambda: self.model.frame_rate)
        config = RuntimeConfig(
            model_name=model_class.name, model_schema=model_class.schema(),
            emission_fps=self.model.frame_rate,
            ice_servers=tuple(IceServer(urls=e.urls, username=e.username,
                                        credential=e.credential) for e in entries),
            orphan_timeout=orphan_timeout, ping_timeout=ping_timeout,
            consume_answers=consume_answers, confirm_teardown=False,
            default_host=f"{host}:{port or 8080}")
        self._machine = RuntimeMachine(config, rng=random.Random())
        self._links: dict[int, Link] = {}
        self._input_owner: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: HttpServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._timer_task: asyncio.Task[None] | None = None
        self._closed = False

    # ---- introspection --------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def port(self) -> int:
        if self._server is None:
            raise InvalidStateError("LocalRuntime.port: the runtime is not started")
        return self._server.address[1]

    @property
    def machine(self) -> RuntimeMachine:
        return self._machine

    @property
    def model(self) -> Model:
        return self._host_model.model

    @property
    def ice(self) -> IceConfig:
        return self._ice

    def connections(self) -> int:
        """Installed connections."""
        return self._machine.connected_users()

    def peers_open(self) -> int:
        """aiortc peer connections not yet closed (pending re-offers included)."""
        return sum(1 for link in self._links.values() for p in link.peers.values()
                   if not p.closed)

    def frames_produced(self, track: str = "main_video") -> int:
        """Frames the model produced for output ``track`` (once each, however many viewers)."""
        return self._media.frames_produced(track)

    def consumers(self, track: str = "main_video") -> int:
        """Connections currently receiving output ``track``."""
        return self._media.fanouts[track].consumers

    def latest_input(self, track: str) -> Any:
        return self._host_model.context.latest_input(track)

    # ---- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._server is not None or self._closed:
            raise InvalidStateError("LocalRuntime.start: a runtime starts once")
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        loop = self._loop
        wake = self._wake

        def wake_from_any_thread() -> None:
            # the loop may be closed already: nobody is left to deliver to
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

        self._host_model.context.bind(wake_from_any_thread)
        self._host_model.worker.start()
        limit = max(self._machine.config.max_body_bytes, self._machine.config.max_upload_bytes)
        self._server = HttpServer(self._handle_http, host=self._host, port=self._port,
                                  max_body_bytes=limit)
        await self._server.start()
        self._timer_task = loop.create_task(self._run_timers(), name="reactor-runtime-timers")

    async def aclose(self) -> None:
        """End the session, close every peer, stop the frame threads and the listener."""
        if self._closed:
            return
        self._closed = True
        if self._loop is None:
            self._host_model.worker.close(CLOSE_TIMEOUT)
            return
        self._machine.stop_session("shutdown", time.monotonic())
        self._pump()
        if self._timer_task is not None:
            self._timer_task.cancel()
        if self._server is not None:
            await self._server.aclose()
        for cid in list(self._links):
            self._close_link(cid)
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=CLOSE_TIMEOUT)
        for task in [t for t in self._tasks if not t.done()]:
            task.cancel()
        if self._timer_task is not None:
            await asyncio.gather(self._timer_task, return_exceptions=True)
        self._host_model.context.bind(None)
        self._media.stop()
        await asyncio.to_thread(self._join_threads)

    def _join_threads(self) -> None:
        if not self._media.join(CLOSE_TIMEOUT):
            logger.warning("frame producer threads did not stop within %.1f s", CLOSE_TIMEOUT)
        if not self._host_model.worker.close(CLOSE_TIMEOUT):
            logger.warning("the model worker did not stop within %.1f s", CLOSE_TIMEOUT)

    async def __aenter__(self) -> LocalRuntime:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    # ---- the adapter loop -----------------------------------------------------------------

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[None]:
        assert self._loop is not None
        task: asyncio.Task[None] = self._loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _handle_http(self, request: HttpRequest) -> HttpResponse:
        response = self._machine.handle_request(request, time.monotonic())
        answers = self._pump()
        if answers:
            # The answer is pollable when the 202 goes out (see the module docstring).
            await asyncio.wait([asyncio.ensure_future(asyncio.shield(t)) for t in answers],
                               timeout=ANSWER_TIMEOUT)
        return response

    def pump(self) -> list[asyncio.Task[None]]:
        """Perform what machine calls made from outside the runtime queued (the coordinator
        emulator drives hosted runtimes this way); returns the answer tasks started."""
        return self._pump()

    def _pump(self) -> list[asyncio.Task[None]]:
        """Perform every queued action, hand every event to the model, re-arm the timer.
        Returns the answer tasks started (only HTTP requests start them)."""
        answers: list[asyncio.Task[None]] = []
        for action in self._machine.drain_actions():
            task = self._perform(action)
            if task is not None:
                answers.append(task)
        while (event := self._machine.next_event()) is not None:
            if isinstance(event, TrackUnpublished):
                self._release_input(event.track, event.connection_id)
            self._host_model.handle(event)
        if self._wake is not None:
            self._wake.set()
        return answers

    def _perform(self, action: RuntimeAction) -> asyncio.Task[None] | None:
        match action:
            case CreateAnswer():
                return self._spawn(self._create_answer(action),
                                   name=f"reactor-answer-{action.connection_id}")
            case AddIceCandidates(connection_id=cid, negotiation_id=nid, candidates=found):
                link = self._links.get(cid)
                peer = None if link is None else link.peers.get(nid)
                if peer is not None:
                    self._spawn(add_candidates(peer, found), name=f"reactor-ice-{cid}")
            case CloseTransport(connection_id=cid):
                self._close_link(cid)
            case SetOutputFlow(connection_id=cid, track=track, paused=paused):
                self._set_output(cid, track, paused)
            case SetInputFlow(connection_id=cid, track=track, enabled=enabled):
                self._set_input(cid, track, enabled)
            case SendData(connection_id=cid, text=text):
                self._send(cid, "data", text)
            case SendControl(connection_id=cid, text=text):
                self._send(cid, "control", text)
            case TeardownSession():  # pragma: no cover - confirm_teardown is off
                self._machine.cleanup_complete(time.monotonic())
        return None

    async def _run_timers(self) -> None:
        """Sleep until the machine's next deadline (or a wake-up), run due timers, and feed
        the model's queued messages."""
        assert self._wake is not None
        while not self._closed:
            self._wake.clear()
            for message in self._host_model.context.take_messages():
                self._send_model_message(message.type, message.data, message.to)
            deadline = self._machine.next_deadline()
            now = time.monotonic()
            if deadline is not None and deadline <= now:
                self._machine.handle_timeout(now)
                self._pump()
                continue
            timeout = None if deadline is None else deadline - now
            # asyncio.timeout, not wait_for: 3.11's wait_for swallows a cancellation that
            # races with the wake-up, and aclose() would then wait for this task forever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    def _send_model_message(self, type: str, data: Any, to: str | None) -> None:
        try:
            target = None if to is None else int(to)
            self._machine.send_model_message(type, data, to=target, now=time.monotonic())
        except (ValueError, ReactorError) as exc:
            logger.warning("model message %r not sent: %s", type, exc)
        self._pump()

    # ---- peers ----------------------------------------------------------------------------

    async def _create_answer(self, action: CreateAnswer) -> None:
        cid, nid = action.connection_id, action.negotiation_id
        link = self._links.setdefault(cid, Link())
        try:
            peer = ServerPeer(action.track_mapping, ice=self._ice,
                              outputs=self._subscribe_outputs(cid, nid, action))
        except ReactorError as exc:
            self._release_outputs(cid, nid)
            self._machine.answer_failed(cid, exc.message, time.monotonic(), negotiation_id=nid)
            self._pump()
            return
        link.peers[nid] = peer
        if not action.replaces or link.active is None:
            link.active = nid
        self._watch(peer, cid, nid)
        for entry in action.track_mapping:
            if entry.direction == "sendonly" and entry.kind == "video":
                peer.set_input_enabled(entry.name, False)
                peer.set_frame_callback(entry.name, self._input_sink(entry.name, cid))
        try:
            sdp = await peer.accept(action.offer_sdp)
            if action.remote_candidates:
                await add_candidates(peer, action.remote_candidates)
            self._machine.answer_created(cid, sdp, time.monotonic(), negotiation_id=nid)
        except Exception as exc:  # aiortc refusals arrive as many types: all are a failure
            reason = exc.message if isinstance(exc, ReactorError) else repr(exc)
            logger.info("connection %d: answer failed: %s", cid, reason)
            self._drop_peer(cid, nid)
            with contextlib.suppress(InvalidStateError):  # the machine moved on meanwhile
                self._machine.answer_failed(cid, reason, time.monotonic(), negotiation_id=nid)
        if self._links.get(cid) is not link or nid not in link.peers:
            self._drop_peer(cid, nid)  # the connection went away while we negotiated
        self._pump()

    def _subscribe_outputs(self, cid: int, nid: int,
                           action: CreateAnswer) -> dict[str, FanoutTrack]:
        outputs = {entry.name: self._media.fanouts[entry.name].subscribe()
                   for entry in action.track_mapping
                   if entry.direction == "recvonly" and entry.name in self._media.fanouts}
        self._links.setdefault(cid, Link()).outputs[nid] = outputs
        return outputs

    def _release_outputs(self, cid: int, nid: int) -> None:
        link = self._links.get(cid)
        if link is not None:
            for track in link.outputs.pop(nid, {}).values():
                track.stop()

    def _watch(self, peer: ServerPeer, cid: int, nid: int) -> None:
        installed = False

        def check() -> None:
            nonlocal installed
            if installed or peer.closed or peer.connection_state != "connected":
                return
            if peer.channel_state("data") != "open":
                return
            if cid != LEGACY_CONNECTION_ID and peer.channel_state("control") != "open":
                return
            installed = True
            self._machine.transport_connected(cid, time.monotonic(), negotiation_id=nid)
            conn = self._machine.connections.get(cid)
            if conn is not None and conn.negotiation_id == nid and conn.installed:
                self._swap_in(cid, nid)
            self._pump()

        def lost(why: str) -> None:
            if peer.closed:
                return
            logger.debug("connection %d (negotiation %d): %s", cid, nid, why)
            self._machine.transport_closed(cid, time.monotonic(), negotiation_id=nid)
            self._drop_peer(cid, nid)
            self._pump()

        def on_state(state: str) -> None:
            if state in ("failed", "closed"):
                lost(f"peer {state}")
            else:
                check()

        def on_close(label: str) -> None:
            if label == "data":
                lost("data channel closed")

        def on_message(label: str, message: str | bytes) -> None:
            now = time.monotonic()
            if label == "data":
                self._machine.data_message(cid, message, now)
            else:
                self._machine.control_message(cid, message, now)
            self._pump()

        peer.on_connection_state = on_state
        peer.on_channel_open = lambda label: check()
        peer.on_channel_close = on_close
        peer.on_channel_message = on_message

    def _swap_in(self, cid: int, nid: int) -> None:
        link = self._links.get(cid)
        if link is None:
            return
        link.active = nid
        for old in [n for n in link.peers if n != nid]:
            self._drop_peer(cid, old)

    def _drop_peer(self, cid: int, nid: int) -> None:
        link = self._links.get(cid)
        if link is None:
            return
        peer = link.peers.pop(nid, None)
        self._release_outputs(cid, nid)
        if link.active == nid:
            link.active = None
        if not link.peers and not link.outputs:
            del self._links[cid]
        if peer is not None:
            self._close_peer(peer)

    def _close_link(self, cid: int) -> None:
        link = self._links.get(cid)
        if link is None:
            return
        for nid in list(link.peers) + list(link.outputs):
            self._drop_peer(cid, nid)
        self._links.pop(cid, None)
        for track, owner in list(self._input_owner.items()):
            if owner == cid:
                self._release_input(track, cid)

    def _close_peer(self, peer: ServerPeer) -> None:
        peer.on_connection_state = peer.on_channel_open = None
        peer.on_channel_close = peer.on_channel_message = None
        if not peer.closed:
            self._spawn(peer.close(), name="reactor-peer-close")

    # ---- flows ----------------------------------------------------------------------------

    def _set_output(self, cid: int, track: str, paused: bool) -> None:
        link = self._links.get(cid)
        peer = None if link is None else link.active_peer()
        if link is None or peer is None or peer.closed:
            return
        assert link.active is not None
        output = link.outputs.get(link.active, {}).get(track)
        if output is None:
            return
        peer.set_output_paused(track, paused)
        self._media.fanouts[track].set_flowing(output, not paused)
        # a swapped-out peer no longer consumes: only the active one flows
        for nid, outputs in link.outputs.items():
            other = outputs.get(track)
            if nid != link.active and other is not None and other.flowing:
                self._media.fanouts[track].set_flowing(other, False)

    def _set_input(self, cid: int, track: str, enabled: bool) -> None:
        link = self._links.get(cid)
        peer = None if link is None else link.active_peer()
        if peer is not None and not peer.closed:
            # LocalProtocolError: the client mapped no such track on this peer
            with contextlib.suppress(LocalProtocolError):
                peer.set_input_enabled(track, enabled)
        if enabled:
            self._input_owner[track] = cid
        else:
            self._release_input(track, cid)

    def _release_input(self, track: str, cid: int) -> None:
        if self._input_owner.get(track) == cid:
            del self._input_owner[track]
            self._host_model.context.set_input(track, None)

    def _input_sink(self, track: str, cid: int) -> Any:
        context = self._host_model.context

        def deliver(frame: Any) -> None:
            if self._input_owner.get(track) == cid:
                context.set_input(track, frame)

        return deliver

    def _send(self, cid: int, label: str, text: str) -> None:
        link = self._links.get(cid)
        peer = None if link is None else link.active_peer()
        if peer is None or peer.closed:
            return
        try:
            peer.send(label, text)
        except ReactorError as exc:  # closing channel or oversize: the client is going
            logger.debug("connection %d: %s send failed: %s", cid, label, exc)
