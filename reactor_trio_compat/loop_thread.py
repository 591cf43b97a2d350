"""An asyncio event loop on a dedicated thread, where every aiortc object lives.

aiortc is asyncio-only and binds its objects to the loop that created them; driving one from
another thread silently creates a stray loop.  So a trio program keeps aiortc on one
:class:`AiortcLoopThread` and crosses threads in exactly two ways:

* trio -> aiortc: :meth:`AiortcLoopThread.call_soon` (``call_soon_threadsafe``, fire and
  forget) and :meth:`AiortcLoopThread.run` (a coroutine run as a task on the loop, awaited from
  trio; a trio cancellation cancels that task and waits, bounded, for the cancellation to land).
* aiortc -> trio: :meth:`AiortcLoopThread.to_trio` (``TrioToken.run_sync_soon``), which never
  blocks the media loop and never lets an exception escape into trio's run loop (it is logged).

Sharing: one loop thread per trio run, reference-counted (:meth:`AiortcLoopThread.acquire` /
:meth:`AiortcLoopThread.release`).  It is keyed by the run's ``TrioToken`` because
``to_trio`` needs exactly one token: a thread shared by two trio runs could not tell which run
a callback belongs to.  The first ``acquire`` starts the thread, the last ``release`` stops it:
peer connections registered with :meth:`register_closer` are closed, the loop's tasks
cancelled, its default executor shut down and the thread joined, so nothing is left behind
(aiortc's ``video-decoder`` threads end when their peer connection closes).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar, Generic, TypeVar

import trio

from reactor_proto.errors import InvalidStateError, TransportError

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: how long a cancelled :meth:`AiortcLoopThread.run` waits for the loop-side task to finish
CANCEL_LANDING_TIMEOUT = 5.0
#: how long stopping waits for registered closers, then for the loop's remaining tasks
STOP_TIMEOUT = 10.0
THREAD_NAME = "reactor-aiortc-loop"

Closer = Callable[[], Awaitable[None]]


class LoopTask(Generic[T]):
    """A coroutine running as a task on the loop thread, awaitable from trio.

    Created by :meth:`AiortcLoopThread.start_task`; the asyncio task itself exists only on
    the loop thread and is touched only there.
    """

    def __init__(self, owner: AiortcLoopThread, token: trio.lowlevel.TrioToken) -> None:
        self._owner = owner
        self._token = token
        self._done = trio.Event()
        self._task: asyncio.Task[T] | None = None
        self._early_error: BaseException | None = None
        self._cancel_requested = False

    # ---- loop side ----------------------------------------------------------------------

    def _start_on_loop(self, coro_fn: Callable[..., Coroutine[Any, Any, T]],
                       args: tuple[Any, ...]) -> None:
        try:
            coro = coro_fn(*args)
            task = self._owner.loop.create_task(coro)
        except BaseException as exc:  # not a coroutine function, or the loop is closing
            self._early_error = exc
            self._owner.to_trio_with(self._token, self._done.set)
            return
        self._task = task
        task.add_done_callback(lambda _: self._owner.to_trio_with(self._token, self._done.set))

    def _cancel_on_loop(self) -> None:
        # always after _start_on_loop: call_soon_threadsafe keeps submission order
        self._cancel_requested = True
        if self._task is not None:
            self._task.cancel()

    # ---- trio side ----------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def cancel(self) -> None:
        """Ask the loop to cancel the task (returns at once; :meth:`wait` sees the end)."""
        with contextlib.suppress(InvalidStateError):  # the loop is gone: nothing to cancel
            self._owner.call_soon(self._cancel_on_loop)

    async def wait(self) -> T:
        """The task's result or exception.  A trio cancellation of this call is passed on:
        the task is cancelled on the loop and this waits, shielded and bounded by
        :data:`CANCEL_LANDING_TIMEOUT`, for it to finish before re-raising ``Cancelled``."""
        try:
            await self._done.wait()
        except trio.Cancelled:
            self.cancel()
            with trio.move_on_after(CANCEL_LANDING_TIMEOUT) as scope:
                scope.shield = True
                await self._done.wait()
            if not self._done.is_set():  # pragma: no cover - a task that ignores cancel
                logger.warning("a cancelled aiortc task did not finish within %.1f s",
                               CANCEL_LANDING_TIMEOUT)
            raise
        return self.result()

    def result(self) -> T:
        """The finished task's result; a task cancelled on the loop side (not by trio)
        raises :class:`TransportError`."""
        if not self._done.is_set():
            raise InvalidStateError("LoopTask.result() before the task finished")
        if self._early_error is not None:
            raise self._early_error
        assert self._task is not None
        if self._task.cancelled():
            why = "cancel() was called" if self._cancel_requested else "the loop is stopping"
            raise TransportError(f"the aiortc task was cancelled on the loop thread ({why})")
        return self._task.result()


class AiortcLoopThread:
    """One asyncio loop running forever on its own thread; see the module docstring.

    ``trio_token`` is the run that :meth:`to_trio` delivers to; by default the run calling
    :meth:`start`.
    """

    _shared: ClassVar[dict[trio.lowlevel.TrioToken, AiortcLoopThread]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, *, trio_token: trio.lowlevel.TrioToken | None = None,
                 name: str = THREAD_NAME) -> None:
        self._token = trio_token
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._thread_id: int | None = None
        self._stopping = False
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._stop_waiters: list[tuple[trio.lowlevel.TrioToken, trio.Event]] = []
        self._closers: dict[int, Closer] = {}
        self._refs = 0

    # ---- sharing ------------------------------------------------------------------------

    @classmethod
    def acquire(cls) -> AiortcLoopThread:
        """The running trio run's shared loop thread, started on first use; each call
        takes one reference, returned with :meth:`release`.  Synchronous (the thread
        starts in about a millisecond) so that a synchronous peer factory can call it."""
        token = trio.lowlevel.current_trio_token()
        with cls._shared_lock:
            instance = cls._shared.get(token)
            if instance is None or instance._stopping:
                instance = cls(trio_token=token)
                instance.start()
                cls._shared[token] = instance
            instance._refs += 1
            return instance

    async def release(self) -> None:
        """Drop one reference; the last one stops the thread (see :meth:`aclose`)."""
        with self._shared_lock:
            if self._refs <= 0:
                raise InvalidStateError("AiortcLoopThread.release() without acquire()")
            self._refs -= 1
            last = self._refs == 0
            token = self._token
            if last and token is not None and self._shared.get(token) is self:
                del self._shared[token]
        if last:
            await self.aclose()

    @property
    def references(self) -> int:
        return self._refs

    # ---- lifecycle ----------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise InvalidStateError("AiortcLoopThread is not started")
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stopped.is_set() and not self._stopping

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def start(self) -> None:
        """Start the thread and wait until its loop runs."""
        if self._thread is not None:
            raise InvalidStateError("AiortcLoopThread.start() was already called")
        if self._token is None:
            # outside trio (a plain thread) there is no run to call back into: to_trio raises
            with contextlib.suppress(RuntimeError):
                self._token = trio.lowlevel.current_trio_token()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(ready,), name=self._name,
                                        daemon=True)
        self._thread.start()
        ready.wait()

    def _main(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread_id = threading.get_ident()
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            loop.close()
            with self._stop_lock:
                self._stopped.set()
                waiters, self._stop_waiters = self._stop_waiters, []
            for token, event in waiters:
                self.to_trio_with(token, event.set)

    def register_closer(self, key: int, closer: Closer) -> None:
        """Loop thread only: ``closer()`` runs at stop unless unregistered first (peer
        connections register their ``close``, so a forgotten peer cannot outlive the loop)."""
        self.require_loop_thread("register_closer()")
        self._closers[key] = closer

    def unregister_closer(self, key: int) -> None:
        self.require_loop_thread("unregister_closer()")
        self._closers.pop(key, None)

    async def _shutdown(self) -> None:
        loop = self.loop
        closers, self._closers = list(self._closers.values()), {}
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_TIMEOUT):
                await asyncio.gather(*(c() for c in closers), return_exceptions=True)
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks(loop) if t is not me]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
        await loop.shutdown_asyncgens()
        await loop.shutdown_default_executor()
        loop.stop()

    def _begin_stop(self) -> bool:
        if self._thread is None or self._stopping:
            return False
        self._stopping = True
        self.loop.call_soon_threadsafe(lambda: self.loop.create_task(self._shutdown()))
        return True

    def stop(self, timeout: float = STOP_TIMEOUT + 5.0) -> None:
        """Synchronous stop (blocks the calling thread until the loop thread ended); for
        code outside trio.  Idempotent.  Not from the loop thread itself."""
        if self.on_loop_thread():
            raise InvalidStateError("AiortcLoopThread.stop() called from its own loop thread")
        self._begin_stop()
        if self._thread is not None:
            self._thread.join(timeout)

    async def aclose(self) -> None:
        """Stop from trio without blocking trio's thread: closers run, tasks are cancelled,
        the executor is shut down, then the thread is joined (it has already ended)."""
        if self._thread is None:
            return
        ended = trio.Event()
        with self._stop_lock:
            if self._stopped.is_set():
                ended.set()
            else:
                self._stop_waiters.append((trio.lowlevel.current_trio_token(), ended))
        self._begin_stop()
        # shielded (an interrupted stop would leave the thread and its peers behind) and
        # bounded (a stuck executor job or decoder must not hang the trio program)
        with trio.move_on_after(STOP_TIMEOUT + 5.0) as scope:
            scope.shield = True
            await ended.wait()
        if ended.is_set():
            self._thread.join()
        else:  # pragma: no cover - needs a loop that does not stop
            logger.error("the aiortc loop thread did not stop within %.0f s; left running "
                         "(daemon)", STOP_TIMEOUT + 5.0)

    async def __aenter__(self) -> AiortcLoopThread:
        if self._thread is None:
            self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ---- thread guards ------------------------------------------------------------------

    def on_loop_thread(self) -> bool:
        return self._thread_id is not None and threading.get_ident() == self._thread_id

    def require_loop_thread(self, what: str) -> None:
        """Raise :class:`InvalidStateError` unless called on the loop thread: the guard every
        aiortc-side helper runs first, so a call from the wrong thread fails loudly."""
        if not self.on_loop_thread():
            raise InvalidStateError(
                f"{what} must run on the aiortc loop thread {self._name!r}, "
                f"not on thread {threading.current_thread().name!r}")

    def require_other_thread(self, what: str) -> None:
        """Raise if called on the loop thread (where waiting for the loop would deadlock)."""
        if self.on_loop_thread():
            raise InvalidStateError(f"{what} must not be called from the aiortc loop thread")

    # ---- crossing threads -----------------------------------------------------------------

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop thread soon (from any thread; never blocks).  An
        exception there goes to the loop's exception handler (logged)."""
        if self._loop is None or self._stopping or self._stopped.is_set():
            raise InvalidStateError("the aiortc loop thread is not running")
        try:
            # A fresh context, not the caller's: a trio task's context says "trio" to
            # sniffio, and anyio code on the loop (aiortc peers) would then call trio.
            self._loop.call_soon_threadsafe(fn, *args, context=contextvars.Context())
        except RuntimeError as exc:  # closed between the check and the call
            raise InvalidStateError("the aiortc loop thread is not running") from exc

    def start_task(self, coro_fn: Callable[..., Coroutine[Any, Any, T]],
                   *args: Any) -> LoopTask[T]:
        """Start ``coro_fn(*args)`` as a task on the loop; from the trio thread."""
        self.require_other_thread("start_task()")
        handle: LoopTask[T] = LoopTask(self, trio.lowlevel.current_trio_token())
        self.call_soon(handle._start_on_loop, coro_fn, args)
        return handle

    async def run(self, coro_fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run ``coro_fn(*args)`` on the loop and return its result (or raise its
        exception).  Cancelling the caller cancels the task; see :meth:`LoopTask.wait`."""
        return await self.start_task(coro_fn, *args).wait()

    def to_trio(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` in this thread's trio run, soon; from any thread, never blocks.
        An exception from ``fn`` is logged, never raised into trio; a finished run drops
        the call (logged at debug level)."""
        if self._token is None:
            raise InvalidStateError("AiortcLoopThread has no trio token (not started)")
        self.to_trio_with(self._token, fn, *args)

    @staticmethod
    def to_trio_with(token: trio.lowlevel.TrioToken, fn: Callable[..., object],
                     *args: Any) -> None:
        def guarded() -> None:
            try:
                fn(*args)
            except Exception:
                logger.exception("callback %r into trio raised", fn)

        try:
            token.run_sync_soon(guarded)
        except trio.RunFinishedError:
            logger.debug("trio run finished; dropped callback %r", fn)


def submit_threadsafe(loop_thread: AiortcLoopThread,
                      coro_fn: Callable[..., Coroutine[Any, Any, T]],
                      *args: Any) -> concurrent.futures.Future[T]:
    """``run_coroutine_threadsafe`` for code outside trio (a plain thread); the caller owns
    cancellation (``future.cancel()`` cancels the task)."""
    loop_thread.require_other_thread("submit_threadsafe()")
    return asyncio.run_coroutine_threadsafe(coro_fn(*args), loop_thread.loop)
