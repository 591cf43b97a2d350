"""The reply pacer (issue 21) counts small messages only: a stepped result's chunk frames
(64 KiB each, 4 KiB from a browser) fill SCTP packets, which aiortc's byte-counted window
already bounds, so they leave at once (issue 24: held to 400 a second they took 27 ms a
step); order is kept whatever the size."""

from __future__ import annotations

import asyncio

import pytest

from reactor_anyio.webrtc.pacing import ChannelPacer
from reactor_proto.runtime.reply_pacing import PacerConfig

from .conftest import wait_until


@pytest.mark.anyio
async def test_big_messages_need_no_token_and_keep_their_place() -> None:
    loop = asyncio.get_running_loop()
    sent: list[str] = []
    pacer = ChannelPacer(lambda label, msg: sent.append(str(msg)), loop=loop,
                         config=PacerConfig(rate=50.0, burst=2))
    big = pacer.config.free_message_bytes
    for i in range(30):  # a step result's frames: none waits, however many
        pacer.send("data", f"frame{i}", big)
    assert len(sent) == 30 and pacer.backlog == 0 and pacer.delayed == 0
    for i in range(4):  # small messages still spend the burst, then wait
        pacer.send("data", f"small{i}", 10)
    assert sent[30:] == ["small0", "small1"] and pacer.backlog == 2
    pacer.send("data", "after", big)  # a big one behind waiting small ones waits its turn
    assert pacer.backlog == 3 and sent[-1] == "small1"
    await wait_until(lambda: pacer.backlog == 0, within=2.0)
    assert sent[32:] == ["small2", "small3", "after"]
    pacer.send("data", "just under", big - 1)  # below the size, a token as before
    assert pacer.backlog == 1
    pacer.close()
