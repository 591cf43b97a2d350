"""The recorder keeps the model's audio beside the video: ``tone`` is recorded end to end, a
clip is asked for over the wire and downloaded, and PyAV finds an AAC stream in it whose
frequency is the one commanded (440 Hz, then 1000 Hz after ``set_frequency``) and whose
length matches the video's.  Plus the pieces: the placer's gaps and overlaps, a recorder fed
by hand, a remux that keeps both streams, and a clip of a model without audio that stays
video only."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import anyio
import av
import numpy as np
import pytest

from reactor_anyio.client.reactor import Reactor
from reactor_anyio.demo_clip import fetch_clip
from reactor_anyio.recording import AudioFeed, Recorder, remux
from reactor_anyio.recording.audio import AAC_DELAY, AudioPlacer
from reactor_anyio.runtime import LocalRuntime
from reactor_proto.recording import ClipPlan, PlaylistReady, RecordingConfig
from tests.interop.netns import Namespace
from tests.interop.test_sdk113_client import PORT, Served, netns, require_sdk
from tests.interop.test_sdk113_clip import run_clip

from .conftest import counter_frame

__all__ = ["netns"]  # the fixture, imported for pytest

RATE = 48_000


def dominant_hz(samples: np.ndarray[Any, Any], rate: int = RATE) -> float:
    samples = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum) * rate / len(samples))


def streams_of(data: bytes | str) -> tuple[float, float, np.ndarray[Any, Any], float]:
    """(video seconds, audio seconds, mono audio samples, audio start - video start)."""
    source: Any = io.BytesIO(data) if isinstance(data, bytes) else data
    with av.open(source) as container:
        assert len(container.streams.audio) == 1, "no audio stream"
        video_times = [float(f.time or 0.0) for f in container.decode(video=0)]
    with av.open(io.BytesIO(data) if isinstance(data, bytes) else data) as container:
        frames = list(container.decode(audio=0))
    assert frames and video_times
    rate = frames[0].sample_rate
    samples = np.concatenate([f.to_ndarray()[0] for f in frames])
    fps_step = (video_times[-1] - video_times[0]) / max(1, len(video_times) - 1)
    video_seconds = video_times[-1] - video_times[0] + fps_step
    audio_seconds = len(samples) / rate
    offset = float(frames[0].time or 0.0) - video_times[0]
    return video_seconds, audio_seconds, samples, offset


def sine(hz: float, count: int, start: int = 0) -> np.ndarray[Any, Any]:
    t = (np.arange(count) + start) / RATE
    return (np.sin(2 * np.pi * hz * t) * 12_000).astype(np.int16).reshape(-1, 1)


# ---- end to end: tone -----------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_tone_clip_has_the_commanded_audio(anyio_backend: str, tmp_path: Path) -> None:
    async with LocalRuntime("tone", model_options={"fps": 30}, chunk_seconds=1.0,
                            recording_dir=str(tmp_path)) as runtime, \
            Reactor(model_name="tone", local=True, api_url=runtime.url,
                    wire="v0") as reactor:
        await reactor.connect()
        await reactor.send_command("set_frequency", {"hz": 440})
        await anyio.sleep(2.5)
        await reactor.send_command("set_frequency", {"hz": 1000})
        await anyio.sleep(2.0)
        clip, data = await fetch_clip(reactor, runtime.url, 4.0)
        await reactor.disconnect()
    assert clip.duration_seconds >= 4.0
    # the clip starts >= 0.5 s before the switch and ends ~2 s after it
    check_tone_clip(data)
    flat = remux(data, tmp_path / "clip.mp4")
    video_flat, audio_flat, _, _ = streams_of(str(flat))
    assert abs(video_flat - audio_flat) < 0.2


def check_tone_clip(data: bytes) -> None:
    """Both streams, as long as each other, 440 Hz at the start and 1000 Hz at the end."""
    video_seconds, audio_seconds, samples, offset = streams_of(data)
    assert video_seconds >= 3.9
    assert abs(video_seconds - audio_seconds) < 0.2, (video_seconds, audio_seconds)
    assert abs(offset) < 0.2, offset
    head = samples[round(0.05 * RATE):round(0.45 * RATE)]
    tail = samples[-round(1.5 * RATE):-round(0.3 * RATE)]
    assert dominant_hz(head) == pytest.approx(440, abs=10)
    assert dominant_hz(tail) == pytest.approx(1000, abs=10)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_tone_clip_over_the_v1_control_channel(anyio_backend: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The v1 wire's ``RequestClip`` (1.x clients) gets the same clip, audio included; a
    hand-driven v1 connection (the e2e tests' client) resumes both outputs."""
    from reactor_anyio.http import HttpClient
    from reactor_anyio.webrtc import ClientPeer, TrackSpec
    from reactor_proto.recording import Clip
    from reactor_proto.wire_v1 import ClipReady, RequestClip, ResumeTrack
    from tests.e2e import test_runtime_v1
    from tests.e2e.conftest import wait_for
    from tests.e2e.test_runtime_clips import fetch_clip as fetch_ready

    monkeypatch.setattr(test_runtime_v1, "ECHO_TRACKS", (
        TrackSpec(name="main_video", kind="video", direction="recvonly"),
        TrackSpec(name="main_audio", kind="audio", direction="recvonly")))
    video_only = ClientPeer.set_frame_callback  # that client counts video frames only
    monkeypatch.setattr(ClientPeer, "set_frame_callback", lambda peer, name, callback: (
        None if name == "main_audio" else video_only(peer, name, callback)))
    async with LocalRuntime("tone", model_options={"fps": 30}, chunk_seconds=1.0
                            ) as runtime, HttpClient() as http:
        client = test_runtime_v1.V1Client(runtime, http, chunked=False)
        try:
            await client.start_session()
            await client.connect()
            client.control_v1(ResumeTrack(name="main_video"))
            client.control_v1(ResumeTrack(name="main_audio"))
            client.command_v1("set_frequency", {"hz": 440}, "c1")
            await anyio.sleep(2.5)
            client.command_v1("set_frequency", {"hz": 1000}, "c2")
            await anyio.sleep(2.0)
            client.control_v1(RequestClip(duration_seconds=4.0), "k1")
            await wait_for(lambda: client.control_reply("k1") is not None)
            reply = client.control_reply("k1")
            assert reply is not None and isinstance(reply.payload, ClipReady), reply
            data = await fetch_ready(http, runtime.url, Clip.from_v1(reply.payload))
        finally:
            await client.aclose()
    check_tone_clip(data)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_model_without_audio_records_video_only(anyio_backend: str) -> None:
    async with LocalRuntime("helios", model_options={"fps": 30}, chunk_seconds=1.0
                            ) as runtime, \
            Reactor(model_name="helios", local=True, api_url=runtime.url,
                    wire="v0") as reactor:
        await reactor.connect()
        await anyio.sleep(1.5)
        _, data = await fetch_clip(reactor, runtime.url, 1.0)
        await reactor.disconnect()
    with av.open(io.BytesIO(data)) as container:
        assert len(container.streams.video) == 1 and not container.streams.audio


