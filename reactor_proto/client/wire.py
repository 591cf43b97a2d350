"""Which wire a client connection speaks, and what the client keeps per connection (§6.8).

A runtime never says whether it speaks v1 (§6.8.1): it latches each connection on the
first frame it receives, and a v0-only runtime (2.10.1) drops binary frames in silence.  So
the client decides *before* the peer exists, from what it already knows, and never probes
(a probe would cost a round trip on every connect):

1. ``wire="v0"`` or ``wire="v1"`` in :class:`~.config.ClientConfig`: that wire, always;
2. ``wire="auto"`` (the default): **v1** when the session descriptor's ``server_info.wire``
   lists ``"v1"`` (our own runtime adds that marker and our coordinator passes it on), or,
   talking to a runtime directly (``local=True``), when its ``server_info.server_version``
   is 3.10 or newer (the first official runtime known to serve v1); **v0** otherwise: an
   older or unknown runtime, and every coordinator session without the marker (a
   coordinator's ``server_version`` is its own, not the runtime's).

The decision is fixed for the connection (:class:`ConnectionWire`, made afresh for every
peer).  Inbound, every whole message is still sniffed, so a text frame the runtime sent
before it latched (its v0 greeting) is read as v0 and not lost.
"""

from __future__ import annotations

import enum
import math
import re
from collections import deque
from collections.abc import Mapping
from typing import Any

import attrs

from ..bodies import SessionSnapshot
from ..errors import LocalProtocolError, MessageTooLargeError
from ..recording import ClipRequests
from ..wire_v1 import ChunkError, ChunkReassembler, Correlator, Wire, split_message
from ..wire_v1.chunks import NATIVE_CHUNK_SIZE
from ..wire_v1.negotiation import chunking_line, negotiated_send_limit

WIRE_SETTINGS = ("auto", "v0", "v1")
#: the marker our runtime puts in its descriptor: ``server_info.wire`` lists what it serves
WIRE_MARKER_KEY = "wire"
#: the first official runtime known to serve v1 (2.10.1 does not; 3.10.0 does)
FIRST_V1_SERVER_VERSION = (3, 10)
#: what we declare in ``a=x-reactor-dc-chunking`` and reassemble at most, per message
CHUNK_RECEIVE_LIMIT = 16 * 1024 * 1024
#: §6.8.9: "every few seconds"; the official runtime drops batches closer than 1 s
CLIENT_STATS_INTERVAL = 5.0
#: bounds of the per-connection tables
MAX_REQUESTS_IN_FLIGHT = 256
MAX_SCHEMA_WAITERS = 16

_VERSION = re.compile(r"\s*v?(\d+)\.(\d+)")


def check_setting(wire: object) -> None:
    if wire not in WIRE_SETTINGS:
        raise LocalProtocolError(f"wire: expected one of {', '.join(WIRE_SETTINGS)}, "
                                 f"got {wire!r}")


def server_version(text: str | None) -> tuple[int, int] | None:
    """``"3.10.0"`` -> ``(3, 10)``; None when there is no leading ``major.minor``."""
    match = _VERSION.match(text or "")
    return None if match is None else (int(match[1]), int(match[2]))


def choose_wire(setting: str, *, local: bool, snapshot: SessionSnapshot | None) -> Wire:
    """The rule of the module docstring."""
    if setting != "auto":
        return Wire(setting)
    if snapshot is None:
        return Wire.V0
    if Wire.V1.value in snapshot.server_wires:
        return Wire.V1
    version = server_version(snapshot.server_version)
    if local and version is not None and version >= FIRST_V1_SERVER_VERSION:
        return Wire.V1
    return Wire.V0


def integral(value: Any) -> Any:
    """v1 carries JSON numbers as doubles (``Struct``): give integral ones back as ``int``, so
    a model's ``{"frame": 3}`` reads the same on both wires (a model's ``3.0`` reads ``3``)."""
    if isinstance(value, float) and value.is_integer() and math.isfinite(value) \
            and abs(value) <= 2 ** 53:
        return int(value)
    if isinstance(value, Mapping):
        return {key: integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integral(item) for item in value]
    return value


