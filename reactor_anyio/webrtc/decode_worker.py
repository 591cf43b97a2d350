"""aiortc's decoder thread, handing each decoded frame on without a coroutine per frame.

aiortc (1.x) decodes each remote track in a thread of its own (``decoder_worker`` in
``aiortc.rtcrtpreceiver``) and passes every decoded frame to the track's ``asyncio.Queue``
with ``asyncio.run_coroutine_threadsafe(queue.put(frame), loop)``: a coroutine, a task and
a concurrent future per frame, and a wake-up of the event loop.  Our receiver
(:mod:`.receiver`) hooks that queue anyway; what it needs per frame is cheaper than a task
on the loop (a plain callback there), and a consumer on another thread (the trio bridge)
needs the event loop not at all.

:func:`decoder_worker` is the same loop as aiortc's (decode each encoded frame with the
decoder aiortc's ``get_decoder`` makes for its codec, a new one when the codec changes; on a
decode error, warn, set the error flag aiortc reads, and keep the decoder, whose state the
next frames need; ``None`` ends it and is passed on), except where a frame goes: a queue
that carries a :data:`PUT_IN_THREAD` callable gets ``callable(frame)`` called right here,
in the decoder thread, and decides itself what reaches the loop.  Any other queue (a track
nobody hooked, audio) is fed exactly as aiortc feeds it.  Installed once, at import, in
place of aiortc's module-level function, which aiortc looks up each time it starts a
receiver; ``get_decoder`` is looked up per codec change, so a wrapper installed on it
(:mod:`.decoder`) still applies.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Any

import aiortc.rtcrtpreceiver
import av

logger = logging.getLogger(__name__)

#: the attribute of a track's ``asyncio.Queue`` naming the in-thread hand-off
PUT_IN_THREAD = "_reactor_put_in_thread"

_aiortc: Any = aiortc.rtcrtpreceiver  # private parts of aiortc 1.x: no types for them


def decoder_worker(loop: asyncio.AbstractEventLoop, input_q: queue.Queue[Any],
                   output_q: asyncio.Queue[Any], decode_error: threading.Event) -> None:
    """A receiver's decoder thread (see the module docstring)."""
    codec_name = None
    decoder: Any = None
    while True:
        task = input_q.get()
        if task is None:  # the receiver stops: the track learns it from the None
            asyncio.run_coroutine_threadsafe(output_q.put(None), loop)
            break
        codec, encoded_frame = task
        if codec.name != codec_name:
            decoder = _aiortc.get_decoder(codec)
            codec_name = codec.name
        try:
            frames = decoder.decode(encoded_frame)
        except av.FFmpegError as exc:
            logger.warning("%s decoder failed on a frame: %s", codec.name, exc)
            decode_error.set()
            continue
        put_in_thread = getattr(output_q, PUT_IN_THREAD, None)
        for frame in frames:
            if put_in_thread is not None:
                put_in_thread(frame)
            else:
                asyncio.run_coroutine_threadsafe(output_q.put(frame), loop)
    del decoder


def install() -> bool:
    """Make aiortc start our :func:`decoder_worker` from now on (idempotent); False when
    aiortc has no such function to replace (another major version): it keeps its own."""
    current = getattr(_aiortc, "decoder_worker", None)
    if current is None or not hasattr(_aiortc, "get_decoder"):
        return False
    # only aiortc's own function is replaced: a wrapper someone installed around it keeps
    # wrapping (ours is installed at import, before any such wrapper)
    if getattr(current, "__module__", None) == _aiortc.__name__:
        _aiortc.decoder_worker = decoder_worker
    return True
