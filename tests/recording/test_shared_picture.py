"""The runtime converts a produced frame to ``yuv420p`` once and shares it between the viewers'
encoders and the recorder (``reactor_anyio.runtime.picture``): the same pixels aiortc's own
conversion gives, one frame object per consumer, and the recorder records it as before."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from reactor_anyio.recording import Recorder
from reactor_anyio.runtime.picture import to_yuv420, video_frame
from reactor_proto.recording import ClipPlan, PlaylistReady, RecordingConfig

from .conftest import FPS, counter_frame, read_counter


def planes(frame: av.VideoFrame) -> list[np.ndarray]:
    return [np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:, :p.width]
            for p in frame.planes]


@pytest.mark.parametrize(("width", "height"), [(640, 360), (322, 182), (16, 16)])
def test_the_shared_picture_is_what_the_encoders_would_convert(width: int, height: int) -> None:
    rgb = np.random.default_rng(width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    picture = to_yuv420(rgb)
    assert picture.shape == (height * 3 // 2, width)
    frame = video_frame(picture)
    assert frame.format.name == "yuv420p" and (frame.width, frame.height) == (width, height)
    expected = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    for got, want in zip(planes(frame), planes(expected), strict=True):
        assert np.array_equal(got, want)


def test_each_consumer_gets_its_own_frame_over_the_same_pixels() -> None:
    picture = to_yuv420(np.full((4, 6, 3), 200, dtype=np.uint8))
    first, second = video_frame(picture), video_frame(picture)
    first.pts, second.pts = 1, 2
    assert first is not second and (first.pts, second.pts) == (1, 2)
    assert np.array_equal(planes(first)[0], planes(second)[0])


def test_an_odd_sided_frame_stays_rgb() -> None:
    rgb = np.full((5, 7, 3), 90, dtype=np.uint8)
    picture = to_yuv420(rgb)
    assert picture is rgb
    frame = video_frame(picture)
    assert frame.format.name == "rgb24" and (frame.width, frame.height) == (7, 5)


def test_the_recorder_records_shared_pictures(tmp_path: Path) -> None:
    with Recorder(RecordingConfig(chunk_seconds=0.5), parent_dir=tmp_path) as recorder:
        for n in range(2 * FPS):
            picture = to_yuv420(counter_frame(n).to_ndarray(format="rgb24"))
            assert recorder.offer(video_frame(picture), pts_seconds=n / FPS)
            if n % 10 == 9:
                assert recorder.idle()
        plan = recorder.request_clip(1.0)
        assert isinstance(plan, ClipPlan)
        for n in range(2 * FPS, 2 * FPS + 20):  # frames go on: the boundary chunk closes
            recorder.offer(video_frame(to_yuv420(counter_frame(n).to_ndarray(
                format="rgb24"))), pts_seconds=n / FPS)
        assert recorder.idle()
        assert isinstance(recorder.answer(plan.clip.start_marker, plan.clip.end_marker),
                          PlaylistReady)
        data = recorder.clip_bytes(plan.clip.start_marker, plan.clip.end_marker)
    with av.open(io.BytesIO(data)) as container:
        counters = [read_counter(f) for f in container.decode(video=0)]
    assert len(counters) >= FPS
    assert counters == list(range(counters[0], counters[0] + len(counters)))
