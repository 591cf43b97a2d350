"""Data-channel chunking of one connection (``a=x-reactor-dc-chunking``, docs/protocol §6.8.7).

The runtime answers the attribute only when the offer declared it, with its own receive
limit (``RuntimeConfig.max_message_bytes``); from then on every message on both channels of
that negotiation's peer, text or binary, v0 or v1, travels as header-prefixed frames.  The
frame-metadata attribute (§6.8.8) is never answered: aiortc decodes video internally, so
this runtime cannot append or strip the trailer of encoded frames.
"""

from __future__ import annotations

import attrs

from ..wire_v1 import ChunkReassembler, split_message
from ..wire_v1.chunks import NATIVE_CHUNK_SIZE
from ..wire_v1.negotiation import chunking_limit, chunking_line

#: Partial messages kept per connection (both channels) before new ones are refused.
MAX_IN_FLIGHT = 2
#: A partial message that gets no frame for this long is freed on the next frame.
IDLE_TIMEOUT = 30.0


def offered_limit(offer_sdp: str) -> int | None:
    """The receive limit the offer declares for chunking, or None (no chunking)."""
    return chunking_limit(offer_sdp)


def declare_chunking(answer_sdp: str, own_limit: int) -> str:
    """The answer with our chunking line as the last session-level line."""
    line = chunking_line(own_limit)
    newline = "\r\n" if "\r\n" in answer_sdp else "\n"
    lines = answer_sdp.split(newline)
    at = next((i for i, text in enumerate(lines) if text.startswith("m=")), len(lines))
    if at == len(lines) and lines and lines[-1] == "":
        at -= 1  # keep the trailing newline last
    lines.insert(at, line)
    return newline.join(lines)


@attrs.define
class Framing:
    """Chunking state of one connection: the send limit and a bounded reassembler."""

    send_limit: int
    reassembler: ChunkReassembler

    @classmethod
    def negotiated(cls, *, own_limit: int, peer_limit: int) -> Framing:
        return cls(send_limit=min(own_limit, peer_limit),
                   reassembler=ChunkReassembler(max_message_size=own_limit,
                                                max_total_bytes=2 * own_limit,
                                                max_in_flight=MAX_IN_FLIGHT,
                                                idle_timeout=IDLE_TIMEOUT))

    def frames(self, payload: str | bytes) -> list[bytes]:
        """The frames of one outgoing message (MessageTooLargeError over the limit)."""
        return split_message(payload, max_message_size=self.send_limit,
                             chunk_size=NATIVE_CHUNK_SIZE)
