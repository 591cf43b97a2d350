"""The public ``Reactor`` client against the local runtime, over real sockets and WebRTC."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import numpy as np
import pytest

from reactor_anyio import (
    CommandValidationError,
    ConnectionStats,
    FrameSource,
    InvalidStateError,
    NetworkError,
    Reactor,
    ReactorStatus,
)
from reactor_anyio.runtime import LocalRuntime

pytestmark = pytest.mark.anyio


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate()
            if not t.name.startswith(("asyncio_", "ThreadPoolExecutor", "AnyIO worker"))}


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def hosted(backend: str, model: str, **options: Any) -> Any:
    """The local runtime, hosted the way each backend can: aiortc needs an asyncio loop, so
    under trio the runtime lives on the bridge's loop thread."""
    if backend == "trio":
        from reactor_trio_compat import TrioHostedRuntime

        return TrioHostedRuntime(model, **options)
    return LocalRuntime(model, **options)


@pytest.fixture
async def helios(anyio_backend: str) -> AsyncIterator[LocalRuntime]:
    async with hosted(anyio_backend, "helios", model_options={"fps": 30}) as runtime:
        yield runtime


@pytest.fixture
async def echo(anyio_backend: str) -> AsyncIterator[LocalRuntime]:
    async with hosted(anyio_backend, "echo") as runtime:
        yield runtime


async def wait_for(predicate: Any, within: float = 10.0) -> None:
    """Poll state that media and message callbacks update (no event to wait on)."""
    with anyio.fail_after(within):
        while not predicate():  # noqa: ASYNC110
            await anyio.sleep(0.01)


async def test_connect_commands_messages_frames_and_clean_disconnect(
        helios: LocalRuntime) -> None:
    before = _threads()
    frames: list[np.ndarray] = []
    messages: list[Any] = []
    statuses: list[ReactorStatus] = []
    reactor = Reactor(model_name="helios", local=True, api_url=helios.url)

    @reactor.on_frame
    def on_frame(frame: np.ndarray) -> None:
        frames.append(frame)

    reactor.on("message", messages.append)
    reactor.on_status(statuses.append)
    await reactor.connect()
    assert reactor.get_status() is ReactorStatus.READY
    assert statuses == [ReactorStatus.CONNECTING, ReactorStatus.WAITING, ReactorStatus.READY]
    assert reactor.get_session_id() == "local"
    assert "schedule_prompt" in reactor.commands
    stats = await reactor.get_stats()
    assert stats is not None and stats.connection_timings is not None
    assert stats.connection_timings.total_ms > 0
    await reactor.send_command("set_seed", {"seed": 42})
    await reactor.send_command("schedule_prompt", {"prompt": "A forest", "chunk": 0})
    await reactor.send_command("start", {})
    await wait_for(lambda: len(frames) >= 30)
    assert frames[-1].shape == (360, 640, 3) and frames[-1].dtype == np.uint8
    await wait_for(lambda: any(m.get("type") == "state" for m in messages))
    kinds = {m["data"].get("event") for m in messages if m.get("type") == "event"}
    assert {"seed_set", "prompt_scheduled", "generation_started"} <= kinds
    with pytest.raises(CommandValidationError) as info:
        await reactor.send_command("schedule_prompt", {"prompt": "x", "chunk": -1})
    assert info.value.parameter == "chunk"
    await reactor.disconnect()
    assert reactor.get_status() is ReactorStatus.DISCONNECTED
    assert reactor.get_session_id() is None
    await wait_for(lambda: helios.machine.state.value == "READY")
    await wait_for(lambda: _threads() <= before, within=5)


async def test_pause_and_resume_track(helios: LocalRuntime) -> None:
    frames: list[np.ndarray] = []
    async with Reactor(model_name="helios", local=True, api_url=helios.url) as reactor:
        reactor.set_frame_callback(frames.append)
        await reactor.connect()
        await wait_for(lambda: len(frames) >= 5)
        assert helios.consumers() == 1
        await reactor.pause_track("main_video")
        # the pause reached the runtime: it no longer feeds this connection ...
        await wait_for(lambda: helios.consumers() == 0)
        produced = helios.frames_produced()
        # ... so the model stops producing (at most the frame being made when the pause
        # landed is still counted), and the only viewer cannot receive more frames than were
        # produced.  Absence needs some window: six frame periods at 30 fps.
        await anyio.sleep(6 / 30)
        assert len(frames) <= helios.frames_produced() <= produced + 1
        received = len(frames)
        await reactor.resume_track("main_video")
        await wait_for(lambda: helios.consumers() == 1)
        await wait_for(lambda: len(frames) >= received + 5)


