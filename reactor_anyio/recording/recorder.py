"""The recorder: frames in, fragmented-MP4 chunks on disk, clips out.

One :class:`Recorder` records one output track.  The media side calls :meth:`Recorder.offer`
with each ``av.VideoFrame`` (or RGB array) the runtime's media hub produces; it never blocks
and never raises: frames go through a small bounded queue to a worker thread that encodes
them (:class:`~reactor_anyio.recording.fmp4.FragmentEncoder`), so encoding never stalls the
event loop or the producer, and a full queue drops the frame and counts it.

Every decision is the core's (:class:`~reactor_proto.recording.RecordingStore`): where a
chunk is cut, which chunks to evict (the files are deleted here), what a clip request or a
``GET /clips`` gets.  A clip request closes the boundary chunk at the next frame; if frames
have stopped, the worker repeats the last frame after ``close_wait`` seconds so the chunk
closes anyway.  The worker takes frames in batches (:mod:`~.pacing`).  A failure (encoder,
disk) becomes the store's ``recorder_failed`` reason, answered as ``clipFailed``; chunks on
disk stay servable.  They live in a temporary directory that :meth:`Recorder.close` removes.

With an ``audio`` feed (:mod:`~reactor_anyio.recording.audio`) the model's audio is recorded
as an AAC track beside the video, on the video's timeline, encoded on the same worker thread;
a chunk is written once the muxer has let its fragment out (see
:class:`~reactor_anyio.recording.fmp4.FragmentEncoder`), padding the audio with silence
when it has stopped.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import av
import numpy as np

from reactor_anyio.recording.audio import AAC_DELAY, AudioFeed, AudioPlacer, Pcm
from reactor_anyio.recording.fmp4 import FragmentEncoder, concatenate
from reactor_anyio.recording.native import WORKER_NAME, name_this_thread, thread_cpu_seconds
from reactor_anyio.recording.pacing import WorkerPacing
from reactor_proto.recording import (
    ChunkInfo,
    Clip,
    ClipFailure,
    ClipPlan,
    PlaylistAnswer,
    PlaylistPending,
    PlaylistReady,
    RecordingConfig,
    RecordingStore,
    Timeline,
)
from reactor_proto.recording.errors import RecordingError, RecordingErrorCode
from reactor_proto.recording.validate import INIT_NAME, chunk_name

logger = logging.getLogger(__name__)

Frame = av.VideoFrame | np.ndarray[Any, Any]


class Recorder:
    """Records one track into chunks; thread-safe; see the module docstring."""

    def __init__(self, config: RecordingConfig | None = None, *,
                 recording_id: str | None = None, parent_dir: str | Path | None = None,
                 queue_frames: int = 16, close_wait: float = 0.1,
                 encoder_options: dict[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 audio: AudioFeed | None = None) -> None:
        self.recording_id = recording_id or str(uuid.uuid4())
        self.store = RecordingStore(self.recording_id, config)
        self.config = self.store.config
        self.directory = Path(tempfile.mkdtemp(prefix="reactor-recording-", dir=parent_dir))
        self.close_wait = close_wait
        self.clock = clock
        self.frames_recorded = 0
        self.frames_dropped = 0
        self._encoder_options = encoder_options
        self._lock = threading.Lock()
        self._queue: queue.Queue[Any] = queue.Queue(max(1, queue_frames))
        self._timeline = Timeline(self.config.max_gap_seconds)
        self._encoder: FragmentEncoder | None = None
        self._has_init = False
        self._last: tuple[Frame, float] | None = None
        self._last_arrival = 0.0
        self._step = 1 / 30
        self._stopping = False
        self._pacing = WorkerPacing(self._queue.maxsize, close_wait=close_wait)
        self._stopped = threading.Event()
        self._closed = False
        # audio (None without a feed): 20 ms frames, a bounded queue of its own (2.5 s)
        self.audio = audio
        self.audio_dropped = 0
        self._audio_queue: queue.Queue[tuple[Pcm, float]] = queue.Queue(128)
        self._placer = (None if audio is None else AudioPlacer(
            audio.sample_rate, audio.channels, max_gap=self.config.max_gap_seconds))
        self._audio_arrival = 0.0
        #: chunks cut whose fragment the muxer has not let out yet (oldest first)
        self._pending: list[int] = []
        self._thread = threading.Thread(target=self._run, name="reactor-recorder", daemon=True)
        self._thread.start()
        if audio is not None:
            audio.attach(self)

    # ---- frames in (any thread; never blocks, never raises) ---------------------------

    def offer(self, frame: Frame, pts_seconds: float | None = None) -> bool:
        """Queue a frame for recording.  ``pts_seconds`` defaults to the frame's own
        timestamp, else the clock.  False when the frame was dropped (queue full, stopped,
        or the recorder failed)."""
        if self._stopping or self.store.failure is not None:
            return False
        try:
            if pts_seconds is None:
                pts_seconds = self._pts_of(frame)
            self._queue.put_nowait((frame, float(pts_seconds)))
            self._pacing.queued(self._queue.qsize())
        except queue.Full:
            self.frames_dropped += 1
            return False
        except Exception as exc:
            self._fail(f"bad frame: {type(exc).__name__}: {exc}")
            return False
        return True

    def offer_audio(self, pcm: Pcm, seconds: float) -> bool:
        """Queue a frame of int16 PCM whose first sample plays at ``seconds`` (the clock of
        the video ``pts_seconds``).  Never blocks; False when dropped."""
        if self._stopping or self.store.failure is not None or self._placer is None:
            return False
        try:
            self._audio_queue.put_nowait((pcm, seconds))
        except queue.Full:
            self.audio_dropped += 1
            return False
        return True

    def _pts_of(self, frame: Frame) -> float:
        if isinstance(frame, av.VideoFrame) and frame.pts is not None and frame.time_base:
            return float(frame.pts * frame.time_base)
        return self.clock()

    # ---- the worker thread ----------------------------------------------------------

    def _run(self) -> None:
        # a batch of frames per wake-up, promptly when a chunk waits (see pacing.py)
        name_this_thread(WORKER_NAME)
        try:
            while not self._stopping:
                with self._lock:
                    urgent = self.store.close_requested
                self._pacing.wait(urgent=urgent or bool(self._pending))
                if not self._drain():
                    repeat = self._repeat_for_close()
                    if repeat is not None:
                        self._record(*repeat)
                self._drain_audio()
            self._drain()
            self._drain_audio()
            self._finish()
        except BaseException as exc:
            self._fail(f"recorder thread: {type(exc).__name__}: {exc}")
        finally:
            self._stopped.set()

    def _drain(self) -> int:
        """Record every queued frame; how many there were."""
        count = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return count
            try:
                self._record(*item)
                count += 1
            finally:
                self._queue.task_done()

    def _drain_audio(self) -> None:
        """Encode the queued audio, then write the chunks whose fragment came out; when
        audio has stopped, pad it with silence so a waiting chunk still closes."""
        if self._placer is None:
            return
        while True:
            try:
                pcm, seconds = self._audio_queue.get_nowait()
            except queue.Empty:
                break
            self._audio_arrival = time.monotonic()
            self._record_audio(pcm, seconds)
        if self._pending and time.monotonic() - self._audio_arrival > self.close_wait:
            # past the last video frame by three AAC frames: the encoder lets out a packet
            # after the chunk's keyframe, which lets the keyframe's fragment out
            target = round((self._timeline.marker + self._step) * self._placer.sample_rate)
            self._encode_audio(self._placer.pad_to(target + 3 * AAC_DELAY, gap=False))
        self._write_ready()

    def _record_audio(self, pcm: Pcm, seconds: float) -> None:
        last = self._timeline.last_pts
        if self._encoder is None or last is None or self._placer is None:
            return  # audio starts with the first video frame, the clip's origin
        self._encode_audio(self._placer.place(pcm, self._timeline.marker + seconds - last))

    def _encode_audio(self, parts: list[tuple[Pcm, int]]) -> None:
        if self._encoder is None or self.store.failure is not None:
            return
        try:
            for part, position in parts:
                self._encoder.encode_audio(part, position)
        except Exception as exc:
            self._fail(f"audio: {type(exc).__name__}: {exc}")

    def _write_ready(self) -> None:
        """Write every cut chunk whose fragment the muxer has let out."""
        while self._pending and self._encoder is not None:
            data = self._encoder.sink.take_fragment()
            if data is None:
                return
            self._write_chunk(self._pending.pop(0), data)

    def _repeat_for_close(self) -> tuple[Frame, float] | None:
        """Frames stopped while a clip waits for the boundary chunk: repeat the last frame
        one step later, which cuts the chunk."""
        with self._lock:
            waiting = self.store.close_requested
        if not waiting or self._last is None:
            return None
        if time.monotonic() - self._last_arrival < self.close_wait:
            return None  # frames still come, only slowly: the next one closes the chunk
        frame, pts = self._last
        return frame, pts + self._step

    def _record(self, frame: Frame, pts: float) -> None:
        self._last_arrival = time.monotonic()
        if self.store.failure is not None:
            return
        marker = self._timeline.advance(pts)
        if marker is None:
            return
        if self._last is not None:
            self._step = min(max(pts - self._last[1], 1e-3), self.config.max_gap_seconds)
        self._last = (frame, pts)
        with self._lock:
            cut = self.store.on_frame(marker)
        try:
            video = frame if isinstance(frame, av.VideoFrame) else av.VideoFrame.from_ndarray(
                frame, format="rgb24")
            if self._encoder is None:
                self._encoder = FragmentEncoder(
                    video.width, video.height, options=self._encoder_options,
                    audio=None if self.audio is None else (self.audio.sample_rate,
                                                           self.audio.channels))
            self._encoder.encode(video, marker, keyframe=cut is not None)
            self.frames_recorded += 1
            if not self._has_init and self._encoder.sink.init:
                (self.directory / INIT_NAME).write_bytes(bytes(self._encoder.sink.init))
                self._has_init = True
            if cut is not None and cut.closes is not None:
                self._pending.append(cut.closes)
                self._write_ready()
        except Exception as exc:
            self._fail(f"{type(exc).__name__}: {exc}")

    def _write_chunk(self, index: int, data: bytes) -> None:
        # Under the lock, in this order: the store counts the chunk and names what to evict,
        # the evicted files go, the new file is written.  So the directory never holds more
        # than the cap, and no reader is told about a chunk whose file is not there yet (a
        # chunk is a few hundred kB into the page cache: well under a millisecond).
        with self._lock:
            if not data:
                self.store.chunk_lost(index)
                return
            self._delete(self.store.chunk_closed(index, size=len(data)))
            try:
                (self.directory / chunk_name(index)).write_bytes(data)
            except OSError:
                self.store.chunk_lost(index)
                raise

    def _delete(self, chunks: tuple[ChunkInfo, ...]) -> None:
        for info in chunks:
            with contextlib.suppress(FileNotFoundError):
                (self.directory / chunk_name(info.index)).unlink()

    def _finish(self) -> None:
        """The last chunk: flush the encoder, close the chunk being written."""
        if self._encoder is None:
            return
        try:
            with self._lock:
                cut = self.store.finish_chunk() if self.store.failure is None else None
            self._encoder.flush()
            if cut is not None and cut.closes is not None:
                self._pending.append(cut.closes)
            self._write_ready()
            for index in self._pending:  # no fragment came out for it
                self._write_chunk(index, b"")
            self._pending.clear()
        except Exception as exc:
            self._encoder.abort()
            self._fail(f"{type(exc).__name__}: {exc}")

    def _fail(self, reason: str) -> None:
        logger.warning("recording %s failed: %s", self.recording_id, reason)
        with self._lock:
            self.store.recorder_failed(reason)

    # ---- clips (any thread) ----------------------------------------------------------

    @property
    def lock(self) -> threading.Lock:
        """Held while the store changes; hold it to read the store from another thread (the
        runtime does so to answer ``GET /clips`` with the core's routes)."""
        return self._lock

    @property
    def failure(self) -> str | None:
        return self.store.failure

    def request_clip(self, duration: object, *, unix_ms: int | None = None
                     ) -> ClipPlan | ClipFailure:
        """Answer ``requestClip`` (and ask the worker to close the boundary chunk)."""
        with self._lock:
            plan = self.store.request_clip(duration, unix_ms=self._unix_ms(unix_ms))
        self._pacing.wake()  # the frames queued so far, then the boundary chunk's close
        return plan

    def request_recording(self, *, unix_ms: int | None = None) -> ClipPlan | ClipFailure:
        with self._lock:
            plan = self.store.request_recording(unix_ms=self._unix_ms(unix_ms))
        self._pacing.wake()
        return plan

    @staticmethod
    def _unix_ms(unix_ms: int | None) -> int:
        return round(time.time() * 1000) if unix_ms is None else unix_ms

    def answer(self, start: float, end: float) -> PlaylistAnswer:
        """What ``GET /clips?start=&end=`` gets (the range checked by the caller)."""
        with self._lock:
            return self.store.answer(start, end)

    async def wait_ready(self, clip: Clip, *, within: float = 2.0,
                         poll: float = 0.02) -> PlaylistAnswer:
        """Wait (at most ``within`` seconds) until ``clip``'s playlist stops being 202: what a
        runtime awaits before sending ``clipReady``, so the client's first fetch is a 200."""
        answer = self.answer(clip.start_marker, clip.end_marker)
        with anyio.move_on_after(within):
            while isinstance(answer, PlaylistPending):
                await anyio.sleep(poll)
                answer = self.answer(clip.start_marker, clip.end_marker)
        return answer

    def read(self, index: int | None) -> bytes | None:
        """A chunk's bytes (``index`` None: the init segment), or None (404)."""
        if index is None:
            name = INIT_NAME
            if not self._has_init or self.store.expired:
                return None
        else:
            with self._lock:
                if self.store.chunk(index) is None:
                    return None
            name = chunk_name(index)
        try:
            return (self.directory / name).read_bytes()
        except FileNotFoundError:  # evicted between the check and the read
            return None

    def clip_bytes(self, start: float, end: float) -> bytes:
        """The fragmented MP4 of [start, end] (init + chunks), or a ``RecordingError``."""
        answer = self.answer(start, end)
        if not isinstance(answer, PlaylistReady):
            code = (RecordingErrorCode.CLIP_NOT_READY if isinstance(answer, PlaylistPending)
                    else RecordingErrorCode.CLIP_GONE)
            raise RecordingError(code, f"clip {start:.3f}..{end:.3f}: {answer!r}")
        init = self.read(None)
        parts = [self.read(info.index) for info in answer.chunks]
        if init is None or any(part is None for part in parts):
            raise RecordingError(RecordingErrorCode.CLIP_GONE,
                                 f"clip {start:.3f}..{end:.3f}: a chunk was evicted")
        return concatenate(init, (part for part in parts if part is not None))

    # ---- lifetime --------------------------------------------------------------------

    def disk_bytes(self) -> int:
        """Bytes in the recording directory now."""
        total = 0
        for path in self.directory.glob("*"):
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def worker_cpu_seconds(self) -> float:
        """CPU seconds the worker thread has used so far (nan where the platform has no
        per-thread clock, or once it ended).  For benchmarks."""
        return thread_cpu_seconds(self._thread)

    def idle(self, *, timeout: float = 5.0) -> bool:
        """Wait until every frame offered so far (video; audio: taken off its queue) is
        recorded (or dropped); False on timeout.  For tests and benchmarks: the media side
        never needs to wait."""
        deadline = time.monotonic() + timeout
        while (self._queue.unfinished_tasks or not self._audio_queue.empty()) and \
                not self._stopped.is_set():
            self._pacing.wake()
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
        return True

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop recording (the session ended): queued frames are recorded and the last chunk
        closed; chunks stay servable for ``linger_seconds`` (drive :meth:`handle_timeout`)."""
        self._stopping = True
        if self.audio is not None:
            self.audio.detach(self)
        self._pacing.wake()
        self._stopped.wait(timeout)
        with self._lock:
            self.store.session_ended(self.clock())

    def handle_timeout(self, now: float | None = None) -> None:
        with self._lock:
            gone = self.store.handle_timeout(self.clock() if now is None else now)
        self._delete(gone)

    def close(self) -> None:
        """Stop and delete every file (the runtime stops)."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        self._thread.join(timeout=5.0)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
