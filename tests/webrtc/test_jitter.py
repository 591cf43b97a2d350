"""MarkerJitterBuffer: a video frame leaves with its marked last packet (issue 20)."""

from __future__ import annotations

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from reactor_anyio.webrtc.jitter import MarkerJitterBuffer, release_on_marker


def packet(seq: int, timestamp: int, *, marker: bool = False) -> RtpPacket:
    p = RtpPacket(payload_type=96, marker=int(marker), sequence_number=seq % 65536,
                  timestamp=timestamp)
    p._data = f"{seq}.".encode()  # type: ignore[attr-defined]  # what the depayloader sets
    return p


def frame(first: int, count: int, timestamp: int) -> list[RtpPacket]:
    return [packet(first + i, timestamp, marker=i == count - 1) for i in range(count)]


def feed(buffer: JitterBuffer, packets: list[RtpPacket]) -> list[tuple[bytes, int]]:
    out = []
    for p in packets:
        _, got = buffer.add(p)
        if got is not None:
            out.append((got.data, got.timestamp))
    return out


def test_a_frame_leaves_with_its_marked_packet_not_the_next_frames_first() -> None:
    ours = MarkerJitterBuffer(capacity=128, is_video=True)
    assert feed(ours, frame(10, 3, 1000)) == [(b"10.11.12.", 1000)]
    assert feed(ours, frame(13, 2, 4000)) == [(b"13.14.", 4000)]
    # aiortc's own buffer waits for the next frame's first packet
    theirs = JitterBuffer(capacity=128, is_video=True)
    assert feed(theirs, frame(10, 3, 1000)) == []
    assert feed(theirs, frame(13, 1, 4000)) == [(b"10.11.12.", 1000)]


def test_reordered_packets_complete_the_frame_when_the_gap_fills() -> None:
    buffer = MarkerJitterBuffer(capacity=128, is_video=True)
    a, b, c = frame(100, 3, 500)
    assert feed(buffer, [a, c]) == []  # the marked packet is in, the middle one is not
    assert feed(buffer, [b]) == [(b"100.101.102.", 500)]


def test_a_frame_whose_marker_was_lost_goes_out_with_the_next_frame_as_before() -> None:
    buffer = MarkerJitterBuffer(capacity=128, is_video=True)
    first = [packet(7, 90), packet(8, 90)]  # its marked packet never comes
    assert feed(buffer, first) == []
    second = frame(9, 2, 180)
    assert feed(buffer, second[:1]) == [(b"7.8.", 90)]
    assert feed(buffer, second[1:]) == [(b"9.10.", 180)]


def test_late_packets_of_a_released_frame_are_ignored() -> None:
    buffer = MarkerJitterBuffer(capacity=128, is_video=True)
    packets = frame(20, 2, 10)
    assert feed(buffer, packets) == [(b"20.21.", 10)]
    assert feed(buffer, [packets[0]]) == []  # a retransmission arriving after release
    assert feed(buffer, frame(22, 1, 20)) == [(b"22.", 20)]


def test_sequence_numbers_wrap() -> None:
    buffer = MarkerJitterBuffer(capacity=128, is_video=True)
    assert feed(buffer, frame(65534, 3, 1)) == [(b"65534.65535.65536.", 1)]
    assert feed(buffer, frame(65537, 1, 2)) == [(b"65537.", 2)]


class _Transport:
    state = "new"


def receiver(kind: str) -> RTCRtpReceiver:
    return RTCRtpReceiver(kind, transport=_Transport())  # type: ignore[arg-type]


class CountingSlots(list):  # type: ignore[type-arg]
    reads = 0

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        CountingSlots.reads += 1
        return super().__getitem__(index)


def test_each_packet_is_walked_about_once_per_frame() -> None:
    """A frame of n packets arriving in order costs O(n) slot reads, not O(n^2): the walk
    resumes after the packets it has already seen."""
    buffer = MarkerJitterBuffer(capacity=512, is_video=True)
    buffer._packets = CountingSlots(buffer._packets)
    CountingSlots.reads = 0
    assert feed(buffer, frame(0, 200, 90)) == [(b"".join(f"{i}.".encode() for i in range(200)),
                                                90)]
    assert CountingSlots.reads < 5 * 200  # the walk from the origin each time: ~20,000
    # and the resumed walk still completes a frame whose gap fills late
    a, b, c = frame(200, 3, 180)
    assert feed(buffer, [a, c]) == []
    assert feed(buffer, [b]) == [(b"200.201.202.", 180)]


def test_release_on_marker_swaps_an_unused_video_buffer_only() -> None:
    video = receiver("video")
    assert release_on_marker(video)
    assert isinstance(video._RTCRtpReceiver__jitter_buffer, MarkerJitterBuffer)  # type: ignore[attr-defined]
    assert release_on_marker(video)  # already swapped: still True, same buffer
    audio = receiver("audio")
    assert not release_on_marker(audio)
    assert type(audio._RTCRtpReceiver__jitter_buffer) is JitterBuffer  # type: ignore[attr-defined]
    used = receiver("video")
    used._RTCRtpReceiver__jitter_buffer.add(packet(1, 1))  # type: ignore[attr-defined]
    assert not release_on_marker(used)
    assert not release_on_marker(object())
