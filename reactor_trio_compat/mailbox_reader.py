"""Reading a :class:`~reactor_anyio.webrtc.LatestWinsMailbox` from trio, frame by frame.

The mailbox's own ``get()`` works under trio through anyio, but costs an ``anyio.Event``
(backend lookup, a trio ``Event`` and its parking lot) and a waker closure per item.  At 30
frames a second that is a measurable share of what the bridge adds over plain asyncio
(figure 4 of the benchmarks), so the bridge's frame consumer parks its task directly:
one ``wait_task_rescheduled`` per empty mailbox, woken through ``TrioToken.run_sync_soon``
from the thread that puts.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TypeVar

import anyio
import trio

from reactor_anyio.webrtc import LatestWinsMailbox

T = TypeVar("T")


async def next_item(mailbox: LatestWinsMailbox[T]) -> T:
    """The mailbox's oldest item, waiting in trio while it is empty (cancellable);
    :class:`anyio.EndOfStream` once it is empty and closed."""
    while True:
        try:
            return mailbox.get_nowait()
        except anyio.WouldBlock:
            pass
        await _park_until_put(mailbox)


async def _park_until_put(mailbox: LatestWinsMailbox[T]) -> None:
    task = trio.lowlevel.current_task()
    token = trio.lowlevel.current_trio_token()
    trio_thread = threading.get_ident()
    # one flag per park: a wake that arrives after the task stopped waiting (cancelled, or
    # already woken) must not reschedule it in the middle of a later, unrelated wait
    pending = [True]

    def resume() -> None:  # in trio's thread
        if pending[0]:
            pending[0] = False
            trio.lowlevel.reschedule(task)

    def wake() -> None:  # in whichever thread put or closed
        if threading.get_ident() == trio_thread:
            resume()
        else:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(resume)

    if not mailbox.add_waiter(wake):
        return  # an item (or the close) arrived meanwhile: no need to park

    def abort(_: object) -> trio.lowlevel.Abort:
        pending[0] = False
        mailbox.remove_waiter(wake)
        return trio.lowlevel.Abort.SUCCEEDED

    await trio.lowlevel.wait_task_rescheduled(abort)
