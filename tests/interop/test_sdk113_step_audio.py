"""The official ``reactor-sdk==1.13.0``, unmodified, steps models with audio served by
``reactor serve`` (docs/protocol §15.4, §15.5): ``tone`` answers each step with the
commanded sine on ``main_audio``; ``echo`` answers with the ``mic`` audio the step carried
(pushed with ``Track.push_frame`` and given as ``step(media=...)``) and refuses more audio
than the track's buffer holds.  1.13.0 sends no rate with a step's audio, so samples pushed
at another rate are taken at the track's.

Same setup as :mod:`tests.interop.test_sdk113_stepped` (the side venv, a network
namespace); skipped where neither can be had, failing in CI.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from .netns import Namespace
from .test_sdk113_client import PORT, Served, netns, require_sdk

__all__ = ["netns"]  # the fixture, re-used

SCRIPT = Path(__file__).with_name("sdk113_step_audio_script.py")
RATE = 48_000


def run(ns: Namespace, model: str, scenario: str) -> dict[str, Any]:
    python = require_sdk()
    served = Served(ns, "serve", "--model", model, "--host", ns.server_address,
                    "--port", str(PORT), "--ice-host-address", ns.server_address)
    try:
        result = subprocess.run([*ns.exec_prefix(), str(python), str(SCRIPT), scenario,
                                 f"http://{ns.server_address}:{PORT}"],
                                capture_output=True, timeout=180, check=False)
    finally:
        served.stop()
    stderr = result.stderr.decode(errors="replace")[-3000:]
    assert result.returncode == 0, stderr
    summary: dict[str, Any] = json.loads(result.stdout.decode().strip().splitlines()[-1])
    return summary


def test_sdk113_steps_tone_and_hears_the_commanded_frequency(netns: Namespace) -> None:
    summary = run(netns, "tone", "tone")
    steps = summary["steps"]
    assert [s["step"] for s in steps] == [1, 2], summary
    for step in steps:
        assert step["kind"] == "audio" and step["rate"] == RATE, step
        assert step["frames"] == 1 and step["shapes"] == [[1, RATE // 15]], step
        assert step["dtype"] == "int16", step
        # one FFT bin is 15 Hz at 3200 samples
        assert abs(step["hz"] - step["commanded"]) <= 15, step


def test_sdk113_steps_echo_with_audio_in(netns: Namespace) -> None:
    summary = run(netns, "echo", "echo")
    pushed = summary["pushed"]
    assert pushed["step"] == 1 and pushed["kind"] == "audio" and pushed["rate"] == RATE
    assert pushed["length"] == RATE // 10 and pushed["max_diff"] == 0, summary
    assert abs(pushed["hz"] - 1500) <= 10, summary
    assert summary["media"] == {"step": 2, "length": 4800, "equal": True}, summary
    # 1.13.0 sends no rate with a step's audio: 16 kHz samples are taken at the track's rate
    assert summary["at_16k"] == {"step": 3, "length": 4800}, summary
    # more than the mic's buffer holds (1 s): refused, naming the track's part
    assert summary["refused"] == {"code": "step_refused", "type": "StepRefusedError",
                                  "entry": "media_input[0]"}, summary