class Purpose(enum.Enum):
    """What a v1 request in flight was, so its reply completes the right operation."""

    COMMAND = "command"
    SCHEMA = "schema"
    PUBLISH = "publish"
    STEP = "step"
    CLIP = "clip"


@attrs.frozen(kw_only=True)
class Request:
    op: int | None
    purpose: Purpose
    name: str  # the command or the track
    timeout: float = 0.0


@attrs.define(kw_only=True, eq=False)
class ConnectionWire:
    """Per-connection wire state: the codec, v1 requests in flight, chunking, timers."""

    wire: Wire = Wire.V0
    correlator: Correlator = attrs.field(
        factory=lambda: Correlator(max_in_flight=MAX_REQUESTS_IN_FLIGHT))
    requests: dict[str, Request] = attrs.field(factory=dict)
    #: set once the answer declared chunking: the largest message we may send
    send_limit: int | None = None
    chunk_size: int = NATIVE_CHUNK_SIZE
    reassembler: ChunkReassembler | None = None
    stats_due: float | None = None
    pinged: bool = False
    #: v0 ``request_schema`` operations waiting for the next ``modelSchema``: (op, deadline)
    schema_waiters: deque[tuple[int, float]] = attrs.field(factory=deque)
    #: v0 clip requests waiting for ``clipReady``/``clipFailed``, in order (clips.py)
    clips: ClipRequests = attrs.field(factory=ClipRequests)

    @property
    def is_v1(self) -> bool:
        return self.wire is Wire.V1

    # ---- chunking (§6.8.7): offered only on v1, where we reassemble -------------------------

    def offer(self, sdp: str) -> str:
        """Our offer as sent: on v1 it declares chunking before the first ``m=`` line."""
        if not self.is_v1 or "\nm=" not in sdp:
            return sdp
        head, _, rest = sdp.partition("\nm=")
        eol = "\r\n" if head.endswith("\r") else "\n"
        head = head.rstrip("\r")
        return f"{head}{eol}{chunking_line(CHUNK_RECEIVE_LIMIT)}{eol}m={rest}"

    def answer(self, sdp: str, sctp_limit: int) -> None:
        """Chunking is on when we offered it and the answer declares it too."""
        if not self.is_v1:
            return
        self.send_limit = negotiated_send_limit(CHUNK_RECEIVE_LIMIT, sdp)
        if self.send_limit is not None:
            if sctp_limit > 1:
                self.chunk_size = min(NATIVE_CHUNK_SIZE, sctp_limit)
            self.reassembler = ChunkReassembler(
                max_message_size=CHUNK_RECEIVE_LIMIT, max_total_bytes=2 * CHUNK_RECEIVE_LIMIT,
                max_in_flight=2, idle_timeout=30.0)

    def frames(self, message: str | bytes, sctp_limit: int) -> list[str | bytes]:
        """What goes on the channel for one message; MessageTooLargeError when it cannot."""
        if self.send_limit is not None:
            return list(split_message(message, max_message_size=self.send_limit,
                                      chunk_size=self.chunk_size))
        size = len(message.encode("utf-8")) if isinstance(message, str) else len(message)
        if size > sctp_limit:
            raise MessageTooLargeError(f"message of {size} bytes exceeds the channel limit "
                                       f"of {sctp_limit} bytes")
        return [message]

    def unchunk(self, label: str, message: str | bytes,
                now: float) -> tuple[list[str | bytes], list[ChunkError]]:
        """Whole messages out of one received frame, and the chunk errors it caused."""
        machine = self.reassembler
        if machine is None or isinstance(message, str):
            return [message], []
        errors = machine.expire(now)  # frees a message whose frames stopped coming
        try:
            machine.feed(label, bytes(message), now=now)
        except ChunkError as exc:
            errors.append(exc)  # dropped; the channel goes on, as the runtime does
        return [whole.data for whole in machine.drain()], errors

    # ---- timers ------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        times = [self.correlator.next_deadline(), self.stats_due, self.clips.next_deadline()]
        if self.schema_waiters:
            times.append(min(deadline for _, deadline in self.schema_waiters))
        present = [t for t in times if t is not None]
        return min(present) if present else None
