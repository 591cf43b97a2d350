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
* Peers are built and watched by :class:`~reactor_anyio.runtime.peers.PeerSet`, which
  reports every state and channel change to the machine; the machine decides when a
  connection counts as connected or lost and which peer carries it (``SwapPeer``,
  ``ClosePeer``), see :mod:`reactor_proto.runtime.transports`.
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
from collections.abc import Callable, Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any

import attrs

from reactor_anyio.http import HttpServer
from reactor_anyio.models import Model, resolve_model
from reactor_anyio.playground import playground_response
from reactor_anyio.recording.audio import audio_feed, set_tap
from reactor_anyio.webrtc import IceConfig
from reactor_proto.errors import InvalidStateError, LocalProtocolError, ReactorError
from reactor_proto.http import HttpRequest, HttpResponse, cors_headers
from reactor_proto.recording import RecordingConfig
from reactor_proto.runtime import (
    INTERNAL_ERROR,
    AddIceCandidates,
    ClosePeer,
    CloseTransport,
    CreateAnswer,
    PrepareClip,
    RuntimeAction,
    RuntimeConfig,
    RuntimeMachine,
    SendControl,
    SendData,
    SessionEnded,
    SessionStarted,
    SetInputFlow,
    SetOutputFlow,
    StepOutcome,
    StepRequested,
    SwapPeer,
    TeardownSession,
    TrackUnpublished,
)
from reactor_proto.runtime.audio import AudioStats

from .links import default_host_addresses, ice_entry
from .media import MediaHub
from .model_host import CommandOutcome, ModelHost, StepFiles
from .peers import PeerSet
from .recordings import Recordings

logger = logging.getLogger(__name__)

#: bound on building one answer (aiortc applies the offer and gathers candidates)
ANSWER_TIMEOUT = 5.0
#: bound on the whole shutdown
CLOSE_TIMEOUT = 4.0


#: the stepped-generation limits a caller may set (``RuntimeConfig`` fields, §15)
STEP_OPTIONS = frozenset({"max_step_frames", "max_chunked_message_bytes", "step_results_max",
                          "step_results_max_bytes", "step_results_retention"})


def _step_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    unknown = sorted(set(options or {}) - STEP_OPTIONS)
    if unknown:
        raise LocalProtocolError(f"LocalRuntime.step_options: unknown {unknown}; known: "
                                 f"{sorted(STEP_OPTIONS)}")
    return dict(options or {})


