"""The official ``reactor-sdk==1.13.0`` (native libwebrtc, v1 wire only), unmodified and in
its own process, against ``reactor serve`` and ``reactor coordinator``.

1.13.0 is installed from PyPI into a separate, cached ``.venv-sdk113/`` (with numpy, which
its ``Track.on_frame`` needs); its wheel needs glibc 2.34+.  libwebrtc gathers no ICE
candidates on loopback, so runtime and client both run inside a network namespace made for
the test (:mod:`tests.interop.netns`: a veth pair, private addresses, nothing routed out).
Where the machine cannot make one (not root) the test is skipped, saying why; in CI
(``CI=true``) it fails instead.
"""

from __future__ import annotations

import json
import os
import platform
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .netns import Namespace, in_ci, namespace, unavailable_reason

ROOT = Path(__file__).resolve().parents[2]
SDK_VENV = ROOT / ".venv-sdk113"
SDK_PACKAGES = ("reactor-sdk==1.13.0", "numpy")
SCRIPT = Path(__file__).with_name("sdk113_client_script.py")
MODEL = "tests.interop.v1_models:ReplyEcho"
PORT = 8080
API_KEY = "rk_interop_v1"
STARTUP_TIMEOUT = 30.0


def skip_or_fail(reason: str) -> None:
    if in_ci():
        pytest.fail(f"CI: {reason}")
    pytest.skip(reason)


def glibc_ok() -> bool:
    name, version = platform.libc_ver()
    if name != "glibc":
        return False
    major, _, minor = version.partition(".")
    return (int(major), int(minor or 0)) >= (2, 34)


def sdk_python() -> Path | None:
    """The interpreter of the cached 1.13.0 venv, created on first use."""
    python = SDK_VENV / "bin" / "python"
    probe = [str(python), "-c", "import reactor_sdk, numpy"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    try:
        subprocess.run([sys.executable, "-m", "venv", str(SDK_VENV)], check=True,
                       capture_output=True, timeout=120)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *SDK_PACKAGES],
                       check=True, capture_output=True, timeout=900)
    except (OSError, subprocess.SubprocessError):
        return None
    return python if subprocess.run(probe, capture_output=True).returncode == 0 else None


def require_sdk() -> Path:
    if not glibc_ok():
        skip_or_fail("reactor-sdk 1.13.0's wheel needs glibc 2.34 or newer")
    python = sdk_python()
    if python is None:
        skip_or_fail(f"{' '.join(SDK_PACKAGES)} could not be installed into {SDK_VENV}")
    assert python is not None
    return python


@pytest.fixture
def netns() -> Iterator[Namespace]:
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(f"no network namespace for libwebrtc: {reason}")
    with namespace("v1") as ns:
        yield ns


class Served:
    """A ``reactor`` sub-command running inside the namespace until stopped."""

    def __init__(self, ns: Namespace, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        command = [*ns.exec_prefix(), sys.executable, "-c",
                   "import sys; from reactor_anyio.cli import main; sys.exit(main())", *args]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=env, cwd=ROOT)
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], STARTUP_TIMEOUT)
        line = self.process.stdout.readline().decode() if ready else ""
        if "listening on" not in line:
            self.stop()
            raise AssertionError(f"{args[0]} did not start: {line!r} {self.stderr()}")

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def run_client(ns: Namespace, python: Path, *args: str) -> dict[str, Any]:
    result = subprocess.run([*ns.exec_prefix(), str(python), str(SCRIPT), *args],
                            capture_output=True, timeout=180, check=False)
    stderr = result.stderr.decode(errors="replace")[-3000:]
    assert result.returncode == 0, stderr
    summary: dict[str, Any] = json.loads(result.stdout.decode().strip().splitlines()[-1])
    return summary


def check_full(summary: dict[str, Any]) -> None:
    assert summary["status"] == "ready" and summary["first_frame"], summary
    assert {"events/ping_reply", "events/use_file"} <= set(summary["schema_has_commands"])
    assert summary["reply"] == {"type": "pong", "data": {"text": "hi"}}
    assert summary["ack"] is None  # handler returned nothing: the bare acknowledgement
    assert summary["unknown_command"] == "invalid_command"
    assert summary["bad_argument"] == "invalid_command"
    assert summary["model_error"] == "my_code"
    assert summary["crash"] == "internal_error"
    # Struct carries numbers as doubles: 1000 comes back as 1000.0
    assert summary["upload_reply"] == {"type": "file", "data": {"name": "blob.bin",
                                                                "size": 1000.0}}
    assert summary["frames_while_paused"] <= 2 and summary["resumed"], summary
    assert summary["echoed_colour"] is not None, summary
    assert summary["stats_frames_decoded"] > 0, summary
    assert summary["second_same_session"] and summary["second_frames"], summary
    assert summary["second_reply"] == {"type": "pong", "data": {"text": "two"}}
    assert "effect" in summary["messages"]  # a model broadcast (set_effect)


def test_sdk113_against_reactor_serve(netns: Namespace) -> None:
    python = require_sdk()
    served = Served(netns, "serve", "--model", MODEL, "--host", netns.server_address,
                    "--port", str(PORT), "--ice-host-address", netns.server_address)
    try:
        summary = run_client(netns, python, "full", f"http://{netns.server_address}:{PORT}")
    finally:
        served.stop()
    check_full(summary)


def test_sdk113_against_reactor_coordinator(netns: Namespace) -> None:
    python = require_sdk()
    served = Served(netns, "coordinator", "--model", MODEL, "--host", netns.server_address,
                    "--port", str(PORT), "--api-key", API_KEY)
    try:
        # the emulator names its model by the spec it was given
        summary = run_client(netns, python, "full", f"http://{netns.server_address}:{PORT}",
                             API_KEY, MODEL)
    finally:
        served.stop()
    check_full(summary)
