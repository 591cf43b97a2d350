"""How big our SCTP packets may be: the usual 1189 bytes, or up to one DTLS record between
two of our peers on loopback (docs/protocol §6.9).

WebRTC peers keep every SCTP packet small enough for the minimum IPv6 path MTU once DTLS,
UDP and IP are added (1189 bytes of SCTP in aiortc and libwebrtc), so a 675 KiB stepped
frame is ~600 packets, and in pure Python each packet costs far more than its bytes.  On
loopback nothing needs that limit: the loopback MTU is 64 KiB, so one datagram can carry a
whole DTLS record (at most 2^14 bytes of plaintext), 13 times the data.

This is our own extension, never needed by official peers.  Both sides must say they accept
big packets and the path must be provably local; otherwise the packet size is exactly the
usual one:

* a peer that accepts big packets declares the largest SCTP packet it accepts with the
  session-level line ``a=x-reactor-sansio-sctp-packet:<bytes>`` (before the first ``m=``);
  other implementations ignore unknown attributes;
* the answer carries the line only if the offer did (:func:`answer_limit`);
* a peer *receives* big packets as soon as it declared them (:func:`receive_limit`),
  whatever the path and the other description, so a sender's decision never outruns it;
* a peer *sends* big packets only when, in addition, the selected ICE pair joins two host
  candidates on loopback addresses over UDP (:func:`send_packet_size`).  Equal non-loopback
  addresses are not trusted: two network namespaces can share an address and then the path
  is a real link with a real MTU.

Pure functions of SDP text and candidate facts; no I/O.
"""

from __future__ import annotations

import ipaddress
from typing import Final

import attrs

#: The SCTP packet size every WebRTC peer uses, common header included (aiortc's and
#: libwebrtc's limit for the minimum IPv6 MTU).
DEFAULT_PACKET_SIZE: Final = 1189
#: The largest SCTP packet one DTLS record can carry: TLS plaintext is at most 2^14 bytes.
MAX_PACKET_SIZE: Final = 16_384
#: What our peers declare they accept.
LOCAL_PACKET_LIMIT: Final = MAX_PACKET_SIZE
#: SCTP common header and DATA chunk header, the overhead of a packet of one DATA chunk.
COMMON_HEADER: Final = 12
_PACKET_OVERHEAD: Final = COMMON_HEADER + 16

ATTRIBUTE: Final = "x-reactor-sansio-sctp-packet"
_PREFIX: Final = f"a={ATTRIBUTE}:"
#: Longest value read (a decimal byte count); anything longer is not a declaration.
_MAX_VALUE_CHARS: Final = 12


@attrs.frozen(kw_only=True)
class CandidatePairFacts:
    """What the adapter knows of the selected ICE pair (aioice's candidates)."""

    local_host: str
    remote_host: str
    local_type: str
    remote_type: str
    transport: str


def declaration(limit: int = LOCAL_PACKET_LIMIT) -> str:
    """Our session-level line, declaring the largest packet we accept."""
    return f"{_PREFIX}{limit}"


def declared_limit(sdp: str) -> int | None:
    """The packet size ``sdp`` declares it accepts, or None without a usable line.

    Only session-level lines count; a value that is not a decimal integer within
    [DEFAULT_PACKET_SIZE, any] counts as absent; a declaration above MAX_PACKET_SIZE is
    read as MAX_PACKET_SIZE."""
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            return None
        if not line.startswith(_PREFIX):
            continue
        value = line[len(_PREFIX):].strip()
        if value.isascii() and value.isdigit() and len(value) <= _MAX_VALUE_CHARS:
            size = int(value)
            if size >= DEFAULT_PACKET_SIZE:
                return min(size, MAX_PACKET_SIZE)
    return None


def with_declaration(sdp: str, limit: int = LOCAL_PACKET_LIMIT) -> str:
    """``sdp`` with our line added before its first ``m=`` line (or at its end), keeping
    its line separator; unchanged when it already declares."""
    if declared_limit(sdp) is not None:
        return sdp
    separator = "\r\n" if "\r\n" in sdp else "\n"
    lines = sdp.split(separator)
    at = next((i for i, line in enumerate(lines) if line.startswith("m=")), None)
    if at is None:
        at = len(lines) - 1 if lines and lines[-1] == "" else len(lines)
    lines.insert(at, declaration(limit))
    return separator.join(lines)


def answer_limit(offer_limit: int | None) -> int | None:
    """What an answerer declares: our limit when the offer declared one, else nothing (a
    peer that never asked gets an answer without the line, as without this extension)."""
    return None if offer_limit is None else LOCAL_PACKET_LIMIT


def receive_limit(ours: int | None) -> int:
    """The largest packet we must be ready to receive: the one we declared, else the usual
    size.  It depends on our own declaration only, not on the peer's as we read it: were
    a line lost between the answerer and us, the answerer (which saw both) could still
    send big packets, and they must still be read whole."""
    return DEFAULT_PACKET_SIZE if ours is None else _clamp(ours)


def is_local_pair(pair: CandidatePairFacts) -> bool:
    """True when the pair joins two host candidates on loopback addresses over UDP."""
    if pair.transport.lower() != "udp":
        return False
    if pair.local_type != "host" or pair.remote_type != "host":
        return False
    return _is_loopback(pair.local_host) and _is_loopback(pair.remote_host)


