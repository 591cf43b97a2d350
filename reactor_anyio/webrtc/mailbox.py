"""A bounded latest-wins mailbox between a producer that must never block and an async reader.

aiortc's receive queue is unbounded: a consumer slower than the stream grows latency without
limit.  Frames therefore pass through this mailbox instead: when it is full the *oldest* item
is dropped (and counted), so the reader always gets the freshest frames.

``put`` is synchronous, never blocks and may be called from any thread (the aiortc loop in
particular), because under the trio bridge the reader lives on another thread.  ``get`` is
awaited under asyncio or trio: the waiting reader records how to wake it on *its own* loop
(directly on the same thread, else ``call_soon_threadsafe`` / ``TrioToken.run_sync_soon``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import anyio

from reactor_proto.errors import LocalProtocolError

T = TypeVar("T")


def _waker(event: anyio.Event) -> Callable[[], None]:
    """A function that sets ``event`` from any thread, on the loop that awaits it."""
    owner = threading.get_ident()
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        # No asyncio loop on this thread: the reader runs under trio (the only other
        # backend anyio supports).  Imported lazily: trio is an optional dependency.
        import trio

        token = trio.lowlevel.current_trio_token()

        def wake_trio() -> None:
            if threading.get_ident() == owner:
                event.set()
            else:
                with contextlib.suppress(trio.RunFinishedError):
                    token.run_sync_soon(event.set)

        return wake_trio

    def wake_asyncio() -> None:
        if threading.get_ident() == owner:
            event.set()
        else:
            # the reader's loop may already be closed: nobody is left to wake
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    return wake_asyncio


class LatestWinsMailbox(Generic[T]):
    """Holds at most ``capacity`` items; ``put`` on a full mailbox drops the oldest one."""

    def __init__(self, capacity: int = 1) -> None:
        if capacity < 1:
            raise LocalProtocolError(f"LatestWinsMailbox.capacity must be >= 1: {capacity!r}")
        self._capacity = capacity
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._waiters: list[Callable[[], None]] = []
        self._closed = False
        self._dropped = 0
        self._accepted = 0

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def dropped(self) -> int:
        """Items discarded unread: overwritten by newer ones, or put after :meth:`close`."""
        return self._dropped

    @property
    def accepted(self) -> int:
        """Items ``put`` while open (read or not)."""
        return self._accepted

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> bool:
        """Store ``item``; never blocks, never raises.  False (and counted as dropped) after
        :meth:`close`."""
        return self.put_many((item,))

    def put_many(self, items: Sequence[T]) -> bool:
        """Store ``items`` in order, waking the reader once (a burst put one by one could
        wake a reader on another thread per item); as :meth:`put` otherwise."""
        with self._lock:
            if self._closed:
                self._dropped += len(items)
                return False
            if not items:
                return True
            for item in items:
                if len(self._items) >= self._capacity:
                    self._items.popleft()
                    self._dropped += 1
                self._items.append(item)
            self._accepted += len(items)
            waiters, self._waiters = self._waiters, []
        for wake in waiters:
            wake()
        return True

    def get_nowait(self) -> T:
        """The oldest held item; :class:`anyio.WouldBlock` if empty, :class:`anyio.EndOfStream`
        if empty and closed."""
        with self._lock:
            if self._items:
                return self._items.popleft()
            if self._closed:
                raise anyio.EndOfStream
        raise anyio.WouldBlock

    def take_all(self) -> list[T]:
        """Every held item, oldest first (maybe none); never blocks."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items

    async def get(self) -> T:
        """Wait for an item.  After :meth:`close` the held items are still delivered, then
        :class:`anyio.EndOfStream` is raised."""
        while True:
            event = anyio.Event()
            wake = _waker(event)
            with self._lock:
                if self._items:
                    return self._items.popleft()
                if self._closed:
                    raise anyio.EndOfStream
                self._waiters.append(wake)
            try:
                await event.wait()
            finally:
                with self._lock, contextlib.suppress(ValueError):
                    self._waiters.remove(wake)

    def add_waiter(self, wake: Callable[[], None]) -> bool:
        """Call ``wake()`` (once, from the thread that puts or closes) at the next
        :meth:`put` or :meth:`close`, unless an item is held or the mailbox is closed
        already: then False, and nothing is registered.  For a reader that parks its task
        its own way (the trio bridge parks with ``trio.lowlevel``, cheaper per frame than
        an :class:`anyio.Event`); :meth:`remove_waiter` when it stops waiting."""
        with self._lock:
            if self._items or self._closed:
                return False
            self._waiters.append(wake)
            return True

    def remove_waiter(self, wake: Callable[[], None]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._waiters.remove(wake)

    def close(self) -> None:
        """Refuse further items and wake every reader (idempotent)."""
        with self._lock:
            self._closed = True
            waiters, self._waiters = self._waiters, []
        for wake in waiters:
            wake()
