"""What aiortc needs to carry SCTP packets of up to one DTLS record (issue 24).

The decision (who may send how big a packet) is :mod:`reactor_proto.sctp_packets`'; this
module only makes aiortc able to apply it.  Three places in aiortc assume small packets:

* **DTLS.**  ``RTCDtlsTransport`` reads at most 1500 bytes per call from OpenSSL, both the
  ciphertext of a record it sends (``bio_read(1500)``) and the plaintext of one it receives
  (``recv(1500)``); a bigger record would be cut in two.  :class:`LargeRecordSsl` wraps the
  ``SSL.Connection`` and reads up to one whole record instead.  OpenSSL itself writes and
  reads records of up to 2^14 bytes of plaintext whatever the MTU (the MTU only shapes
  handshake messages, and the wrapper goes in after the handshake).
* **SCTP.**  aiortc's ``RTCSctpTransport`` fragments messages and counts its congestion
  window in units of the module constant ``USERDATA_MAX_LENGTH`` (1160 bytes): the initial
  window, the slow-start step, the congestion-avoidance step, the ssthresh floor, the window
  after a timeout and the burst limit.  :func:`scaled_methods` gives the four methods using
  it (``_send``, ``_transmit``, ``_receive_sack_chunk``, ``_t3_expired``) as the same code
  run with that constant set to the bigger chunk: the RFC 9260 logic is aiortc's, line for
  line, with every MTU-denominated quantity scaled with the packet.  The constant is read
  per call, so a per-transport copy is the only way two transports in one process (our
  client and runtime in the tests) can differ.
* **UDP and ICE.**  Nothing to change: asyncio reads datagrams of up to 256 KiB, aioice
  passes them on untouched, and the loopback MTU is 64 KiB, so a 16 KiB datagram is sent
  and received whole.

Everything here relies on aiortc and aioice private attributes; each function checks what
it uses and reports False/None (the usual packet size then stays) when they are missing.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Mapping
from typing import Any

from aiortc import RTCSctpTransport
from aiortc import rtcsctptransport as _sctp

from reactor_proto.sctp_packets import MAX_PACKET_SIZE, CandidatePairFacts

#: Plaintext of the biggest record (the TLS limit, 2^14 bytes).
RECORD_PLAINTEXT_MAX = MAX_PACKET_SIZE
#: Ciphertext of the biggest record: header (13) plus the expansion TLS allows (2048).
RECORD_CIPHERTEXT_MAX = MAX_PACKET_SIZE + 2048 + 13
#: aiortc's methods whose code reads ``USERDATA_MAX_LENGTH``.
SCALED = ("_send", "_transmit", "_receive_sack_chunk", "_t3_expired")


class LargeRecordSsl:
    """An ``SSL.Connection`` whose reads take a whole record, not aiortc's 1500 bytes.

    Reading more than one record's worth cannot happen where aiortc reads: it flushes the
    BIO after every record it writes, and reads plaintext one datagram at a time."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def recv(self, bufsiz: int, flags: int | None = None) -> bytes:
        return bytes(self.inner.recv(max(bufsiz, RECORD_PLAINTEXT_MAX), flags))

    def bio_read(self, bufsiz: int) -> bytes:
        return bytes(self.inner.bio_read(max(bufsiz, RECORD_CIPHERTEXT_MAX)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def accept_large_records(dtls: Any) -> bool:
    """Wrap the running DTLS transport's connection in :class:`LargeRecordSsl` (once);
    False when the transport is not aiortc's as expected."""
    ssl = getattr(dtls, "_ssl", None)
    if isinstance(ssl, LargeRecordSsl):
        return True
    if ssl is None or not all(callable(getattr(ssl, name, None)) for name in ("recv", "bio_read")):
        return False
    dtls._ssl = LargeRecordSsl(ssl)
    return True


@functools.cache
def scaled_methods(chunk_data: int) -> Mapping[str, Callable[..., Any]]:
    """aiortc's :data:`SCALED` methods with ``USERDATA_MAX_LENGTH`` = ``chunk_data``.

    Each is a new function object over the original code and a copy of the module's
    globals (constants, classes and helpers; aiortc never rebinds them), so the logic is
    exactly aiortc's."""
    namespace = dict(vars(_sctp))
    namespace["USERDATA_MAX_LENGTH"] = chunk_data
    methods: dict[str, Callable[..., Any]] = {}
    for name in SCALED:
        original = getattr(RTCSctpTransport, name)
        method = types.FunctionType(original.__code__, namespace, original.__name__,
                                    original.__defaults__, original.__closure__)
        method.__kwdefaults__ = original.__kwdefaults__
        methods[name] = method
    return types.MappingProxyType(methods)


def can_scale() -> bool:
    """True when aiortc's methods are plain functions reading the constant as a global."""
    for name in SCALED:
        original: Any = getattr(RTCSctpTransport, name, None)
        code = getattr(original, "__code__", None)
        if code is None or original.__closure__ or "USERDATA_MAX_LENGTH" not in code.co_names:
            return False
    return True


def selected_pair(dtls: Any) -> CandidatePairFacts | None:
    """The facts of the ICE pair carrying ``dtls`` (component 1), or None before one is
    selected or when aioice is not as expected."""
    connection = getattr(getattr(dtls, "transport", None), "_connection", None)
    nominated = getattr(connection, "_nominated", None)
    pair = nominated.get(1) if isinstance(nominated, dict) else None
    try:
        local, remote = pair.local_candidate, pair.remote_candidate  # type: ignore[union-attr]
        return CandidatePairFacts(
            local_host=str(local.host), remote_host=str(remote.host),
            local_type=str(local.type), remote_type=str(remote.type),
            transport=str(local.transport),
        )
    except AttributeError:
        return None
