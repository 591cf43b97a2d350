"""The official ``reactor-sdk==0.8.0`` client, unmodified and in its own process, against our
runtime serving ``tone``: a video track and an audio track (48 kHz mono).

0.8.0 builds its offer from the runtime's capabilities, one transceiver per track, so the
offer has an audio m-line; the client shows video frames to its frame callback and hands the
audio track to ``track_received`` handlers.  It connects, receives both, changes the
frequency, and downloads a clip that holds H.264 video and AAC audio at the new frequency
(§10, docs/protocol/10-recording.md).  Same set-up as ``test_official_client.py`` (the cached
``.venv-official/``, port 8080).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reactor_anyio.runtime import LocalRuntime

from .test_official_client import LOCAL_PORT, official_python_or_skip, run_script

pytestmark = pytest.mark.anyio

SCRIPT = Path(__file__).with_name("official_tone_script.py")
TOLERANCE_HZ = 10.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_official_client_receives_tone_and_downloads_its_clip(tmp_path: Path) -> None:
    python = official_python_or_skip()
    async with LocalRuntime("tone", port=LOCAL_PORT, recording_dir=str(tmp_path)):
        summary = await run_script(python, "6.0", "4.0", script=SCRIPT)
    print("official 0.8.0 against tone:", summary)
    assert summary["statuses"][-1] == "disconnected", summary
    assert "ready" in summary["statuses"], summary
    assert summary["tracks"] == ["main_audio:audio", "main_video:video"], summary
    # video: the frequency card, 320x180 at 15 fps, over about 6 s
    assert summary["frames"] >= 30, summary
    assert summary["frame_shape"] == [180, 320, 3], summary
    # audio: the sine arrives, and follows set_frequency
    assert summary["audio_error"] is None, summary
    assert summary["audio_rate"] == 48_000, summary
    assert summary["audio_samples"] >= 48_000, summary
    assert abs(summary["before_hz"] - 440) < TOLERANCE_HZ, summary
    assert abs(summary["after_hz"] - 1000) < TOLERANCE_HZ, summary
    # the clip: both streams, >= 4 s of each, the audio at the frequency then played
    clip = summary["clip"]
    assert clip["video_streams"] == 1 and clip["audio_streams"] == 1, clip
    assert clip["size"] == [320, 180], clip
    assert clip["frames"] >= 4 * 15 - 2 and clip["seconds"] >= 3.9, clip
    assert clip["audio_codec"] == "aac" and clip["audio_rate"] == 48_000, clip
    assert clip["audio_seconds"] >= 3.9, clip
    assert abs(clip["audio_hz"] - 1000) < TOLERANCE_HZ, clip
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 - after the runtime stopped
