"""The official ``reactor-sdk==0.8.0`` client, unmodified and in its own process, asks our
runtime for a 4 s clip and downloads it; the bytes decode with PyAV and hold >= 4 s (§10).

Same set-up as ``test_official_client.py`` (the cached ``.venv-official/``, port 8080).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reactor_anyio.runtime import LocalRuntime

from .test_official_client import LOCAL_PORT, official_python_or_skip, run_script

pytestmark = pytest.mark.anyio

SCRIPT = Path(__file__).with_name("official_clip_script.py")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_official_client_downloads_a_clip_that_decodes(tmp_path: Path) -> None:
    python = official_python_or_skip()
    async with LocalRuntime("helios", port=LOCAL_PORT, recording_dir=str(tmp_path)) as runtime:
        summary = await run_script(python, "5.0", "4.0", script=SCRIPT)
        print("official 0.8.0 clip:", summary)
        assert runtime.recordings.tracks == ("main_video",)
    assert summary["kind"] == "snap"
    assert summary["clip_seconds"] >= 4.0
    assert summary["seconds"] >= 4.0, summary
    assert summary["frames"] >= 100, summary
    assert summary["size"] == [640, 360]
    # the recording directory is gone once the runtime stops
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 - after the runtime stopped
