"""aiortc's ``RTCPeerConnection`` with one race closed: connecting while being closed.

``setLocalDescription`` and ``setRemoteDescription`` start a fire-and-forget connect task.
When ``close()`` runs while that task awaits ICE for one transport, the task's next step
finds the following transport closed and raises ``InvalidStateError`` into nobody: asyncio
logs "Task exception was never retrieved", and a test runner that collects loop errors
fails. Closing a peer mid-connect is ordinary for us (a cancelled ``connect()``, a swapped
peer), so the subclass ends that task quietly when, and only when, the peer is closed.

The same race has a second face: a connect task that was past ICE when ``close()`` stopped
the senders and receivers goes on to start them (``sender.send``/``receiver.receive``), and
their RTP/RTCP tasks then run forever.  Once the task ends on a closed peer, it stops them
again.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiortc import RTCPeerConnection
from aiortc.exceptions import InvalidStateError as AiortcInvalidStateError

#: how long stopping the media a late connect started may take
LATE_STOP_TIMEOUT = 1.0


class PeerConnection(RTCPeerConnection):
    """``RTCPeerConnection`` whose background connect ends quietly once the peer is closed."""

    # aiortc calls ``self.__connect()``, which Python spells ``_RTCPeerConnection__connect``;
    # overriding that name is the only way to wrap the task it starts.
    async def _RTCPeerConnection__connect(self) -> None:
        try:
            await super()._RTCPeerConnection__connect()  # type: ignore[misc]
        except AiortcInvalidStateError:
            if not self.closing:
                raise
        if self.closing:
            await self._stop_late_media()

    async def _stop_late_media(self) -> None:
        for transceiver in self.getTransceivers():
            for part in (transceiver.sender, transceiver.receiver):
                # stop() is idempotent enough: a second call finds its tasks already ended
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(part.stop(), LATE_STOP_TIMEOUT)

    @property
    def closing(self) -> bool:
        """True once ``close()`` has started (aiortc keeps that in a private future)."""
        return self._RTCPeerConnection__isClosed is not None  # type: ignore[attr-defined]
