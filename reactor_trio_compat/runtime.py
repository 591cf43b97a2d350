"""A :class:`~reactor_anyio.runtime.LocalRuntime` usable from trio, for tests and examples.

``LocalRuntime`` is anyio code running aiortc, so under trio it runs inside the trio run's
loop thread (see :mod:`.hosting`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from reactor_anyio.runtime import LocalRuntime
from reactor_proto.runtime import RuntimeMachine

from .hosting import LoopHosted

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


class TrioHostedRuntime(LoopHosted[LocalRuntime]):
    """``async with TrioHostedRuntime("helios", model_options={...}) as runtime:`` in trio.

    Arguments are those of ``LocalRuntime``.  :attr:`url`, :attr:`machine`,
    :meth:`connections`, :meth:`peers_open`, :meth:`frames_produced`, :meth:`consumers` and
    :meth:`latest_input` mirror the runtime's; they read state owned by the loop thread, so
    use them read-only (snapshots for assertions).
    """

    what = "LocalRuntime"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self._args = args
        self._kwargs = kwargs

    def _create(self) -> LocalRuntime:
        return LocalRuntime(*self._args, **self._kwargs)

    async def __aenter__(self) -> TrioHostedRuntime:
        await super().__aenter__()
        return self

    @property
    def runtime(self) -> LocalRuntime:
        return self.hosted

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
