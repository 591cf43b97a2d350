"""A :class:`~reactor_anyio.coordinator.CoordinatorEmulator` usable from trio, for tests.

The emulator is anyio code hosting ``LocalRuntime``\\ s (aiortc), so under trio it runs inside
the trio run's :class:`AiortcLoopThread`, as :class:`~.runtime.TrioHostedRuntime` does: one
host task there builds and enters the emulator (its ``anyio.Event`` needs the loop's
context), reports it started, waits for the stop request and exits it, so entering and
exiting happen in the same asyncio task (anyio's cancel scopes require that).  The fault
helpers run as tasks on the loop; the read-only views read state the loop thread owns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reactor_anyio.coordinator import CoordinatorEmulator, FaultInjector
from reactor_anyio.coordinator.runtime_host import HostedLocalRuntime
from reactor_proto.coordinator import CoordinatorConfig, CoordinatorMachine

from .hosting import LoopHosted
from .runtime import read_across_threads


class TrioHostedCoordinator(LoopHosted[CoordinatorEmulator]):
    """``async with TrioHostedCoordinator(api_keys=[...]) as emu:`` in trio.

    Arguments are those of ``CoordinatorEmulator``.  :attr:`url`, :attr:`machine`,
    :attr:`config`, :attr:`runtimes`, :attr:`requests`, :attr:`events`, :attr:`injector`
    and :meth:`live_sessions` mirror the emulator's and are read-only snapshots of state the
    loop thread owns; :meth:`drop_peer`, :meth:`kill_runtime` and :meth:`expire_session`
    run on the loop thread.  The emulator stays readable (its machine and records) after
    the stop.
    """

    what = "CoordinatorEmulator"
    keep_after_stop = True

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self._options = options

    def _create(self) -> CoordinatorEmulator:
        # Built on the loop thread: its anyio primitives need the loop's context.
        return CoordinatorEmulator(**self._options)

    async def __aenter__(self) -> TrioHostedCoordinator:
        await super().__aenter__()
        return self

    def __repr__(self) -> str:
        if self._hosted is None:
            return "TrioHostedCoordinator(not serving)"
        return f"TrioHostedCoordinator({self._hosted!r})"

    # ---- read-only views -----------------------------------------------------------------

    @property
    def emulator(self) -> CoordinatorEmulator:
        return self.hosted

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

    def live_sessions(self) -> list[str]:
        return read_across_threads(self.emulator.live_sessions)

    # ---- fault injection, on the loop thread ---------------------------------------------

    async def drop_peer(self, session_id: str | None) -> int:
        return await self.loop_thread.run(self.emulator.drop_peer, session_id)

    async def kill_runtime(self, session_id: str | None) -> int:
        return await self.loop_thread.run(self.emulator.kill_runtime, session_id)

    async def expire_session(self, session_id: str | None) -> int:
        return await self.loop_thread.run(self.emulator.expire_session, session_id)
