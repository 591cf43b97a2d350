"""Audio with the official ``reactor-sdk==1.13.0``, unmodified, in its own process and
network namespace (see :mod:`tests.interop.test_sdk113_client`): it receives ``tone``'s
audio at the commanded frequency, before and after ``set_frequency``, and round-trips a
sine it publishes through ``echo``.  Skipped where no namespace can be made; under
``CI=true`` it fails instead."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .netns import Namespace, namespace, unavailable_reason
from .test_sdk113_client import PORT, Served, require_sdk, skip_or_fail

SCRIPT = Path(__file__).with_name("sdk113_audio_script.py")
TOLERANCE_HZ = 10.0


@pytest.fixture
def ns() -> Iterator[Namespace]:
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(f"no network namespace for libwebrtc: {reason}")
    with namespace("audio") as made:
        yield made


def run_script(ns: Namespace, python: Path, scenario: str) -> dict[str, Any]:
    url = f"http://{ns.server_address}:{PORT}"
    result = subprocess.run([*ns.exec_prefix(), str(python), str(SCRIPT), scenario, url],
                            capture_output=True, timeout=120, check=False)
    stderr = result.stderr.decode(errors="replace")[-3000:]
    assert result.returncode == 0, stderr
    summary: dict[str, Any] = json.loads(result.stdout.decode().strip().splitlines()[-1])
    return summary


def serve(ns: Namespace, model: str) -> Served:
    return Served(ns, "serve", "--model", model, "--host", ns.server_address,
                  "--port", str(PORT), "--ice-host-address", ns.server_address)


def test_sdk113_hears_tone_at_the_commanded_frequency(ns: Namespace) -> None:
    python = require_sdk()
    served = serve(ns, "tone")
    try:
        summary = run_script(ns, python, "tone")
    finally:
        served.stop()
    print(f"1.13.0 heard tone: {summary}")
    assert summary["received_first"] and summary["received_after"], summary
    assert summary["rate"] == 48_000 and summary["shapes"], summary
    assert abs(summary["before_hz"] - 440) < TOLERANCE_HZ, summary
    assert abs(summary["after_hz"] - 1000) < TOLERANCE_HZ, summary


def test_sdk113_round_trips_audio_through_echo(ns: Namespace) -> None:
    python = require_sdk()
    served = serve(ns, "echo")
    try:
        summary = run_script(ns, python, "echo")
    finally:
        served.stop()
    print(f"1.13.0 through echo: {summary}")
    assert summary["received_samples"] > summary["rate"], summary
    assert abs(summary["echo_hz"] - 660) < TOLERANCE_HZ, summary
