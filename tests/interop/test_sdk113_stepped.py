"""The official ``reactor-sdk==1.13.0``, unmodified, steps a model served by ``reactor serve``
(docs/protocol §15): three steps (a ``StepCommand`` on the second), an ``EncodedFrame`` step
against the echo model, a refusal and a failing command.

Same setup as :mod:`tests.interop.test_sdk113_client` (the side venv, a network namespace);
skipped where neither can be had, failing in CI.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import av
import numpy as np

from .netns import Namespace
from .test_sdk113_client import API_KEY, PORT, Served, netns, require_sdk

__all__ = ["netns"]  # the fixture, re-used

SCRIPT = Path(__file__).with_name("sdk113_step_script.py")
MODEL = "tests.interop.v1_models:ReplyEcho"


def h264_file(path: Path) -> Path:
    """Two 640x360 frames of a green ramp as H.264 access units (keyframe first), each
    length-prefixed."""
    image = np.zeros((360, 640, 3), np.uint8)
    image[:, :, 1] = np.linspace(0, 255, 640, dtype=np.uint8)[None, :]
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = 640, 360, "yuv420p"
    codec.options = {"tune": "zerolatency", "bframes": "0"}
    units: list[bytes] = []
    for _ in range(2):
        units += [bytes(p) for p in codec.encode(av.VideoFrame.from_ndarray(image, "rgb24"))]
    units += [bytes(p) for p in codec.encode(None)]
    path.write_bytes(b"".join(len(u).to_bytes(4, "big") + u for u in units))
    return path


def run_steps(ns: Namespace, python: Path, *args: str) -> dict[str, Any]:
    result = subprocess.run([*ns.exec_prefix(), str(python), str(SCRIPT), *args],
                            capture_output=True, timeout=180, check=False)
    stderr = result.stderr.decode(errors="replace")[-3000:]
    assert result.returncode == 0, stderr
    summary: dict[str, Any] = json.loads(result.stdout.decode().strip().splitlines()[-1])
    return summary


def check_steps(summary: dict[str, Any]) -> None:
    assert summary["steps"] == [1, 2, 3], summary
    assert summary["errors"] == [None, None, None], summary
    assert summary["shape"] == [360, 640, 3]
    # step 1 shows the input as it is, step 2 mirrored by the StepCommand
    assert summary["left_first"] == 200 and summary["left_second"] == 0, summary
    assert all(e > 0 for e in summary["elapsed"]), summary
    assert summary["encoded_step"] == 4 and abs(summary["encoded_green"] - 239) < 12, summary
    assert summary["refused"] == {"code": "step_refused", "type": "StepRefusedError",
                                  "entry": "state.effect"}, summary
    assert summary["command_failed"]["code"] == "step_command_failed", summary
    assert summary["command_failed"]["entry"] == "commands[0]", summary
    assert summary["after_failures_step"] == 5, summary
    assert summary["streamed_frames"] == 0, summary  # §15.1: outputs stay silent


def test_sdk113_steps_reactor_serve(netns: Namespace, tmp_path: Path) -> None:
    python = require_sdk()
    units = h264_file(tmp_path / "frames.h264")
    served = Served(netns, "serve", "--model", MODEL, "--host", netns.server_address,
                    "--port", str(PORT), "--ice-host-address", netns.server_address)
    try:
        summary = run_steps(netns, python, "steps",
                            f"http://{netns.server_address}:{PORT}", str(units))
    finally:
        served.stop()
    check_steps(summary)


def test_sdk113_steps_through_reactor_coordinator(netns: Namespace, tmp_path: Path) -> None:
    python = require_sdk()
    units = h264_file(tmp_path / "frames.h264")
    served = Served(netns, "coordinator", "--model", MODEL, "--host", netns.server_address,
                    "--port", str(PORT), "--api-key", API_KEY)
    try:
        # the emulator names its model by the spec it was given
        summary = run_steps(netns, python, "steps", f"http://{netns.server_address}:{PORT}",
                            str(units), API_KEY, MODEL)
    finally:
        served.stop()
    check_steps(summary)