class LocalRuntime:
    """The local runtime serving one model over HTTP + WebRTC; an async context manager."""

    def __init__(self, model: str | type[Model] = "helios", *, host: str = "127.0.0.1",
                 port: int = 0, model_options: Mapping[str, Any] | None = None,
                 orphan_timeout: float = 30.0, ping_timeout: float = 20.0,
                 ice_servers: Sequence[Any] = (),
                 ice_host_addresses: Sequence[str] | None = None,
                 port_range: tuple[int, int] | None = None,
                 consume_answers: bool = False,
                 step_options: Mapping[str, Any] | None = None,
                 record: bool = True, clip_max_seconds: float = 300.0,
                 chunk_seconds: float = 4.0,
                 recording_dir: str | None = None) -> None:
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
        videos = [t.name for t in self.model.output_tracks if t.kind == "video"]
        self._recordings = Recordings(videos, RecordingConfig(
            chunk_seconds=chunk_seconds, clip_max_seconds=clip_max_seconds),
            parent_dir=recording_dir)
        produce = self.model.produce_frame
        self._media = MediaHub(videos, produce, lambda: self.model.frame_rate,
                               audio={t.name: t.audio_format for t in self.model.output_tracks
                                      if t.kind == "audio"},
                               produce_audio=self.model.produce_audio,
                               record=self._recordings.offer if record else None)
        self._recordings.audio = audio_feed(self._media) if record else None
        config = RuntimeConfig(
            model_name=model_class.name, model_schema=model_class.schema(),
            emission_fps=self.model.frame_rate,
            ice_servers=entries,
            orphan_timeout=orphan_timeout, ping_timeout=ping_timeout,
            consume_answers=consume_answers, confirm_teardown=False,
            default_host=f"{host}:{port or 8080}",
            step_results=model_class.keep_step_results, recording=record,
            **_step_options(step_options))
        self._host_model.keep_step_files = model_class.keep_step_results
        self._machine = RuntimeMachine(config, rng=random.Random())
        self._peers = PeerSet(self._machine, ice=self._ice, media=self._media,
                              context=self._host_model.context, spawn=self._spawn,
                              pump=self._pump)
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
        return self._peers.open_count()

    def frames_produced(self, track: str = "main_video") -> int:
        """Frames the model produced for output ``track`` (once each, however many viewers)."""
        return self._media.frames_produced(track)

    def consumers(self, track: str = "main_video") -> int:
        """Connections currently receiving output ``track``."""
        fanout = self._media.fanout(track)
        if fanout is None:
            raise KeyError(track)
        return fanout.consumers

    def audio_stats(self, track: str) -> AudioStats:
        """What became of the model's chunks for audio output ``track`` (core counters)."""
        return self._media.audio[track].stats

    def tap_audio(self, track: str, tap: Callable[[Any, int], None] | None) -> None:
        """Call ``tap(pcm, pts)`` on the audio thread with every frame of audio output
        ``track`` sent while someone listens (``pts`` in samples); None removes it."""
        set_tap(self._media, self._recordings.audio, track, tap)

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

        def command_done_from_any_thread(outcome: CommandOutcome) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to answer
                loop.call_soon_threadsafe(self._command_outcome, outcome)

        self._host_model.on_command_done = command_done_from_any_thread

        def step_done_from_any_thread(event: StepRequested, outcome: StepOutcome,
                                      files: StepFiles) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to answer
                loop.call_soon_threadsafe(self._step_outcome, event, outcome, files)

        self._host_model.on_step_done = step_done_from_any_thread
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
        for cid in list(self._peers.links):
            self._peers.close_link(cid)
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=CLOSE_TIMEOUT)
        for task in [t for t in self._tasks if not t.done()]:
            task.cancel()
        if self._timer_task is not None:
            await asyncio.gather(self._timer_task, return_exceptions=True)
        self._host_model.context.bind(None)
        self._host_model.on_command_done = None
        self._host_model.on_step_done = None
        self._media.stop()
        await asyncio.to_thread(self._join_threads)
        await asyncio.to_thread(self._recordings.close)

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

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        assert self._loop is not None
        task: asyncio.Task[None] = self._loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _handle_http(self, request: HttpRequest) -> HttpResponse:
        page = playground_response(request)  # GET / and /playground/<file>: the browser UI
        if page is not None:
            return page
        clips = self._recordings.respond(request)  # GET /clips... (§10), else None
        if clips is not None:
            return attrs.evolve(clips, headers=(*clips.headers,
                                                *cors_headers(request.header("origin"))))
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
            if isinstance(event, TrackUnpublished) \
                    and self._machine.slot_holder(event.track) is None:
                self._host_model.context.set_input(event.track, None)  # nobody publishes it
            if isinstance(event, SessionStarted):
                self._recordings.session_started()
            elif isinstance(event, SessionEnded):
                self._recordings.session_ended()
            self._host_model.handle(event)
        if self._wake is not None:
            self._wake.set()
        return answers

    def _perform(self, action: RuntimeAction) -> asyncio.Task[None] | None:
        peers = self._peers
        match action:
            case CreateAnswer():
                return self._spawn(peers.create_answer(action),
                                   f"reactor-answer-{action.connection_id}")
            case AddIceCandidates(connection_id=cid, negotiation_id=nid, candidates=found):
                peers.add_candidates(cid, nid, found)
            case SwapPeer(connection_id=cid, negotiation_id=nid):
                peers.swap_to(cid, nid)
            case ClosePeer(connection_id=cid, negotiation_id=nid):
                peers.drop_peer(cid, nid)
            case CloseTransport(connection_id=cid):
                peers.close_link(cid)
            case SetOutputFlow(connection_id=cid, track=track, paused=paused):
                peers.set_output(cid, track, paused)
            case SetInputFlow(connection_id=cid, track=track, enabled=enabled):
                peers.set_input(cid, track, enabled)
            case SendData(connection_id=cid, text=text):
                peers.send(cid, "data", text)
            case SendControl(connection_id=cid, text=text):
                peers.send(cid, "control", text)
            case PrepareClip():
                self._spawn(self._prepare_clip(action), "reactor-clip")
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

    async def _prepare_clip(self, action: PrepareClip) -> None:
        reply = await self._recordings.prepare(action.request)
        if not self._closed:
            self._machine.clip_answered(action.connection_id, action.request_id, reply,
                                        time.monotonic())
            self._pump()

    @property
    def recordings(self) -> Recordings:
        return self._recordings

    def _command_outcome(self, outcome: CommandOutcome) -> None:
        """A command ended on the model's thread: its reply goes to the sender."""
        if self._closed:
            return
        machine, now = self._machine, time.monotonic()
        cid, request_id = outcome.connection_id, outcome.request_id
        if outcome.code is not None:
            machine.command_failed(cid, request_id, outcome.code, outcome.message, now)
        else:
            reply = outcome.reply
            try:
                machine.command_done(cid, request_id, now,
                                     reply_type=None if reply is None else reply.type,
                                     reply_data=None if reply is None else reply.data)
            except ReactorError as exc:
                logger.warning("reply to command %s not sent: %s", request_id, exc)
                machine.command_failed(cid, request_id, INTERNAL_ERROR,
                                       "the command's reply could not be encoded", now)
        self._pump()

    def _step_outcome(self, event: StepRequested, outcome: StepOutcome,
                      files: StepFiles) -> None:
        """A step ended on the model's thread: the messages its calls sent go first
        (§15.5: the result follows any reply), then the result."""
        if self._closed:
            return
        for message in self._host_model.context.take_messages():
            self._send_model_message(message.type, message.data, message.to)
        self._machine.step_finished(event.connection_id, event.request_id, event.epoch,
                                    outcome, time.monotonic(), files=files)
        self._pump()

    def _send_model_message(self, type: str, data: Any, to: str | None) -> None:
        try:
            target = None if to is None else int(to)
            self._machine.send_model_message(type, data, to=target, now=time.monotonic())
        except (ValueError, ReactorError) as exc:
            logger.warning("model message %r not sent: %s", type, exc)
        self._pump()
