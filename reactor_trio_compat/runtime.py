"""A :class:`~reactor_anyio.runtime.LocalRuntime` usable from trio, for tests and examples.

``LocalRuntime`` is anyio code running aiortc, so under trio it runs inside the trio run's
:class:`AiortcLoopThread`: one host task there enters the runtime, reports it started, waits
for the stop request and exits it, so entering and exiting happen in the same asyncio task
(anyio's cancel scopes require that).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

import trio

from reactor_anyio.runtime import LocalRuntime
from reactor_proto.errors import InvalidStateError
from reactor_proto.runtime import RuntimeMachine

from .loop_thread import AiortcLoopThread, LoopTask

T = TypeVar("T")


def read_across_threads(read: Callable[[], T], attempts: int = 100) -> T:
    """``read()`` of state the loop thread owns, retried while that thread resizes a dict
    or set mid-iteration (the only way such a read fails; the snapshot is then retaken)."""
    for _ in range(attempts - 1):
        try:
            return read()
        except RuntimeError:  # pragma: no cover - "changed size during iteration": a race
            continue
    return read()


class TrioHostedRuntime:
    """``async with TrioHostedRuntime("helios", model_options={...}) as runtime:`` in trio.

    Arguments are those of ``LocalRuntime``.  :attr:`url`, :attr:`machine`,
    :meth:`connections`, :meth:`peers_open`, :meth:`frames_produced`, :meth:`consumers` and
    :meth:`latest_input` mirror the runtime's; they read state owned by the loop thread, so
    use them read-only (snapshots for assertions).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args = args
        self._kwargs = kwargs
        self._lt: AiortcLoopThread | None = None
        self._runtime: LocalRuntime | None = None
        self._host: LoopTask[None] | None = None
        self._stop: asyncio.Event | None = None
        self._started = trio.Event()

    @property
    def runtime(self) -> LocalRuntime:
        if self._runtime is None:
            raise InvalidStateError("TrioHostedRuntime is not running")
        return self._runtime

    @property
    def url(self) -> str:
        return self.runtime.url

    @property
    def machine(self) -> RuntimeMachine:
        return self.runtime.machine

    def connections(self) -> int:
        return self.runtime.connections()

    def peers_open(self) -> int:
        return read_across_threads(self.runtime.peers_open)

    def frames_produced(self, track: str = "main_video") -> int:
        return self.runtime.frames_produced(track)

    def consumers(self, track: str = "main_video") -> int:
        return read_across_threads(lambda: self.runtime.consumers(track))

    def latest_input(self, track: str) -> Any:
        return self.runtime.latest_input(track)

    @property
    def loop_thread(self) -> AiortcLoopThread:
        if self._lt is None:
            raise InvalidStateError("TrioHostedRuntime is not running")
        return self._lt

    async def _host_on_loop(self, token: trio.lowlevel.TrioToken) -> None:
        assert self._lt is not None
        self._lt.require_loop_thread("TrioHostedRuntime._host_on_loop()")
        self._stop = asyncio.Event()
        try:
            async with LocalRuntime(*self._args, **self._kwargs) as runtime:
                self._runtime = runtime
                AiortcLoopThread.to_trio_with(token, self._started.set)
                await self._stop.wait()
        finally:
            self._runtime = None
            AiortcLoopThread.to_trio_with(token, self._started.set)

    def _request_stop_on_loop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def __aenter__(self) -> TrioHostedRuntime:
        if self._lt is not None:
            raise InvalidStateError("TrioHostedRuntime is not reentrant")
        self._lt = AiortcLoopThread.acquire()
        try:
            self._host = self._lt.start_task(self._host_on_loop,
                                             trio.lowlevel.current_trio_token())
            await self._started.wait()
            if self._runtime is None:  # the host ended without a runtime: raise its error
                await self._host.wait()
                raise InvalidStateError(  # pragma: no cover - wait() raised the cause
                    "LocalRuntime stopped while starting")
        except BaseException:
            await self._shutdown()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._shutdown()

    async def _shutdown(self) -> None:
        lt, host = self._lt, self._host
        if lt is None:
            return
        with trio.CancelScope(shield=True):
            try:
                if host is not None and not host.done:
                    lt.call_soon(self._request_stop_on_loop)
                    # an error of the host was raised by __aenter__ already, or is moot now
                    with trio.move_on_after(10), contextlib.suppress(Exception):
                        await host.wait()
                    if not host.done:  # pragma: no cover - a runtime that ignores its stop
                        host.cancel()
            finally:
                self._lt = self._host = None
                await lt.release()
