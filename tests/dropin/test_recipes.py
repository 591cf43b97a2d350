"""Seed 001's Auto-reconnect recipe, verbatim (asyncio), against ``reactor coordinator``
with GPU drops injected, and a reconnect that fails once on the way (issue 15 #1)."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest

from reactor_anyio import Reactor, ReactorError, ReactorStatus
from reactor_anyio.coordinator import Fault
from reactor_proto.client.config import RetryPolicy
from tests.dropin.test_samples import source
from tests.e2e.test_coordinator_support import client, emulator, until

pytestmark = pytest.mark.anyio
REGISTER = "POST /sessions/*/transport/webrtc/connections"


async def drop_and_recover(emu: Any, reactor: Reactor, errors: list[str], seen: int) -> None:
    """Drop the GPU connection, then wait for the recipe to bring the session back."""
    sid = reactor.get_session_id()
    await emu.drop_peer(sid)
    await until(lambda: len(errors) > seen, 5, "the error event")
    await until(lambda: reactor.get_status() is ReactorStatus.READY, 15, "READY again")
    assert reactor.get_session_id() == sid


async def run_recipe(install: Any) -> None:
    # Registration #3 (the second reconnect) fails once; without client retries that
    # fails the reconnect itself, which the recipe must survive.
    plan = [Fault(route=REGISTER, status=503, nth=3)]
    async with emulator(faults=plan, orphan_timeout=10.0) as emu:
        reactor = client(emu, reconnect_delay=0.1, retry=RetryPolicy(max_attempts=1))
        errors: list[str] = []
        reactor.on("error", lambda e: errors.append(e.code))
        install(reactor)
        await reactor.connect()
        await drop_and_recover(emu, reactor, errors, 0)
        await drop_and_recover(emu, reactor, errors, len(errors))
        assert errors == ["GPU_CONNECTION_ERROR", "GPU_CONNECTION_ERROR",
                          "RECONNECTION_FAILED"]
        last = reactor.get_last_error()
        assert last is not None and last.cause == "SERVER_ERROR" and last.recoverable
        await drop_and_recover(emu, reactor, errors, len(errors))
        assert errors[-1] == "GPU_CONNECTION_ERROR"
        await reactor.aclose()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_auto_reconnect_recipe_verbatim(anyio_backend: str) -> None:
    def install(reactor: Reactor) -> None:
        # samples/s001_auto_reconnect.sample: the docs' recipe, only its import changed
        exec(compile(source("s001_auto_reconnect"), "sample", "exec"),
             {"reactor": reactor, "asyncio": asyncio})

    await run_recipe(install)


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_auto_reconnect_recipe_on_trio(anyio_backend: str) -> None:
    def install(reactor: Reactor) -> None:
        @reactor.on_error
        async def on_error(error: ReactorError) -> None:
            if error.recoverable:
                await anyio.sleep(error.retry_after or 3)  # asyncio.sleep is asyncio's
                await reactor.reconnect()

    await run_recipe(install)
