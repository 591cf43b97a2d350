"""Stopping aiortc's video decoder thread without blocking the event loop.

Closing a peer connection stops its receivers, and aiortc stops a receiver's decoder thread by
queueing an end marker behind the encoded frames still waiting and *joining the thread on
the event loop*.  On a loaded machine the thread is often several frames behind, each one
decoded (and converted, see :mod:`.receiver`) before it reads the marker: a close measured
blocking the loop for up to 50 ms, in the middle of a reconnect that needed the loop for its
new connection (figure 6, issue 20).

:func:`stop_decoder` does the same stop beforehand, the cheap way: the waiting frames are
dropped (the connection is closing: nobody will see them), the end marker is queued, and the
loop polls until the thread has ended.  aiortc's own stop then finds no thread and returns
at once.
It reaches into aiortc's receiver (private attributes, aiortc 1.x), like
:mod:`.jitter` does, and does nothing when they are gone.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any

_QUEUE = "_RTCRtpReceiver__decoder_queue"
_THREAD = "_RTCRtpReceiver__decoder_thread"

#: seconds to wait for the decoder to finish the frame in hand, and how often to look
JOIN_TIMEOUT = 2.0
POLL_INTERVAL = 0.001


def _drop_pending(inbox: queue.Queue[Any]) -> None:
    with inbox.mutex:
        inbox.queue.clear()


async def stop_decoder(receiver: Any, join_within: float = JOIN_TIMEOUT) -> bool:
    """Stop ``receiver``'s decoder thread (see the module docstring); True when it ended.
    The track then ends as aiortc ends it (the thread's end marker reaches its queue)."""
    thread = getattr(receiver, _THREAD, None)
    inbox = getattr(receiver, _QUEUE, None)
    if not isinstance(thread, threading.Thread) or not isinstance(inbox, queue.Queue):
        return False
    _drop_pending(inbox)
    inbox.put(None)
    # the thread finishes the frame in hand (a few ms): wait by polling, which neither blocks
    # the loop nor needs a worker thread (starting one took 10+ ms on a loaded machine)
    for _ in range(max(1, round(join_within / POLL_INTERVAL))):
        if not thread.is_alive():
            break
        await asyncio.sleep(POLL_INTERVAL)
    if thread.is_alive():  # pragma: no cover - a decode stuck for seconds: aiortc joins it
        return False
    if getattr(receiver, _THREAD, None) is thread:
        setattr(receiver, _THREAD, None)
    return True
