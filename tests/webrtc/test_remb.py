"""QuickOveruseEstimator (reactor_anyio.webrtc.remb) computes exactly what aiortc's
OveruseEstimator computes, and quick_remb swaps it only into a fresh receiver."""

from __future__ import annotations

import math
import time
from typing import Any

from aiortc.rate import BandwidthUsage, OveruseEstimator, RemoteBitrateEstimator
from hypothesis import given
from hypothesis import strategies as st

from reactor_anyio.webrtc.remb import QuickOveruseEstimator, quick_remb

DELTAS = st.floats(min_value=-50.0, max_value=200.0, allow_nan=False) | st.sampled_from(
    [0.0, -0.0, 33.0, 33.333333333333336, 1e-9])
UPDATES = st.lists(st.tuples(st.integers(-100, 400), DELTAS, st.integers(-20000, 20000),
                             st.sampled_from(BandwidthUsage), st.integers(0, 10**9)),
                   max_size=200)


def _state(estimator: OveruseEstimator) -> tuple[Any, ...]:
    bits = [math.copysign(1.0, v) for v in estimator.ts_delta_hist]  # -0.0 kept apart
    return (estimator.E, estimator.offset(), estimator.previous_offset, estimator.slope,
            estimator.avg_noise, estimator.var_noise, estimator.num_of_deltas(),
            estimator.ts_delta_hist, bits)


@given(UPDATES)
def test_the_same_filter_state_after_every_update(updates: list[Any]) -> None:
    theirs, ours = OveruseEstimator(), QuickOveruseEstimator()
    for update in updates:
        theirs.update(*update)
        ours.update(*update)
        assert _state(ours) == _state(theirs)


@given(st.lists(DELTAS, max_size=150))
def test_the_same_smallest_frame_period(deltas: list[float]) -> None:
    theirs, ours = OveruseEstimator(), QuickOveruseEstimator()
    for delta in deltas:
        expected, got = theirs.update_min_frame_period(delta), ours.update_min_frame_period(delta)
        assert (got, math.copysign(1.0, got)) == (expected, math.copysign(1.0, expected))


def test_cheaper_than_aiortcs_loop() -> None:
    def cost(estimator: OveruseEstimator) -> float:
        for _ in range(60):
            estimator.update_min_frame_period(33.0)
        started = time.thread_time()
        for i in range(3000):
            estimator.update_min_frame_period(33.0 + i % 7)
        return time.thread_time() - started

    theirs = min(cost(OveruseEstimator()) for _ in range(3))
    ours = min(cost(QuickOveruseEstimator()) for _ in range(3))
    assert ours < theirs / 2


class FakeReceiver:
    def __init__(self) -> None:
        self._RTCRtpReceiver__remote_bitrate_estimator = RemoteBitrateEstimator()


def test_swapped_into_a_fresh_receiver_only() -> None:
    receiver = FakeReceiver()
    assert quick_remb(receiver)
    assert type(receiver._RTCRtpReceiver__remote_bitrate_estimator.estimator) is (
        QuickOveruseEstimator)
    assert quick_remb(receiver)  # already has it
    used = FakeReceiver()
    used._RTCRtpReceiver__remote_bitrate_estimator.estimator.update(
        5, 33.0, 100, BandwidthUsage.NORMAL, 0)
    assert not quick_remb(used)
    assert type(used._RTCRtpReceiver__remote_bitrate_estimator.estimator) is OveruseEstimator
    assert not quick_remb(object())


def test_the_same_remb_for_the_same_packets() -> None:
    theirs, ours = RemoteBitrateEstimator(), RemoteBitrateEstimator()
    ours.estimator = QuickOveruseEstimator()
    estimates = []
    for packet in range(3000):  # 30 fps, 8 packets a frame, send time in 6.18 fixed point
        frame, index = divmod(packet, 8)
        send_ms = frame * 33 + index
        arrival = send_ms + 20 + (packet * 7919) % 5
        args = {"arrival_time_ms": arrival, "abs_send_time": (send_ms << 18) // 1000
                & 0xFFFFFF, "payload_size": 1100 + packet % 300, "ssrc": 1234}
        estimate = ours.add(**args)
        assert estimate == theirs.add(**args)
        if estimate is not None:
            estimates.append(estimate[0])
    assert len(estimates) > 5 and len(set(estimates)) > 1  # REMBs sent, and they moved
