"""reactor_proto.datagram_batches: the datagrams of one transmission, grouped for UDP GSO
without changing a single datagram, and what a refused segmented send means."""

from __future__ import annotations

import errno
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto import datagram_batches as db

RECORD = 1225  # a full DATA chunk of the usual size, as a DTLS record
sizes_lists = st.lists(st.one_of(st.just(RECORD), st.integers(0, 70_000), st.integers(1, 1300)),
                       max_size=200)
limits = st.tuples(st.integers(1, 80), st.integers(1, 70_000), st.integers(1, 20_000))


@given(sizes=sizes_lists, limit=limits)
def test_every_datagram_once_in_order_and_each_batch_is_one_the_kernel_cuts_back(
        sizes: list[int], limit: tuple[int, int, int]) -> None:
    max_segments, max_bytes, max_segment = limit
    batches = db.plan(sizes, max_segments=max_segments, max_bytes=max_bytes,
                      max_segment=max_segment)
    assert [i for b in batches for i in range(b.start, b.start + b.count)] == list(
        range(len(sizes)))
    for batch in batches:
        group = sizes[batch.start:batch.start + batch.count]
        assert batch.segment == group[0]
        if not batch.segmented:
            assert batch.count == 1
            continue
        # what the kernel does with one buffer and UDP_SEGMENT: every segment but the last
        # exactly `segment` bytes, the last not longer, none empty, within its limits
        assert all(size == batch.segment for size in group[:-1])
        assert 0 < group[-1] <= batch.segment
        assert batch.count <= max_segments and sum(group) <= max_bytes
        assert batch.segment <= max_segment


@given(sizes=sizes_lists)
def test_batches_are_as_long_as_the_rules_allow(sizes: list[int]) -> None:
    batches = db.plan(sizes)
    for batch, following in itertools.pairwise(batches):
        group = sizes[batch.start:batch.start + batch.count]
        nxt = sizes[following.start]
        # a batch ends only at a limit, a short datagram, or a datagram that cannot join
        assert (batch.count == db.MAX_SEGMENTS or sum(group) + nxt > db.MAX_BATCH_BYTES
                or group[-1] < batch.segment or nxt > batch.segment or nxt <= 0
                or batch.segment > db.MAX_SEGMENT or batch.segment <= 0)


def test_a_burst_of_full_chunks_and_a_messages_tail() -> None:
    sizes = [RECORD] * 120 + [700, RECORD, RECORD]
    batches = db.plan(sizes)
    # 52 records of 1225 bytes fill 63,700 of the 64,000 bytes a send may carry
    assert [(b.start, b.count, b.segment) for b in batches] == [
        (0, 52, RECORD), (52, 52, RECORD), (104, 17, RECORD), (121, 2, RECORD)]
    assert sizes[120] == 700  # the tail ended the third batch as its short last segment


def test_nothing_to_send_and_lone_datagrams() -> None:
    assert db.plan([]) == []
    assert [b.segmented for b in db.plan([RECORD])] == [False]
    assert [b.count for b in db.plan([100, 200, 300])] == [1, 1, 1]  # each longer than the last
    assert [b.count for b in db.plan([70_000, 70_000])] == [1, 1]  # each above one send
    # our peers' 16 KiB packets on loopback: sent alone, as before
    assert [b.count for b in db.plan([16_413] * 4)] == [1, 1, 1, 1]


@pytest.mark.parametrize("name", ["EIO", "EINVAL", "EMSGSIZE", "EOPNOTSUPP", "ENOPROTOOPT"])
def test_the_kernel_refusing_to_segment_stops_segmenting(name: str) -> None:
    assert db.after_failure(name) is db.AfterFailure.STOP


@pytest.mark.parametrize("name", ["EAGAIN", "ENOBUFS", "EINTR", "ECONNREFUSED",
                                  "ENETUNREACH", None])
def test_a_send_failing_for_its_own_reasons_keeps_segmenting(name: str | None) -> None:
    assert db.after_failure(name) is db.AfterFailure.KEEP


def test_errno_names_are_the_platforms() -> None:
    assert errno.errorcode[errno.EIO] == "EIO"
    assert db.UDP_SEGMENT == 103
