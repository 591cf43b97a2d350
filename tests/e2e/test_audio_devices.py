"""``reactor_anyio.audio_devices`` on real PortAudio devices, headless: ALSA's ``file``
plugin gives a playback device that writes a file and a capture device that reads one,
declared in an ``.asoundrc`` under a temporary ``HOME`` (tests/e2e/audio_devices_script.py,
run in a subprocess so that PortAudio enumerates them).  Needs ``sounddevice`` and
PortAudio (Debian ``libportaudio2``, scripts/audio_device_deps.sh); skipped without them,
failing under CI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

SCRIPT = Path(__file__).with_name("audio_devices_script.py")
ROOT = Path(__file__).resolve().parents[2]
RATE = 48_000
ASOUNDRC = """
pcm.rxspeaker {{
    type plug
    slave.pcm {{ type file slave.pcm "null" file "{home}/out.raw" format "raw" }}
    hint {{ show on description "reactor test speaker" }}
}}
pcm.rxmic {{
    type plug
    slave.pcm {{ type file slave.pcm "null" file "/dev/null" infile "{home}/in.raw"
                 format "raw" }}
    hint {{ show on description "reactor test mic" }}
}}
"""


def require_portaudio() -> None:
    probe = subprocess.run([sys.executable, "-c", "import sounddevice"], capture_output=True,
                           check=False)
    if probe.returncode:
        reason = probe.stderr.decode(errors="replace").strip().splitlines()[-1:]
        if os.environ.get("CI"):
            pytest.fail(f"sounddevice/PortAudio missing under CI: {reason}")
        pytest.skip(f"sounddevice/PortAudio not available: {reason}")


def run(home: Path, scenario: str) -> dict[str, Any]:
    require_portaudio()
    home.mkdir(exist_ok=True)
    (home / ".asoundrc").write_text(ASOUNDRC.format(home=home))
    tone = np.sin(2 * np.pi * 700 * np.arange(2 * RATE) / RATE) * 8000
    tone.astype("<i2").tofile(home / "in.raw")
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, str(SCRIPT), scenario], capture_output=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    summary: dict[str, Any] = json.loads(result.stdout.decode().strip().splitlines()[-1])
    return summary


def test_speaker_plays_what_it_is_given(tmp_path: Path) -> None:
    summary = run(tmp_path / "home", "submit")
    assert abs(summary["hz"] - 440) <= 5, summary
    assert summary["played_in_order"], summary
    assert 0 <= summary["unplayed"] < RATE * 60 // 1000, summary  # below the 60 ms preroll
    assert summary["dropped_ms"] == 0, summary


def test_speaker_plays_a_received_track(tmp_path: Path) -> None:
    summary = run(tmp_path / "home", "tone")
    assert summary["track"] == "main_audio", summary
    assert summary["hz"] is not None and abs(summary["hz"] - 880) <= 5, summary


def test_microphone_pushes_the_device_into_the_track(tmp_path: Path) -> None:
    summary = run(tmp_path / "home", "capture")
    assert summary["pushes"] == summary["blocks_sent"] > 0, summary
    assert summary["block_shapes"] == [[480, 1]], summary  # 10 ms blocks
    assert summary["formats"] == [[RATE, 1]], summary
    assert summary["matches_source"], summary
    assert summary["echo_blocks"] > 0, summary
    assert summary["echo_hz"] is not None and abs(summary["echo_hz"] - 700) <= 15, summary


def test_microphone_is_refused_in_a_stepped_session(tmp_path: Path) -> None:
    assert run(tmp_path / "home", "stepped") == {"refused": "InvalidStateError"}


def test_without_sounddevice_use_raises_a_clear_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from reactor_anyio import audio_devices
    from reactor_proto.client.audio import AudioFormatError

    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails
    speaker = audio_devices.Speaker()  # constructing needs nothing
    with pytest.raises(ModuleNotFoundError, match="audio-devices"):
        speaker.start()
    with pytest.raises(AudioFormatError):
        audio_devices.Microphone(object(), sample_rate=22_050)  # type: ignore[arg-type]