async def test_publish_to_echo(echo: LocalRuntime) -> None:
    frames: list[np.ndarray] = []
    source = FrameSource(fps=30)
    async with Reactor(model_name="echo", local=True, api_url=echo.url) as reactor:
        reactor.set_frame_callback(frames.append)
        await reactor.connect()
        await reactor.publish_track("webcam", source)
        red = np.zeros((360, 640, 3), np.uint8)
        red[..., 0] = 255
        with anyio.fail_after(10):
            while not frames or frames[-1][..., 0].mean() > 128:
                source.push(red)
                await anyio.sleep(1 / 30)
        await reactor.unpublish_track("webcam")
        with pytest.raises(InvalidStateError):
            await reactor.unpublish_track("webcam")


async def test_upload_file(helios: LocalRuntime) -> None:
    async with Reactor(model_name="helios", local=True, api_url=helios.url) as reactor:
        await reactor.connect()
        ref = await reactor.upload_file(b"hello world", name="note.txt")
        assert ref.size == 11 and ref.mime_type == "text/plain" and ref.name == "note.txt"


async def test_recoverable_disconnect_and_reconnect_keeps_model_state(
        helios: LocalRuntime) -> None:
    states: list[dict[str, Any]] = []
    async with Reactor(model_name="helios", local=True, api_url=helios.url) as reactor:
        reactor.on("message", lambda m: states.append(m["data"])
                   if m.get("type") == "state" else None)
        await reactor.connect()
        await reactor.send_command("schedule_prompt", {"prompt": "A forest", "chunk": 0})
        await reactor.send_command("start", {})
        await wait_for(lambda: any(s["current_frame"] > 40 for s in states))
        frame_before = max(s["current_frame"] for s in states)
        await reactor.disconnect(recoverable=True)
        assert reactor.get_status() is ReactorStatus.DISCONNECTED
        assert reactor.get_session_id() == "local"
        states.clear()
        await reactor.reconnect()
        assert reactor.get_status() is ReactorStatus.READY
        await wait_for(lambda: bool(states))
        assert max(s["current_frame"] for s in states) >= frame_before


async def ready_with_a_spare(reactor: Reactor) -> tuple[Any, Any, Any]:
    """Connect and wait for the spare peer's offer: (driver, spare, the current peer)."""
    from reactor_anyio.client.driver import SPARE

    await reactor.connect()
    driver = reactor._driver
    assert driver is not None
    await wait_for(lambda: driver._spare_offer is not None)
    spare = driver.peers[SPARE]
    lost = reactor._peer
    assert lost is not None and lost is not spare
    return driver, spare, lost


async def test_auto_reconnect_uses_the_spare_peer_built_while_ready(
        helios: LocalRuntime) -> None:
    """reactor_proto.client.spare: the peer and offer of the next connection are built
    while READY; after a drop the reconnect runs on that very peer, the next READY builds a
    new spare, and the end of the session closes it."""
    from reactor_anyio.client.driver import SPARE

    async with Reactor(model_name="helios", local=True, api_url=helios.url,
                       auto_reconnect=True, reconnect_delay=0.0,
                       spare_peer_delay=0.05) as reactor:
        driver, spare, lost = await ready_with_a_spare(reactor)
        await lost.close()  # what a dropped transport looks like to the client
        await wait_for(lambda: reactor._peer is not lost
                       and reactor.get_status() is ReactorStatus.READY)
        assert reactor._peer is spare
        await wait_for(lambda: driver._spare_offer is not None)
        second = driver.peers[SPARE]
        assert second is not spare
        await reactor.disconnect()
        await wait_for(lambda: second.closed)
        assert SPARE not in driver.peers


async def test_a_spare_offered_on_addresses_now_gone_is_not_used(
        helios: LocalRuntime) -> None:
    """After a network change the spare's offer names dead addresses: the reconnect builds
    a fresh peer instead (ClientPeer.host_candidates_current)."""

    async with Reactor(model_name="helios", local=True, api_url=helios.url,
                       auto_reconnect=True, reconnect_delay=0.0,
                       spare_peer_delay=0.05) as reactor:
        _, spare, lost = await ready_with_a_spare(reactor)
        if not hasattr(spare, "host_candidates_current"):
            pytest.skip("the trio bridge's peers cannot tell their host candidates")
        spare.host_candidates_current = lambda: False
        await lost.close()
        await wait_for(lambda: reactor._peer not in (lost, None)
                       and reactor.get_status() is ReactorStatus.READY)
        assert reactor._peer is not spare
        await wait_for(lambda: spare.closed)


