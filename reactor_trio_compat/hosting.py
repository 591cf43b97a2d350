"""Hosting an anyio service (a local runtime, the coordinator emulator) from a trio program.

Such services run aiortc, so under trio they live inside the trio run's
:class:`AiortcLoopThread`.  One host task there enters the service's async context manager,
reports that it started, waits for the stop request and exits it, so entering and exiting
happen in the same asyncio task (anyio's cancel scopes require that).
"""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import ClassVar, Generic, TypeVar

import trio

from reactor_proto.errors import InvalidStateError

from .loop_thread import AiortcLoopThread, LoopTask

T = TypeVar("T")

#: How long a stop request may take before the host task is cancelled.
STOP_WITHIN = 15.0


class LoopHosted(Generic[T]):
    """Base of the trio-side handles; subclasses say what to build in :meth:`_create`."""

    #: Name used in error messages.
    what: ClassVar[str] = "service"
    #: Keep the stopped service readable (its records) after the stop.
    keep_after_stop: ClassVar[bool] = False

    def __init__(self) -> None:
        self._lt: AiortcLoopThread | None = None
        self._hosted: T | None = None
        self._host: LoopTask[None] | None = None
        self._stop: asyncio.Event | None = None
        self._started = trio.Event()
        self._entered = False

    def _create(self) -> AbstractAsyncContextManager[T]:
        raise NotImplementedError  # pragma: no cover - every subclass defines it

    @property
    def hosted(self) -> T:
        if self._hosted is None:
            raise InvalidStateError(f"{type(self).__name__} is not running")
        return self._hosted

    @property
    def loop_thread(self) -> AiortcLoopThread:
        if self._lt is None:
            raise InvalidStateError(f"{type(self).__name__} is not running")
        return self._lt

    async def _host_on_loop(self, token: trio.lowlevel.TrioToken) -> None:
        assert self._lt is not None
        self._lt.require_loop_thread(f"{type(self).__name__}._host_on_loop()")
        self._stop = asyncio.Event()
        try:
            async with self._create() as hosted:
                self._hosted = hosted
                AiortcLoopThread.to_trio_with(token, self._started.set)
                await self._stop.wait()
        finally:
            if not self.keep_after_stop:
                self._hosted = None
            AiortcLoopThread.to_trio_with(token, self._started.set)

    def _request_stop_on_loop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def __aenter__(self) -> LoopHosted[T]:
        if self._entered:
            raise InvalidStateError(f"{type(self).__name__}: already started (not reentrant)")
        self._entered = True
        self._lt = AiortcLoopThread.acquire()
        try:
            self._host = self._lt.start_task(self._host_on_loop,
                                             trio.lowlevel.current_trio_token())
            await self._started.wait()
            if self._hosted is None:  # the host ended without a service: raise its error
                await self._host.wait()
                raise InvalidStateError(  # pragma: no cover - wait() raised the cause
                    f"the {self.what} stopped while starting")
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the service and give back the loop thread; closing twice is harmless."""
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
                    if not host.done:  # pragma: no cover - a service ignoring its stop
                        host.cancel()
            finally:
                self._lt = self._host = None
                await lt.release()
