"""A :class:`~reactor_anyio.coordinator.CoordinatorEmulator` usable from trio, for tests.

The emulator is anyio code hosting ``LocalRuntime``\\ s (aiortc), so under trio it runs inside
the trio run's :class:`AiortcLoopThread`, as :class:`~.runtime.TrioHostedRuntime` does: one
host task there builds and enters the emulator (its ``anyio.Event`` needs the loop's
context), reports it started, waits for the stop request and exits it, so entering and
exiting happen in the same asyncio task (anyio's cancel scopes require that).  The fault
helpers run as tasks on the loop; the read-only views read state the loop thread owns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import trio

from reactor_anyio.coordinator import CoordinatorEmulator, FaultInjector
from reactor_anyio.coordinator.runtime_host import HostedLocalRuntime
from reactor_proto.coordinator import CoordinatorConfig, CoordinatorMachine
from reactor_proto.errors import InvalidStateError

from .loop_thread import AiortcLoopThread, LoopTask
from .runtime import read_across_threads

#: How long a stop request may take before the host task is cancelled.
STOP_WITHIN = 15.0


class TrioHostedCoordinator:
    """``async with TrioHostedCoordinator(api_keys=[...]) as emu:`` in trio.

    Arguments are those of ``CoordinatorEmulator``.  :attr:`url`, :attr:`machine`,
    :attr:`config`, :attr:`runtimes`, :attr:`requests`, :attr:`events`, :attr:`injector`
    and :meth:`live_sessions` mirror the emulator's and are read-only snapshots of state the
    loop thread owns; :meth:`drop_peer`, :meth:`kill_runtime` and :meth:`expire_session`
    run on the loop thread.
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._lt: AiortcLoopThread | None = None
        self._emulator: CoordinatorEmulator | None = None
        self._host: LoopTask[None] | None = None
        self._stop: asyncio.Event | None = None
        self._started = trio.Event()
        self._entered = False

    def __repr__(self) -> str:
        if self._emulator is None:
            return "TrioHostedCoordinator(not serving)"
        return f"TrioHostedCoordinator({self._emulator!r})"

    # ---- read-only views -----------------------------------------------------------------

    @property
    def emulator(self) -> CoordinatorEmulator:
        if self._emulator is None:
            raise InvalidStateError("TrioHostedCoordinator is not running")
        return self._emulator

    @property
    def url(self) -> str:
        return self.emulator.url

    @property
    def machine(self) -> CoordinatorMachine:
        return self.emulator.machine

    @property
    def config(self) -> CoordinatorConfig:
        return self.emulator.config

    @property
    def runtimes(self) -> tuple[HostedLocalRuntime, ...]:
        return self.emulator.runtimes

    @property
    def requests(self) -> Sequence[Any]:
        return read_across_threads(lambda: self.emulator.requests)

    @property
    def events(self) -> tuple[Any, ...]:
        return read_across_threads(lambda: tuple(self.emulator.events))

    @property
    def injector(self) -> FaultInjector | None:
        return self.emulator.injector

    @property
    def loop_thread(self) -> AiortcLoopThread:
        if self._lt is None:
            raise InvalidStateError("TrioHostedCoordinator is not running")
        return self._lt

    def live_sessions(self) -> list[str]:
        return read_across_threads(self.emulator.live_sessions)

    # ---- fault injection, on the loop thread ---------------------------------------------

    async def drop_peer(self, session_id: str | None) -> int:
        return await self.loop_thread.run(self.emulator.drop_peer, session_id)

    async def kill_runtime(self, session_id: str | None) -> int:
        return await self.loop_thread.run(self.emulator.kill_runtime, session_id)

    async def expire_session(self, session_id: str | None) -> int:
        return await self.loop_thread.run(self.emulator.expire_session, session_id)

    # ---- life cycle ----------------------------------------------------------------------

    async def _host_on_loop(self, token: trio.lowlevel.TrioToken) -> None:
        assert self._lt is not None
        self._lt.require_loop_thread("TrioHostedCoordinator._host_on_loop()")
        self._stop = asyncio.Event()
        try:
            async with CoordinatorEmulator(**self._options) as emulator:
                self._emulator = emulator
                AiortcLoopThread.to_trio_with(token, self._started.set)
                await self._stop.wait()
        finally:
            AiortcLoopThread.to_trio_with(token, self._started.set)

    def _request_stop_on_loop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def __aenter__(self) -> TrioHostedCoordinator:
        if self._entered:
            raise InvalidStateError("TrioHostedCoordinator: already started")
        self._entered = True
        self._lt = AiortcLoopThread.acquire()
        try:
            self._host = self._lt.start_task(self._host_on_loop,
                                             trio.lowlevel.current_trio_token())
            await self._started.wait()
            if self._emulator is None:  # the host ended without an emulator: raise its error
                await self._host.wait()
                raise InvalidStateError(  # pragma: no cover - wait() raised the cause
                    "CoordinatorEmulator stopped while starting")
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the emulator and give back the loop thread; closing twice is harmless.  The
        emulator object stays readable (its machine and records) after the stop."""
        lt, host = self._lt, self._host
        if lt is None:
            return
        with trio.CancelScope(shield=True):
            try:
                if host is not None and not host.done:
                    lt.call_soon(self._request_stop_on_loop)
                    # an error of the host was raised by __aenter__ already, or is moot now
                    with trio.move_on_after(STOP_WITHIN), contextlib.suppress(Exception):
                        await host.wait()
                    if not host.done:  # pragma: no cover - an emulator ignoring its stop
                        host.cancel()
            finally:
                self._lt = self._host = None
                await lt.release()
