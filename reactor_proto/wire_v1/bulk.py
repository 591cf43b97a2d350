"""Step frames' bytes kept out of the protobuf runtime (issue 24), sans-IO.

A step result or request carries its frames' pixels in ``Frame.data`` (docs/protocol §15.4,
§15.5): 675 KiB for one 640x360 RGB frame.  Google's protobuf runtime copies such a field
several times on the way in and out (into its arena, into the serialized buffer, out again,
and ``ByteSize`` serializes the whole message once more), which cost 1.7 ms to encode and
2.5 ms to decode one such result: more than the rest of a step.  So the envelopes that carry
frames go through protobuf *without* the frames' bytes, and the bytes are spliced in or cut
out here, at the wire level:

* **Encoding.**  The message is encoded with every ``Frame.data`` empty (proto3 then writes
  no field at all); :func:`splice` walks that small encoding down to each ``Frame`` and
  appends its ``data`` field (a parser accepts fields in any order), fixing the length
  prefix of every enclosing message.
* **Decoding.**  :func:`cut` walks the received bytes the same way, takes each ``Frame``'s
  ``data`` field out (the last occurrence wins, as in protobuf) and returns the rest, which
  the codec decodes and checks as usual; :func:`reattach` puts the bytes back, in order.
  Whatever the walk does not understand (a truncated varint, a length past the end, the
  payload field not holding a step message) makes :func:`cut` return None, and the codec
  then decodes the original bytes the usual way, with its usual errors.

The result is byte-for-byte a valid protobuf encoding of the same message (only the field
order inside each ``Frame`` differs from Google's), so any peer reads it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final

import attrs

from reactor_proto.wire_v1.envelopes import DataClientMessage, DataServerMessage
from reactor_proto.wire_v1.payloads import Frame, RequestStep, StepResult, TrackFrames
from reactor_proto.wire_v1.proto import envelopes_pb2, step_pb2
from reactor_proto.wire_v1.structwire import varint

_LEN: Final = 2  # wire type of a length-delimited field
_FRAME_DATA: Final = step_pb2.Frame.DESCRIPTOR.fields_by_name["data"].number
_TRACK_FRAMES: Final = step_pb2.TrackFrames.DESCRIPTOR.fields_by_name["frames"].number

#: the envelopes that carry frames: the payload type and the path of field numbers from
#: the envelope to its ``TrackFrames`` (payload field, then the repeated track field)
_PATHS: Final[dict[type, tuple[type, tuple[int, int]]]] = {
    DataServerMessage: (StepResult, (
        envelopes_pb2.DataServerMessage.DESCRIPTOR.fields_by_name["step_result"].number,
        step_pb2.StepResult.DESCRIPTOR.fields_by_name["tracks"].number)),
    DataClientMessage: (RequestStep, (
        envelopes_pb2.DataClientMessage.DESCRIPTOR.fields_by_name["request_step"].number,
        step_pb2.RequestStep.DESCRIPTOR.fields_by_name["media_input"].number)),
}
#: messages smaller than this are not worth the walk
MIN_BYTES: Final = 16 * 1024

Segments = list[bytes]


class _Malformed(Exception):
    """The walk met bytes it does not understand (the codec then decodes as usual)."""


@attrs.frozen(kw_only=True)
class Detached:
    """A message with every frame's bytes taken out, and those bytes in frame order."""

    message: Any
    data: tuple[bytes, ...]


def carries_frames(envelope: type) -> bool:
    return envelope in _PATHS


#: the payload attribute holding the frames' tracks
_TRACKS: Final = {StepResult: "tracks", RequestStep: "media_input"}


def _frames(message: Any) -> Iterator[Frame]:
    kind, _ = _PATHS[type(message)]
    payload = message.payload
    if type(payload) is not kind:
        return
    track: TrackFrames
    for track in getattr(payload, _TRACKS[kind]):
        yield from track.frames


def _with_data(message: Any, data: Iterator[bytes]) -> Any:
    """``message`` with each frame's bytes replaced by the next of ``data``."""
    kind, _ = _PATHS[type(message)]
    name = _TRACKS[kind]
    tracks = tuple(attrs.evolve(track, frames=tuple(attrs.evolve(frame, data=next(data))
                                                    for frame in track.frames))
                   for track in getattr(message.payload, name))
    return attrs.evolve(message, payload=attrs.evolve(message.payload, **{name: tracks}))


