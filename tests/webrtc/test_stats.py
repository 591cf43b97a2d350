"""The stats summary."""

from __future__ import annotations

import types

from reactor_anyio.webrtc.stats import FpsMeter, TrackFrameStats, summarize


def stat(**fields: object) -> types.SimpleNamespace:
    return types.SimpleNamespace(**fields)


def test_summarize_folds_the_report() -> None:
    report = {
        "a": stat(type="inbound-rtp", kind="video", packetsLost=2, packetsReceived=90,
                  jitter=900),
        "b": stat(type="inbound-rtp", kind="audio", packetsLost=1, packetsReceived=10,
                  jitter=None),
        "c": stat(type="remote-inbound-rtp", roundTripTime=0.01),
        "d": stat(type="remote-inbound-rtp", roundTripTime=0.03),
        "e": stat(type="transport", id="t1", bytesSent=100, bytesReceived=200),
        "f": stat(type="transport", id="t1", bytesSent=100, bytesReceived=200),
        "g": stat(type="outbound-rtp"),
        "h": stat(type="remote-inbound-rtp", roundTripTime=None),
        "i": stat(type="inbound-rtp", kind="audio", packetsLost=0, packetsReceived=1,
                  jitter=480),
    }
    tracks = {"main": TrackFrameStats(frames_received=5, frames_dropped=1, fps=29.5)}
    stats = summarize(report, tracks)
    assert (stats.packets_lost, stats.packets_received) == (3, 101)
    assert stats.rtt == 0.03
    assert stats.jitter == 0.01
    assert (stats.bytes_sent, stats.bytes_received) == (100, 200)
    assert stats.tracks == tracks
    empty = summarize({}, {})
    assert (empty.rtt, empty.jitter, empty.bytes_sent) == (None, None, 0)


def test_fps_meter() -> None:
    meter = FpsMeter(window=1.0)
    assert meter.fps(0.0) == 0.0
    meter.tick(0.0)
    meter.tick(0.0)
    assert meter.fps(0.0) == 0.0  # no span yet
    meter = FpsMeter(window=1.0)
    for i in range(31):
        meter.tick(i / 30)
    assert abs(meter.fps(1.0) - 30.0) < 0.01
    assert meter.fps(5.0) == 0.0
