"""Fragmented MP4 with PyAV: an H.264 encoder whose output is split into the init segment
and one fragment per chunk, plus concatenation and the remux to a flat MP4.

The ``mp4`` muxer with ``frag_keyframe+empty_moov+default_base_moof`` writes ``ftyp+moov``
first, then one ``moof+mdat`` fragment per keyframe, flushed when the *next* keyframe
arrives.  Keyframes are forced only at chunk starts (x264's own keyframes are off), so the
bytes that come out while a chunk's first frame is muxed are exactly the previous chunk.
The sink parses top-level boxes as they arrive and keeps init and fragment bytes apart.
"""

from __future__ import annotations

import contextlib
import fractions
import io
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import av
from av.video.frame import PictureType

TIME_BASE = fractions.Fraction(1, 90_000)
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
#: x264: speed over size (a recording must cost little CPU per stream: ``ultrafast``, one
#: thread, a constant quantiser, which skips rate control), no lookahead, and no keyframe but
#: the ones we force at chunk starts.  Measured at 640x360 on yuv420p Helios frames: about
#: 0.45 ms per frame and 190 kbit/s (crf 28: 0.6 ms, 205 kbit/s; bench figure 9).
X264_OPTIONS = {"preset": "ultrafast", "tune": "zerolatency", "qp": "28",
                "x264-params": "keyint=infinite:min-keyint=1:scenecut=0:bframes=0:threads=1"}
#: FFmpeg's AAC encoder with its fast coder: half the CPU of the default ("twoloop"),
#: measured at 48 kHz mono: about 5.5 ms of CPU per second of audio instead of 12-15
AAC_OPTIONS = {"aac_coder": "fast"}
_INIT_BOXES = frozenset({b"ftyp", b"moov"})
_FRAGMENT_BOXES = frozenset({b"moof", b"mdat", b"styp", b"sidx", b"prft"})


