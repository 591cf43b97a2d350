"""The answer's max-message-size guard and the stats summary."""

from __future__ import annotations

import types

from hypothesis import given
from hypothesis import strategies as st

from reactor_anyio.webrtc import ensure_max_message_size
from reactor_anyio.webrtc.stats import FpsMeter, TrackFrameStats, summarize

ANSWER = "\r\n".join([
    "v=0", "m=video 9 UDP/TLS/RTP/SAVPF 97", "a=mid:0",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:1", "a=sctp-port:5000", "",
])


def test_inserts_after_the_application_m_line_with_the_sdps_separator() -> None:
    out = ensure_max_message_size(ANSWER)
    assert out.split("\r\n")[4] == "a=max-message-size:262144"
    assert ensure_max_message_size(out) == out
    lf = ensure_max_message_size(ANSWER.replace("\r\n", "\n"), 1000)
    assert "\na=max-message-size:1000\n" in lf
    assert "\r" not in lf


def test_existing_value_is_left_alone() -> None:
    sdp = ANSWER.replace("a=sctp-port:5000", "a=max-message-size:65536")
    assert ensure_max_message_size(sdp) == sdp


line = st.sampled_from(["v=0", "m=video 9 x", "m=application 9 y", "a=mid:1",
                        "a=max-message-size:1", "", "a=candidate:1"])


@given(st.lists(line, max_size=20), st.sampled_from(["\r\n", "\n"]))
def test_only_adds_lines_and_is_idempotent(lines: list[str], newline: str) -> None:
    sdp = newline.join(lines)
    newline = "\r\n" if "\r\n" in sdp else "\n"  # a one-line SDP carries no separator
    out = ensure_max_message_size(sdp)
    assert ensure_max_message_size(out) == out
    added = [x for x in out.split(newline) if x == "a=max-message-size:262144"]
    assert [x for x in out.split(newline) if x != "a=max-message-size:262144"] == \
        [x for x in sdp.split(newline) if x != "a=max-message-size:262144"]
    assert len(added) <= lines.count("m=application 9 y")


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
