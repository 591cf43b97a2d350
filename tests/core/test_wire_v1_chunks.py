"""Data-channel chunking (docs/protocol §6.8.7): the splitter, the bounded reassembler and
what each kind of bad input gets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.errors import ErrorCode, LocalProtocolError, MessageTooLargeError
from reactor_proto.wire_v1.chunks import (
    ChunkError,
    ChunkErrorReason,
    ChunkReassembler,
    WholeMessage,
    split_message,
)

BIG = 1 << 20


def feed_all(machine: ChunkReassembler, channel: str, frames: list[bytes],
             now: float = 0.0) -> list[WholeMessage]:
    for frame in frames:
        machine.feed(channel, frame, now=now)
    return machine.drain()


# ---- the golden vectors of §6.8.7 -----------------------------------------------------------


@pytest.mark.parametrize(("message", "frames"), [
    (bytes.fromhex("616263"), ["00616263"]),
    (bytes.fromhex("61626364"), ["01616263", "0064"]),
    ("hello", ["0368656c", "026c6f"]),
    (b"", ["00"]),
    ("", ["02"]),
])
def test_vectors(message: bytes | str, frames: list[str]) -> None:
    wire = split_message(message, max_message_size=BIG, chunk_size=4)
    assert [f.hex() for f in wire] == frames
    machine = ChunkReassembler()
    assert feed_all(machine, "data", wire) == [WholeMessage(channel="data", data=message)]


def test_small_messages_take_one_frame_at_the_native_size() -> None:
    assert split_message(b"\x10\x03\x52\x00", max_message_size=BIG) == [b"\x00\x10\x03\x52\x00"]
    frames = split_message(bytes(65_535), max_message_size=BIG)
    assert len(frames) == 1 and frames[0][0] == 0
    frames = split_message(bytes(65_536), max_message_size=BIG)
    assert [len(f) for f in frames] == [65_536, 2]
    assert [f[0] for f in frames] == [1, 0]


def test_splitter_refuses_oversize_and_bad_chunk_sizes() -> None:
    with pytest.raises(MessageTooLargeError) as info:
        split_message(bytes(11), max_message_size=10)
    assert info.value.code == ErrorCode.MESSAGE_TOO_LARGE
    split_message(bytes(10), max_message_size=10)
    with pytest.raises(MessageTooLargeError):
        split_message("é" * 6, max_message_size=11)  # counted in UTF-8 bytes
    for size in (1, 262_145):
        with pytest.raises(LocalProtocolError, match="chunk_size"):
            split_message(b"x", max_message_size=BIG, chunk_size=size)


# ---- properties -----------------------------------------------------------------------------

messages = st.binary(max_size=200) | st.text(max_size=60)


@given(messages, st.integers(2, 70))
def test_any_split_reassembles(message: bytes | str, chunk_size: int) -> None:
    frames = split_message(message, max_message_size=BIG, chunk_size=chunk_size)
    assert all(2 <= len(f) <= chunk_size or len(f) == 1 for f in frames)
    machine = ChunkReassembler()
    assert feed_all(machine, "c", frames) == [WholeMessage(channel="c", data=message)]
    assert machine.buffered_bytes == 0
    assert machine.in_flight == 0


@given(st.lists(st.tuples(st.sampled_from(["data", "control", "x"]), messages), max_size=8),
       st.integers(2, 20), st.randoms(use_true_random=False))
def test_any_interleaving_of_channels_reassembles(
    sent: list[tuple[str, bytes | str]], chunk_size: int, rng: object
) -> None:
    import random

    assert isinstance(rng, random.Random)
    queues: dict[str, list[bytes]] = {}
    for channel, message in sent:
        queues.setdefault(channel, []).extend(
            split_message(message, max_message_size=BIG, chunk_size=chunk_size))
    machine = ChunkReassembler()
    got: dict[str, list[bytes | str]] = {}
    # Each channel keeps its own order; the channels interleave in any way.
    while any(queues.values()):
        channel = rng.choice([c for c, q in queues.items() if q])
        machine.feed(channel, queues[channel].pop(0), now=0.0)
        for whole in machine.drain():
            got.setdefault(whole.channel, []).append(whole.data)
    want: dict[str, list[bytes | str]] = {}
    for channel, message in sent:
        want.setdefault(channel, []).append(message)
    assert got == want
    assert machine.buffered_bytes == 0


frames_strategy = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]),
              st.binary(max_size=1).map(lambda b: b[:1]) | st.binary(min_size=1, max_size=40),
              st.floats(0, 100)),
    max_size=60)


@given(frames_strategy)
def test_bounds_hold_for_any_frames(frames: list[tuple[str, bytes, float]]) -> None:
    machine = ChunkReassembler(max_message_size=64, max_total_bytes=100, max_in_flight=2,
                               idle_timeout=10.0)
    now = 0.0
    for channel, frame, step in frames:
        now += step
        refused: ChunkError | None = None
        try:
            machine.feed(channel, frame, now=now)
        except ChunkError as exc:
            refused = exc
        if refused is not None:
            assert refused.channel == channel
            assert refused.fatal == (refused.reason not in (ChunkErrorReason.TOO_LARGE,
                                                            ChunkErrorReason.BAD_TEXT))
        for error in machine.expire(now):
            assert error.reason is ChunkErrorReason.EXPIRED
        assert 0 <= machine.buffered_bytes <= 100
        assert machine.in_flight <= 2
        for whole in machine.drain():
            size = len(whole.data.encode() if isinstance(whole.data, str) else whole.data)
            assert size <= 64
    machine.expire(now + 10.0)
    assert machine.buffered_bytes == 0
    machine.expire(now + 20.0)  # an expired message is skipped for one more idle period
    assert machine.in_flight == 0


# ---- each kind of bad input -----------------------------------------------------------------


def test_empty_frame_is_fatal_and_frees_the_partial() -> None:
    machine = ChunkReassembler()
    machine.feed("data", b"\x01abc", now=0)
    assert machine.buffered_bytes == 3
    with pytest.raises(ChunkError) as info:
        machine.feed("data", b"", now=0)
    assert info.value.reason is ChunkErrorReason.EMPTY_FRAME
    assert info.value.fatal
    assert info.value.code == ErrorCode.DECODE_FAILED
    assert machine.buffered_bytes == 0 and machine.in_flight == 0


@pytest.mark.parametrize("header", [0x04, 0x80, 0xFF, 0x05])
def test_version_bits_are_fatal(header: int) -> None:
    machine = ChunkReassembler()
    machine.feed("data", b"\x01abc", now=0)
    with pytest.raises(ChunkError, match="version bits") as info:
        machine.feed("data", bytes([header]) + b"x", now=0)
    assert info.value.reason is ChunkErrorReason.BAD_VERSION
    assert machine.buffered_bytes == 0


def test_a_frame_of_another_kind_spliced_in_is_fatal() -> None:
    machine = ChunkReassembler()
    machine.feed("data", b"\x01ab", now=0)
    with pytest.raises(ChunkError) as info:
        machine.feed("data", b"\x02text", now=0)
    assert info.value.reason is ChunkErrorReason.TEXT_FLAG_CHANGED
    assert info.value.fatal
    assert machine.buffered_bytes == 0 and machine.in_flight == 0


def test_too_large_skips_to_the_last_frame_and_the_channel_goes_on() -> None:
    machine = ChunkReassembler(max_message_size=8)
    frames = split_message(bytes(30), max_message_size=BIG, chunk_size=5)
    errors = []
    for frame in frames:
        try:
            machine.feed("data", frame, now=0)
        except ChunkError as exc:
            errors.append(exc)
        assert machine.buffered_bytes <= 8
    assert [e.reason for e in errors] == [ChunkErrorReason.TOO_LARGE]
    assert errors[0].code == ErrorCode.MESSAGE_TOO_LARGE
    assert not errors[0].fatal
    assert machine.drain() == []
    assert machine.buffered_bytes == 0 and machine.in_flight == 0
    assert feed_all(machine, "data", [b"\x00ok"]) == [WholeMessage(channel="data", data=b"ok")]


def test_too_large_on_the_last_frame_and_in_a_single_frame() -> None:
    machine = ChunkReassembler(max_message_size=4)
    machine.feed("data", b"\x01abc", now=0)
    with pytest.raises(ChunkError, match="passed 4"):
        machine.feed("data", b"\x00de", now=0)
    assert machine.in_flight == 0
    with pytest.raises(ChunkError, match="over 4") as info:
        machine.feed("data", b"\x00abcde", now=0)
    assert info.value.reason is ChunkErrorReason.TOO_LARGE
    assert machine.in_flight == 0


def test_total_bytes_across_channels_are_bounded() -> None:
    machine = ChunkReassembler(max_message_size=100, max_total_bytes=10, max_in_flight=4)
    machine.feed("a", b"\x01" + bytes(6), now=0)
    with pytest.raises(ChunkError, match="passed 10") as info:
        machine.feed("b", b"\x01" + bytes(6), now=0)
    assert info.value.reason is ChunkErrorReason.TOO_LARGE
    assert machine.buffered_bytes == 6
    machine.feed("b", b"\x00tail", now=0)  # the rest of b's message is skipped
    machine.feed("a", b"\x00" + bytes(2), now=0)
    assert machine.drain() == [WholeMessage(channel="a", data=bytes(8))]
    assert machine.buffered_bytes == 0


def test_too_many_messages_in_flight() -> None:
    machine = ChunkReassembler(max_in_flight=2)
    machine.feed("a", b"\x01x", now=0)
    machine.feed("b", b"\x01x", now=0)
    with pytest.raises(ChunkError) as info:
        machine.feed("c", b"\x01x", now=0)
    assert info.value.reason is ChunkErrorReason.TOO_MANY_IN_FLIGHT
    assert info.value.fatal
    machine.feed("c", b"\x00whole", now=0)  # a one-frame message needs no slot
    assert machine.drain() == [WholeMessage(channel="c", data=b"whole")]
    assert machine.in_flight == 2


def test_a_message_that_never_completes_expires() -> None:
    machine = ChunkReassembler(idle_timeout=5.0)
    machine.feed("data", b"\x01abc", now=100.0)
    machine.feed("data", b"\x01def", now=103.0)
    assert machine.expire(107.9) == []
    errors = machine.expire(108.0)
    assert [e.reason for e in errors] == [ChunkErrorReason.EXPIRED]
    assert not errors[0].fatal
    assert machine.buffered_bytes == 0
    # Late frames of the expired message are skipped up to its last one.
    machine.feed("data", b"\x01ghi", now=109.0)
    machine.feed("data", b"\x00jk", now=109.0)
    assert machine.drain() == []
    assert machine.in_flight == 0
    assert feed_all(machine, "data", [b"\x00next"], now=110.0) == [
        WholeMessage(channel="data", data=b"next")]


def test_a_skipped_message_whose_last_frame_never_comes_is_forgotten() -> None:
    machine = ChunkReassembler(max_message_size=2, idle_timeout=1.0)
    with pytest.raises(ChunkError):
        machine.feed("data", b"\x01abc", now=0.0)
    assert machine.in_flight == 1
    assert machine.expire(5.0) == []
    assert machine.in_flight == 0


def test_text_that_is_not_utf8() -> None:
    machine = ChunkReassembler()
    with pytest.raises(ChunkError) as info:
        feed_all(machine, "data", [b"\x03\xff", b"\x02\xfe"])
    assert info.value.reason is ChunkErrorReason.BAD_TEXT
    assert not info.value.fatal
    assert machine.in_flight == 0
    assert feed_all(machine, "data", [b"\x02ok"]) == [WholeMessage(channel="data", data="ok")]


def test_next_message_pops_in_order() -> None:
    machine = ChunkReassembler()
    machine.feed("data", b"\x00one", now=0)
    machine.feed("control", b"\x00two", now=0)
    assert machine.next_message() == WholeMessage(channel="data", data=b"one")
    assert machine.next_message() == WholeMessage(channel="control", data=b"two")
    assert machine.next_message() is None