# ---- the pieces -----------------------------------------------------------------------------


def test_placer_follows_fills_gaps_and_cuts_overlaps() -> None:
    placer = AudioPlacer(RATE, 1, max_gap=1.0)
    pcm = sine(440, 960)
    ((_, first),) = placer.place(pcm, 0.0)
    assert first == AAC_DELAY  # no negative timestamps for the encoder's delay
    ((_, second),) = placer.place(pcm, 0.0205)  # jitter: stays contiguous
    assert second == AAC_DELAY + 960
    parts = placer.place(pcm, 0.5)  # a gap: silence, then the frame where it belongs
    assert [p for _, p in parts] == [AAC_DELAY + 1920, round(0.5 * RATE)]
    assert not parts[0][0].any()
    assert placer.place(pcm, 0.3) == []  # far behind: cut
    assert placer.cut_samples == 960
    parts = placer.place(pcm, 30.0)  # a long gap: silence bounded by max_gap
    assert len(parts[0][0]) == RATE
    ((gap, _),) = placer.pad_to(placer.cursor + 5 * RATE, gap=False)  # audio stopped
    assert len(gap) == 5 * RATE


def test_recorder_records_fed_audio_and_closes_chunks_without_it(tmp_path: Path) -> None:
    feed = AudioFeed("main_audio", sample_rate=RATE, channels=1, epoch=0.0)
    config = RecordingConfig(chunk_seconds=1.0)
    with Recorder(config, parent_dir=tmp_path, audio=feed) as recorder:
        for n in range(75):  # 2.5 s of video, audio for the first 2 s only
            recorder.offer(counter_frame(n), pts_seconds=n / 30)
            if n < 60 and n % 3 == 0:
                start = round(n / 30 * RATE)
                feed(sine(440, 1600, start), start)
            assert recorder.idle()
        plan = recorder.request_clip(2.0)
        assert isinstance(plan, ClipPlan)
        for n in range(75, 80):
            recorder.offer(counter_frame(n), pts_seconds=n / 30)
        assert recorder.idle()
        for _ in range(50):  # audio stopped: the recorder pads it so the chunk closes
            if isinstance(recorder.answer(plan.clip.start_marker, plan.clip.end_marker),
                          PlaylistReady):
                break
            time.sleep(0.05)
        data = recorder.clip_bytes(plan.clip.start_marker, plan.clip.end_marker)
        assert recorder.audio_dropped == 0
    video_seconds, audio_seconds, samples, _ = streams_of(data)
    assert abs(video_seconds - audio_seconds) < 0.25, (video_seconds, audio_seconds)
    assert dominant_hz(samples[:RATE // 2]) == pytest.approx(440, abs=10)


def test_a_recording_whose_audio_never_flows_still_closes_its_chunks(tmp_path: Path) -> None:
    """An audio output nobody resumed (an old client receives video only): the recorder
    writes silence as far as the video goes, so a clip is ready at once, 4 s chunks too."""
    feed = AudioFeed("main_audio", sample_rate=RATE, channels=1, epoch=0.0)
    with Recorder(RecordingConfig(), parent_dir=tmp_path, audio=feed) as recorder:
        for n in range(150):
            recorder.offer(counter_frame(n), pts_seconds=n / 30)
            if n % 8 == 0:
                assert recorder.idle()
        assert recorder.idle()
        plan = recorder.request_clip(2.0)
        assert isinstance(plan, ClipPlan)
        recorder.offer(counter_frame(150), pts_seconds=5.0)
        asked = time.monotonic()
        while not isinstance(recorder.answer(plan.clip.start_marker, plan.clip.end_marker),
                             PlaylistReady):
            assert time.monotonic() - asked < 1.0, "the boundary chunk did not close"
            time.sleep(0.02)
        data = recorder.clip_bytes(plan.clip.start_marker, plan.clip.end_marker)
    video_seconds, audio_seconds, samples, _ = streams_of(data)
    assert abs(video_seconds - audio_seconds) < 0.2, (video_seconds, audio_seconds)
    assert not np.abs(samples).max() > 0.01  # silence


# ---- the official 1.13.0 client (v1 wire) -----------------------------------------------------


def test_sdk113_downloads_a_tone_clip_with_audio(netns: Namespace, tmp_path: Path) -> None:
    """The unmodified ``reactor-sdk==1.13.0`` (which receives ``tone``'s audio) asks
    ``reactor serve --model tone`` for ``download_clip(4)``: the file has both streams, of
    the same length, the audio at the default 440 Hz.  Same set-up as the interop clip test
    (side venv, network namespace)."""
    python = require_sdk()
    served = Served(netns, "serve", "--model", "tone", "--host", netns.server_address,
                    "--port", str(PORT), "--ice-host-address", netns.server_address)
    clip = tmp_path / "clip.mp4"
    try:
        run_clip(netns, python, f"http://{netns.server_address}:{PORT}", str(clip))
    finally:
        served.stop()
    video_seconds, audio_seconds, samples, _ = streams_of(str(clip))
    assert video_seconds >= 4.0
    assert abs(video_seconds - audio_seconds) < 0.2, (video_seconds, audio_seconds)
    assert dominant_hz(samples[RATE // 2:RATE * 3 // 2]) == pytest.approx(440, abs=10)
