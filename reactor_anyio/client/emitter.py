"""Event handlers: ``on``/``off`` and the decorators, without the official client's traps.

* Handlers run in registration order, over a snapshot of the list, so a handler may remove
  itself (or others) while an event is being delivered (F29).
* A handler that raises is logged and does not stop the others or the connection.
* An ``async def`` handler is run as a task of the client's task group and kept referenced
  until it finishes; it never leaks past ``disconnect``/``aclose``.
* Filtered wrappers (``@on_status(READY)``, ``@on_track("main_video")``) are registered under
  the function the user wrote, so ``off(event, func)`` removes them.
* Both spellings in the docs work: ``message``/``new_message`` and
  ``track_received``/``stream_changed`` (the latter's handler gets only the track).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger("reactor_anyio.events")

EVENTS = frozenset({
    "status_changed", "session_id_changed", "message", "runtime_message", "track_received",
    "error", "session_expiration_changed", "capabilities_received", "stats_update",
    "schema_received",
})
# alias -> (canonical event, adapter of the canonical arguments to the alias's signature)
ALIASES: dict[str, tuple[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]]] = {
    "new_message": ("message", lambda args: args),
    "stream_changed": ("track_received", lambda args: args[1:]),
}

Handler = Callable[..., Any]
Spawner = Callable[[Callable[[], Coroutine[Any, Any, None]]], None]


class _Registration:
    __slots__ = ("adapt", "call", "key")

    def __init__(self, key: Handler, call: Handler,
                 adapt: Callable[[tuple[Any, ...]], tuple[Any, ...]]) -> None:
        self.key = key
        self.call = call
        self.adapt = adapt


class EventEmitter:
    def __init__(self) -> None:
        self._handlers: dict[str, list[_Registration]] = {name: [] for name in EVENTS}
        self._spawn: Spawner | None = None

    def bind_spawner(self, spawn: Spawner | None) -> None:
        """Where async handlers run (the client's task group); None while not running."""
        self._spawn = spawn

    @staticmethod
    def resolve(event: str) -> tuple[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]]:
        if event in ALIASES:
            return ALIASES[event]
        if event not in EVENTS:
            known = ", ".join(sorted(EVENTS | set(ALIASES)))
            raise ValueError(f"unknown event {event!r}; known events: {known}")
        return event, lambda args: args

    def on(self, event: str, handler: Handler, *, key: Handler | None = None) -> Handler:
        if not callable(handler):
            raise TypeError(f"on({event!r}, ...): handler must be callable, got {handler!r}")
        canonical, adapt = self.resolve(event)
        self._handlers[canonical].append(_Registration(key or handler, handler, adapt))
        return key or handler

    def off(self, event: str, handler: Handler) -> None:
        canonical, _ = self.resolve(event)
        self._handlers[canonical] = [r for r in self._handlers[canonical]
                                     if r.key is not handler and r.call is not handler]

    def has_handlers(self, event: str) -> bool:
        return bool(self._handlers[self.resolve(event)[0]])

    def emit(self, event: str, *args: Any) -> None:
        for registration in list(self._handlers[event]):
            try:
                result = registration.call(*registration.adapt(args))
            except Exception:
                log.exception("handler %r for %r raised", registration.key, event)
                continue
            if inspect.isawaitable(result):
                self._run_async(event, registration.key, result)

    def _run_async(self, event: str, key: Handler, awaitable: Awaitable[Any]) -> None:
        if self._spawn is None:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            log.warning("async handler %r for %r dropped: the client is not running",
                        key, event)
            return

        async def guarded() -> None:
            try:
                await awaitable
            except Exception:
                log.exception("async handler %r for %r raised", key, event)

        self._spawn(guarded)
