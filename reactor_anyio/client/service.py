"""A background task that outlives the call that started it, under asyncio or trio.

The client keeps timers, pings, HTTP exchanges and media running while the caller's code does
other things, as the official client does with free-floating asyncio tasks.  anyio has no
such tasks, so the one place that needs them picks the host's own mechanism:
``loop.create_task`` under asyncio, a system task (with its own cancel scope) under trio.
Inside, everything is plain anyio.  The service catches and logs its own failures: a system
task that raised would crash ``trio.run``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import sniffio

log = logging.getLogger("reactor_anyio.service")


class ServiceHandle:
    """Cancel and join a service started by :func:`spawn_service`."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self._cancel: Callable[[], None] | None = None
        self._cancel_requested = False

    def cancel(self) -> None:
        self._cancel_requested = True
        if self._cancel is not None:
            self._cancel()

    async def join(self, within: float = 10.0) -> bool:
        """Wait for the service to end; False if it did not within ``within`` seconds."""
        with anyio.move_on_after(within):
            await self.done.wait()
        return self.done.is_set()

    def _bind(self, cancel: Callable[[], None]) -> None:
        self._cancel = cancel
        if self._cancel_requested:
            cancel()


def spawn_service(fn: Callable[[], Awaitable[None]], *, name: str) -> ServiceHandle:
    handle = ServiceHandle()

    async def body() -> None:
        try:
            await fn()
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException:
            log.exception("service %s crashed", name)
        finally:
            handle.done.set()

    library = sniffio.current_async_library()
    if library == "trio":
        import trio

        async def trio_body() -> None:
            with trio.CancelScope() as scope:
                handle._bind(scope.cancel)
                await body()

        trio.lowlevel.spawn_system_task(trio_body, name=name)
    elif library == "asyncio":
        import asyncio

        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(body(), name=name)

        def cancel_task() -> None:
            task.cancel()

        handle._bind(cancel_task)
    else:  # pragma: no cover - anyio supports only these two
        raise RuntimeError(f"unsupported async library {library!r}")
    return handle
