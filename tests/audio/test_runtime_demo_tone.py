"""``reactor demo --model tone`` writes one MP4 with both streams: H.264 video and AAC audio
whose sine steps through the commanded frequencies in order."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from reactor_anyio.demo_tone import RATE, STEPS, dominant_hz, run_tone_demo

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_tone_demo_writes_video_and_audio(tmp_path: Path) -> None:
    summary = await run_tone_demo(tmp_path, 3.0, stream=io.StringIO())
    assert summary.frames > 10 and summary.audio_seconds > 2.0
    for commanded, heard in summary.heard:
        assert abs(heard - commanded) < 10, summary.heard
    with av.open(str(summary.video)) as container:
        assert len(container.streams.video) == 1 and len(container.streams.audio) == 1
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "aac" and audio.sample_rate == RATE
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio)])
    third = len(samples) // 3
    heard = [dominant_hz((samples[i * third + third // 4:i * third + 3 * third // 4]
                          * 32767).astype(np.int16)) for i in range(3)]
    assert all(abs(h - c) < 15 for h, c in zip(heard, STEPS, strict=True)), heard
