"""The runtime's audio thread wakes once per batch (``BATCH_MS`` of frames): every frame of a
batch is due when it is produced (none ahead of its time), the batch's packets reach the
subscriber in one offer, and the packets' ``pts`` run on without gaps, as before."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from reactor_anyio.runtime.audio_media import BATCH_MS, AudioFanout
from reactor_anyio.webrtc.audio_source import OpusPacket, QueuedAudioTrack
from reactor_proto.runtime.audio import AudioFormat


class Recorder:
    """A model and a subscriber's offers, with when each happened."""

    def __init__(self, fmt: AudioFormat) -> None:
        self.fmt = fmt
        self.calls: list[tuple[float, float]] = []  # (the frame's due time, wall clock)
        self.offers: list[list[OpusPacket]] = []

    def produce(self, track: str, now: float) -> Any:
        self.calls.append((now, time.monotonic()))
        return np.full((self.fmt.frame_samples, self.fmt.channels), 1000, dtype=np.int16)


def run(fmt: AudioFormat, seconds: float = 0.5, **kwargs: Any) -> tuple[AudioFanout, Recorder]:
    recorder = Recorder(fmt)
    fanout = AudioFanout("main_audio", recorder.produce, fmt, **kwargs)
    subscriber = fanout.subscribe()
    original = QueuedAudioTrack.offer

    def offer(packets: list[OpusPacket]) -> None:
        recorder.offers.append(list(packets))
        original(subscriber, packets)

    subscriber.offer = offer  # type: ignore[method-assign]
    fanout.set_flowing(subscriber, True)
    time.sleep(seconds)
    fanout.stop()
    assert fanout.join(2.0)
    return fanout, recorder


@pytest.mark.parametrize(("frame_ms", "batch"), [(20, 3), (10, 6), (40, 1), (60, 1)])
def test_batch_size_follows_the_frame_length(frame_ms: int, batch: int) -> None:
    assert BATCH_MS == 60
    fanout = AudioFanout("main_audio", lambda t, n: None, AudioFormat(frame_ms=frame_ms))
    assert fanout.batch == batch
    assert AudioFanout("main_audio", lambda t, n: None, AudioFormat(frame_ms=frame_ms),
                       batch_ms=1).batch == 1


def test_a_batch_is_one_offer_of_due_frames_with_contiguous_pts() -> None:
    fmt = AudioFormat()
    fanout, recorder = run(fmt)
    assert fanout.frames_produced >= 9
    # whole batches, each in one offer (the thread stops between batches)
    assert [len(offer) for offer in recorder.offers] == [3] * len(recorder.offers)
    packets = [packet for offer in recorder.offers for packet in offer]
    assert len(packets) == fanout.frames_produced
    pts = [int(packet.pts or 0) for packet in packets]
    assert pts == list(range(pts[0], pts[0] + 960 * len(pts), 960))
    # frames are due 20 ms apart, and none is produced before its time
    dues = [due for due, _ in recorder.calls]
    assert np.allclose(np.diff(dues), fmt.frame_period)
    assert all(wall >= due - 1e-3 for due, wall in recorder.calls)
    # the batch waits for its last frame: the first one is produced about 40 ms late
    first_due, first_wall = recorder.calls[0]
    assert first_wall - first_due >= 2 * fmt.frame_period - 5e-3
    assert fanout.skipped_frames == 0


def test_batch_of_one_offers_every_frame_when_due() -> None:
    fanout, recorder = run(AudioFormat(), batch_ms=20)
    assert fanout.frames_produced >= 9
    assert {len(offer) for offer in recorder.offers} == {1}
