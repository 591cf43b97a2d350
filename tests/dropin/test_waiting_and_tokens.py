"""Waiting for a GPU (``get_waiting_info``, ``queue=False``) and ``fetch_jwt_token``, against
``reactor coordinator`` on both backends (issue 15 #5, #6)."""

from __future__ import annotations

import time

import anyio
import pytest

from reactor_anyio import (
    NoCapacityError,
    Reactor,
    ReactorStatus,
    UnauthorizedError,
    WaitingInfo,
    fetch_jwt_token,
)
from tests.e2e.test_coordinator_support import KEY, KEY_B, client, emulator, until

pytestmark = pytest.mark.anyio


async def test_waiting_info_reports_the_queue_until_a_gpu_is_free() -> None:
    async with emulator(gpus=1) as emu:
        holder = client(emu)
        await holder.connect()
        waiter = client(emu, KEY_B)
        infos: list[WaitingInfo] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter.connect)
            await until(lambda: waiter.get_status() is ReactorStatus.WAITING, 5, "WAITING")
            await until(lambda: (waiter.get_waiting_info() or WaitingInfo(
                since=0, waited=0)).queue_position == 1, 5, "queue position")
            first = waiter.get_waiting_info()
            await anyio.sleep(0.1)
            second = waiter.get_waiting_info()
            assert first is not None and second is not None
            assert second.waited > first.waited and abs(second.since - first.since) < 0.05
            assert abs(second.since + second.waited - time.time()) < 0.05
            assert waiter.get_state().waiting_info is not None
            infos.append(second)
            await holder.disconnect()  # frees the GPU: the waiter is next
        assert waiter.get_status() is ReactorStatus.READY
        assert waiter.get_waiting_info() is None and waiter.get_state().waiting_info is None
        assert holder.get_waiting_info() is None
        await waiter.aclose()
        await holder.aclose()


async def test_queue_false_fails_fast_when_no_gpu_is_free() -> None:
    async with emulator(gpus=1) as emu:
        holder = client(emu)
        await holder.connect()
        impatient = client(emu, KEY_B, queue=False)
        errors: list[Exception] = []
        impatient.on("error", errors.append)
        started = time.monotonic()
        with pytest.raises(NoCapacityError) as raised:
            await impatient.connect()
        took = time.monotonic() - started
        print(f"MEASURED queue=False -> NoCapacityError: {took * 1000:.0f} ms")
        assert took < 2.0
        error = raised.value
        assert (error.code, error.cause, error.component) == ("CONNECTION_FAILED",
                                                              "NO_CAPACITY", "api")
        assert errors == [error]
        await until(lambda: impatient.get_session_id() is None, 5, "its session ended")
        await impatient.aclose()
        await holder.aclose()


async def test_fetch_jwt_token_and_connect_with_it() -> None:
    async with emulator() as emu:
        token = await fetch_jwt_token(KEY, api_url=emu.url)
        assert isinstance(token, str) and token.count(".") == 2
        async with Reactor(model_name="helios", jwt=token, api_url=emu.url) as reactor:
            await reactor.connect()
            assert reactor.get_status() is ReactorStatus.READY
        with pytest.raises(UnauthorizedError) as raised:
            await fetch_jwt_token("rk_wrong_key_000000000000", api_url=emu.url)
        assert (raised.value.code, raised.value.cause) == ("CONNECTION_FAILED", "UNAUTHORIZED")
