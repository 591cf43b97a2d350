"""``PeerBase.close`` ends the data channels with stream resets before aiortc's SCTP ABORT,
so the remote sees its channels close while the association is still up (a browser then
reports a plain ``close`` instead of an RTCErrorEvent; see tests/browser)."""

from __future__ import annotations

import time

import pytest

from .conftest import channels_open, negotiate, wait_until

pytestmark = pytest.mark.anyio


async def test_closing_side_resets_channels_before_the_association_ends() -> None:
    pair = await negotiate()
    try:
        await wait_until(lambda: channels_open(pair))
        # the remote's SCTP state when each of its channels reports close (test-only peek
        # at aiortc through the peer's private connection)
        sctp = pair.client._pc.sctp
        assert sctp is not None
        states: dict[str, str] = {}
        pair.client.on_channel_close = lambda label: states.setdefault(label, sctp.state)
        pair.server.send("data", "last words")
        await pair.server.close()
        await wait_until(lambda: len(states) == 2)
        assert states == {"control": "connected", "data": "connected"}
        assert ("client", "message", "data", "last words") in pair.events
    finally:
        await pair.client.close()
        await pair.server.close()


async def test_close_after_the_remote_left_does_not_wait() -> None:
    pair = await negotiate()
    await wait_until(lambda: channels_open(pair))
    await pair.client.close()
    await wait_until(lambda: ("server", "close", "data") in pair.events)
    started = time.monotonic()
    await pair.server.close()
    assert time.monotonic() - started < 0.4
