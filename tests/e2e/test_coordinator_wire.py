"""Through ``reactor coordinator``, our client's ``wire="auto"`` speaks v1: the coordinator
passes on its runtime's ``server_info.wire`` marker (our runtime serves v0 and v1), and the
client decides from the session descriptor it reads from the coordinator."""

from __future__ import annotations

import pytest

from reactor_anyio import ReactorError, ReactorStatus
from reactor_proto.wire_v1 import Wire

from .test_coordinator_support import client, emulator

pytestmark = pytest.mark.anyio


async def test_auto_speaks_v1_through_the_coordinator() -> None:
    async with emulator() as emu:
        reactor = client(emu)
        await reactor.connect()
        assert reactor.get_status() is ReactorStatus.READY
        assert reactor._machine.wire is Wire.V1
        # a v1 round trip to the runtime behind the coordinator: an acknowledged command,
        # and one the runtime refuses, reported as the typed error of a failed send
        assert await reactor.send_command("set_seed", {"seed": 3}) is None
        with pytest.raises(ReactorError) as info:
            await reactor.send_command("schedule_prompt", {"prompt": "A forest", "chunk": -1})
        assert info.value.code == "MESSAGE_SEND_FAILED"
        await reactor.disconnect()
        await reactor.aclose()


async def test_forced_v0_still_speaks_v0_through_the_coordinator() -> None:
    async with emulator() as emu:
        reactor = client(emu, wire="v0")
        await reactor.connect()
        assert reactor._machine.wire is Wire.V0
        assert await reactor.send_command("set_seed", {"seed": 3}) is None
        await reactor.disconnect()
        await reactor.aclose()