def send_packet_size(ours: int | None, theirs: int | None,
                     pair: CandidatePairFacts | None) -> int:
    """The largest SCTP packet we may send: the smaller of both declarations when both
    declare and the selected pair is local, else :data:`DEFAULT_PACKET_SIZE`."""
    if ours is None or theirs is None or pair is None or not is_local_pair(pair):
        return DEFAULT_PACKET_SIZE
    return min(_clamp(ours), _clamp(theirs))


def user_data_per_chunk(packet_size: int) -> int:
    """The user data of a DATA chunk filling a packet of ``packet_size`` bytes (chunks are
    padded to 4 bytes, so rounded down to a multiple of 4): 1160 for the usual size."""
    return (packet_size - _PACKET_OVERHEAD) // 4 * 4


@attrs.frozen(kw_only=True)
class SendWindow:
    """How a sender paces its DATA chunks, in bytes of user data (RFC 9260 §7.2).

    ``initial`` is the congestion window at the start of the association; ``limit`` the
    largest it may grow to (None: unbounded, RFC 9260 and aiortc); ``burst`` how much one
    transmission may add to what is in flight (None: only the window bounds it); ``bundle``
    whether consecutive DATA chunks share a packet while they fit (RFC 9260 §6.10)."""

    initial: int
    limit: int | None
    burst: int | None
    bundle: bool = False


#: Big packets a sender keeps in flight on a local pair.  The only buffer between our two
#: peers on loopback is the receiver's UDP socket: aioice asks for 256 KiB, which Linux
#: doubles, and it then holds 30 datagrams of 16 KiB that nobody reads; 24 leave room for
#: the SACKs and anything else the socket carries.
LOCAL_WINDOW_PACKETS: Final = 24


def send_window(packet_size: int) -> SendWindow:
    """The pacing for ``packet_size`` (what :func:`send_packet_size` returned).

    The usual size keeps RFC 9260's and aiortc's numbers: a window of three packets that
    slow start grows without bound, at most four new packets per transmission.  Big packets
    go only between two of our peers on loopback (§6.9), where no network can be congested
    and the receiver's socket buffer is known: the window starts at, and never exceeds,
    :data:`LOCAL_WINDOW_PACKETS` packets, with no burst limit, so a step's result leaves at
    once instead of growing from three packets a round trip at a time.  Big packets are also
    bundled: a 64 KiB chunk frame is four full packets and 112 bytes, and without bundling
    each of those 112-byte tails costs a packet of its own (11 of a step result's 54)."""
    data = user_data_per_chunk(packet_size)
    if packet_size <= DEFAULT_PACKET_SIZE:
        return SendWindow(initial=3 * data, limit=None, burst=4 * data)
    window = LOCAL_WINDOW_PACKETS * data
    return SendWindow(initial=window, limit=window, burst=None, bundle=True)


def chunk_length(user_data: int) -> int:
    """Bytes a DATA chunk of ``user_data`` bytes takes in a packet: its 16-byte header and
    the data, padded to 4."""
    return (16 + user_data + 3) // 4 * 4


def tail_room(packet_size: int, tail_data: int) -> int:
    """User data a DATA chunk may carry in the packet a chunk of ``tail_data`` bytes starts
    (rounded down to 4; 0 when nothing fits)."""
    room = packet_size - COMMON_HEADER - chunk_length(tail_data) - 16
    return max(0, room // 4 * 4)


def fragment_sizes(total: int, chunk_data: int, first: int = 0) -> list[int]:
    """How a message of ``total`` bytes is cut into DATA chunks of at most ``chunk_data``
    bytes: aiortc's cut (full chunks, then the rest; none for an empty message), except that
    a ``first`` between 1 and ``chunk_data`` - 1 makes the first chunk that size, so that it
    fills the packet the previous message's last chunk started (bundling)."""
    if total <= 0:
        return []
    sizes = [min(first, total)] if 0 < first < chunk_data else []
    left = total - sum(sizes)
    sizes += [chunk_data] * (left // chunk_data)
    if left % chunk_data:
        sizes.append(left % chunk_data)
    return sizes


#: DATA packets a receiver takes before it acknowledges, with the usual packets: RFC 9260
#: §6.2 asks for a SACK for at least every second packet.
SACK_EVERY: Final = 2
#: The same on a local pair with big packets: each SACK costs both processes a DTLS record,
#: a datagram and a wake-up (more than a third of a step's receiving time when every
#: second packet was acknowledged), and with a window of LOCAL_WINDOW_PACKETS one SACK per
#: eight packets still keeps the sender's window open.
LOCAL_SACK_EVERY: Final = 8


def sack_every(packet_size: int) -> int:
    """How many DATA packets a receiver takes before its SACK is due, the peers using
    ``packet_size`` (both ends decide the same size, :func:`send_packet_size`).  A lone
    packet is still acknowledged after the delayed-SACK timer, and out-of-order or
    duplicate DATA at once (RFC 9260 §6.7), whatever the size."""
    return SACK_EVERY if packet_size <= DEFAULT_PACKET_SIZE else LOCAL_SACK_EVERY


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # a hostname (mDNS candidate) proves nothing


def _clamp(size: int) -> int:
    return max(DEFAULT_PACKET_SIZE, min(size, MAX_PACKET_SIZE))
