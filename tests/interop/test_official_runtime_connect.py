"""Our client against the NEWEST official runtime, ``reactor-runtime==3.10.0`` (libwebrtc
through ``reactor-webrtc``): connect, receive the toy model's frames, disconnect.

The runtime lives in ``.venv-rt3`` (``scripts/official_runtime.sh`` builds it; it needs
Python >= 3.12); without it the test is skipped, unless ``REACTOR_OFFICIAL_RUNTIME=1``
demands it.  libwebrtc gathers no ICE candidates on loopback, so the runtime and our client
(a child process, ``official_runtime_client_script.py``) run inside a network namespace made
for the test (:mod:`tests.interop.netns`: a veth pair, nothing routed out; root needed,
skipped otherwise, failed in CI).

The runtime falls back to a public STUN server when none is configured.  It is given
``STUN_SERVERS=stuns:127.0.0.1:9`` instead: a dead loopback entry, which aiortc (our client)
ignores and which, at worst, libwebrtc queries on loopback; nothing can leave the namespace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .netns import Namespace, in_ci, namespace, unavailable_reason

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PYTHON = ROOT / ".venv-rt3" / "bin" / "python"
MODEL_DIR = Path(__file__).with_name("official_runtime_model")
SCRIPT = Path(__file__).with_name("official_runtime_client_script.py")
REQUIRED_ENV = "REACTOR_OFFICIAL_RUNTIME"
URL = "http://127.0.0.1:8080"


def require_runtime() -> None:
    if not RUNTIME_PYTHON.exists():
        if os.environ.get(REQUIRED_ENV) == "1":
            pytest.fail(f"{REQUIRED_ENV}=1 but {RUNTIME_PYTHON} is missing "
                        "(run scripts/official_runtime.sh)")
        pytest.skip("official runtime venv .venv-rt3 absent (scripts/official_runtime.sh)")
    reason = unavailable_reason()
    if reason is not None:
        if in_ci():
            pytest.fail(f"needs a network namespace: {reason}")
        pytest.skip(f"needs a network namespace: {reason}")


def in_namespace(ns: Namespace, argv: list[str], timeout: float) -> str:
    done = subprocess.run([*ns.exec_prefix(), *argv], capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def wait_healthy(ns: Namespace, proc: subprocess.Popen[bytes], within: float = 60.0) -> None:
    probe = ("import sys, urllib.request\n"
             f"urllib.request.urlopen('{URL}/health', timeout=2).read()\n")
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"official runtime exited with {proc.returncode}"
        done = subprocess.run([*ns.exec_prefix(), sys.executable, "-c", probe],
                              capture_output=True, timeout=20, check=False)
        if done.returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError("official runtime did not become healthy")


@pytest.fixture
def runtime3(tmp_path: Path) -> Iterator[Namespace]:
    require_runtime()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": "8080",
           "STUN_SERVERS": "stuns:127.0.0.1:9"}  # a dead loopback entry, see above
    log_path = tmp_path / "runtime.log"
    with namespace("rt3") as ns, log_path.open("wb") as log:
        proc = subprocess.Popen([*ns.exec_prefix(), str(RUNTIME_PYTHON), "-m",
                                 "reactor_runtime.serve"], cwd=MODEL_DIR, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(ns, proc)
            yield ns
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            print(log_path.read_text(errors="replace")[-2000:])


def test_our_client_streams_from_the_official_runtime_3(runtime3: Namespace) -> None:
    out = in_namespace(runtime3, [sys.executable, str(SCRIPT), URL, runtime3.client_address],
                       timeout=90)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["frames"] >= 30, result  # the script waits for 30 (one second at 30 fps)
    assert result["shapes"] == [str((240, 320, 3))], result
    print("official runtime 3.10.0:", result)
