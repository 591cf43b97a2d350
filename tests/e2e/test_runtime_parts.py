"""The local runtime's parts on their own: ICE helpers, model host, frame fan-out, CLI."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading
import time
from typing import Any

import anyio
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from reactor_anyio.models import Echo
from reactor_anyio.runtime import LocalRuntime, add_serve_parser, run_serve
from reactor_anyio.runtime.links import default_host_addresses, ice_entry, is_loopback
from reactor_anyio.runtime.media import STALE_AFTER, MediaHub
from reactor_anyio.runtime.model_host import (
    MAX_QUEUED_MESSAGES,
    ModelHost,
    ModelWorker,
    RuntimeModelContext,
)
from reactor_proto.errors import LocalProtocolError
from reactor_proto.runtime import ClientConnected, CommandReceived, StateChanged
from reactor_proto.runtime.events import SessionState
from reactor_proto.runtime.uploads import UploadedFile as StoredUpload

from .conftest import state, wait_for


@pytest.fixture
def anyio_backend() -> str:
    """asyncio only: these tests use the runtime's parts in-process (an aiortc track's
    ``recv``, ``LocalRuntime.model``), not over the wire, and aiortc is asyncio code; the
    same parts are exercised under trio through the bridge by the other runtime tests."""
    return "asyncio"


def test_ice_candidates_follow_the_bind_address() -> None:
    assert default_host_addresses("127.0.0.1") == ("127.0.0.1",)
    assert default_host_addresses("localhost") == ("127.0.0.1",)
    assert default_host_addresses("::1") == ("::1",)
    assert default_host_addresses("0.0.0.0") is None
    assert default_host_addresses("example.org") is None
    assert is_loopback("127.0.0.2") and not is_loopback("10.0.0.1")
    assert ice_entry("stun:a:1").urls == ("stun:a:1",)
    assert ice_entry({"uris": ["turn:b"], "credentials": {"username": "u", "password": "p"}}
                     ).credential == "p"


def test_runtime_options_are_checked_and_servers_exposed() -> None:
    with pytest.raises(LocalProtocolError, match="port_range"):
        LocalRuntime("echo", port_range=(5000, 5010))
    runtime = LocalRuntime(Echo, host="0.0.0.0", ice_servers=["stun:stun.example:3478"])
    assert runtime.ice.host_addresses is None
    assert runtime.machine.config.ice_servers[0].urls == ("stun:stun.example:3478",)
    assert runtime.model.name == "echo" and runtime.frames_produced() == 0
    with pytest.raises(Exception, match="not started"):
        _ = runtime.port
    explicit = LocalRuntime("echo", host="::1", ice_host_addresses=["127.0.0.1"])
    assert explicit.ice.host_addresses == ("127.0.0.1",)


@pytest.mark.anyio
async def test_an_unstarted_runtime_closes_and_ipv6_urls_are_bracketed() -> None:
    await LocalRuntime("echo").aclose()
    async with LocalRuntime("echo", host="::1") as runtime:
        assert runtime.url == f"http://[::1]:{runtime.port}"


def test_model_context_queues_wakes_and_bounds() -> None:
    context = RuntimeModelContext()
    woken: list[int] = []
    context.send("effect", {"effect": "none"})  # before binding: queued, nobody woken
    context.bind(lambda: woken.append(1))
    context.send("effect", {"effect": "invert"}, to="1002")
    taken = context.take_messages()
    assert [(m.type, m.to) for m in taken] == [("effect", None), ("effect", "1002")]
    assert woken == [1] and context.take_messages() == []
    context.bind(None)
    for index in range(MAX_QUEUED_MESSAGES + 3):
        context.send("n", {"i": index})
    assert context.messages_dropped == 3
    assert context.take_messages()[0].data == {"i": 3}
    frame = np.zeros((2, 2, 3), dtype=np.uint8)
    context.set_input("webcam", frame)
    assert context.latest_input("webcam") is frame
    context.set_input("webcam", None)
    assert context.latest_input("webcam") is None


def test_model_worker_runs_in_order_survives_failures_and_closes() -> None:
    assert ModelWorker("idle").close(1.0)
    worker = ModelWorker("test")
    seen: list[int] = []

    def boom() -> None:
        raise RuntimeError("model bug")

    worker.submit("one", lambda: seen.append(1))
    worker.submit("boom", boom)
    worker.submit("two", lambda: seen.append(2))
    assert worker.close(5.0)
    assert seen == [1, 2] and worker.failures == 1 and worker.completed == 3
    worker.submit("late", lambda: seen.append(3))
    assert seen == [1, 2]


def test_model_host_turns_events_into_model_calls() -> None:
    host = ModelHost(Echo, {"width": 64, "height": 36})
    host.handle(StateChanged(previous=SessionState.READY, state=SessionState.WAITING))
    host.handle(ClientConnected(connection_id=1002, connected_users=1))
    upload = StoredUpload(upload_id="u", name="a.png", mime_type="image/png", size=1,
                          data=b"x")
    host.handle(CommandReceived(connection_id=1002, command="set_effect",
                                args={"effect": "mirror"}, uploads={"ignored": upload}))
    assert host.worker.close(5.0)
    sent = host.context.take_messages()
    assert [(m.type, m.data, m.to) for m in sent] == [("effect", {"effect": "invert"}, "1002")]
    assert isinstance(host.model, Echo)
    assert host.model.effect == "invert" and host.worker.failures == 1  # undeclared upload


def test_fanout_produces_only_for_flowing_viewers_and_skips_stale_frames() -> None:
    clock = [100.0]
    calls: list[tuple[str, float]] = []

    def produce(track: str, now: float) -> Any:
        calls.append((track, now))
        if len(calls) == 2:
            raise ValueError("one bad frame")
        return np.zeros((4, 4, 3), dtype=np.uint8)

    hub = MediaHub(["main_video"], produce, lambda: 200.0, clock=lambda: clock[0])
    fanout = hub.fanouts["main_video"]
    viewer = fanout.subscribe()
    assert fanout.consumers == 0
    fanout.set_flowing(viewer, True)
    deadline = time.monotonic() + 5
    while hub.frames_produced("main_video") < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert hub.frames_produced("main_video") >= 3 and fanout.errors == 1
    fanout.set_flowing(viewer, False)
    assert fanout.consumers == 0
    clock[0] += STALE_AFTER + 1
    viewer.offer(np.zeros((4, 4, 3), dtype=np.uint8), 100.0)  # stale when read
    viewer.stop()
    fanout.set_flowing(viewer, True)  # no longer subscribed: ignored
    assert not viewer.flowing
    hub.stop()
    assert hub.join(5.0)


@pytest.mark.anyio
async def test_fanout_track_drops_stale_frames_and_ends_when_stopped() -> None:
    clock = [10.0]
    hub = MediaHub(["main_video"], lambda t, n: np.zeros((4, 4, 3), dtype=np.uint8),
                   lambda: 30.0, clock=lambda: clock[0])
    viewer = hub.fanouts["main_video"].subscribe()
    viewer.offer(np.zeros((4, 4, 3), dtype=np.uint8), 0.0)  # far too old
    fresh = np.full((4, 4, 3), 9, dtype=np.uint8)

    async def feed() -> None:
        await anyio.sleep(0.05)
        viewer.offer(fresh, clock[0])

    async with anyio.create_task_group() as tg:
        tg.start_soon(feed)
        frame = await viewer.recv()
    assert frame.width == 4 and viewer.frames_sent == 1
    hub.stop()
    with pytest.raises(MediaStreamError):
        await viewer.recv()


def _parse(*args: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="reactor")
    add_serve_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve", *args])


def test_run_serve_in_process_stops_on_sigterm(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def stop_when_listening() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            except OSError:
                time.sleep(0.02)
                continue
            os.kill(os.getpid(), signal.SIGTERM)
            return

    stopper = threading.Thread(target=stop_when_listening)
    stopper.start()
    assert run_serve(_parse("--port", str(port), "--model", "echo")) == 0
    stopper.join()
    assert capsys.readouterr().out == f"listening on http://127.0.0.1:{port}\n"


def test_run_serve_reports_a_taken_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run_serve(_parse("--port", str(port))) == 1
    assert "cannot listen" in capsys.readouterr().err


@pytest.mark.anyio
async def test_model_messages_to_unknown_or_bad_targets_are_dropped(
        caplog: pytest.LogCaptureFixture) -> None:
    async with LocalRuntime("echo") as runtime:
        runtime.model.ctx.send("effect", {"effect": "none"}, to="not-a-number")
        runtime.model.ctx.send("effect", {"effect": "none"}, to="4242")  # nobody: 0 sent
        runtime.model.ctx.send("effect", {"bad": object()})
        await wait_for(lambda: sum("not sent" in r.message for r in caplog.records) == 2)
        assert state(runtime) == "READY"
