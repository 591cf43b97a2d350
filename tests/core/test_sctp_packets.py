"""reactor_proto.sctp_packets: big SCTP packets only when both peers declared them and the
selected pair is provably on loopback; the usual size in every other case."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from reactor_proto import sctp_packets as sp
from reactor_proto.sctp_packets import (
    DEFAULT_PACKET_SIZE,
    MAX_PACKET_SIZE,
    CandidatePairFacts,
)

DATA = Path(__file__).resolve().parents[1] / "data"
LOOPBACK = CandidatePairFacts(local_host="127.0.0.1", remote_host="127.0.0.1",
                              local_type="host", remote_type="host", transport="udp")

limits = st.none() | st.integers(0, 100_000)
hosts = st.sampled_from(["127.0.0.1", "127.3.4.5", "::1", "10.0.0.5", "192.168.1.2",
                         "2001:db8::1", "fe80::1%eth0", "abc.local", "", "::ffff:127.0.0.1"])
pairs = st.none() | st.builds(
    CandidatePairFacts, local_host=hosts, remote_host=hosts,
    local_type=st.sampled_from(["host", "srflx", "relay", "prflx"]),
    remote_type=st.sampled_from(["host", "srflx", "relay", "prflx"]),
    transport=st.sampled_from(["udp", "UDP", "tcp"]))


@given(ours=limits, theirs=limits, pair=pairs)
def test_big_packets_need_both_declarations_and_a_loopback_host_pair(
        ours: int | None, theirs: int | None, pair: CandidatePairFacts | None) -> None:
    size = sp.send_packet_size(ours, theirs, pair)
    assert DEFAULT_PACKET_SIZE <= size <= MAX_PACKET_SIZE
    if size > DEFAULT_PACKET_SIZE:
        assert ours is not None and theirs is not None and pair is not None
        assert pair.local_type == pair.remote_type == "host"
        assert pair.transport.lower() == "udp"
        assert sp.is_local_pair(pair)
        # never more than either side accepts, nor than one DTLS record
        assert size <= ours and size <= theirs
        # and never more than the receiver is ready for
        assert size <= sp.receive_limit(theirs)
    if ours is None or theirs is None or pair is None:
        assert size == DEFAULT_PACKET_SIZE


@given(ours=limits, theirs=limits, pair=pairs)
def test_the_receiver_is_ready_whenever_it_declared(
        ours: int | None, theirs: int | None, pair: CandidatePairFacts | None) -> None:
    ready = sp.receive_limit(ours)
    if ours is None:
        assert ready == DEFAULT_PACKET_SIZE
    else:  # whatever the peer decides from what it read, we read it whole
        assert ready >= sp.send_packet_size(theirs, ours, pair)
        assert ready >= sp.send_packet_size(theirs, ours, LOOPBACK)


@given(ours=limits, theirs=limits, pair=pairs)
def test_both_ends_agree(ours: int | None, theirs: int | None,
                         pair: CandidatePairFacts | None) -> None:
    """The remote sees the mirrored pair: the same decision for both directions."""
    mirrored = None if pair is None else CandidatePairFacts(
        local_host=pair.remote_host, remote_host=pair.local_host,
        local_type=pair.remote_type, remote_type=pair.local_type, transport=pair.transport)
    assert sp.send_packet_size(ours, theirs, pair) == sp.send_packet_size(theirs, ours, mirrored)


@given(host=hosts)
def test_only_loopback_addresses_count(host: str) -> None:
    pair = CandidatePairFacts(local_host=host, remote_host=host, local_type="host",
                              remote_type="host", transport="udp")
    assert sp.is_local_pair(pair) == (host in {"127.0.0.1", "127.3.4.5", "::1"})


def test_the_usual_chunk_is_aiortcs() -> None:
    assert sp.user_data_per_chunk(DEFAULT_PACKET_SIZE) == 1160
    assert sp.user_data_per_chunk(MAX_PACKET_SIZE) == 16_356
    assert sp.send_packet_size(MAX_PACKET_SIZE, MAX_PACKET_SIZE, LOOPBACK) == MAX_PACKET_SIZE
    assert sp.send_packet_size(MAX_PACKET_SIZE, 4000, LOOPBACK) == 4000


# ---- the SDP line --------------------------------------------------------------------------


@given(limit=st.integers(DEFAULT_PACKET_SIZE, 10**9), crlf=st.booleans())
def test_declaration_round_trips_before_the_first_media_section(limit: int,
                                                                crlf: bool) -> None:
    sep = "\r\n" if crlf else "\n"
    sdp = sep.join(["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0",
                    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:0", ""])
    declared = sp.with_declaration(sdp, limit)
    assert sp.declared_limit(declared) == min(limit, MAX_PACKET_SIZE)
    lines = declared.split(sep)
    assert lines.index(sp.declaration(limit)) == lines.index(
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel") - 1
    assert declared.replace(sp.declaration(limit) + sep, "") == sdp  # nothing else changed
    assert sp.with_declaration(declared) == declared  # once only


@given(value=st.text(max_size=20))
def test_a_value_that_is_not_a_size_is_no_declaration(value: str) -> None:
    sdp = f"v=0\r\na={sp.ATTRIBUTE}:{value}\r\nm=application 9 x y\r\n"
    got = sp.declared_limit(sdp)
    stripped = value.strip()
    if got is not None:
        assert stripped.isdigit() and int(stripped) >= DEFAULT_PACKET_SIZE
        assert got == min(int(stripped), MAX_PACKET_SIZE)


def test_media_level_lines_and_small_values_do_not_count() -> None:
    media_level = f"v=0\nm=application 9 x y\na={sp.ATTRIBUTE}:16384\n"
    assert sp.declared_limit(media_level) is None
    assert sp.declared_limit(f"v=0\na={sp.ATTRIBUTE}:1000\n") is None
    assert sp.declared_limit(f"v=0\na={sp.ATTRIBUTE}:{'9' * 13}\n") is None
    assert sp.with_declaration("v=0") == f"v=0\n{sp.declaration()}"  # no m= line at all
    assert sp.with_declaration("v=0\n") == f"v=0\n{sp.declaration()}\n"


def test_answers_declare_only_when_offers_did() -> None:
    assert sp.answer_limit(None) is None
    assert sp.answer_limit(4000) == sp.LOCAL_PACKET_LIMIT
    for name in ("aiortc_offer.sdp", "aiortc_answer.sdp", "gstreamer_answer.sdp"):
        assert sp.declared_limit((DATA / name).read_text()) is None  # others never declare


@given(size=st.integers(sp.DEFAULT_PACKET_SIZE, MAX_PACKET_SIZE))
def test_the_window_is_aiortcs_for_the_usual_packets_and_bounded_for_big_ones(
        size: int) -> None:
    window = sp.send_window(size)
    data = sp.user_data_per_chunk(size)
    if size == DEFAULT_PACKET_SIZE:  # RFC 9260 as aiortc does it: three packets, burst 4
        assert window == sp.SendWindow(initial=3 * data, limit=None, burst=4 * data)
        assert sp.sack_every(size) == 2
        return
    # big packets (a local pair only): a fixed window the receiver's UDP socket holds
    # (30 datagrams of 16 KiB unread, see LOCAL_WINDOW_PACKETS), no burst limit
    assert window.initial == window.limit == sp.LOCAL_WINDOW_PACKETS * data
    assert window.limit is not None and window.limit < 30 * data
    assert window.burst is None and window.bundle
    assert sp.SACK_EVERY <= sp.sack_every(size) < sp.LOCAL_WINDOW_PACKETS // 2


@given(ours=limits, theirs=limits, pair=pairs)
def test_both_ends_pace_and_acknowledge_alike(ours: int | None, theirs: int | None,
                                              pair: CandidatePairFacts | None) -> None:
    mine = sp.send_packet_size(ours, theirs, pair)
    peers = sp.send_packet_size(theirs, ours, pair)
    assert sp.send_window(mine) == sp.send_window(peers)
    assert sp.sack_every(mine) == sp.sack_every(peers)


@given(total=st.integers(0, 300_000), data=st.sampled_from([1160, 4000, 16356]),
       first=st.integers(-5, 20_000))
def test_fragments_cover_the_message_within_the_chunk_size(total: int, data: int,
                                                           first: int) -> None:
    sizes = sp.fragment_sizes(total, data, first)
    assert sum(sizes) == total and all(0 < size <= data for size in sizes)
    if not 0 < first < data:  # aiortc's cut: full chunks, then the rest
        assert sizes == [data] * (total // data) + ([total % data] if total % data else [])
    elif total:
        assert sizes[0] == min(first, total)
        assert len(sizes) <= -(-(total - sizes[0]) // data) + 1


@given(tail=st.integers(0, 20_000), size=st.integers(DEFAULT_PACKET_SIZE, MAX_PACKET_SIZE))
def test_a_tail_and_the_room_it_leaves_fit_one_packet(tail: int, size: int) -> None:
    room = sp.tail_room(size, tail)
    assert room >= 0 and room % 4 == 0
    if room:
        assert sp.COMMON_HEADER + sp.chunk_length(tail) + sp.chunk_length(room) <= size
        assert sp.COMMON_HEADER + sp.chunk_length(tail) + sp.chunk_length(room + 4) > size
