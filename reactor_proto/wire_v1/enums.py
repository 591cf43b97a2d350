"""The enums of the v1 wire (docs/protocol §6.8.4, §15).

Protobuf enums are *open*: a number this version does not know still decodes and is kept.
Fields typed ``SomeEnum | int`` therefore hold a member when the number is known and the
bare ``int`` otherwise, so a receiver can tell "unrecognised" from a known value without an
error.  The envelope's :class:`MessageKind` is the exception: the codec refuses unknown
kinds, because a receiver cannot tell whether such a message awaits a reply.
"""

from __future__ import annotations

import enum
from typing import TypeVar

E = TypeVar("E", bound=enum.IntEnum)


class MessageKind(enum.IntEnum):
    UNSPECIFIED = 0
    REQUEST = 1
    RESPONSE = 2
    NOTIFICATION = 3


class TrackKind(enum.IntEnum):
    UNSPECIFIED = 0
    VIDEO = 1
    AUDIO = 2


class TrackDirection(enum.IntEnum):
    """Seen from the client: ``RECVONLY`` is a model output, ``SENDONLY`` a model input."""

    UNSPECIFIED = 0
    RECVONLY = 1
    SENDONLY = 2


class VideoCodec(enum.IntEnum):
    UNSPECIFIED = 0
    VP8 = 1
    VP9 = 2
    AV1 = 3
    H264 = 4
    H265 = 5


class AudioCodec(enum.IntEnum):
    UNSPECIFIED = 0
    OPUS = 1


class FrameEncoding(enum.IntEnum):
    UNSPECIFIED = 0
    RAW = 1
    H264 = 2


class StepFailureCode(enum.IntEnum):
    """Outcome of a step (§15.6); ``UNSPECIFIED`` means the step ran."""

    UNSPECIFIED = 0
    REFUSED = 1
    NOT_READY = 2
    FAILED = 3
    RESULT_TOO_LARGE = 4
    COMMAND_FAILED = 5
    SESSION_ENDED = 6


def open_enum(cls: type[E], number: int) -> E | int:
    """The member for ``number``, or ``number`` itself when this version does not know it."""
    try:
        return cls(number)
    except ValueError:
        return number
