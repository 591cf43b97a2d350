"""A model that returns bad audio: too few or too many samples, the wrong dtype or shape,
NaN, nothing, an exception, or takes too long.  Every frame sent is still exact (padded or
silent), the cases are counted, the buffer stays bounded, and video keeps flowing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import numpy as np
import pytest

from reactor_anyio.http import HttpClient
from reactor_anyio.models import Model, TrackSpec
from reactor_anyio.runtime import LocalRuntime
from reactor_anyio.runtime.audio_media import AudioFanout
from reactor_proto.runtime.audio import AudioFormat

from .plain_client import PlainClient, wait_for

FMT = AudioFormat()
FRAME = FMT.frame_samples


def chunk(samples: int, value: float = 0.25, dtype: Any = np.int16,
          channels: int = 1) -> np.ndarray:
    if np.dtype(dtype).kind == "f":
        return np.full((samples, channels), value, dtype=dtype)
    return np.full((samples, channels), int(value * 32767), dtype=dtype)


def raising(track: str, now: float) -> Any:
    raise ValueError("broken model")


def nan_chunk(track: str, now: float) -> Any:
    out = chunk(FRAME, dtype=np.float32)
    out[10] = np.nan
    return out


BEHAVIOURS: dict[str, Callable[[str, float], Any]] = {
    "short": lambda t, n: chunk(100),
    "long": lambda t, n: chunk(48_000),
    "int32": lambda t, n: chunk(FRAME, dtype=np.int32),
    "stereo": lambda t, n: chunk(FRAME, channels=2),
    "nan": nan_chunk,
    "list": lambda t, n: [0] * FRAME,
    "none": lambda t, n: None,
    "raise": raising,
    "float": lambda t, n: chunk(FRAME, value=2.0, dtype=np.float64),
}


def run_fanout(produce: Callable[[str, float], Any], seconds: float = 0.5) -> tuple[
        AudioFanout, list[np.ndarray]]:
    # 0.5 s: the thread produces 60 ms batches, the first one 40 ms after its first frame
    fanout = AudioFanout("main_audio", produce, FMT)
    frames: list[np.ndarray] = []
    fanout.tap = lambda pcm, pts: frames.append(pcm)
    subscriber = fanout.subscribe()
    fanout.set_flowing(subscriber, True)
    time.sleep(seconds)
    fanout.stop()
    assert fanout.join(2.0)
    assert subscriber.frames_dropped > 0 or subscriber.frames_sent == 0  # bounded queue
    return fanout, frames


@pytest.mark.parametrize("behaviour", sorted(BEHAVIOURS))
def test_every_frame_is_exact_whatever_the_model_returns(behaviour: str) -> None:
    fanout, frames = run_fanout(BEHAVIOURS[behaviour])
    assert fanout.frames_produced >= 5
    assert frames and all(f.shape == (FRAME, 1) and f.dtype == np.int16 for f in frames)
    stats = fanout.stats
    assert stats.frames == fanout.frames_produced
    # bounded: at most max_calls model calls per frame
    assert stats.chunks <= 4 * stats.frames
    if behaviour == "short":
        assert stats.underruns == stats.frames and stats.chunks == 4 * stats.frames
        assert int(frames[-1][399, 0]) != 0 and int(frames[-1][400, 0]) == 0
    elif behaviour == "long":
        assert stats.dropped_samples >= 48_000 - 5 * FRAME and stats.underruns == 0
    elif behaviour == "float":
        assert int(frames[-1][0, 0]) == 32767 and stats.refused == {}  # clipped to 1.0
    else:
        reason = {"int32": "dtype", "stereo": "shape", "nan": "non_finite", "list": "dtype",
                  "none": "none", "raise": "error"}[behaviour]
        assert set(stats.refused) == {reason} and stats.underruns == stats.frames
        assert all(not f.any() for f in frames)  # silence, one call per frame
        assert stats.chunks == stats.frames


def test_a_slow_model_skips_frames_instead_of_bursting() -> None:
    def slow(track: str, now: float) -> Any:
        time.sleep(0.15)
        return chunk(FRAME)

    fanout, _ = run_fanout(slow, seconds=0.8)
    assert fanout.skipped_frames > 0
    assert fanout.frames_produced <= 8


# ---- over WebRTC: video keeps its rate whatever the audio does --------------------------


class BadAudio(Model):
    name = "bad_audio"
    fps = 30.0
    outputs = (TrackSpec(name="main_video", width=160, height=96),
               TrackSpec(name="main_audio", kind="audio"))
    behaviour = "raise"

    def produce_frame(self, track: str, now: float) -> np.ndarray:
        return np.full((96, 160, 3), 90, dtype=np.uint8)

    def produce_audio(self, track: str, now: float) -> Any:
        if self.behaviour == "sluggish":
            time.sleep(0.1)
            return chunk(FRAME)
        return BEHAVIOURS[self.behaviour](track, now)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the plain client is aiortc, asyncio only


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    async with HttpClient() as client:
        yield client


@pytest.mark.anyio
@pytest.mark.e2e
@pytest.mark.parametrize("behaviour", ["raise", "nan", "long", "short", "sluggish"])
async def test_video_keeps_flowing_beside_bad_audio(http: HttpClient, behaviour: str) -> None:
    model = type("BadAudio_" + behaviour, (BadAudio,), {"behaviour": behaviour})
    async with LocalRuntime(model) as runtime:
        client = PlainClient(runtime.url, http, (("main_video", "video", "recvonly"),
                                                 ("main_audio", "audio", "recvonly")))
        try:
            await client.connect()
            client.notify("resume_track", "main_video")
            client.notify("resume_track", "main_audio")
            await wait_for(lambda: client.video_frames >= 3)
            before, start = client.video_frames, time.monotonic()
            await anyio.sleep(1.5)
            fps = (client.video_frames - before) / (time.monotonic() - start)
            assert fps > 20, fps
            await wait_for(lambda: len(client.received("main_audio")) > 0)
            stats = runtime.audio_stats("main_audio")
            assert stats.frames > 0
            if behaviour in ("raise", "nan"):
                assert sum(stats.refused.values()) > 0
        finally:
            await client.aclose()