class BoxSink:
    """A write-only file for the muxer that sorts whole top-level boxes into the init
    segment and the fragment bytes not yet taken (``mfra`` and the like are dropped)."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self.init = bytearray()
        self.fragments = bytearray()
        #: where each whole fragment (``moof`` + ``mdat``) not yet taken ends in ``fragments``
        self.ends: list[int] = []
        self.written = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._pending += data
        self.written += len(data)
        self._split()
        return len(data)

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        pass

    def _split(self) -> None:
        view = self._pending
        offset = 0
        while len(view) - offset >= 8:
            size, kind = struct.unpack_from(">I4s", view, offset)
            header = 8
            if size == 1:
                if len(view) - offset < 16:
                    break
                (size,) = struct.unpack_from(">Q", view, offset + 8)
                header = 16
            if size < header:
                raise ValueError(f"mp4 box {kind!r} of size {size} (a size-0 box is not "
                                 f"expected in fragmented output)")
            if len(view) - offset < size:
                break
            box = view[offset:offset + size]
            if kind in _INIT_BOXES:
                self.init += box
            elif kind in _FRAGMENT_BOXES:
                self.fragments += box
                if kind == b"mdat":
                    self.ends.append(len(self.fragments))
            offset += size
        del self._pending[:offset]

    def take_fragments(self) -> bytes:
        out = bytes(self.fragments)
        self.fragments.clear()
        self.ends.clear()
        return out

    def take_fragment(self) -> bytes | None:
        """The first whole fragment, or None when none is complete yet."""
        if not self.ends:
            return None
        end = self.ends.pop(0)
        out = bytes(self.fragments[:end])
        del self.fragments[:end]
        self.ends = [e - end for e in self.ends]
        return out


class FragmentEncoder:
    """H.264 (and, with ``audio=(sample_rate, channels)``, AAC) into fragmented MP4 in
    memory; one call per frame, on one thread.

    With audio the muxer interleaves by timestamp: a chunk's keyframe (and so the fragment
    before it) is written only once an audio packet at or after it was muxed, so a fragment
    may come out a little after the keyframe's ``encode`` (take it with
    :meth:`BoxSink.take_fragment`)."""

    def __init__(self, width: int, height: int, *, options: dict[str, str] | None = None,
                 audio: tuple[int, int] | None = None) -> None:
        self.sink = BoxSink()
        self.width = width - width % 2
        self.height = height - height % 2
        self._container: Any = av.open(self.sink, "w", format="mp4",
                                       options={"movflags": MOVFLAGS, "flush_packets": "1"})
        stream = self._container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
        stream.codec_context.time_base = TIME_BASE
        stream.codec_context.options = dict(options or X264_OPTIONS)
        self._stream = stream
        self._audio: Any = None
        if audio is not None:
            rate, channels = audio
            self._audio = self._container.add_stream(
                "aac", rate=rate, layout="mono" if channels == 1 else "stereo")
            self._audio.codec_context.options = dict(AAC_OPTIONS)
            self._audio_layout = "mono" if channels == 1 else "stereo"
            self._audio_time_base = fractions.Fraction(1, rate)
        self._last_pts = -1
        self.closed = False

    @property
    def has_audio(self) -> bool:
        return self._audio is not None

    def encode_audio(self, pcm: Any, position: int) -> None:
        """Encode int16 ``(samples, channels)`` PCM at ``position`` samples on the
        recording's timeline (positions only grow; PyAV cuts AAC's 1024-sample frames)."""
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16",
                                           layout=self._audio_layout)
        frame.sample_rate = self._audio.codec_context.sample_rate
        frame.pts = position
        frame.time_base = self._audio_time_base
        for packet in self._audio.encode(frame):
            self._container.mux(packet)

    def encode(self, frame: av.VideoFrame, seconds: float, *, keyframe: bool) -> None:
        """Encode ``frame`` at ``seconds`` on the recording's timeline."""
        # float arithmetic: dividing by the Fraction costs more than the rest of this call
        pts = max(round(seconds * TIME_BASE.denominator), self._last_pts + 1)
        self._last_pts = pts
        if frame.width != self.width or frame.height != self.height or frame.format.name != (
                "yuv420p"):
            frame = frame.reformat(width=self.width, height=self.height, format="yuv420p")
        frame.pts = pts
        frame.time_base = TIME_BASE
        frame.pict_type = PictureType.I if keyframe else PictureType.NONE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def flush(self) -> None:
        """Flush the encoders and close the muxer: every fragment left goes to the sink."""
        if not self.closed:
            self.closed = True
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            if self._audio is not None:
                for packet in self._audio.encode(None):
                    self._container.mux(packet)
            self._container.close()

    def finish(self) -> bytes:
        """Flush the encoder and the muxer: the last fragment's bytes."""
        self.flush()
        return self.sink.take_fragments()

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):  # already failing: the container is dropped
                self._container.close()


def concatenate(init: bytes, fragments: Iterable[bytes]) -> bytes:
    """A playable fragmented MP4: the init segment, then the chunks in order."""
    return init + b"".join(fragments)


def remux(fragmented: bytes, path: str | Path) -> Path:
    """Rewrite fragmented MP4 bytes as a flat MP4 (one ``moov`` first) at ``path``,
    without re-encoding; the video and audio streams are kept and every timestamp is
    shifted by the same amount so the file starts at 0."""
    out_path = Path(path)
    with av.open(io.BytesIO(fragmented), "r") as source, av.open(
            str(out_path), "w", format="mp4", options={"movflags": "faststart"}) as target:
        kept = [*source.streams.video[:1], *source.streams.audio[:1]]
        outs = {s.index: target.add_stream_from_template(s) for s in kept}
        packets = [(p, p.dts) for p in source.demux(kept) if p.dts is not None]
        origin = min((dts * p.time_base for p, dts in packets if p.time_base), default=0)
        for packet, dts in packets:
            shift = round(origin / packet.time_base) if packet.time_base else 0
            packet.dts = dts - shift
            if packet.pts is not None:
                packet.pts -= shift
            packet.stream = outs[packet.stream.index]
            target.mux(packet)
    return out_path
