"""Every Python sample of the product docs (seeds 000-002), run with only its import line
changed (``reactor_sdk`` -> ``reactor_anyio``), against ``reactor coordinator`` (issue 15 #7).

The samples live in ``samples/*.sample``, one per docs code block, kept as the docs write
them (they are the compatibility contract under test).  A fragment that uses a ``reactor``
it does not create gets one from :func:`namespace`, made the way the docs' page does
(``Reactor(model_name=..., api_key=...)``); the cloud URL comes from ``REACTOR_API_URL``
(the emulator's), the key from ``REACTOR_API_KEY``.  Top-level ``await`` is allowed, as in a
notebook.  The few samples whose outcome differs from the official SDK's assert that
difference (docs/migrating.md lists each).
"""

from __future__ import annotations

import ast
import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from reactor_anyio import (
    CommandValidationError,
    FileRef,
    InvalidStateError,
    Reactor,
    ReactorStatus,
)
from reactor_anyio.coordinator import CoordinatorEmulator
from tests.e2e.conftest import on_trio
from tests.e2e.test_coordinator_support import KEY, until

pytestmark = pytest.mark.anyio
SAMPLES = Path(__file__).parent / "samples"
DOC_KEYS = ["rk_your_key", "rk_your_api_key"]  # the keys the samples spell out
ALL = sorted(p.stem for p in SAMPLES.glob("*.sample"))
ASYNCIO_ONLY = {"s001_auto_reconnect", "s002_complete_example"}  # they call asyncio itself


def source(name: str) -> str:
    return (SAMPLES / f"{name}.sample").read_text()


async def run(name: str, ns: dict[str, Any]) -> None:
    """Run a sample in ``ns``, awaiting it when it has top-level awaits."""
    code = compile(source(name), f"{name}.sample", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, ns)
    if result is not None:
        await result


def namespace(reactor: Reactor | None = None) -> dict[str, Any]:
    return {"__name__": "sample", "Reactor": Reactor, "ReactorStatus": ReactorStatus,
            "asyncio": asyncio, "os": os, "api_key": KEY, "reactor": reactor,
            "image_bytes": b"\xff\xd8\xff\xe0 not really a jpeg"}


