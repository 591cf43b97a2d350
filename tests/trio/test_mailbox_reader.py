"""reactor_trio_compat.mailbox_reader: a trio task parked on an empty mailbox is woken by a
put from another thread, a cancelled wait leaves no waiter behind, and a close ends it."""

from __future__ import annotations

import threading

import anyio
import pytest
import trio

from reactor_anyio.webrtc import LatestWinsMailbox
from reactor_trio_compat.mailbox_reader import next_item

pytestmark = pytest.mark.anyio


async def test_a_put_from_another_thread_wakes_the_parked_task() -> None:
    mailbox: LatestWinsMailbox[int] = LatestWinsMailbox(2)
    got: list[int] = []
    both = trio.Event()

    async def read_two() -> None:
        got.append(await next_item(mailbox))
        got.append(await next_item(mailbox))
        both.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read_two)
        await trio.sleep(0.05)  # parked on the empty mailbox
        assert got == [] and mailbox._waiters  # registered, not polling
        putter = threading.Thread(target=lambda: (mailbox.put(1), mailbox.put(2)))
        putter.start()
        with trio.fail_after(5):
            await both.wait()
        putter.join()
    assert got == [1, 2]


async def test_a_cancelled_wait_leaves_no_waiter_and_a_later_put_is_kept() -> None:
    mailbox: LatestWinsMailbox[str] = LatestWinsMailbox(1)
    with trio.move_on_after(0.05) as scope:
        await next_item(mailbox)
    assert scope.cancelled_caught
    assert mailbox._waiters == []  # the abort removed it
    mailbox.put("later")  # nobody to wake: nothing rescheduled, the item stays
    assert await next_item(mailbox) == "later"


async def test_close_ends_a_parked_reader() -> None:
    mailbox: LatestWinsMailbox[int] = LatestWinsMailbox(1)
    ended = trio.Event()

    async def read() -> None:
        with pytest.raises(anyio.EndOfStream):
            await next_item(mailbox)
        ended.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read)
        await trio.sleep(0.02)
        threading.Thread(target=mailbox.close).start()
        with trio.fail_after(5):
            await ended.wait()
