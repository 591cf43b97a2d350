"""The official ``reactor-sdk==0.8.0`` client, unmodified and in its own process, against
our local runtime.

0.8.0 ignores ``api_url`` when ``local=True`` and always talks to ``http://localhost:8080``,
so the runtimes under test bind 127.0.0.1:8080 (one after the other); the test is skipped
when that port is taken, or when the official package cannot be installed into the
separate, cached ``.venv-official/`` (kept out of our own venv: it brings aiohttp etc.).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from reactor_anyio.runtime import LocalRuntime

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL_VENV = ROOT / ".venv-official"
OFFICIAL_PACKAGE = "reactor-sdk==0.8.0"
SCRIPT = Path(__file__).with_name("official_client_script.py")
LOCAL_PORT = 8080


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def official_python() -> Path | None:
    """The interpreter of the cached official-client venv, created on first use."""
    python = OFFICIAL_VENV / "bin" / "python"
    probe = [str(python), "-c", "import reactor_sdk, aioice"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    try:
        subprocess.run([sys.executable, "-m", "venv", str(OFFICIAL_VENV)], check=True,
                       capture_output=True, timeout=120)
        subprocess.run([str(python), "-m", "pip", "install", "-q", OFFICIAL_PACKAGE],
                       check=True, capture_output=True, timeout=900)
    except (OSError, subprocess.SubprocessError):
        return None
    return python if subprocess.run(probe, capture_output=True).returncode == 0 else None


def local_port_free() -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", LOCAL_PORT))
        except OSError:
            return False
    return True


def official_python_or_skip() -> Path:
    """The official client's interpreter; skips the test where it cannot run here (not
    installable, or port 8080, the only local address 0.8.0 knows, is taken)."""
    python = official_python()
    if python is None:
        pytest.skip(f"{OFFICIAL_PACKAGE} could not be installed into {OFFICIAL_VENV}")
    if not local_port_free():
        pytest.skip(f"127.0.0.1:{LOCAL_PORT} is taken; {OFFICIAL_PACKAGE} can use no other")
    return python


async def run_script(python: Path, *args: str, script: Path = SCRIPT) -> dict[str, Any]:
    """Run one of the official-client scripts; its last stdout line is a JSON summary."""
    with anyio.fail_after(120):
        result = await anyio.run_process([str(python), str(script), *args], check=False)
    stderr = result.stderr.decode(errors="replace")[-3000:]
    assert result.returncode == 0, stderr
    summary: dict[str, Any] = json.loads(result.stdout.decode().strip().splitlines()[-1])
    return summary


async def wait_ready(runtime: LocalRuntime) -> None:
    with anyio.fail_after(5):
        while runtime.machine.state.value != "READY" or runtime.connections():  # noqa: ASYNC110
            await anyio.sleep(0.01)


async def test_official_client_against_helios_and_echo() -> None:
    python = official_python_or_skip()

    async with LocalRuntime("helios", port=LOCAL_PORT) as helios:
        summary = await run_script(python, "helios", "5")
        await wait_ready(helios)
        produced = helios.frames_produced()
    assert summary["frames"] >= 60
    assert summary["frame_shape"] == [360, 640, 3]
    assert summary["states"] >= 1
    assert {"prompt_scheduled", "generation_started"} <= set(summary["events"])
    assert summary["statuses"] == ["connecting", "waiting", "ready", "disconnected"]
    assert len(summary["ready_ms"]) == 5 and produced >= 60
    # ARCHITECTURE.md's goal is a 100 ms median; assert only a loose bound (no timing
    # assertions in tests), the figure itself is reported by the script.
    assert summary["ready_ms_median"] < 1000, summary["ready_ms"]

    async with LocalRuntime("echo", port=LOCAL_PORT) as echo:
        published = await run_script(python, "echo")
        await wait_ready(echo)
    assert published["transformed"], published
    assert published["frames"] >= 30 and published["effects"] >= 1
    assert published["statuses"] == ["connecting", "waiting", "ready", "disconnected"]
