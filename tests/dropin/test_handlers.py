"""Handlers may call any public method, sync or async, on asyncio and trio (issue 15 #1).

An ``async def`` handler runs as its own task beside the client's background service, so a
call that stops that service (``disconnect``) or restarts it (``connect``) never waits on
the handler that made it.  Each test makes one public call from inside a handler.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
import numpy as np
import pytest

from reactor_anyio import (
    ConnectionStats,
    FileRef,
    FrameSource,
    InvalidStateError,
    Reactor,
    ReactorError,
    ReactorStatus,
)
from reactor_anyio.runtime import LocalRuntime

pytestmark = pytest.mark.anyio
WITHIN = 15.0


def local(runtime: LocalRuntime, model: str = "helios") -> Reactor:
    return Reactor(model_name=model, local=True, api_url=runtime.url)


async def until(predicate: Any, within: float = WITHIN) -> None:
    with anyio.fail_after(within):
        while not predicate():  # noqa: ASYNC110 - state set by handlers: nothing to wait on
            await anyio.sleep(0.005)


async def test_disconnect_from_a_ready_handler_returns_at_once(helios: LocalRuntime) -> None:
    reactor = local(helios)
    took: list[float] = []

    @reactor.on_status(ReactorStatus.READY)
    async def on_ready(status: ReactorStatus) -> None:
        started = time.perf_counter()
        await reactor.disconnect()
        took.append(time.perf_counter() - started)
        await reactor.disconnect()  # twice: documented as safe, a no-op

    await reactor.connect()
    await until(lambda: bool(took))
    print(f"MEASURED disconnect() from a READY handler: {took[0] * 1000:.1f} ms")
    # Not a speed target (those live in bench/): the bound only separates "returned" from the
    # old self-wait, which ended after the 10 s service-stop timeout.  ~10-20 ms measured.
    assert took[0] < 2.0
    assert reactor.get_status() is ReactorStatus.DISCONNECTED
    assert reactor.get_last_error() is None
    await reactor.aclose()


async def test_reconnect_from_a_handler(helios: LocalRuntime) -> None:
    reactor = local(helios)
    readies: list[int] = []

    @reactor.on_status(ReactorStatus.READY)
    async def on_ready(status: ReactorStatus) -> None:
        readies.append(1)
        if len(readies) == 1:
            await reactor.disconnect(recoverable=True)
            await reactor.reconnect()

    await reactor.connect()
    await until(lambda: len(readies) == 2)
    assert reactor.get_status() is ReactorStatus.READY
    assert reactor.get_session_id() == "local"
    await reactor.aclose()


async def test_send_command_from_a_ready_handler(helios: LocalRuntime) -> None:
    reactor = local(helios)
    events: list[str] = []
    reactor.on("message", lambda m: events.append(m["data"].get("event"))
               if m.get("type") == "event" else None)

    @reactor.on_status(ReactorStatus.READY)
    async def on_ready(status: ReactorStatus) -> None:
        await reactor.send_command("schedule_prompt", {"prompt": "a forest at dawn",
                                                       "chunk": 0})

    await reactor.connect()
    await until(lambda: "prompt_scheduled" in events)
    await reactor.aclose()


async def test_publish_and_unpublish_from_handlers(echo: LocalRuntime) -> None:
    reactor = local(echo, "echo")
    source = FrameSource(fps=30)
    frames: list[np.ndarray] = []
    done: list[str] = []
    reactor.set_frame_callback(frames.append)

    @reactor.on_status(ReactorStatus.READY)
    async def on_ready(status: ReactorStatus) -> None:
        await reactor.publish_track("webcam", source)
        done.append("published")

    async def on_stats(stats: ConnectionStats) -> None:  # every 2 s while connected
        if "published" in done and "unpublishing" not in done and frames:
            done.append("unpublishing")
            await reactor.unpublish_track("webcam")
            done.append("unpublished")

    reactor.on("stats_update", on_stats)
    await reactor.connect()
    red = np.zeros((360, 640, 3), np.uint8)
    red[..., 0] = 255
    with anyio.fail_after(WITHIN):
        while "unpublished" not in done:
            source.push(red)
            await anyio.sleep(1 / 30)
    with pytest.raises(InvalidStateError) as raised:
        await reactor.unpublish_track("webcam")
    assert raised.value.code == "TRACK_UNPUBLISH_FAILED"
    await reactor.aclose()


async def test_upload_file_and_get_stats_from_a_handler(helios: LocalRuntime) -> None:
    reactor = local(helios)
    got: list[Any] = []
    reactor.set_frame_callback(lambda frame: None)

    @reactor.on_status(ReactorStatus.READY)
    async def on_ready(status: ReactorStatus) -> None:
        got.append(await reactor.upload_file(b"hello", name="note.txt"))
        got.append(await reactor.get_stats())

    await reactor.connect()
    await until(lambda: len(got) == 2)
    assert isinstance(got[0], FileRef) and got[0].size == 5
    assert isinstance(got[1], ConnectionStats) and got[1].connection_timings is not None
    await reactor.aclose()


async def test_connect_again_from_a_disconnected_handler(helios: LocalRuntime) -> None:
    reactor = local(helios)
    connects: list[str] = []

    @reactor.on_status(ReactorStatus.DISCONNECTED)
    async def on_disconnected(status: ReactorStatus) -> None:
        if not connects:
            connects.append("again")
            await reactor.connect()
            connects.append("ready")

    await reactor.connect()
    await reactor.disconnect()
    await until(lambda: connects == ["again", "ready"])
    assert reactor.get_status() is ReactorStatus.READY
    await reactor.aclose()


async def test_connect_while_connecting_gets_the_documented_error(
        helios: LocalRuntime) -> None:
    reactor = local(helios)
    refused: list[BaseException] = []

    @reactor.on_status(ReactorStatus.CONNECTING)
    async def on_connecting(status: ReactorStatus) -> None:
        try:
            await reactor.connect()
        except RuntimeError as exc:  # what the official reference documents
            refused.append(exc)

    await reactor.connect()
    await until(lambda: bool(refused))
    error = refused[0]
    assert isinstance(error, InvalidStateError) and isinstance(error, ReactorError)
    assert error.code == "CONNECTION_FAILED" and error.cause == "INVALID_STATE"
    assert reactor.get_status() is ReactorStatus.READY  # the first connect is unharmed
    await reactor.aclose()


async def test_sync_handlers_call_the_sync_api(helios: LocalRuntime) -> None:
    reactor = local(helios)
    seen: list[Any] = []

    def extra(message: Any) -> None:
        pass

    @reactor.on_status
    def on_status(status: ReactorStatus) -> None:
        state = reactor.get_state()
        seen.append((status, state.status, reactor.get_status(), reactor.get_session_id(),
                     reactor.get_capabilities(), reactor.get_waiting_info(),
                     reactor.get_last_error(), reactor.get_remote_tracks()))
        reactor.on("message", extra)
        reactor.off("message", extra)
        reactor.set_frame_callback(None)

    await reactor.connect()
    await reactor.disconnect()
    statuses = [s[0] for s in seen]
    assert statuses == [ReactorStatus.CONNECTING, ReactorStatus.WAITING, ReactorStatus.READY,
                        ReactorStatus.DISCONNECTED]
    assert all(s[0] is s[1] is s[2] for s in seen)  # state is current inside the handler
    ready = seen[2]
    assert ready[4] is not None and ready[4]["tracks"][0]["name"] == "main_video"
    await reactor.aclose()


async def test_a_raising_handler_is_logged_by_name_and_the_client_goes_on(
        helios: LocalRuntime, caplog: pytest.LogCaptureFixture) -> None:
    reactor = local(helios)

    @reactor.on_status(ReactorStatus.READY)
    async def broken_async(status: ReactorStatus) -> None:
        raise ValueError("async handler bug")

    @reactor.on_status(ReactorStatus.READY)
    def broken_sync(status: ReactorStatus) -> None:
        raise ValueError("sync handler bug")

    with caplog.at_level(logging.ERROR, logger="reactor_anyio.events"):
        await reactor.connect()
        await until(lambda: "broken_async" in caplog.text)
    assert "broken_sync" in caplog.text
    assert reactor.get_status() is ReactorStatus.READY
    await reactor.send_command("set_seed", {"seed": 1})
    await reactor.aclose()


async def test_aclose_from_a_handler_does_not_wait_on_itself(helios: LocalRuntime) -> None:
    reactor = local(helios)
    took: list[float] = []

    @reactor.on_status(ReactorStatus.READY)
    async def on_ready(status: ReactorStatus) -> None:
        started = time.perf_counter()
        await reactor.aclose()
        took.append(time.perf_counter() - started)

    await reactor.connect()
    await until(lambda: bool(took))
    assert took[0] < 1.0 and reactor.get_status() is ReactorStatus.DISCONNECTED
