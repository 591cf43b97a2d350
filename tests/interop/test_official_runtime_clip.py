"""Our client against the OFFICIAL runtime's recorder (issue 17): ``reactor-runtime==2.10.1``
runs a CPU toy model (``official_runtime_model/``) with ``--record`` on 127.0.0.1; our
``Reactor(local=True)`` connects, asks for a 4 s clip, downloads it and PyAV decodes it.

The runtime lives in its own venv ``.venv-rt`` at the repository root (GStreamer webrtcbin
through PyGObject; ``scripts/official_runtime.sh`` builds it).  Without that venv the test is
skipped, unless ``REACTOR_OFFICIAL_RUNTIME=1`` demands it.

Two set-up choices the official runtime forces:

* its HTTP runtime always hands out an ICE server (a public STUN one when none is configured),
  so it is pointed at a dead loopback port and our peer factory drops the list: no STUN
  traffic leaves the machine;
* GStreamer's ICE agent does not gather on the loopback interface, so our side gathers on the
  machine's own interfaces (``host_addresses=None``) instead of loopback only; the media still
  never leaves the host.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import av
import numpy as np
import pytest

from reactor_anyio import Reactor
from reactor_anyio.webrtc import Peer, peer_factory_builder

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv-rt" / "bin" / "python"
MODEL_DIR = Path(__file__).with_name("official_runtime_model")
REQUIRED_ENV = "REACTOR_OFFICIAL_RUNTIME"


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
    env = {**os.environ, "STUN_SERVERS": "stun:127.0.0.1:9"}  # a dead local port, see above
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


def without_ice_servers() -> Any:
    base = peer_factory_builder("asyncio")(host_addresses=None, frame_capacity=1)

    def make(tracks: Sequence[Any], ice_servers: Sequence[Any]) -> Peer:
        return base(tracks, ())

    return make


async def fetch_clip(url: str, path: Path) -> tuple[int, float]:
    frames: list[np.ndarray] = []
    async with Reactor(model_name="ramp", local=True, api_url=url,
                       peer_factory=without_ice_servers()) as reactor:
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
