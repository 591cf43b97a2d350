"""The aiortc loop thread: lifecycle, run() with cancellation, callbacks into trio, guards."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest
import trio

import reactor_trio_compat
from reactor_proto.errors import InvalidStateError, TransportError
from reactor_trio_compat import require_bridge
from reactor_trio_compat.loop_thread import THREAD_NAME, AiortcLoopThread, submit_threadsafe

from .conftest import thread_names

pytestmark = pytest.mark.anyio


async def test_start_and_stop_leave_no_thread() -> None:
    before = thread_names()
    async with AiortcLoopThread() as lt:
        assert lt.running
        assert THREAD_NAME in thread_names()
        assert not lt.on_loop_thread()
    assert not lt.running
    assert lt.thread is not None and not lt.thread.is_alive()
    assert thread_names() == before
    await lt.aclose()  # idempotent


async def test_stop_cancels_the_loop_tasks_and_shuts_the_executor_down() -> None:
    lt = AiortcLoopThread()
    lt.start()
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def use_executor() -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: threading.current_thread().name)

    waiter = lt.start_task(forever)
    worker_name = await lt.run(use_executor)
    assert worker_name.startswith("asyncio_") or worker_name.startswith("ThreadPool")
    await lt.aclose()
    assert cancelled.is_set()
    with pytest.raises(TransportError, match="loop is stopping"):
        await waiter.wait()
    assert not any(n.startswith(("asyncio_", "ThreadPool")) for n in thread_names())


async def test_run_passes_results_and_exceptions() -> None:
    async with AiortcLoopThread() as lt:

        async def on_loop(a: int, b: int) -> tuple[int, bool]:
            return a + b, lt.on_loop_thread()

        assert await lt.run(on_loop, 2, 3) == (5, True)

        async def fails() -> None:
            raise KeyError("boom")

        with pytest.raises(KeyError, match="boom"):
            await lt.run(fails)

        def not_a_coroutine_function() -> None:
            raise ValueError("sync")

        with pytest.raises(ValueError, match="sync"):
            await lt.run(not_a_coroutine_function)  # type: ignore[arg-type]


async def test_trio_cancellation_cancels_the_task_on_the_loop() -> None:
    async with AiortcLoopThread() as lt:
        seen: list[str] = []

        async def long_aiortc_side() -> None:
            seen.append("started")
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                seen.append("cancelled")
                await asyncio.sleep(0.05)  # cleanup that takes a while still lands
                seen.append("cleaned")
                raise

        with trio.move_on_after(0.2) as scope:
            await lt.run(long_aiortc_side)
        assert scope.cancelled_caught
        # run() waited for the cancellation to land on the loop before re-raising
        assert seen == ["started", "cancelled", "cleaned"]

        async def count_tasks() -> int:
            return len(asyncio.all_tasks()) - 1

        assert await lt.run(count_tasks) == 0


async def test_explicit_cancel_of_a_loop_task() -> None:
    async with AiortcLoopThread() as lt:

        async def long() -> None:
            await asyncio.sleep(30)

        handle = lt.start_task(long)
        handle.cancel()
        with pytest.raises(TransportError, match="cancel\\(\\) was called"):
            await handle.wait()
        with pytest.raises(InvalidStateError, match="before the task finished"):
            lt.start_task(long).result()


async def test_to_trio_runs_in_trio_and_a_raising_callback_is_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    trio_thread = threading.get_ident()
    got: list[tuple[int, int]] = []
    done = trio.Event()

    def record(value: int) -> None:
        got.append((value, threading.get_ident()))

    def explode() -> None:
        raise RuntimeError("callback failure")

    async with AiortcLoopThread() as lt:

        async def from_loop() -> None:
            lt.to_trio(explode)
            lt.to_trio(record, 7)
            lt.to_trio(done.set)

        with caplog.at_level(logging.ERROR, logger="reactor_trio_compat.loop_thread"):
            await lt.run(from_loop)
            await done.wait()
        await trio.lowlevel.checkpoint()  # trio is still running fine
    assert got == [(7, trio_thread)]
    assert "callback failure" in caplog.text


async def test_call_soon_runs_on_the_loop_in_order() -> None:
    async with AiortcLoopThread() as lt:
        order: list[tuple[int, bool]] = []
        for i in range(5):
            lt.call_soon(lambda i=i: order.append((i, lt.on_loop_thread())))

        async def nothing() -> None:
            return None

        await lt.run(nothing)
        assert order == [(i, True) for i in range(5)]
    with pytest.raises(InvalidStateError, match="not running"):
        lt.call_soon(print)
    with pytest.raises(InvalidStateError, match="not running"):
        lt.start_task(nothing)


async def test_wrong_thread_guards() -> None:
    async with AiortcLoopThread() as lt:
        with pytest.raises(InvalidStateError, match="must run on the aiortc loop thread"):
            lt.require_loop_thread("ClientPeer.send()")
        with pytest.raises(InvalidStateError):
            lt.register_closer(1, _no_close)

        async def call_trio_side_from_loop() -> list[str]:
            errors: list[str] = []
            lt.require_loop_thread("here")  # passes on the loop
            for attempt in (lambda: lt.start_task(_no_close), lt.stop,
                            lambda: submit_threadsafe(lt, _no_close)):
                try:
                    attempt()
                except InvalidStateError as exc:
                    errors.append(exc.message)
            return errors

        errors = await lt.run(call_trio_side_from_loop)
        assert len(errors) == 3
        assert all("loop thread" in e for e in errors)


async def _no_close() -> None:
    return None


async def test_closers_run_at_stop() -> None:
    closed: list[str] = []

    async def close_a() -> None:
        closed.append("a")

    async def close_b() -> None:  # pragma: no cover - unregistered before the stop
        closed.append("b")

    async with AiortcLoopThread() as lt:

        async def register() -> None:
            lt.register_closer(1, close_a)
            lt.register_closer(2, close_b)
            lt.unregister_closer(2)

        await lt.run(register)
    assert closed == ["a"]


async def test_shared_instance_is_refcounted_per_run() -> None:
    before = thread_names()
    first = AiortcLoopThread.acquire()
    second = AiortcLoopThread.acquire()
    assert first is second and first.references == 2
    await first.release()
    assert first.running
    await second.release()
    assert not first.running and thread_names() == before
    with pytest.raises(InvalidStateError, match="without acquire"):
        await first.release()
    third = AiortcLoopThread.acquire()  # a fresh one after the last release
    assert third is not first
    await third.release()


async def test_misuse_of_lifecycle() -> None:
    lt = AiortcLoopThread()
    with pytest.raises(InvalidStateError, match="not started"):
        _ = lt.loop
    await lt.aclose()  # never started: nothing to do
    lt.start()
    with pytest.raises(InvalidStateError, match="already"):
        lt.start()
    await lt.aclose()


def test_sync_use_outside_trio() -> None:
    before = thread_names()
    lt = AiortcLoopThread()
    lt.start()

    async def answer() -> int:
        return 42

    assert submit_threadsafe(lt, answer).result(5) == 42
    with pytest.raises(InvalidStateError, match="no trio token"):
        lt.to_trio(print)
    lt.stop()
    lt.stop()
    assert thread_names() == before


async def test_to_trio_after_the_run_finished_is_dropped(
        caplog: pytest.LogCaptureFixture) -> None:
    holder: list[trio.lowlevel.TrioToken] = []
    called: list[str] = []

    async def grab() -> None:
        holder.append(trio.lowlevel.current_trio_token())

    await trio.to_thread.run_sync(lambda: trio.run(grab))
    with caplog.at_level(logging.DEBUG, logger="reactor_trio_compat"):
        AiortcLoopThread.to_trio_with(holder[0], called.append, "never run")  # no exception
    assert called == []  # the run is over: the callback is dropped, not run
    assert "trio run finished; dropped callback" in caplog.text


async def test_require_bridge() -> None:
    require_bridge("asyncio")
    require_bridge("trio")
    assert reactor_trio_compat.bridge_available()
    with pytest.raises(InvalidStateError, match="curio"):
        require_bridge("curio")
    assert reactor_trio_compat.AiortcLoopThread is AiortcLoopThread
    with pytest.raises(AttributeError, match="nothing"):
        _ = reactor_trio_compat.nothing


def test_require_bridge_without_trio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reactor_trio_compat, "bridge_available", lambda: False)
    with pytest.raises(InvalidStateError, match="needs trio installed"):
        require_bridge("trio")


async def test_the_client_finds_the_bridge_through_the_table() -> None:
    # Under trio the Reactor asks the table for sniffio's library name; the "trio" entry names
    # reactor_trio_compat.factory, which registered client_peer_factory when imported.
    import sniffio

    from reactor_anyio.webrtc import peer_factory_builder
    from reactor_trio_compat import client_peer_factory

    assert sniffio.current_async_library() == "trio"
    assert peer_factory_builder("trio") is client_peer_factory
