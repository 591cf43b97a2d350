"""``Reactor``: the public client, API-compatible with the official Python SDK.

Where we differ from ``reactor-sdk`` 0.8.0 (each on purpose, see docs/migrating.md):

* ``connect()`` returns once the status is READY and raises a typed exception on failure.
* ``send_command`` before READY raises; a command that does not match the model's schema
  raises :class:`CommandValidationError` naming the parameter, and nothing is sent.
* Every failed operation raises the very error it emits on the ``error`` event: the documented
  code, with the specific reason as ``cause`` and as the exception class.
* Async handlers run beside the background service, so they may call anything.
* A dropped transport keeps the session (``recoverable``); ``auto_reconnect=True`` applies the
  documented recovery recipe inside the grace window.
* Cancelling any call leaves nothing behind: a cancelled ``connect()`` ends the session it
  created, closes the peer connection and its sockets.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import mimetypes
import os
import random
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import IO, Any

import anyio

from reactor_proto.capabilities import TrackCapability
from reactor_proto.client import (
    ClientConfig,
    ClientEvent,
    ClientMachine,
    OperationCompleted,
    OperationKind,
    Phase,
    ReactorStatus,
)
from reactor_proto.envelope import FileRef
from reactor_proto.errors import Failure, InvalidStateError, LocalProtocolError, ReactorError

from ..http import HttpClient
from ..webrtc import Peer, PeerFactory
from .audio import ReactorAudio
from .driver import ClientDriver
from .emitter import EventEmitter
from .events import ReactorEvents, emit_client_event
from .options import PeerOptions, read_upload
from .queries import ReactorQueries
from .recordings import ReactorRecordings
from .service import ServiceHandle, spawn_service
from .steps import ReactorSteps
from .tracks import ReactorTracks
from .types import (
    ConnectionStats,
    FrameCallback,
    core_tracks,
    stats_from_peer,
    timings_from_core,
)
from .types import TrackCapability as TrackDict

log = logging.getLogger("reactor_anyio.client")

# anyio loads its asyncio backend and its stream modules lazily, on the first socket: about
# 9 ms that would otherwise land inside the first connect().  Load them with the client.
for _module in ("anyio._backends._asyncio", "anyio.streams.tls", "anyio.streams.stapled"):
    with contextlib.suppress(ImportError):  # a future anyio may move them: only speed is lost
        importlib.import_module(_module)

ABORT_TIMEOUT = 10.0
API_URL_ENV = "REACTOR_API_URL"
STATS_INTERVAL = 2.0


class _Waiter:
    __slots__ = ("done", "event")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.done: OperationCompleted | None = None


class Reactor(ReactorQueries, ReactorEvents, ReactorSteps, ReactorTracks, ReactorAudio,
              ReactorRecordings):
    """Connects to a Reactor model and streams it.  See the module docstring."""

    def __init__(
        self,
        model_name: str,
        api_key: str | None = None,
        api_url: str | None = None,
        local: bool = False,
        *,
        coordinator_url: str | None = None,
        jwt: str | None = None,
        auto_reconnect: bool = False,
        ice_host_addresses: Sequence[str] | None = None,
        ice_servers: Sequence[Any] | None = None,
        model_tracks: Sequence[TrackCapability | TrackDict] | None = None,
        queue: bool = True,
        frame_buffer: int = 1,
        frame_format: str = "rgb24",
        rng: random.Random | None = None,
        peer_factory: PeerFactory | None = None,
        **options: Any,
    ) -> None:
        url = api_url if api_url is not None else coordinator_url
        if url is None and not local:
            # The deployment picks the coordinator, as REACTOR_API_KEY picks the key: code
            # written for the cloud runs unchanged against `reactor coordinator`.
            url = os.environ.get(API_URL_ENV) or None
        self._config = ClientConfig.create(
            model_name, api_key=api_key, api_url=url, local=local, jwt=jwt,
            auto_reconnect=auto_reconnect, model_tracks=core_tracks(model_tracks),
            queue=queue, **options)
        self._machine = ClientMachine(self._config, rng=rng or random.Random())
        self._peer_options = PeerOptions.create(
            self._config.api_url, ice_host_addresses=ice_host_addresses,
            ice_servers=ice_servers, frame_buffer=frame_buffer, peer_factory=peer_factory,
            frame_format=frame_format)
        self._peer_factory: PeerFactory | None = None  # bound at each connect
        self._emitter = EventEmitter()
        self._service: ServiceHandle | None = None
        self._driver: ClientDriver | None = None
        self._http: HttpClient | None = None
        self._waiters: dict[int, _Waiter] = {}
        self._abandoned: set[int] = set()
        self._publishing: dict[int, str] = {}
        self._remote_tracks: dict[str, Any] = {}
        self._frame_callback: FrameCallback | None = None
        self._track_callbacks: dict[str, FrameCallback | None] = {}
        self._peer: Peer | None = None
        self._peer_id: int | None = None

    def __repr__(self) -> str:
        return (f"Reactor(model_name={self._config.model_name!r}, "
                f"api_url={self._config.api_url!r}, status={self.get_status().value!r})")

    # ---- service lifetime ------------------------------------------------------------------

    async def _ensure_service(self) -> ClientDriver:
        if self._driver is not None and self._service is not None:
            return self._driver
        http = HttpClient()
        driver = ClientDriver(self._machine, http=http, peer_factory=self._make_peer,
                              on_event=self._on_machine_event, on_peer=self._on_peer)
        self._http, self._driver = http, driver

        async def main() -> None:
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(driver.run)
                    tg.start_soon(self._stats_loop)
                    await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    await http.aclose()

        self._service = spawn_service(main, name=f"reactor-{self._config.model_name}")
        with anyio.fail_after(5):
            await driver.started()
        return driver

    async def _stop_service_if_idle(self) -> None:
        m = self._machine
        if self._service is None or not m.is_quiescent() or m.next_deadline() is not None:
            return
        if m.status is not ReactorStatus.DISCONNECTED:
            return
        service, self._service, self._driver = self._service, None, None
        service.cancel()
        with anyio.CancelScope(shield=True):
            if not await service.join(ABORT_TIMEOUT):
                log.error("the client's background service did not stop in time")

    async def aclose(self) -> None:
        """End the session (if any) and stop every background task."""
        try:
            await self.disconnect()
        finally:
            await self._emitter.cancel_handlers()
            if self._service is not None:
                service, self._service, self._driver = self._service, None, None
                service.cancel()
                with anyio.CancelScope(shield=True):
                    await service.join(ABORT_TIMEOUT)

    async def __aenter__(self) -> Reactor:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        with anyio.CancelScope(shield=True):
            await self.aclose()

    # ---- operations --------------------------------------------------------------------

    def _feed(self, call: Callable[[float], Any]) -> Any:
        if self._driver is not None:
            return self._driver.feed(call)
        try:  # no service: only refusals happen here; deliver their error events now
            return call(time.monotonic())
        finally:
            for event in self._machine.drain_events():
                self._on_machine_event(event)

    def _refuse(self, failure: Failure, error: ReactorError) -> ReactorError:
        reported: ReactorError = self._feed(lambda now: self._machine.refuse(failure, error))
        return reported

    async def _wait(self, op: int, *, abort_on_cancel: bool) -> OperationCompleted:
        waiter = self._waiters.setdefault(op, _Waiter())
        try:
            await waiter.event.wait()
        except anyio.get_cancelled_exc_class():
            if abort_on_cancel:
                with anyio.CancelScope(shield=True), anyio.move_on_after(ABORT_TIMEOUT):
                    await self._abort()
            raise
        finally:
            self._waiters.pop(op, None)
            if not waiter.event.is_set():
                self._abandoned.add(op)  # its outcome arrives later: nobody waits for it
        assert waiter.done is not None
        return waiter.done

    async def _abort(self) -> None:
        if self._driver is None:
            return
        stop = self._feed(self._machine.abort)
        await self._wait(stop, abort_on_cancel=False)
        await self._stop_service_if_idle()

    async def _run_op(self, start: Callable[[float], int], *,
                      abort_on_cancel: bool = False) -> Any:
        """Start an operation and wait for it.  Cancelling a connect/reconnect abandons the
        attempt (and the session it created); cancelling anything else only stops waiting:
        the operation finishes in the background and leaves a consistent state."""
        op = self._feed(start)
        done = await self._wait(op, abort_on_cancel=abort_on_cancel)
        error = done.public_error
        if error is not None:
            await self._stop_service_if_idle()
            raise error
        return done.value

    async def connect(self, *, session_id: str | None = None,
                      connection_id: int | None = None,
                      auto_resume_tracks: bool | None = None) -> None:
        """Open (or adopt) a session and connect; returns at READY, raises on failure."""
        if self._machine.status is not ReactorStatus.DISCONNECTED:
            raise self._refuse(Failure.CONNECT, InvalidStateError(
                f"connect(): already {self._machine.status.value}; call disconnect() first"))
        if self._machine.phase is Phase.TERMINATING:
            # A disconnect() is still ending the session (the status is DISCONNECTED
            # already, so a handler of that status may call connect()): let it finish.
            await self._run_op(lambda now: self._machine.disconnect(now))
        self._peer_factory = self._peer_options.bind(stepped=self.generation == "stepped")
        await self._ensure_service()
        await self._run_op(lambda now: self._machine.connect(
            now, session_id=session_id, connection_id=connection_id,
            auto_resume_tracks=auto_resume_tracks), abort_on_cancel=True)

    async def reconnect(self) -> None:
        """Resume the retained session on a new connection (raises when impossible)."""
        self._peer_factory = self._peer_options.bind(stepped=self.generation == "stepped")
        await self._ensure_service()
        await self._run_op(self._machine.reconnect, abort_on_cancel=True)

    async def disconnect(self, recoverable: bool = False) -> None:
        """End the connection; ``recoverable=True`` keeps the session for ``reconnect()``."""
        if self._driver is None and self._machine.session_id is None:
            return
        if self._driver is None:
            await self._ensure_service()
        await self._run_op(lambda now: self._machine.disconnect(now, recoverable=recoverable))
        await self._stop_service_if_idle()

    async def send_command(self, command: str, data: Any = None) -> Any:
        """Send a command to the model; validated against its schema when known.

        On the v1 wire, returns the model's correlated reply (``{"type", "data"}``, None
        for a plain ack) and raises the runtime's error reply; on v0 returns None at once."""
        return await self._run_op(lambda now: self._machine.send_command(command, data, now))

    async def send_runtime_message(self, type_: str, data: dict[str, Any] | None = None) -> None:
        self._feed(lambda now: self._machine.send_runtime_message(type_, data, now))

    async def request_schema(self) -> dict[str, Any]:
        """The model's OpenAPI command schema, asked of the runtime (either wire)."""
        document: dict[str, Any] = await self._run_op(self._machine.request_schema)
        return document

    async def publish_track(self, name: str, track: Any) -> None:
        """Claim the publisher slot of ``name`` and send ``track`` on it."""
        driver = self._driver
        if driver is None:
            raise self._refuse(Failure.PUBLISH, InvalidStateError(
                f"publish_track({name!r}): not connected"))
        if getattr(track, "kind", None) is None:
            raise self._refuse(Failure.PUBLISH, LocalProtocolError(
                f"publish_track({name!r}): expected a MediaStreamTrack, got "
                f"{type(track).__name__}"))
        driver.published[name] = track
        op = self._feed(lambda now: self._machine.publish_track(name, now))
        self._publishing[op] = name
        try:
            done = await self._wait(op, abort_on_cancel=False)
        except BaseException:
            driver.published.pop(name, None)
            raise
        self._publishing.pop(op, None)
        error = done.public_error
        if error is not None:
            driver.published.pop(name, None)
            raise error

    async def unpublish_track(self, name: str) -> None:
        self._feed(lambda now: self._machine.unpublish_track(name, now))

    async def pause_track(self, name: str) -> None:
        self._feed(lambda now: self._machine.pause_track(name, now))

    async def resume_track(self, name: str) -> None:
        self._feed(lambda now: self._machine.resume_track(name, now))

    async def upload_file(self, file: str | os.PathLike[str] | bytes | IO[bytes], *,
                          name: str | None = None, mime_type: str | None = None) -> FileRef:
        """Upload a file to the session; pass the returned FileRef in a command."""
        data, default_name = await read_upload(file)
        name = name or default_name or "upload"
        mime_type = mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        value = await self._run_op(lambda now: self._machine.upload(name, mime_type, data, now))
        assert isinstance(value, FileRef)
        return value

    # ---- frames and tracks -------------------------------------------------------------

    def set_frame_callback(self, callback: FrameCallback | None, *,
                           track: str | None = None, format: str | None = None) -> None:
        """Receive frames (RGB uint8 (H, W, 3) unless ``format`` or the constructor's
        ``frame_format`` says otherwise); per track, or for every video track."""
        callback = self._peer_options.frame_callback(callback, format)
        if track is None:
            self._frame_callback = callback
        else:
            self._track_callbacks[track] = callback
        self._apply_frame_callbacks()

    def _apply_frame_callbacks(self) -> None:
        peer = self._peer
        if peer is None:
            return
        for spec in self._machine.tracks:
            if spec.direction == "recvonly" and spec.kind == "video":
                callback = self._track_callbacks.get(spec.name, self._frame_callback)
                try:
                    peer.set_frame_callback(spec.name, callback)
                except ReactorError as exc:
                    log.warning("frame callback for %r not set: %s", spec.name, exc)

    # ---- getters (the rest: .queries.ReactorQueries) ----------------------------------

    async def get_stats(self) -> ConnectionStats | None:
        """WebRTC statistics and the connect's step timings; None unless READY."""
        peer = self._peer
        if peer is None or self._machine.status is not ReactorStatus.READY:
            return None
        summary = await peer.stats()
        return stats_from_peer(summary, timestamp_ms=time.time() * 1000.0,
                               timings=timings_from_core(self._machine.connection_timings),
                               audio=self._audio_stats())

    # ---- events (the rest: .events.ReactorEvents) -------------------------------------

    def on_frame(self, func: FrameCallback) -> FrameCallback:
        self.set_frame_callback(func)
        return func

    # ---- adapter callbacks -------------------------------------------------------------

    def _make_peer(self, tracks: Sequence[TrackCapability], ice_servers: Sequence[Any]) -> Peer:
        if self._peer_factory is None:  # connect()/reconnect() bind it; this is a backstop
            self._peer_factory = self._peer_options.bind(stepped=self.generation == "stepped")
        return self._peer_factory(tracks, ice_servers)

    def _on_peer(self, peer_id: int, peer: Peer | None) -> None:
        if peer is None:
            # an older peer closing after its successor arrived leaves the successor; the
            # current one is let go even when the machine has moved on (a disconnect), so a
            # closed client keeps no peer connection alive (issue 21)
            if peer_id != self._peer_id:
                return
            self._peer = self._peer_id = None
            self._remote_tracks.clear()
            self._audio_peer_changed(None)
            return
        self._peer, self._peer_id = peer, peer_id
        peer.on_track = self._on_remote_track
        self._apply_frame_callbacks()
        self._audio_peer_changed(peer)

    def _on_remote_track(self, name: str, track: Any) -> None:
        self._remote_tracks[name] = track
        self._emitter.emit("track_received", name, track)

    def _on_machine_event(self, event: ClientEvent) -> None:
        if not isinstance(event, OperationCompleted):
            emit_client_event(self._emitter, event)
            return
        if event.op in self._abandoned:
            self._abandoned.discard(event.op)
            self._settle_abandoned(event)
            return
        waiter = self._waiters.setdefault(event.op, _Waiter())
        waiter.done = event
        waiter.event.set()

    def _settle_abandoned(self, event: OperationCompleted) -> None:
        """A publish whose caller was cancelled was granted anyway: give the slot back."""
        name = self._publishing.pop(event.op, None)
        if (event.kind is OperationKind.PUBLISH and event.error is None and name is not None
                and name in self._machine.published_tracks):
            self._feed(lambda now: self._machine.unpublish_track(name, now))

    async def _stats_loop(self) -> None:
        while True:
            await anyio.sleep(STATS_INTERVAL)
            if (self._machine.status is ReactorStatus.READY
                    and self._emitter.has_handlers("stats_update")):
                try:
                    stats = await self.get_stats()
                except Exception:
                    log.exception("collecting stats failed")
                    continue
                if stats is not None:
                    self._emitter.emit("stats_update", stats)

