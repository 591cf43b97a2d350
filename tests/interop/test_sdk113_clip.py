"""The official ``reactor-sdk==1.13.0`` (v1 wire), unmodified and in its own process,
``download_clip(4)`` from ``reactor serve`` and from ``reactor coordinator`` (which serves
``/clips`` with the client's JWT); the file decodes with PyAV and holds >= 4 s (§10).
Same set-up as ``test_sdk113_client.py`` (side venv, network namespace)."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import av

from .netns import Namespace
from .test_sdk113_client import API_KEY, MODEL, PORT, Served, netns, require_sdk

__all__ = ["netns"]  # the fixture, imported for pytest

SCRIPT = Path(__file__).with_name("sdk113_clip_script.py")


def run_clip(ns: Namespace, python: Path, *args: str) -> dict[str, Any]:
    result = subprocess.run([*ns.exec_prefix(), str(python), str(SCRIPT), *args],
                            capture_output=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    summary: dict[str, Any] = json.loads(result.stdout.decode().strip().splitlines()[-1])
    return summary


def check_clip(path: Path) -> tuple[int, float]:
    with av.open(io.BytesIO(path.read_bytes())) as container:
        times = [float(f.time or 0.0) for f in container.decode(video=0)]
    seconds = max(times) - min(times) + 1 / 30
    assert seconds >= 4.0, (len(times), seconds)
    return len(times), seconds


def test_sdk113_downloads_a_clip_from_reactor_serve(netns: Namespace, tmp_path: Path) -> None:
    python = require_sdk()
    served = Served(netns, "serve", "--model", MODEL, "--host", netns.server_address,
                    "--port", str(PORT), "--ice-host-address", netns.server_address)
    clip = tmp_path / "clip.mp4"
    try:
        summary = run_clip(netns, python, f"http://{netns.server_address}:{PORT}", str(clip))
    finally:
        served.stop()
    print("sdk 1.13.0 clip from serve:", summary, check_clip(clip))


def test_sdk113_downloads_a_clip_through_the_coordinator(netns: Namespace,
                                                         tmp_path: Path) -> None:
    python = require_sdk()
    served = Served(netns, "coordinator", "--model", MODEL, "--host", netns.server_address,
                    "--port", str(PORT), "--api-key", API_KEY)
    clip = tmp_path / "clip.mp4"
    try:
        summary = run_clip(netns, python, f"http://{netns.server_address}:{PORT}", str(clip),
                           API_KEY, MODEL)
    finally:
        served.stop()
    print("sdk 1.13.0 clip via coordinator:", summary, check_clip(clip))
