"""``CoordinatorEmulator``: the production API (tokens, sessions, GPU queue, transport
forwarding) on a local port, hosting one in-process :class:`LocalRuntime` per GPU slot.

Users test their apps against it without GPUs or API keys; our tests drive the client's
production path with it, with faults injected in front of the machine (``faults.py``).

The adapter's whole job (ARCHITECTURE.md "Adapters"): feed every HTTP request to
:class:`~reactor_proto.coordinator.CoordinatorMachine` with ``now``, perform the actions it
queues, sleep until its ``next_deadline()``, and drain its events into the log.  A runtime
call action goes to the slot's :class:`HostedLocalRuntime`, which feeds it to the runtime's
own machine and has the runtime adapter perform what that queued; the runtime's answer goes
back with ``runtime_replied``.  The runtimes are in-process, so every call is performed at
once and a request's ``SendResponse`` is queued before its handler looks for it.  Nothing is
printed; log lines name sessions and key ids, never a key or a token.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio

from reactor_proto.constants import MAX_UPLOAD_BYTES
from reactor_proto.coordinator import (
    ApiKey,
    CoordinatorConfig,
    CoordinatorEvent,
    CoordinatorMachine,
    InternalError,
    RateLimit,
    RuntimeCallFailed,
    SendResponse,
)
from reactor_proto.coordinator.forwarding import authorize_clips
from reactor_proto.coordinator.routes import error_reply, with_cors
from reactor_proto.errors import InvalidStateError, LocalProtocolError, ReactorError
from reactor_proto.http import HttpRequest, HttpResponse
from reactor_proto.recording.routes import is_clips_route

from ..client.service import ServiceHandle, spawn_service
from ..http import HttpServer
from ..playground import playground_response
from .faults import Fault, FaultInjector, FaultPlan, RequestRecord, coerce_plan
from .jwt_keys import JwtKeys
from .runtime_host import HostedLocalRuntime, open_runtimes

log = logging.getLogger("reactor_anyio.coordinator")

#: Pause of the timer loop when a deadline is already due after running the timers (so a
#: machine bug cannot spin the event loop).
TIMER_SLACK = 0.001


class CoordinatorEmulator:
    """The coordinator emulator; ``async with CoordinatorEmulator(api_keys=[...]) as c:``.

    ``api_keys`` are the secrets clients present to ``POST /tokens``; each becomes a key with
    the public id ``key-<n>`` (1-based, in the given order), which is what JWTs, logs and
    sessions record.  ``gpus`` runtimes serve ``model``; a session waits in a FIFO queue for
    a free one, and is started ``assign_delay`` seconds after a GPU frees up.
    ``orphan_timeout`` is each runtime's reconnect grace window.
    """

    def __init__(
        self,
        *,
        api_keys: Sequence[str],
        model: str = "helios",
        gpus: int = 1,
        assign_delay: float = 0.0,
        max_session_seconds: float | None = None,
        faults: FaultPlan | Sequence[Fault] | str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        model_options: Mapping[str, Any] | None = None,
        orphan_timeout: float = 30.0,
        rate_limit: RateLimit | None = None,
        runtime_poll_interval: float = 1.0,
        closed_retention: float = 60.0,
        max_body_bytes: int = MAX_UPLOAD_BYTES,
    ) -> None:
        if isinstance(api_keys, str):
            raise LocalProtocolError("api_keys: expected a sequence of keys, got one string")
        if not api_keys or not all(isinstance(k, str) and k.strip() for k in api_keys):
            raise LocalProtocolError(f"api_keys: expected at least one non-empty key, got "
                                     f"{len(api_keys)} key(s)")
        if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1:
            raise LocalProtocolError(f"gpus: expected an integer >= 1, got {gpus!r}")
        self.config = CoordinatorConfig(
            api_keys=tuple(ApiKey(key_id=f"key-{index}", secret=secret.strip())
                           for index, secret in enumerate(api_keys, start=1)),
            model_name=model, assign_delay=assign_delay,
            max_session_seconds=max_session_seconds, rate_limit=rate_limit,
            runtime_poll_interval=runtime_poll_interval, closed_retention=closed_retention)
        self.plan = coerce_plan(faults)
        self._model = model
        self._gpus = gpus
        self._host = host
        self._port = port
        self._model_options = dict(model_options or {})
        self._orphan_timeout = orphan_timeout
        self._max_body_bytes = max_body_bytes
        self._keys = JwtKeys()
        self._machine: CoordinatorMachine | None = None
        self._runtimes: tuple[HostedLocalRuntime, ...] = ()
        self._server: HttpServer | None = None
        self._timers: ServiceHandle | None = None
        self._wake = anyio.Event()
        #: Answers queued by the machine, by request id, until their handler takes them.
        self._answers: dict[int, HttpResponse] = {}
        self._stack: contextlib.AsyncExitStack | None = None
        self.injector: FaultInjector | None = None
        #: The machine's events, newest last (bounded); they carry key ids, never secrets.
        self.events: deque[CoordinatorEvent] = deque(maxlen=1000)

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not serving"
        return (f"CoordinatorEmulator(model={self._model!r}, gpus={self._gpus}, "
                f"keys={len(self.config.api_keys)}, {where})")

    # ---- public surface ------------------------------------------------------------------

    @property
    def machine(self) -> CoordinatorMachine:
        if self._machine is None:
            raise InvalidStateError("CoordinatorEmulator.machine: not started")
        return self._machine

    @property
    def url(self) -> str:
        if self._server is None:
            raise InvalidStateError("CoordinatorEmulator.url: not serving")
        host, port = self._server.address
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    @property
    def runtimes(self) -> tuple[HostedLocalRuntime, ...]:
        """The hosted runtimes, one per GPU slot (slot = index)."""
        return self._runtimes

    @property
    def requests(self) -> Sequence[RequestRecord]:
        """Every request that arrived (bounded, oldest first), faulted or not."""
        return tuple(self.injector.requests) if self.injector is not None else ()

    def now(self) -> float:
        return time.monotonic()

    def live_sessions(self) -> list[str]:
        """Ids of sessions that are not CLOSED (the leak check of the tests)."""
        return list(self.machine.live_sessions())

    async def drop_peer(self, session_id: str | None) -> int:
        """Close the peer connection(s) of ``session_id`` (every session when ``None``) on
        the runtime side, as a network drop would, and tell the machine, which polls those
        runtimes at once.  Returns how many were closed."""
        closed = 0
        ids = self.live_sessions() if session_id is None else [session_id]
        for slot in self._slots_of(session_id):
            closed += self._runtimes[slot].drop_peers(self.now())
        for sid in ids:
            self.machine.transport_dropped(sid, self.now())
        self._perform()
        return closed

    async def kill_runtime(self, session_id: str | None) -> int:
        """Lose the GPU under ``session_id`` (all sessions when ``None``): the coordinator
        session becomes INACTIVE (restartable with PUT), the runtime's session and peers are
        torn down, and a replacement runtime takes the slot for the next session."""
        slots = self._slots_of(session_id)
        for slot in slots:
            now = self.now()
            self.machine.runtime_failed(slot, now)
            self._perform()
            self._runtimes[slot].stop_session(now)
            self.machine.runtime_recovered(slot, self.now())
            self._perform()
        return len(slots)

    async def expire_session(self, session_id: str | None) -> int:
        """Close ``session_id`` (every live session when ``None``) as if its maximum
        duration had passed."""
        ids = self.live_sessions() if session_id is None else [session_id]
        expired = 0
        for sid in ids:
            expired += int(self.machine.expire_session(sid, self.now()))
            self._perform()
        return expired

    def _slots_of(self, session_id: str | None) -> list[int]:
        machine = self.machine
        ids = self.live_sessions() if session_id is None else [session_id]
        slots = [machine.session_slot(sid) for sid in ids]
        return sorted({slot for slot in slots if slot is not None})

    # ---- life cycle ----------------------------------------------------------------------

    async def __aenter__(self) -> CoordinatorEmulator:
        if self._stack is not None:
            raise InvalidStateError("CoordinatorEmulator: already started")
        async with contextlib.AsyncExitStack() as stack:
            self._runtimes = await open_runtimes(
                stack, self._model, count=self._gpus, model_options=self._model_options,
                orphan_timeout=self._orphan_timeout, host=self._host,
                on_change=self._wake_timers)
            self._machine = CoordinatorMachine(
                self.config, slots=len(self._runtimes), rng=_system_rng(),
                sign=self._keys.sign, verify=self._keys.verify,
                unix_offset=time.time() - time.monotonic())
            self.injector = FaultInjector(self.plan, self._handle, self)
            self._timers = spawn_service(self._run_timers, name="coordinator-timers")
            stack.push_async_callback(self._stop_timers)
            server = HttpServer(self.injector, host=self._host, port=self._port,
                                max_body_bytes=self._max_body_bytes)
            await server.start()
            self._server = server
            stack.push_async_callback(self._stop_server)
            self._stack = stack.pop_all()
        log.info("coordinator emulator serving %r on %s with %d GPU(s)", self._model,
                 self.url, self._gpus)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            with anyio.CancelScope(shield=True):
                await stack.aclose()

    async def _stop_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.aclose()

    async def _stop_timers(self) -> None:
        timers, self._timers = self._timers, None
        if timers is not None:
            timers.cancel()
            await timers.join()

    # ---- driving the machine -------------------------------------------------------------

    async def _handle(self, request: HttpRequest) -> HttpResponse:
        # GET / and /playground/<file>: the browser UI (the user types a key into it)
        page = playground_response(request, mode="coordinator", model=self._model)
        if page is not None:
            return page
        clips = self._clips(request)
        if clips is not None:
            return clips
        request_id = self.machine.receive_request(request, self.now())
        try:
            self._perform()
            for runtime in self._runtimes:
                await runtime.settle()
        finally:
            response = self._answers.pop(request_id, None)
        if response is None:
            # Cannot happen with in-process runtimes (every call is answered at once).
            log.error("coordinator: request %d was left without an answer", request_id)
            return error_reply(500, "internal error")
        return response

    def _clips(self, request: HttpRequest) -> HttpResponse | None:
        """``GET /clips`` (JWT required, §10) and its chunks, answered by the hosted runtime
        that holds the recording (the others answer 410: not theirs)."""
        try:
            path = request.target.partition("?")[0]
        except ReactorError:
            return None
        if not is_clips_route(path):
            return None
        denied = authorize_clips(request, verify=self._keys.verify, config=self.config,
                                 unix_now=time.time())
        if denied is not None:
            return denied
        answer: HttpResponse | None = None
        for hosted in self._runtimes:
            answer = hosted.runtime.recordings.respond(request)
            if answer is not None and answer.status != 410:
                break
        return with_cors(answer or error_reply(410, "no such recording"))

    def _perform(self) -> None:
        """Perform every action the machine queued, feeding runtime answers back (which
        may queue more), then log its events and let the timer loop re-read its deadline."""
        machine = self.machine
        while (action := machine.next_action()) is not None:
            if isinstance(action, SendResponse):
                self._answers[action.request_id] = action.response
                continue
            log.debug("coordinator: %s to slot %d", type(action).__name__, action.slot)
            now = self.now()
            try:
                response = self._runtimes[action.slot].handle_http(action.request, now)
            except Exception as exc:
                machine.runtime_call_failed(action.call_id, f"{type(exc).__name__}: {exc}",
                                            now)
            else:
                machine.runtime_replied(action.call_id, response, now)
        self._drain_events()
        self._wake_timers()

    def _drain_events(self) -> None:
        machine = self.machine
        while (event := machine.next_event()) is not None:
            self.events.append(event)
            if isinstance(event, InternalError | RuntimeCallFailed):
                log.warning("coordinator: %r", event)
            else:
                log.debug("coordinator: %r", event)

    def _wake_timers(self) -> None:
        self._wake.set()

    async def _run_timers(self) -> None:
        """Sleep until the machine's next deadline (or until a request may have moved it),
        then run its timers."""
        machine = self.machine
        while True:
            self._wake = anyio.Event()
            deadline = machine.next_deadline()
            now = self.now()
            # At least TIMER_SLACK: a deadline the machine failed to clear must not spin us.
            wait = math.inf if deadline is None else max(TIMER_SLACK, deadline - now)
            with anyio.move_on_after(wait):
                await self._wake.wait()
            machine.handle_timeout(self.now())
            self._perform()


def _system_rng() -> random.Random:
    """Session ids and token ids must not be guessable: the OS's randomness."""
    return random.SystemRandom()
