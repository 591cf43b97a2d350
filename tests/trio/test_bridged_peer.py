"""BridgedClientPeer under trio against a ServerPeer on the same loop thread: real WebRTC on
loopback, channels both ways, frames into a trio callback, and a clean close."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

import attrs
import numpy as np
import pytest
import trio

from reactor_anyio.webrtc import (
    IceConfig,
    MappedTrack,
    NdarrayVideoTrack,
    PeerStats,
    ServerPeer,
    TrackSpec,
)
from reactor_proto.errors import (
    InvalidStateError,
    LocalProtocolError,
    MessageTooLargeError,
    TransportError,
)
from reactor_trio_compat import BridgedClientPeer, BridgedRemoteTrack, client_peer_factory
from reactor_trio_compat.loop_thread import AiortcLoopThread

from .conftest import living_tasks, thread_names, wait_until

pytestmark = pytest.mark.anyio

TRACKS = (
    TrackSpec(name="webcam", kind="video", direction="sendonly"),
    TrackSpec(name="main_video", kind="video", direction="recvonly"),
)


@attrs.define
class Bridged:
    client: BridgedClientPeer
    server: ServerPeer
    lt: AiortcLoopThread
    events: list[tuple[Any, ...]]
    server_events: list[tuple[Any, ...]]


def record(peer: BridgedClientPeer, events: list[tuple[Any, ...]]) -> None:
    peer.on_connection_state = lambda state: events.append(("state", state))
    peer.on_channel_open = lambda label: events.append(("open", label))
    peer.on_channel_close = lambda label: events.append(("close", label))
    peer.on_channel_message = lambda label, msg: events.append(("message", label, msg))
    peer.on_track = lambda name, track: events.append(("track", name, track))


async def connect(client: BridgedClientPeer,
                  tracks: tuple[TrackSpec, ...] = TRACKS) -> tuple[ServerPeer,
                                                                     list[tuple[Any, ...]]]:
    """Offer from trio, answer with a ServerPeer created on the loop thread, apply in trio."""
    lt = client.loop_thread
    server_events: list[tuple[Any, ...]] = []
    offer, mids = await client.create_offer()
    mapping = [MappedTrack(mid=mids[t.name], name=t.name, kind=t.kind, direction=t.direction)
               for t in tracks]

    async def answer_on_loop() -> tuple[ServerPeer, str]:
        server = ServerPeer(mapping, ice=IceConfig.loopback())
        server.on_channel_message = lambda label, msg: server_events.append((label, msg))
        return server, await server.accept(offer)

    server, answer = await lt.run(answer_on_loop)
    await client.apply_answer(answer)
    return server, server_events


@pytest.fixture
async def bridged() -> AsyncIterator[Bridged]:
    events: list[tuple[Any, ...]] = []
    client = BridgedClientPeer(TRACKS, ice=IceConfig.loopback())
    lt = client.loop_thread
    lt_ref = AiortcLoopThread.acquire()  # keeps the thread for the server's close
    assert lt_ref is lt
    record(client, events)
    server, server_events = await connect(client)
    try:
        await wait_until(lambda: {"control", "data"} <= {e[1] for e in events
                                                         if e[0] == "open"})
        yield Bridged(client=client, server=server, lt=lt, events=events,
                      server_events=server_events)
    finally:
        await client.close()
        await lt.run(server.close)
        await lt_ref.release()


async def test_negotiate_channels_messages_and_frames(bridged: Bridged) -> None:
    client, server, lt = bridged.client, bridged.server, bridged.lt
    trio_thread = threading.get_ident()
    assert [e[1] for e in bridged.events if e[0] == "open"] == ["control", "data"]
    assert client.channel_state("data") == "open" and client.max_message_size == 262_144
    await wait_until(lambda: client.connection_state == "connected")
    assert ("state", "connected") in bridged.events
    tracks = [e for e in bridged.events if e[0] == "track"]
    assert tracks == [("track", "main_video",
                       BridgedRemoteTrack(name="main_video", kind="video", id=tracks[0][2].id))]
    # messages both ways, in order
    client.send("data", '{"scope":"application"}')
    client.send("control", b"\x00binary")

    async def server_send() -> None:
        server.send("data", "from-server")

    await lt.run(server_send)
    await wait_until(lambda: len(bridged.server_events) == 2
                     and ("message", "data", "from-server") in bridged.events)
    assert bridged.server_events == [("data", '{"scope":"application"}'),
                                     ("control", b"\x00binary")]
    # frames: >= 30 into a callback that runs in trio
    got: list[tuple[tuple[int, ...], int]] = []
    client.set_frame_callback("main_video",
                              lambda a: got.append((a.shape, threading.get_ident())))
    frame = np.zeros((360, 640, 3), np.uint8)
    frame[:, :, 0] = 200
    server.push_frame("main_video", frame)

    async def resume() -> None:
        server.set_output_paused("main_video", False)

    await lt.run(resume)
    await wait_until(lambda: len(got) >= 30)
    assert all(shape == (360, 640, 3) and thread == trio_thread for shape, thread in got)
    stats = await client.stats()
    assert isinstance(stats, PeerStats)
    assert stats.tracks["main_video"].frames_received >= 30
    # None stops delivery; the consumer task ends
    client.set_frame_callback("main_video", None)
    await trio.sleep(0.1)
    count = len(got)
    await trio.sleep(0.2)
    assert len(got) == count


async def test_publish_a_track_from_trio(bridged: Bridged) -> None:
    source = NdarrayVideoTrack(fps=30)
    source.push(np.full((240, 320, 3), 90, np.uint8))
    got: list[tuple[int, ...]] = []

    async def watch() -> None:
        bridged.server.set_frame_callback("webcam", lambda a: got.append(a.shape))

    await bridged.lt.run(watch)
    bridged.client.attach_track("webcam", source)
    await wait_until(lambda: len(got) >= 5)
    assert got[-1] == (240, 320, 3)
    bridged.client.attach_track("webcam", None)
    source.stop()


async def test_validation_happens_in_trio(bridged: Bridged) -> None:
    client = bridged.client
    with pytest.raises(LocalProtocolError, match="'video'"):
        client.send("video", "x")
    with pytest.raises(LocalProtocolError, match="int"):
        client.send("data", 5)  # type: ignore[arg-type]
    with pytest.raises(MessageTooLargeError, match="262145 bytes"):
        client.send("data", "x" * 262_145)
    with pytest.raises(MessageTooLargeError):
        client.send("data", b"y" * 262_145)
    with pytest.raises(LocalProtocolError, match="sendonly"):
        client.attach_track("main_video", None)
    with pytest.raises(LocalProtocolError, match="audio"):
        client.attach_track("webcam", _AudioTrack())
    with pytest.raises(LocalProtocolError, match="nope"):
        client.set_frame_callback("nope", None)
    with pytest.raises(InvalidStateError, match="already"):
        await client.create_offer()


class _AudioTrack(NdarrayVideoTrack):
    kind = "audio"


async def test_failures_on_the_loop_are_reported_back(
        bridged: Bridged, caplog: pytest.LogCaptureFixture) -> None:
    client, lt = bridged.client, bridged.lt
    # the answer cannot be applied twice: aiortc's refusal crosses back as a typed error
    with pytest.raises(InvalidStateError, match="apply_answer"):
        await client.apply_answer("v=0")

    # a send that fails on the loop (channel closed there, trio not yet told) becomes
    # on_channel_close(label), as the driver does for a synchronous failure
    async def close_data_channel_quietly() -> None:
        inner = client._inner
        assert inner is not None
        inner.on_channel_close = None  # trio does not hear about it
        inner._channels["data"].close()

    await lt.run(close_data_channel_quietly)
    caplog.set_level(logging.WARNING)
    client.send("data", "lost?")
    await wait_until(lambda: ("close", "data") in bridged.events)
    assert client.channel_state("data") is None
    assert isinstance(client.last_error, InvalidStateError)
    with pytest.raises(InvalidStateError, match="not open"):
        client.send("data", "x")
    # attach failure: no matching callback, so logged and kept
    await lt.run(_force_attach_failure, client)
    client.attach_track("webcam", NdarrayVideoTrack(fps=30))
    await wait_until(lambda: "sendonly" in str(client.last_error))
    assert "attach_track('webcam') failed" in caplog.text


async def _force_attach_failure(client: BridgedClientPeer) -> None:
    inner = client._inner
    assert inner is not None
    inner._tracks = ()  # the loop-side check now refuses the name


async def test_raising_callbacks_do_not_reach_trio(caplog: pytest.LogCaptureFixture) -> None:
    client = BridgedClientPeer(TRACKS, ice=IceConfig.loopback())
    lt_ref = AiortcLoopThread.acquire()

    def explode(*_: Any) -> None:
        raise RuntimeError("user callback failure")

    client.on_connection_state = explode
    client.on_channel_open = explode
    client.on_track = explode
    frames: list[int] = []

    def bad_frame_callback(_: Any) -> None:
        frames.append(1)
        raise RuntimeError("frame callback failure")

    client.set_frame_callback("main_video", bad_frame_callback)  # before the offer
    with caplog.at_level(logging.ERROR):
        server, _ = await connect(client)
        await wait_until(lambda: client.channel_state("data") == "open")
        server.push_frame("main_video", np.zeros((64, 64, 3), np.uint8))

        async def resume() -> None:
            server.set_output_paused("main_video", False)

        await lt_ref.run(resume)
        await wait_until(lambda: len(frames) >= 3)
    assert "user callback failure" in caplog.text
    assert "frame callback failure" in caplog.text
    await client.close()
    await lt_ref.run(server.close)
    await lt_ref.release()


async def test_close_leaves_no_thread_and_no_task() -> None:
    before_threads = thread_names()
    before_tasks = living_tasks()
    async with trio.open_nursery() as nursery:
        factory = client_peer_factory(host_addresses=("127.0.0.1",), extra_ice_servers=(),
                                      frame_capacity=2, spawn=nursery.start_soon)
        client = factory(TRACKS, [])
        assert isinstance(client, BridgedClientPeer)
        lt_ref = AiortcLoopThread.acquire()
        got: list[int] = []
        client.set_frame_callback("main_video", lambda a: got.append(a.shape[0]))
        server, _ = await connect(client)
        server.push_frame("main_video", np.zeros((360, 640, 3), np.uint8))

        async def resume() -> None:
            server.set_output_paused("main_video", False)

        await lt_ref.run(resume)
        await wait_until(lambda: len(got) >= 5)
        assert "video-decoder" in thread_names()
        await client.close()
        await client.close()  # idempotent
        assert client.closed and client.connection_state == "closed"
        with pytest.raises(InvalidStateError, match="closed"):
            client.send("data", "x")
        await lt_ref.run(server.close)
        await lt_ref.release()  # the last reference: the loop thread stops
    assert not lt_ref.running
    assert thread_names() == before_threads  # no loop thread, no video-decoder
    assert living_tasks() == before_tasks


async def test_the_loop_stop_closes_a_forgotten_peer() -> None:
    before = thread_names()
    lt = AiortcLoopThread.acquire()
    client = BridgedClientPeer([TrackSpec(name="main_video")], ice=IceConfig.loopback(),
                               loop_thread=lt)
    await client.create_offer()

    async def state() -> str:
        inner = client._inner
        assert inner is not None
        return inner.connection_state

    await lt.release()  # stops the loop with the peer still open
    assert thread_names() == before
    with pytest.raises(TransportError, match="loop thread is gone"):
        client._post(print)
    await client.close()  # nothing left to close: returns quietly
    assert client.closed


async def test_wrong_thread_and_cancelled_offer() -> None:
    client = BridgedClientPeer([TrackSpec(name="main_video")], ice=IceConfig.loopback())
    errors: list[str] = []

    def from_another_thread() -> None:
        try:
            client.send("data", "x")
        except InvalidStateError as exc:
            errors.append(exc.message)

    await trio.to_thread.run_sync(from_another_thread)
    assert errors and "outside the trio thread" in errors[0]
    with trio.move_on_after(0):  # cancelled at once: passed on to the loop, then re-raised
        await client.create_offer()
    await client.close()


async def test_attach_before_the_offer_is_refused() -> None:
    client = BridgedClientPeer(TRACKS, ice=IceConfig.loopback())
    with pytest.raises(InvalidStateError, match="create_offer"):
        client.attach_track("webcam", None)
    await client.close()


async def test_creation_failure_on_the_loop_is_reported() -> None:
    client = BridgedClientPeer([TrackSpec(name="main_video")], ice=IceConfig.loopback(),
                               video_codecs=("video/NOPE",), exclusive_codecs=True,
                               unknown_option=1)
    with pytest.raises(TransportError, match="creating the aiortc ClientPeer failed"):
        await client.create_offer()
    got: list[int] = []
    client.set_frame_callback("main_video", lambda a: got.append(1))
    await trio.sleep(0.05)  # the consumer finds no mailbox and ends, logged
    await client.close()
    assert got == []


async def test_construction_errors_are_synchronous_and_release_nothing() -> None:
    with pytest.raises(LocalProtocolError, match="direction"):
        BridgedClientPeer([TrackSpec(name="x", direction="sendrecv")])
    lt = AiortcLoopThread.acquire()
    await lt.release()
    before = thread_names()
    with pytest.raises(TransportError):
        BridgedClientPeer([TrackSpec(name="x")], loop_thread=lt)  # a stopped loop thread
    assert thread_names() == before


# ---- the real Reactor client under trio ------------------------------------------------------


async def test_reactor_under_trio_against_a_hosted_runtime(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("reactor_anyio.runtime", reason="LocalRuntime not available yet")
    before_threads = thread_names()
    before_tasks = living_tasks()
    trio_thread = threading.get_ident()
    frames: list[tuple[tuple[int, ...], int]] = []
    messages: list[Any] = []
    with trio.fail_after(60):
        await _reactor_session(frames, messages, trio_thread)
    assert thread_names() == before_threads
    assert living_tasks() == before_tasks


async def _reactor_session(frames: list[tuple[tuple[int, ...], int]], messages: list[Any],
                           trio_thread: int) -> None:
    from reactor_anyio import Reactor, ReactorStatus
    from reactor_trio_compat import TrioHostedRuntime

    async with TrioHostedRuntime("helios", model_options={"fps": 30}) as helios:
        reactor = Reactor(model_name="helios", local=True, api_url=helios.url)
        reactor.on_frame(lambda a: frames.append((a.shape, threading.get_ident())))
        reactor.on("message", messages.append)
        await reactor.connect()
        assert reactor.get_status() is ReactorStatus.READY
        assert "schedule_prompt" in reactor.commands
        await reactor.send_command("set_seed", {"seed": 42})
        await reactor.send_command("schedule_prompt", {"prompt": "A forest", "chunk": 0})
        await reactor.send_command("start", {})
        await wait_until(lambda: len(frames) >= 30, within=20)
        assert all(shape == (360, 640, 3) and t == trio_thread for shape, t in frames)
        await wait_until(lambda: any(m.get("type") == "state" for m in messages))
        kinds = {m["data"].get("event") for m in messages if m.get("type") == "event"}
        assert {"seed_set", "prompt_scheduled", "generation_started"} <= kinds
        stats = await reactor.get_stats()
        assert stats is not None and stats.connection_timings is not None
        assert stats.connection_timings.total_ms > 0
        await reactor.disconnect()
        assert reactor.get_status() is ReactorStatus.DISCONNECTED
        await wait_until(lambda: helios.connections() == 0)
        await reactor.aclose()
        assert helios.machine.state.value == "READY"


async def test_hosted_runtime_errors_and_misuse() -> None:
    pytest.importorskip("reactor_anyio.runtime", reason="LocalRuntime not available yet")
    from reactor_trio_compat import TrioHostedRuntime

    before = thread_names()
    hosted = TrioHostedRuntime("helios", port_range=(1000, 2000))
    with pytest.raises(InvalidStateError, match="not running"):
        _ = hosted.url
    with pytest.raises(InvalidStateError, match="not running"):
        _ = hosted.loop_thread
    with pytest.raises(LocalProtocolError, match="port_range"):  # raised on the loop thread
        async with hosted:
            pass  # pragma: no cover
    async with TrioHostedRuntime("echo") as echo:
        assert echo.url.startswith("http://127.0.0.1:")
        assert echo.connections() == 0 and echo.loop_thread.running
        with pytest.raises(InvalidStateError, match="reentrant"):
            await echo.__aenter__()
    assert thread_names() == before
