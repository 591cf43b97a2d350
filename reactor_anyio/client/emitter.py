"""Event handlers: ``on``/``off`` and the decorators, without the official client's traps.

* Handlers run in registration order, over a snapshot of the list, so a handler may remove
  itself (or others) while an event is being delivered (F29).
* A handler that raises is logged and does not stop the others or the connection.
* An ``async def`` handler runs as its own host task (see :mod:`.service`), *beside* the
  client's background service, never inside it: so a handler may call any public method,
  ``disconnect()`` included, which stops that service and waits for it without waiting on
  the handler itself.  Running handlers are kept referenced until they finish; ``aclose``
  cancels the ones still running (except its caller) and waits for them, bounded.
* Filtered wrappers (``@on_status(READY)``, ``@on_track("main_video")``) are registered under
  the function the user wrote, so ``off(event, func)`` removes them.
* Both spellings in the docs work: ``message``/``new_message`` and
  ``track_received``/``stream_changed`` (the latter's handler gets only the track).
"""

from __future__ import annotations

import contextvars
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from .service import ServiceHandle, spawn_service

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
HANDLER_JOIN_TIMEOUT = 5.0
# The handler task the current code runs in (None outside handlers), so ``aclose`` called
# from a handler does not cancel and wait for that very handler.
_current_handler: contextvars.ContextVar[ServiceHandle | None] = contextvars.ContextVar(
    "reactor_current_handler", default=None)


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
        self._running: set[ServiceHandle] = set()

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
        name = getattr(key, "__qualname__", repr(key))
        handle_box: list[ServiceHandle] = []

        async def guarded() -> None:
            _current_handler.set(handle_box[0] if handle_box else None)
            try:
                await awaitable
            except Exception:
                log.exception("async handler %s for %r raised", name, event)
            finally:
                if handle_box:
                    self._running.discard(handle_box[0])

        try:
            handle = spawn_service(guarded, name=f"reactor-handler-{event}-{name}")
        except RuntimeError:
            # sniffio found no running event loop (an event delivered outside one).
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            log.warning("async handler %s for %r dropped: no event loop is running",
                        name, event)
            return
        handle_box.append(handle)
        if not handle.done.is_set():
            self._running.add(handle)

    async def cancel_handlers(self) -> None:
        """Cancel the async handlers still running (not the caller's own) and wait for
        them, at most :data:`HANDLER_JOIN_TIMEOUT` seconds in all."""
        me = _current_handler.get()
        others = [h for h in self._running if h is not me]
        for handle in others:
            handle.cancel()
        with anyio.move_on_after(HANDLER_JOIN_TIMEOUT):
            for handle in others:
                await handle.done.wait()
        stuck = [h for h in others if not h.done.is_set()]
        if stuck:
            log.error("%d event handler(s) did not stop within %g s", len(stuck),
                      HANDLER_JOIN_TIMEOUT)

