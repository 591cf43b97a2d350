"""The client's production path against the coordinator emulator, over real sockets and WebRTC:
the whole flow, credentials hygiene, adoption, cancellation, bounded requests, the CLI."""

from __future__ import annotations

import logging
import signal
import sys
import time
from typing import Any

import anyio
import numpy as np
import pytest

from reactor_anyio import ReactorStatus, UnauthorizedError
from reactor_anyio.coordinator import CoordinatorEmulator
from reactor_anyio.http import HttpClient
from reactor_proto.coordinator import SessionClosed, SessionState
from reactor_proto.http import HttpRequest

from .test_coordinator_support import (
    KEY,
    KEY_B,
    client,
    connect_timed,
    emulator,
    measured,
    until,
)

pytestmark = pytest.mark.anyio


def _spy(emu: CoordinatorEmulator) -> list[HttpRequest]:
    """Record every request the machine sees (headers included)."""
    seen: list[HttpRequest] = []
    machine = emu.machine
    original = machine.receive_request

    def receive_request(request: HttpRequest, now: float) -> int:
        seen.append(request)
        return original(request, now)

    machine.receive_request = receive_request  # type: ignore[method-assign]
    return seen


async def test_production_flow_streams_and_disconnect_deletes_the_session(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with emulator() as emu:
        seen = _spy(emu)
        frames: list[np.ndarray] = []
        reactor = client(emu)
        reactor.set_frame_callback(frames.append)
        elapsed = await connect_timed(reactor)
        measured("production connect to READY", elapsed)
        assert reactor.get_status() is ReactorStatus.READY
        sid = reactor.get_session_id()
        assert sid is not None and emu.machine.session_slot(sid) == 0
        await until(lambda: len(frames) >= 10, 10, "frames")
        assert frames[-1].shape == (360, 640, 3)
        # the coordinator's runtime poll turns WAITING into ACTIVE
        await until(lambda: emu.machine.session_state(sid) is SessionState.ACTIVE, 5, "ACTIVE")
        await reactor.disconnect()
        assert reactor.get_session_id() is None
        assert emu.machine.session_state(sid) is SessionState.CLOSED
        assert emu.machine.bookkeeping()["slots_held"] == 0
        assert emu.runtimes[0].runtime.machine.state.value == "READY"
        closed = [e for e in emu.events if isinstance(e, SessionClosed)]
        assert [(e.session_id, e.reason) for e in closed] == [(sid, "client_request")]
        await reactor.aclose()
        key_routes = [r.path for r in seen if r.header("reactor-api-key") is not None]
        assert key_routes == ["/tokens"]
        texts = [caplog.text, repr(emu), repr(emu.config), repr(list(emu.events)),
                 repr(reactor), repr(emu.runtimes)]
        assert not any(KEY in text or KEY_B in text for text in texts)


async def test_wrong_api_key_fails_fast_with_unauthorized() -> None:
    async with emulator() as emu:
        reactor = client(emu, key="rk_wrong_key")
        started = time.monotonic()
        with pytest.raises(UnauthorizedError) as info:
            await reactor.connect()
        elapsed = time.monotonic() - started
        measured("wrong API key -> UnauthorizedError", elapsed)
        assert elapsed < 3.0
        assert info.value.status == 401
        assert "rk_wrong_key" not in str(info.value) + repr(info.value)
        assert reactor.get_status() is ReactorStatus.DISCONNECTED
        assert emu.live_sessions() == []
        await reactor.aclose()


async def test_adopter_never_deletes_the_adopted_session() -> None:
    async with emulator() as emu:
        creator = client(emu)
        await creator.connect()
        sid = creator.get_session_id()
        assert sid is not None
        adopter = client(emu)                      # same key, its own JWT
        await adopter.connect(session_id=sid)
        assert adopter.get_status() is ReactorStatus.READY
        await adopter.disconnect()
        await adopter.aclose()
        await anyio.sleep(0.3)
        assert emu.machine.session_state(sid) in (SessionState.WAITING, SessionState.ACTIVE)
        assert creator.get_status() is ReactorStatus.READY
        stranger = client(emu, key=KEY_B)          # another key cannot see the session
        with pytest.raises(Exception) as info:     # noqa: PT011 - the type is asserted below
            await stranger.connect(session_id=sid)
        assert getattr(info.value, "code", None) == "CONNECTION_FAILED"
        assert getattr(info.value, "cause", None) in ("NOT_FOUND", "SESSION_GONE")
        await stranger.aclose()
        await creator.disconnect()
        assert emu.machine.session_state(sid) is SessionState.CLOSED
        await creator.aclose()


@pytest.mark.parametrize("assign_delay", [0.0, 0.3])
async def test_cancelled_connect_leaves_nothing_behind(assign_delay: float) -> None:
    async with emulator(assign_delay=assign_delay, orphan_timeout=1.0,
                        runtime_poll_interval=0.2) as emu:
        outcomes: list[str] = []
        for delay in (0.0, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64):
            reactor = client(emu)
            with anyio.move_on_after(delay) as scope:
                await reactor.connect()
            outcomes.append("cancelled" if scope.cancelled_caught else "connected")
            if not scope.cancelled_caught:
                await reactor.disconnect()
            assert reactor.get_status() is ReactorStatus.DISCONNECTED
            assert reactor.get_session_id() is None
            await reactor.aclose()
        assert "cancelled" in outcomes
        # A connect() cancelled while its POST /sessions is in flight never learns the id of
        # the session the coordinator creates, so it cannot delete it; such a session is
        # never touched again and ends with the runtime's orphan timer (WAITING, nobody
        # connects).  Every other session must already be gone.
        left = emu.live_sessions()
        for sid in left:
            assert not [r for r in emu.requests if sid in r.path], f"{sid} was known"
        measured(f"sessions orphaned by a cancelled POST /sessions "
                 f"(assign_delay={assign_delay:g})", len(left), "sessions")
        started = time.monotonic()
        await until(lambda: not emu.live_sessions(), 5, "orphaned sessions closed")
        if left:
            measured("orphaned session closed by the timers after", time.monotonic() - started)


async def test_oversize_requests_are_refused() -> None:
    async with emulator(max_body_bytes=64 * 1024) as emu, HttpClient() as http:
        big = await http.request(HttpRequest(method="POST", url=f"{emu.url}/sessions",
                                             headers=(("content-type", "application/json"),),
                                             body=b"x" * (64 * 1024 + 1)), timeout=5)
        assert big.status == 413
        machine_limit = emu.config.max_body_bytes
        assert machine_limit > 64 * 1024                         # the framing refused first
        huge_head = await http.request(HttpRequest(
            method="GET", url=f"{emu.url}/sessions/x",
            headers=(("x-padding", "p" * 40_000),)), timeout=5)
        assert huge_head.status == 431
    async with emulator() as emu, HttpClient() as http:
        over = await http.request(HttpRequest(
            method="POST", url=f"{emu.url}/tokens", headers=(("reactor-api-key", KEY),),
            body=b" " * (emu.config.max_body_bytes + 1)), timeout=10)
        assert over.status == 413                                # the machine's per-route cap


def _cli_args(*extra: str) -> list[str]:
    code = ("import sys; from reactor_anyio.coordinator.cli import add_coordinator_parser, "
            "run_coordinator; import argparse; p = argparse.ArgumentParser(); "
            "s = p.add_subparsers(); add_coordinator_parser(s); "
            "sys.exit(run_coordinator(p.parse_args(sys.argv[1:])))")
    return [sys.executable, "-c", code, "coordinator", "--port", "0", *extra]


# The CLI tests stay on asyncio: the emulator runs in a subprocess, so the test's own loop
# only waits on it (backend-independent).
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
async def test_cli_prints_its_address_and_stops_on_signals(stop: signal.Signals) -> None:
    async with await anyio.open_process(_cli_args("--api-key", KEY, "--gpus", "1")) as proc:
        assert proc.stdout is not None
        with anyio.fail_after(30):
            line = (await proc.stdout.receive()).decode()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.split()[-1]
        async with HttpClient() as http:
            token = await http.request(HttpRequest(method="POST", url=f"{url}/tokens",
                                                   headers=(("reactor-api-key", KEY),)),
                                       timeout=5)
        assert token.status == 200
        proc.send_signal(stop)
        with anyio.fail_after(15):
            code = await proc.wait()
        assert code == 0
        assert proc.stderr is not None
        rest = await _drain(proc.stdout) + await _drain(proc.stderr)
        assert KEY not in rest


async def _drain(stream: Any) -> str:
    chunks: list[bytes] = []
    with anyio.move_on_after(2):
        try:
            while True:
                chunks.append(await stream.receive())
        except anyio.EndOfStream:
            pass
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_cli_refuses_to_start_without_keys() -> None:
    result = await anyio.run_process(_cli_args(), check=False,
                                     env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert b"--api-key" in result.stderr
