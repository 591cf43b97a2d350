"""LatestWinsMailbox under asyncio and trio, same-thread and cross-thread producers."""

from __future__ import annotations

import functools
import threading
from collections import deque

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_anyio.webrtc import LatestWinsMailbox
from reactor_anyio.webrtc.mailbox import _waker
from reactor_proto.errors import LocalProtocolError

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_capacity_must_be_positive() -> None:
    with pytest.raises(LocalProtocolError, match="capacity must be >= 1: 0"):
        LatestWinsMailbox[int](0)


@given(st.integers(1, 5), st.lists(st.lists(st.integers(), max_size=7), max_size=6))
def test_put_many_is_put_one_by_one_with_one_wake_up(capacity: int,
                                                      bursts: list[list[int]]) -> None:
    many, single = LatestWinsMailbox[int](capacity), LatestWinsMailbox[int](capacity)
    for burst in bursts:
        wakes: list[int] = []
        many._waiters.append(functools.partial(wakes.append, 1))
        assert many.put_many(burst)
        for item in burst:
            single.put(item)
        assert wakes == ([1] if burst else [])  # one wake-up per burst, none for nothing
        many._waiters.clear()
        assert (many.dropped, many.accepted, len(many)) == (
            single.dropped, single.accepted, len(single))
    expected = [single.get_nowait() for _ in range(len(single))]
    assert many.take_all() == expected
    assert many.take_all() == []
    many.close()
    assert not many.put_many([1, 2]) and many.dropped == single.dropped + 2


def test_drops_oldest_and_counts() -> None:
    box = LatestWinsMailbox[int](2)
    for i in range(5):
        assert box.put(i)
    assert (box.dropped, box.accepted, len(box), box.capacity) == (3, 5, 2, 2)
    assert box.get_nowait() == 3
    assert box.get_nowait() == 4
    with pytest.raises(anyio.WouldBlock):
        box.get_nowait()


def test_close_keeps_held_items_then_ends() -> None:
    box = LatestWinsMailbox[str](1)
    box.put("a")
    box.close()
    box.close()
    assert box.closed
    assert not box.put("b")
    assert box.dropped == 1
    assert box.get_nowait() == "a"
    with pytest.raises(anyio.EndOfStream):
        box.get_nowait()


@given(st.integers(1, 4), st.lists(st.one_of(st.integers(0, 99), st.none()), max_size=60))
def test_matches_a_bounded_deque_model(capacity: int, script: list[int | None]) -> None:
    """put(x) for ints, get_nowait() for None: the mailbox behaves as deque(maxlen)."""
    box = LatestWinsMailbox[int](capacity)
    model: deque[int] = deque(maxlen=capacity)
    dropped = 0
    for step in script:
        if step is None:
            if model:
                assert box.get_nowait() == model.popleft()
            else:
                with pytest.raises(anyio.WouldBlock):
                    box.get_nowait()
        else:
            dropped += len(model) == capacity
            model.append(step)
            box.put(step)
        assert len(box) == len(model)
        assert box.dropped == dropped


async def test_get_waits_for_put_on_same_thread() -> None:
    box = LatestWinsMailbox[int](1)
    got: list[int] = []

    async def reader() -> None:
        got.append(await box.get())

    async with anyio.create_task_group() as group:
        group.start_soon(reader)
        await anyio.sleep(0.01)
        box.put(7)
    assert got == [7]


async def test_put_from_another_thread_wakes_reader() -> None:
    box = LatestWinsMailbox[int](1)

    def producer() -> None:
        for i in range(3):
            box.put(i)

    with anyio.fail_after(5):
        thread = threading.Thread(target=producer)
        async with anyio.create_task_group() as group:
            async def start() -> None:
                await anyio.sleep(0.02)
                thread.start()

            group.start_soon(start)
            value = await box.get()
        thread.join()
    assert value in (0, 1, 2)


async def test_close_from_another_thread_ends_reader() -> None:
    box = LatestWinsMailbox[int](1)
    with anyio.fail_after(5):
        timer = threading.Timer(0.02, box.close)
        timer.start()
        with pytest.raises(anyio.EndOfStream):
            await box.get()
        timer.join()


async def test_cancelled_get_leaves_no_waiter() -> None:
    box = LatestWinsMailbox[int](1)
    with anyio.move_on_after(0.02):
        await box.get()
    assert box._waiters == []
    box.put(1)
    assert await box.get() == 1


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_cross_thread_wake_after_reader_loop_ended_is_harmless(backend: str) -> None:
    wakers = []

    async def capture() -> None:
        wakers.append(_waker(anyio.Event()))

    anyio.run(capture, backend=backend)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            wakers[0]()
        except BaseException as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    thread.join()
    assert errors == []
