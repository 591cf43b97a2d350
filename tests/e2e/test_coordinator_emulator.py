"""The emulator object and the CLI entry point, in-process: misuse, fault targets, signals."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading
import time

import pytest

from reactor_anyio.coordinator import CoordinatorEmulator
from reactor_anyio.coordinator.cli import ENV_API_KEYS, add_coordinator_parser, run_coordinator
from reactor_proto.errors import InvalidStateError, LocalProtocolError

from .test_coordinator_support import KEY, emulator


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"api_keys": KEY}, "one string"),
    ({"api_keys": []}, "at least one non-empty key"),
    ({"api_keys": ["  "]}, "at least one non-empty key"),
    ({"api_keys": [KEY], "gpus": 0}, "gpus"),
    ({"api_keys": [KEY], "gpus": True}, "gpus"),
])
def test_constructor_refuses_bad_options(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message) as info:
        CoordinatorEmulator(**kwargs)  # type: ignore[arg-type]
    assert KEY not in str(info.value)


def test_not_started() -> None:
    emu = CoordinatorEmulator(api_keys=[KEY])
    with pytest.raises(InvalidStateError, match="not started"):
        _ = emu.machine
    with pytest.raises(InvalidStateError, match="not serving"):
        _ = emu.url
    assert emu.requests == () and emu.runtimes == ()
    assert "not serving" in repr(emu) and KEY not in repr(emu)


@pytest.mark.anyio
async def test_fault_targets_on_unknown_and_idle_sessions() -> None:
    async with emulator(api_keys=[KEY]) as emu:
        with pytest.raises(InvalidStateError, match="already started"):
            await emu.__aenter__()
        assert await emu.drop_peer("nope") == 0
        assert await emu.kill_runtime("nope") == 0
        assert await emu.expire_session("nope") == 0
        assert await emu.drop_peer(None) == 0
        assert await emu.kill_runtime(None) == 0
        assert await emu.expire_session(None) == 0
        assert emu.url.startswith("http://127.0.0.1:") and emu.url in repr(emu)
    await emu.aclose()  # closing twice is harmless


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_coordinator_parser(parser.add_subparsers())
    return parser.parse_args(["coordinator", *argv])


def test_cli_needs_a_key(monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(ENV_API_KEYS, raising=False)
    assert run_coordinator(_parse("--port", "0")) == 2
    assert "--api-key" in capsys.readouterr().err


def test_cli_reports_a_busy_port(monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV_API_KEYS, f"{KEY}, ,")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert run_coordinator(_parse("--port", str(port))) == 1
    err = capsys.readouterr().err
    assert "OSError" in err and KEY not in err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_cli_serves_until_sigint(monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV_API_KEYS, KEY)
    port = _free_port()

    def interrupt_when_listening() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    killer = threading.Thread(target=interrupt_when_listening)
    killer.start()
    try:
        assert run_coordinator(_parse("--port", str(port), "--gpus", "1")) == 0
    finally:
        killer.join()
    out = capsys.readouterr().out
    assert out == f"listening on http://127.0.0.1:{port}\n"