@pytest.fixture
async def emu(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[CoordinatorEmulator]:
    """The emulator (hosted on the bridge's loop under trio).  The leak checks of
    ``test_coordinator_support.emulator`` need the test's own task, so this fixture checks
    only that no session is left; the trio leak check still runs (conftest)."""
    hosting: Any
    options: dict[str, Any] = {"api_keys": [KEY, *DOC_KEYS], "model_options": {"fps": 30}}
    if on_trio():
        from reactor_trio_compat import TrioHostedCoordinator

        hosting = TrioHostedCoordinator(**options)
    else:
        hosting = CoordinatorEmulator(**options)
    async with hosting as emu:
        monkeypatch.setenv("REACTOR_API_URL", emu.url)
        monkeypatch.setenv("REACTOR_API_KEY", KEY)
        yield emu
        await until(lambda: not emu.live_sessions(), 8, "no session left")


def fresh(**options: Any) -> Reactor:
    return Reactor(model_name="helios", api_key=os.environ["REACTOR_API_KEY"], **options)


@pytest.fixture
async def ready(emu: CoordinatorEmulator) -> AsyncIterator[Reactor]:
    reactor = fresh()
    await reactor.connect()
    yield reactor
    await reactor.aclose()


def test_every_sample_file_is_covered() -> None:
    covered = {n.removeprefix("test_") for n in globals() if n.startswith("test_s0")}
    parametrized = {"s000_context_manager", "s002_context_manager"}
    assert covered | parametrized == set(ALL)


# ---- samples that need no connection --------------------------------------------------------


async def test_s000_constructor(emu: CoordinatorEmulator) -> None:
    ns = namespace()
    await run("s000_constructor", ns)
    assert ns["reactor"].get_status() is ReactorStatus.DISCONNECTED


async def test_s000_on_off(emu: CoordinatorEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    reactor = fresh()
    await run("s000_on_off", namespace(reactor))
    await reactor.connect()
    await reactor.aclose()
    assert "Status:" not in capsys.readouterr().out  # removed before anything happened


async def test_s001_context_manager(emu: CoordinatorEmulator) -> None:
    await run("s001_context_manager", namespace())


@pytest.mark.parametrize("name", ["s000_context_manager", "s002_context_manager"])
async def test_context_manager_samples_say_to_call_connect_first(
        emu: CoordinatorEmulator, name: str) -> None:
    # Differs on purpose (docs/migrating.md): no implicit connect in ``async with``, and a
    # send before connect() raises, naming the fix.
    with pytest.raises(InvalidStateError, match=r"call connect\(\) first") as raised:
        await run(name, namespace())
    assert raised.value.code == "MESSAGE_SEND_FAILED"


# ---- samples on a connected client -------------------------------------------------------


async def test_s000_connect(emu: CoordinatorEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    reactor = fresh()
    await run("s000_connect", namespace(reactor))
    assert "Connected successfully" in capsys.readouterr().out
    assert reactor.get_status() is ReactorStatus.READY
    await reactor.aclose()


async def test_s002_authentication(emu: CoordinatorEmulator) -> None:
    ns = namespace()
    await run("s002_authentication", ns)
    assert ns["reactor"].get_status() is ReactorStatus.READY
    await ns["reactor"].aclose()


async def test_s000_disconnect(ready: Reactor) -> None:
    await run("s000_disconnect", namespace(ready))
    assert ready.get_status() is ReactorStatus.DISCONNECTED and ready.get_session_id() is None


async def test_s000_send_command(ready: Reactor) -> None:
    # Differs on purpose: the command does not match the model's schema (Helios'
    # schedule_prompt takes ``prompt`` and ``chunk``), which this client checks before
    # sending (docs/migrating.md).
    with pytest.raises(CommandValidationError) as raised:
        await run("s000_send_command", namespace(ready))
    assert raised.value.code == "MESSAGE_SEND_FAILED" and raised.value.command == "schedule_prompt"


async def test_s000_frame_callback(ready: Reactor, capsys: pytest.CaptureFixture[str]) -> None:
    await run("s000_frame_callback", namespace(ready))
    await until(lambda: "Frame shape: (" in capsys.readouterr().out, 10, "a frame")


async def test_s000_get_status(ready: Reactor) -> None:
    await run("s000_get_status", namespace(ready))
    assert ready.get_status() is ReactorStatus.READY


async def test_s000_get_state(ready: Reactor, capsys: pytest.CaptureFixture[str]) -> None:
    await run("s000_get_state", namespace(ready))
    assert "Status: ready" in capsys.readouterr().out


async def test_s000_reconnect(ready: Reactor) -> None:
    sid = ready.get_session_id()
    await run("s000_reconnect", namespace(ready))
    assert ready.get_status() is ReactorStatus.READY and ready.get_session_id() == sid


async def test_s001_reconnect(ready: Reactor) -> None:
    # The block shows three alternatives; run in a row, the reconnect() comes after a full
    # disconnect, when there is no session left: this client raises (the official one only
    # reports it on the ``error`` event).  docs/migrating.md.
    with pytest.raises(InvalidStateError) as raised:
        await run("s001_reconnect", namespace(ready))
    assert raised.value.code == "RECONNECTION_FAILED"
    assert ready.get_last_error() is raised.value


async def test_s001_upload_file(ready: Reactor, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 a small file")
    monkeypatch.chdir(tmp_path)
    ns = namespace(ready)
    await run("s001_upload_file", ns)
    ref = ns["ref"]
    assert isinstance(ref, FileRef) and ref.name == "photo.jpg" and ref.mime_type == "image/jpeg"


# ---- handler samples: registered first, then connect --------------------------------------


async def test_s001_on_frame(emu: CoordinatorEmulator,
                             capsys: pytest.CaptureFixture[str]) -> None:
    reactor = fresh()
    await run("s001_on_frame", namespace(reactor))
    await reactor.connect()
    await until(lambda: "Frame: (" in capsys.readouterr().out, 10, "a frame")
    await reactor.aclose()


async def test_s001_send_command(emu: CoordinatorEmulator) -> None:
    reactor = fresh()
    messages: list[Any] = []
    reactor.on("message", messages.append)
    await run("s001_send_command", namespace(reactor))
    await reactor.connect()
    await until(lambda: any(m.get("type") == "event" for m in messages), 10, "model event")
    assert reactor.get_last_error() is None
    await reactor.aclose()


async def test_s002_decorators(emu: CoordinatorEmulator,
                               capsys: pytest.CaptureFixture[str]) -> None:
    reactor = fresh()
    await run("s002_decorators", namespace(reactor))
    await reactor.connect()
    out = ""

    def printed() -> bool:
        nonlocal out
        out += capsys.readouterr().out
        return "Frame shape: (" in out and "Message: " in out

    await reactor.send_command("set_seed", {"seed": 7})
    await until(printed, 10, "frames and messages")
    assert "Connected to GPU!" in out
    await reactor.aclose()


async def test_s001_on_error(emu: CoordinatorEmulator,
                             capsys: pytest.CaptureFixture[str]) -> None:
    reactor = fresh()
    await run("s001_on_error", namespace(reactor))
    await reactor.connect()
    await emu.drop_peer(reactor.get_session_id())
    await until(lambda: "[gpu:GPU_CONNECTION_ERROR]" in capsys.readouterr().out, 5, "print")
    await reactor.aclose()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_s001_auto_reconnect(emu: CoordinatorEmulator, anyio_backend: str) -> None:
    reactor = fresh(reconnect_delay=0.1)  # the retry_after hint the recipe sleeps
    await run("s001_auto_reconnect", namespace(reactor))
    await reactor.connect()
    sid = reactor.get_session_id()
    for _ in range(2):
        await emu.drop_peer(sid)
        await until(lambda: reactor.get_status() is not ReactorStatus.READY, 5, "the drop")
        await until(lambda: reactor.get_status() is ReactorStatus.READY, 10, "READY again")
    assert reactor.get_session_id() == sid
    await reactor.aclose()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_s002_complete_example(emu: CoordinatorEmulator, anyio_backend: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    # The sample runs its own asyncio.run(): give it a thread, end it by expiring the
    # session on the coordinator (its loop runs until DISCONNECTED).
    failure: list[BaseException] = []

    def main() -> None:
        try:
            exec(compile(source("s002_complete_example"), "sample", "exec"),
                 {"__name__": "__main__"})
        except BaseException as exc:  # reported below
            failure.append(exc)

    thread = threading.Thread(target=main, name="sample-complete-example")
    thread.start()
    out = ""

    def printed() -> bool:
        nonlocal out
        out += capsys.readouterr().out
        return "Frame: (" in out and "Model says: " in out

    await until(printed, 15, "frames and messages")
    assert "Connected! Sending commands..." in out
    (sid,) = emu.live_sessions()
    await emu.expire_session(sid)
    await until(lambda: not thread.is_alive(), 10, "the sample to end")
    assert not failure, failure


# ---- mypy --strict on every sample -------------------------------------------------------

PRELUDE = '''\
import asyncio
import os
from reactor_anyio import Reactor, ReactorStatus
reactor = Reactor(model_name="helios", local=True)
api_key = "rk"
image_bytes = b""
'''


def test_mypy_strict_accepts_every_sample(tmp_path: Path) -> None:
    """Our types check the samples' calls.  The samples' own functions are unannotated, so
    the checks about *their* annotations are off (``--allow-untyped-defs`` and friends);
    their bodies are still checked (``--strict`` implies ``--check-untyped-defs``)."""
    for name in ALL:
        text = source(name)
        if name != "s002_complete_example":  # a fragment: give its awaits a function
            text = "async def _sample() -> None:\n" + "".join(
                f"    {line}" for line in text.splitlines(keepends=True))
        (tmp_path / f"{name}.py").write_text(PRELUDE + text)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--allow-untyped-defs",
         "--allow-incomplete-defs", "--disable-error-code", "no-untyped-call",
         "--no-incremental",
         *sorted(str(p) for p in tmp_path.glob("*.py"))],
        capture_output=True, text=True, check=False, cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stdout + result.stderr
