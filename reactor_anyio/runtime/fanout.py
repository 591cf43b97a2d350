"""What a video and an audio output share: subscribers, and one producer thread that runs
while any of them flows (:class:`~.media.OutputFanout`, :class:`~.audio_media.AudioFanout`).

The subscriber list and the thread's lifecycle are guarded by one condition: the event loop
subscribes, resumes and pauses, the producer thread waits on it for consumers.
"""

from __future__ import annotations

import threading
import time
from typing import Generic, Protocol, TypeVar


class Subscriber(Protocol):
    """One connection's subscription to an output."""

    flowing: bool

    def discard_pending(self) -> None: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=Subscriber)


class ProducerFanout(Generic[S]):
    """Subscribers of one output track and the producer thread (``_run``) feeding them."""

    #: the producer thread's name is this prefix and the track's name
    thread_prefix = "reactor-produce"

    def __init__(self, track: str) -> None:
        self.track = track
        self._subscribers: list[S] = []
        self._condition = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self.frames_produced = 0
        self.errors = 0

    # ---- subscribers (called on the event loop) -----------------------------------------

    def _new_subscriber(self) -> S:
        raise NotImplementedError

    def _run(self) -> None:
        raise NotImplementedError

    def subscribe(self) -> S:
        track = self._new_subscriber()
        with self._condition:
            self._subscribers.append(track)
        return track

    def unsubscribe(self, track: S) -> None:
        with self._condition:
            if track in self._subscribers:
                self._subscribers.remove(track)
            track.flowing = False

    def set_flowing(self, track: S, flowing: bool) -> None:
        """Start or stop feeding one subscriber; the thread runs while any is flowing."""
        with self._condition:
            track.flowing = flowing and track in self._subscribers
            if not flowing:
                track.discard_pending()
            if track.flowing and self._thread is None and not self._stopping:
                self._thread = threading.Thread(
                    target=self._run, name=f"{self.thread_prefix}-{self.track}", daemon=True)
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(self._thread)
                self._thread.start()
            self._condition.notify_all()

    @property
    def consumers(self) -> int:
        with self._condition:
            return sum(1 for s in self._subscribers if s.flowing)

    # ---- shutdown ------------------------------------------------------------------------

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            subscribers = list(self._subscribers)
            self._condition.notify_all()
        for subscriber in subscribers:
            subscriber.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for every producer thread this fan-out started; True when all are gone."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)
