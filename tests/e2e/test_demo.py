"""The main job: ``reactor demo`` writes a playable video and a labelled contact sheet."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from reactor_anyio.cli import main
from reactor_anyio.demo import run_demo

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """The demo is a command-line program that runs its own asyncio runtime in-process."""
    return "asyncio"


async def test_demo_records_video_and_contact_sheet(tmp_path: Path) -> None:
    summary = await run_demo(tmp_path, 2.5, stream=io.StringIO(), width=320, height=180,
                             fps=24)
    assert summary.frames >= 20
    assert summary.ready_ms > 0 and summary.first_frame_ms is not None
    assert summary.messages >= 5  # seed_set, prompt_scheduled x3, generation_started, state
    with av.open(str(summary.video)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == summary.frames
    assert decoded[0].shape == (180, 320, 3)
    with av.open(str(summary.contact_sheet)) as container:
        sheet = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert sheet.shape[0] > 180 and sheet.shape[1] > 320
    assert float(np.std(sheet)) > 10  # real pictures, not a blank canvas
    assert any("time to READY" in line for line in summary.lines())
    # the last seconds, as the runtime recorded them (§10), fetched through the protocol
    assert summary.clip == tmp_path / "clip.mp4" and summary.clip_seconds >= 2.0
    with av.open(str(summary.clip)) as container:
        clip = [f.time for f in container.decode(video=0)]
    assert len(clip) >= 40 and (clip[-1] or 0.0) - (clip[0] or 0.0) >= 2.0 - 0.1


def test_cli_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in ("serve", "coordinator", "demo"):
        assert command in out
