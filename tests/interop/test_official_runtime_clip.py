"""Our client against the OFFICIAL runtime's recorder (issue 17): ``reactor-runtime==2.10.1``
runs a CPU toy model (``official_runtime_model/``) with ``--record`` on 127.0.0.1; our
``Reactor(local=True)`` connects, asks for a 4 s clip, downloads it and PyAV decodes it.

The runtime lives in its own venv ``.venv-rt`` at the repository root (GStreamer webrtcbin
through PyGObject; ``scripts/official_runtime.sh`` builds it).  Without that venv the test is
skipped, unless ``REACTOR_OFFICIAL_RUNTIME=1`` demands it.

Two set-up choices the official runtime forces, both made by its environment:

* its HTTP runtime always has an ICE server (a public STUN one when none is configured),
  and its answer waits until libnice has given up on a STUN server (3-4 s here, with no
  internet).  It is given ``TURN_SERVERS=...turn:127.0.0.1:9?transport=tls`` instead: a
  configured list, so no public fallback, whose one entry webrtcbin refuses (a TURN
  transport other than udp/tcp) and aiortc skips, so neither side queries any server;
* GStreamer's ICE agent does not gather on the loopback interface unless
  ``GST_TEST_ENV=true`` (the runtime's own switch for isolated tests) adds 127.0.0.1, which
  lets our client keep its local default: loopback only.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import anyio
import av
import numpy as np
import pytest

from reactor_anyio import Reactor

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv-rt" / "bin" / "python"
MODEL_DIR = Path(__file__).with_name("official_runtime_model")
REQUIRED_ENV = "REACTOR_OFFICIAL_RUNTIME"
#: no STUN/TURN server on either side, candidates on loopback (see the module docstring)
OFFLINE_ENV = {"TURN_SERVERS": "test;unused;turn:127.0.0.1:9?transport=tls",
               "GST_TEST_ENV": "true"}


def require_runtime() -> Path:
    if VENV_PYTHON.exists():
        return VENV_PYTHON
    if os.environ.get(REQUIRED_ENV) == "1":
        pytest.fail(f"{REQUIRED_ENV}=1 but {VENV_PYTHON} is missing "
                    "(run scripts/official_runtime.sh)")
    pytest.skip("official runtime venv .venv-rt absent (scripts/official_runtime.sh)")


def free_port() -> int:
    # The official CLI refuses port 0, so the port is picked here and released just before.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, proc: subprocess.Popen[bytes], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"official runtime exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("official runtime did not become healthy")


@pytest.fixture
def official_runtime(tmp_path: Path) -> Iterator[str]:
    python = require_runtime()
    port = free_port()
    env = {**os.environ, **OFFLINE_ENV}
    log = (tmp_path / "runtime.log").open("wb")
    proc = subprocess.Popen(
        [str(python), "-m", "reactor_runtime.serve", "run", "--path", str(MODEL_DIR),
         "--host", "127.0.0.1", "--port", str(port), "--record",
         "--recordings-dir", str(tmp_path / "recordings")],
        cwd=MODEL_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        print((tmp_path / "runtime.log").read_text(errors="replace")[-2000:])


async def fetch_clip(url: str, path: Path) -> tuple[int, float]:
    frames: list[np.ndarray] = []
    async with Reactor(model_name="ramp", local=True, api_url=url) as reactor:
        reactor.set_frame_callback(frames.append)
        await reactor.connect()
        with anyio.fail_after(30):
            # six seconds of output recorded before asking (frames arrive on a callback)
            while len(frames) < 30 * 6:  # noqa: ASYNC110
                await anyio.sleep(0.05)
        assert frames[-1].shape == (240, 320, 3)
        clip = await reactor.request_clip(4)
        data = await reactor.download_clip_as_file(clip, path)
    assert await anyio.Path(path).read_bytes() == data
    with av.open(io.BytesIO(data), mode="r") as container:
        times = [float(f.time or 0.0) for f in container.decode(video=0)]
    return len(times), max(times) - min(times) + 1 / 30


def test_our_client_downloads_a_clip_from_the_official_runtime(
        official_runtime: str, tmp_path: Path) -> None:
    count, seconds = anyio.run(fetch_clip, official_runtime, tmp_path / "clip.mp4")
    assert seconds >= 4.0, (count, seconds)
    print("official runtime clip:", count, "frames,", round(seconds, 2), "s")