async def test_connect_to_nothing_fails_fast_with_network_error() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)  # type: ignore[attr-defined]
    await listener.aclose()
    reactor = Reactor(model_name="helios", local=True, api_url=f"http://127.0.0.1:{port}")
    with anyio.fail_after(10), pytest.raises(NetworkError):
        await reactor.connect()
    assert reactor.get_status() is ReactorStatus.DISCONNECTED
    await reactor.aclose()


async def test_send_before_ready_raises() -> None:
    reactor = Reactor(model_name="helios", local=True)
    with pytest.raises(InvalidStateError):
        await reactor.send_command("start", {})


@pytest.mark.parametrize("delay", [0.0, 0.005, 0.02, 0.05, 0.1])
async def test_cancelling_connect_leaves_nothing_behind(helios: LocalRuntime,
                                                        delay: float) -> None:
    before = _threads()
    reactor = Reactor(model_name="helios", local=True, api_url=helios.url)
    with anyio.move_on_after(delay):
        await reactor.connect()
    await reactor.aclose()
    assert reactor.get_status() is ReactorStatus.DISCONNECTED
    await wait_for(lambda: helios.machine.state.value == "READY", within=5)
    await wait_for(lambda: helios.connections() == 0, within=5)
    await wait_for(lambda: _threads() <= before, within=5)


async def test_event_handler_edge_cases(helios: LocalRuntime) -> None:
    seen: list[str] = []
    reactor = Reactor(model_name="helios", local=True, api_url=helios.url)

    def once(status: ReactorStatus) -> None:
        seen.append(f"once:{status.value}")
        reactor.off("status_changed", once)

    async def async_handler(status: ReactorStatus) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(f"async:{status.value}")

    @reactor.on_status(ReactorStatus.READY)
    def ready_only(status: ReactorStatus) -> None:
        seen.append("ready")

    @reactor.on_status([ReactorStatus.WAITING])
    def waiting_only(status: ReactorStatus) -> None:
        seen.append("waiting")

    def broken(status: ReactorStatus) -> None:
        raise RuntimeError("handler bug")

    reactor.on("status_changed", once)
    reactor.on("status_changed", broken)
    reactor.on("status_changed", async_handler)
    reactor.off("status_changed", waiting_only)
    await reactor.connect()
    await wait_for(lambda: "async:ready" in seen)
    assert seen.count("once:connecting") == 1 and not any(s == "once:ready" for s in seen)
    assert "ready" in seen and "waiting" not in seen
    with pytest.raises(ValueError, match="unknown event"):
        reactor.on("no_such_event", print)
    await reactor.aclose()


async def test_stats_update_event_and_get_stats(helios: LocalRuntime,
                                                anyio_backend: str) -> None:
    updates: list[ConnectionStats] = []
    async with Reactor(model_name="helios", local=True, api_url=helios.url) as reactor:
        reactor.on("stats_update", updates.append)
        reactor.set_frame_callback(lambda frame: None)
        await reactor.connect()
        await wait_for(lambda: bool(updates), within=8)
        stats = await reactor.get_stats()
        assert await Reactor(model_name="helios", local=True).get_stats() is None
    assert stats is not None and stats.connection_timings is not None
    timings = stats.connection_timings
    assert timings.total_ms > 0 and "connecting_transport" in timings.steps
    assert abs(sum(timings.steps.values()) - timings.total_ms) < 1e-6
    assert stats.frames_per_second is not None and stats.frames_per_second > 0
    assert stats.packet_loss_ratio is None or 0 <= stats.packet_loss_ratio <= 1
    assert stats.details is not None and "main_video" in stats.details.tracks
    assert isinstance(updates[0], ConnectionStats)
    assert updates[0].timestamp > 1e12  # Unix milliseconds, as documented


async def test_cancelling_publish_send_and_disconnect_leaves_a_consistent_state(
        echo: LocalRuntime) -> None:
    source = FrameSource(fps=30)
    reactor = Reactor(model_name="echo", local=True, api_url=echo.url)
    await reactor.connect()
    with anyio.move_on_after(0):  # cancelled before the runtime can answer
        await reactor.publish_track("webcam", source)
    with anyio.move_on_after(0):
        await reactor.send_command("set_effect", {"effect": "mirror"})
    await anyio.sleep(0.3)  # a late grant is handed back: the slot is free again
    assert reactor.get_status() is ReactorStatus.READY
    await reactor.publish_track("webcam", source)  # so this publish is granted
    await reactor.unpublish_track("webcam")
    with anyio.move_on_after(0.001):
        await reactor.disconnect()
    await wait_for(lambda: reactor.get_status() is ReactorStatus.DISCONNECTED)
    await wait_for(lambda: echo.connections() == 0, within=5)
    await reactor.aclose()
    assert reactor.get_session_id() is None