def detach(message: Any) -> Detached | None:
    """``message`` with empty frame data and the data, or None when it carries no frame
    bytes worth keeping out (not a frame-carrying envelope, or less than MIN_BYTES)."""
    if type(message) not in _PATHS:
        return None
    data = tuple(frame.data for frame in _frames(message))
    if sum(len(d) for d in data) < MIN_BYTES:
        return None
    empty = (b"" for _ in data)
    return Detached(message=_with_data(message, empty), data=data)


def reattach(message: Any, data: Sequence[bytes]) -> Any | None:
    """``message`` (decoded from :func:`cut`'s rest) with the frames' bytes back; None when
    its frames do not match ``data`` one for one (the codec then decodes the original)."""
    if type(message) not in _PATHS or sum(1 for _ in _frames(message)) != len(data):
        return None
    return _with_data(message, iter(data))


# ---- the wire walk ----------------------------------------------------------------------


def _read_varint(buf: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Malformed
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """(field number, wire type, field start, value start, value end) of each field."""
    pos = start
    while pos < end:
        at = pos
        key, pos = _read_varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _read_varint(buf, pos, end)
            begin = pos
        elif wire == 1 or wire == 5:
            begin = pos
            pos += 8 if wire == 1 else 4
        elif wire == _LEN:
            length, begin = _read_varint(buf, pos, end)
            pos = begin + length
        else:  # groups (3, 4) and reserved types never occur in these messages
            raise _Malformed
        if pos > end or number == 0:
            raise _Malformed
        yield number, wire, at, begin, pos


def _rewrite(buf: bytes, start: int, end: int, path: tuple[int, ...],
             frame: Any) -> Segments:
    """The segments of the message at ``buf[start:end]`` with every ``Frame`` under
    ``path`` (then the repeated ``frames`` field) rewritten by ``frame``."""
    out: Segments = []
    for number, wire, at, begin, stop in _fields(buf, start, end):
        if wire == _LEN and path and number == path[0]:
            inner = _rewrite(buf, begin, stop, path[1:], frame)
        elif wire == _LEN and not path and number == _TRACK_FRAMES:
            inner = frame(buf, begin, stop)
        else:
            out.append(buf[at:stop])
            continue
        out.append(varint(number << 3 | _LEN))
        out.append(varint(sum(len(s) for s in inner)))
        out.extend(inner)
    return out


def splice(envelope: type, small: bytes, data: Sequence[bytes]) -> bytes:
    """The encoding of the message whose frames' bytes :func:`detach` took out: ``small``
    (its encoding without them) with each frame's ``data`` field appended, in order."""
    given = iter(data)

    def frame(buf: bytes, begin: int, stop: int) -> Segments:
        value = next(given)
        if not value:
            return [buf[begin:stop]]
        return [buf[begin:stop], varint(_FRAME_DATA << 3 | _LEN), varint(len(value)), value]

    _, path = _PATHS[envelope]
    return b"".join(_rewrite(small, 0, len(small), path, frame))


def cut(envelope: type, raw: bytes) -> tuple[bytes, tuple[bytes, ...]] | None:
    """``raw`` without its frames' ``data`` fields, and those bytes in frame order (b""
    for a frame without one); None when the walk does not understand ``raw`` or the frames
    hold less than :data:`MIN_BYTES` (what is left then holds no frame bytes at all, so a
    decoder that decodes the rest never cuts again)."""
    taken: list[bytes] = []

    def frame(buf: bytes, begin: int, stop: int) -> Segments:
        rest: Segments = []
        value = b""
        for number, wire, at, value_at, end in _fields(buf, begin, stop):
            if number == _FRAME_DATA and wire == _LEN:
                value = buf[value_at:end]  # the last occurrence wins, as in protobuf
            else:
                rest.append(buf[at:end])
        taken.append(value)
        return rest

    _, path = _PATHS[envelope]
    try:
        rest = _rewrite(raw, 0, len(raw), path, frame)
    except _Malformed:
        return None
    if sum(len(value) for value in taken) < MIN_BYTES:
        return None  # nothing worth it (and the rest never comes back here)
    return b"".join(rest), tuple(taken)
