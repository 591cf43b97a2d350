"""Fuzz the data-channel chunk reassembler (``reactor_proto.wire_v1.chunks``).

Input: byte 0 picks the bounds (message size, total bytes, messages in flight); then a
stream of operations, each ``op length frame[length]``: ``op & 3`` is the channel,
``op >> 2`` the seconds that pass before the frame, ``length % 40`` the frame's size (so
headers, empty frames and runs of MORE frames all occur).  After every frame the machine
is asked to expire idle messages.

Oracle: ``feed`` returns or raises ``ChunkError`` and the stream goes on after it; after
every step the bounds hold (bytes held, messages in flight), every delivered message is
within the size bound, and two final expiries leave nothing held (the bytes go at the
first; an expired message is skipped for one more idle period).  Differential: every
delivered message, split again at several chunk sizes, reassembles to itself.
"""

from __future__ import annotations

from reactor_proto.wire_v1.chunks import ChunkError, ChunkReassembler, split_message

ACCEPTED = (ChunkError,)

_CHANNELS = ("data", "control", "x", "y")


def one_input(data: bytes) -> None:
    if not data:
        return
    config = data[0]
    max_message = 8 + (config & 0x0F) * 8
    max_total = max_message + ((config >> 4) & 0x03) * 32
    max_in_flight = 1 + (config >> 6)
    machine = ChunkReassembler(max_message_size=max_message, max_total_bytes=max_total,
                               max_in_flight=max_in_flight, idle_timeout=20.0)
    now = 0.0
    pos = 1
    delivered = []
    while pos + 1 < len(data):
        op, length = data[pos], data[pos + 1] % 40
        frame = data[pos + 2:pos + 2 + length]
        pos += 2 + length
        now += op >> 2
        refused: ChunkError | None = None
        try:
            machine.feed(_CHANNELS[op & 3], frame, now=now)
        except ChunkError as exc:
            refused = exc
        assert refused is None or refused.channel == _CHANNELS[op & 3]
        for error in machine.expire(now):
            assert not error.fatal
        assert 0 <= machine.buffered_bytes <= max_total
        assert machine.in_flight <= max_in_flight
        delivered.extend(machine.drain())
    machine.expire(now + 20.0)
    assert machine.buffered_bytes == 0
    machine.expire(now + 40.0)  # an expired message is skipped for one more idle period
    assert machine.in_flight == 0
    for whole in delivered:
        size = len(whole.data.encode() if isinstance(whole.data, str) else whole.data)
        assert size <= max_message
        for chunk_size in (2, 3, 17):
            fresh = ChunkReassembler()
            for piece in split_message(whole.data, max_message_size=max_message,
                                       chunk_size=chunk_size):
                fresh.feed(whole.channel, piece, now=0.0)
            assert fresh.drain() == [whole]
