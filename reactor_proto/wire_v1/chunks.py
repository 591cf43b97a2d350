"""Data-channel chunking (``a=x-reactor-dc-chunking``, docs/protocol §6.8.7), sans-IO.

On a chunked channel every message travels as one or more binary frames, each
``header (1 byte) || slice``.  Header bit 0 (``MORE``) says more frames of the same message
follow; bit 1 (``TEXT``) says the message was a string; bits 2-7 (the format version) must
be 0.  Frames of one message are sent back to back and messages are never interleaved on a
channel, so the format has no message id, offset or announced total: the ordered, reliable
channel does the sequencing.  What a hostile or broken peer *can* do, and what each gets:

* an empty frame, a version bit set, or the ``TEXT`` flag changing inside one message
  (a frame of some other message spliced in): :class:`ChunkError` with ``fatal=True`` --
  framing is lost, the caller closes the channel;
* a message that grows past ``max_message_size`` (or past ``max_total_bytes`` summed over
  all channels): ``TOO_LARGE``, not fatal -- the bytes are freed at once and the rest of
  that message is skipped up to its last frame, after which the channel carries on;
* partial messages on more channels than ``max_in_flight``: ``TOO_MANY_IN_FLIGHT``, fatal
  for the channel that asked;
* a message whose frames stop coming: :meth:`ChunkReassembler.expire` frees it after
  ``idle_timeout`` seconds without a frame (``EXPIRED``) and skips whatever of it arrives
  later, up to its last frame (or until one more ``idle_timeout`` passes in silence);
* a text message that is not UTF-8: ``BAD_TEXT``, not fatal.

Every error frees the bytes it concerns before it is raised or returned.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Any

import attrs

from reactor_proto.errors import (
    DecodeError,
    ErrorCode,
    LocalProtocolError,
    MessageTooLargeError,
)

FLAG_MORE = 0x01
FLAG_TEXT = 0x02
_VERSION_BITS = 0xFC

NATIVE_CHUNK_SIZE = 65_536  # frame size (header included) of native senders
BROWSER_CHUNK_SIZE = 4_096
MIN_CHUNK_SIZE = 2
MAX_CHUNK_SIZE = 262_144
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024  # the native engines' limit


class ChunkErrorReason(enum.StrEnum):
    EMPTY_FRAME = "empty_frame"
    BAD_VERSION = "bad_version"
    TEXT_FLAG_CHANGED = "text_flag_changed"
    TOO_LARGE = "too_large"
    TOO_MANY_IN_FLIGHT = "too_many_in_flight"
    EXPIRED = "expired"
    BAD_TEXT = "bad_text"


_FATAL = frozenset({ChunkErrorReason.EMPTY_FRAME, ChunkErrorReason.BAD_VERSION,
                    ChunkErrorReason.TEXT_FLAG_CHANGED, ChunkErrorReason.TOO_MANY_IN_FLIGHT})


class ChunkError(DecodeError):
    """A chunked message could not be reassembled.  ``fatal`` means framing on
    ``channel`` is lost and the channel should be closed; otherwise only that message is
    gone and the channel goes on."""

    def __init__(self, channel: str, reason: ChunkErrorReason, message: str,
                 **kwargs: Any) -> None:
        if reason is ChunkErrorReason.TOO_LARGE:
            kwargs.setdefault("code", ErrorCode.MESSAGE_TOO_LARGE)
        super().__init__(f"channel {channel!r}: {message}", field="chunk", value=reason.value,
                         **kwargs)
        self.channel = channel
        self.reason = reason
        self.fatal = reason in _FATAL


@attrs.frozen(kw_only=True)
class WholeMessage:
    """A reassembled message: ``bytes`` for a binary one, ``str`` for a text one."""

    channel: str
    data: bytes | str


# ---- sending side ---------------------------------------------------------------------------


def split_message(message: bytes | str, *, max_message_size: int,
                  chunk_size: int = NATIVE_CHUNK_SIZE) -> list[bytes]:
    """The frames that carry ``message`` on a chunked channel.

    ``max_message_size`` is the negotiated limit (min of ours and the peer's declared one);
    a larger message raises :class:`MessageTooLargeError` and nothing is to be sent.
    """
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise LocalProtocolError(
            f"chunk_size {chunk_size} is outside {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE}")
    text = isinstance(message, str)
    payload = message.encode("utf-8") if isinstance(message, str) else bytes(message)
    if len(payload) > max_message_size:
        raise MessageTooLargeError(
            f"message of {len(payload)} bytes is over the negotiated {max_message_size}")
    flags = FLAG_TEXT if text else 0
    step = chunk_size - 1
    if len(payload) <= step:
        return [bytes((flags,)) + payload]
    last = (len(payload) - 1) // step * step
    more = bytes((flags | FLAG_MORE,))
    frames = [more + payload[i:i + step] for i in range(0, last, step)]
    frames.append(bytes((flags,)) + payload[last:])
    return frames


# ---- receiving side -------------------------------------------------------------------------


@attrs.define
class _Partial:
    text: bool
    parts: list[bytes]
    size: int
    last_seen: float
    skipping: bool = False  # the message was dropped; discard up to its last frame


@attrs.define
class ChunkReassembler:
    """Reassembles chunked messages of one connection, keyed by channel label.

    Feed every frame with :meth:`feed`; take whole messages with :meth:`next_message` (or
    :meth:`drain`); call :meth:`expire` from a timer.  All bounds are fixed at creation.
    """

    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    max_total_bytes: int = 2 * DEFAULT_MAX_MESSAGE_SIZE
    max_in_flight: int = 4
    idle_timeout: float = 30.0
    _channels: dict[str, _Partial] = attrs.field(factory=dict, init=False)
    _ready: deque[WholeMessage] = attrs.field(factory=deque, init=False)
    _buffered: int = attrs.field(default=0, init=False)

    @property
    def buffered_bytes(self) -> int:
        """Bytes held in partial messages (always <= ``max_total_bytes``)."""
        return self._buffered

    @property
    def in_flight(self) -> int:
        """Channels with a message in progress (being kept or being skipped)."""
        return len(self._channels)

    def next_message(self) -> WholeMessage | None:
        return self._ready.popleft() if self._ready else None

    def drain(self) -> list[WholeMessage]:
        out = list(self._ready)
        self._ready.clear()
        return out

    def feed(self, channel: str, frame: bytes, *, now: float) -> None:
        """Take one frame received on ``channel``; raises :class:`ChunkError`."""
        if not frame:
            self._drop(channel)
            raise ChunkError(channel, ChunkErrorReason.EMPTY_FRAME, "empty chunk frame")
        header = frame[0]
        if header & _VERSION_BITS:
            self._drop(channel)
            raise ChunkError(channel, ChunkErrorReason.BAD_VERSION,
                             f"chunk header 0x{header:02x} has version bits set")
        more = bool(header & FLAG_MORE)
        text = bool(header & FLAG_TEXT)
        body = bytes(frame[1:])
        partial = self._channels.get(channel)
        if partial is None:
            if not more:  # the common case: a whole message in one frame
                self._deliver(channel, text, body, len(body))
                return
            if len(self._channels) >= self.max_in_flight:
                raise ChunkError(channel, ChunkErrorReason.TOO_MANY_IN_FLIGHT,
                                 f"more than {self.max_in_flight} messages in flight")
            partial = _Partial(text=text, parts=[], size=0, last_seen=now)
            self._channels[channel] = partial
        elif partial.text != text:
            self._drop(channel)
            raise ChunkError(channel, ChunkErrorReason.TEXT_FLAG_CHANGED,
                             "the TEXT flag changed inside one message")
        partial.last_seen = now
        if not more and partial.skipping:
            del self._channels[channel]
            return
        if partial.skipping:
            return
        size = partial.size + len(body)
        if size > self.max_message_size or self._buffered + len(body) > self.max_total_bytes:
            limit = (self.max_message_size if size > self.max_message_size
                     else self.max_total_bytes)
            self._skip(channel, partial, last=not more)
            raise ChunkError(channel, ChunkErrorReason.TOO_LARGE,
                             f"message passed {limit} bytes; the rest of it is skipped")
        if not more:
            del self._channels[channel]
            self._buffered -= partial.size
            partial.parts.append(body)
            self._deliver(channel, text, b"".join(partial.parts), size)
            return
        partial.parts.append(body)
        partial.size = size
        self._buffered += len(body)

    def expire(self, now: float) -> list[ChunkError]:
        """Drop messages that got no frame for ``idle_timeout`` seconds; one error each."""
        errors: list[ChunkError] = []
        for channel, partial in list(self._channels.items()):
            if now - partial.last_seen < self.idle_timeout:
                continue
            if partial.skipping:  # nothing held; stop waiting for its last frame
                del self._channels[channel]
                continue
            self._skip(channel, partial, last=False)
            errors.append(ChunkError(channel, ChunkErrorReason.EXPIRED,
                                     f"message incomplete after {self.idle_timeout} s "
                                     f"without a frame; dropped"))
        return errors

    # -- internals ----------------------------------------------------------------------------

    def _deliver(self, channel: str, text: bool, body: bytes, size: int) -> None:
        if size > self.max_message_size:
            raise ChunkError(channel, ChunkErrorReason.TOO_LARGE,
                             f"message of {size} bytes is over {self.max_message_size}")
        if not text:
            self._ready.append(WholeMessage(channel=channel, data=body))
            return
        try:
            self._ready.append(WholeMessage(channel=channel, data=body.decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise ChunkError(channel, ChunkErrorReason.BAD_TEXT,
                             f"text message is not UTF-8 ({exc.reason})") from exc

    def _skip(self, channel: str, partial: _Partial, *, last: bool) -> None:
        self._buffered -= partial.size
        partial.parts = []
        partial.size = 0
        partial.skipping = True
        if last:
            del self._channels[channel]

    def _drop(self, channel: str) -> None:
        partial = self._channels.pop(channel, None)
        if partial is not None:
            self._buffered -= partial.size
