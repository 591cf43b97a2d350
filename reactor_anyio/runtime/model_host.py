"""The model side of the local runtime: its context, its worker thread, its events.

* :class:`RuntimeModelContext` is what the model gets as ``ctx``: ``send`` only appends to a
  thread-safe queue and pokes the event loop (it may be called from any thread, lock held or
  not), ``latest_input`` serves the frame the adapter last stored for an input track, and
  ``read_audio`` the PCM received on an audio input (bounded by the core's
  :class:`~reactor_proto.runtime.audio.AudioInbox`: the oldest is dropped, counted).
* :class:`ModelWorker` runs every call into the model (hooks and commands) on one dedicated
  thread, in the order the machine produced them: a slow command (decoding a reference
  image) never stalls signalling, and ``on_session_end`` always runs before the next
  session's ``on_session_start``.
* :class:`ModelHost` maps the machine's events onto model calls.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np

from reactor_anyio.models import Model, SentMessage
from reactor_anyio.models.base import CommandError, CommandReply, Frame, Pcm
from reactor_anyio.models.signature import UploadedFile
from reactor_proto.errors import CommandValidationError
from reactor_proto.runtime import (
    INTERNAL_ERROR,
    INVALID_COMMAND,
    ClientConnected,
    ClientDisconnected,
    CommandReceived,
    FileUploaded,
    InternalErrorOccurred,
    RuntimeEvent,
    SessionEnded,
    SessionStarted,
    StartingInput,
    StepOutcome,
    StepRequested,
)
from reactor_proto.runtime.audio import AudioFormat, AudioInbox
from reactor_proto.runtime.uploads import UploadedFile as StoredUpload

logger = logging.getLogger(__name__)

#: model messages waiting for the loop; beyond this the oldest are dropped (a runaway model)
MAX_QUEUED_MESSAGES = 10_000
#: received audio waiting for the model, in seconds; beyond this the oldest is dropped
MAX_QUEUED_AUDIO = 1.0


class AudioQueue:
    """One audio input's received PCM, bounded by the core's :class:`AudioInbox`."""

    def __init__(self, fmt: AudioFormat) -> None:
        self.format = fmt
        self.inbox = AudioInbox(round(fmt.sample_rate * MAX_QUEUED_AUDIO))
        self._parts: deque[Pcm] = deque()

    def push(self, pcm: Pcm) -> None:
        drop = self.inbox.admit(len(pcm))
        self._parts.append(pcm)
        while drop:
            head = self._parts[0]
            if len(head) <= drop:
                self._parts.popleft()
                drop -= len(head)
            else:
                self._parts[0] = head[drop:]
                drop = 0

    def read(self, samples: int | None) -> Pcm:
        count = self.inbox.take(samples)
        out = np.empty((count, self.format.channels), dtype=np.int16)
        filled = 0
        while filled < count:
            head = self._parts[0]
            used = min(len(head), count - filled)
            out[filled:filled + used] = head[:used]
            filled += used
            if used == len(head):
                self._parts.popleft()
            else:
                self._parts[0] = head[used:]
        return out

    def clear(self) -> None:
        self.inbox.clear()
        self._parts.clear()


class RuntimeModelContext:
    """The runtime's :class:`~reactor_anyio.models.ModelContext`; thread-safe, non-blocking."""

    def __init__(self, audio_inputs: Mapping[str, AudioFormat] | None = None) -> None:
        self._lock = threading.Lock()
        self._messages: deque[SentMessage] = deque()
        self._inputs: dict[str, Frame] = {}
        self._audio = {name: AudioQueue(fmt) for name, fmt in (audio_inputs or {}).items()}
        self._wake: Callable[[], None] | None = None
        self.messages_dropped = 0

    @property
    def audio_formats(self) -> dict[str, AudioFormat]:
        """The declared format of every audio input track."""
        return {name: queue.format for name, queue in self._audio.items()}

    def audio_inbox(self, track: str) -> AudioInbox:
        """The counters of audio input ``track`` (received, dropped, buffered)."""
        return self._audio[track].inbox

    def push_audio(self, track: str, pcm: Pcm | None) -> None:
        """Received PCM of audio input ``track``; ``None``: its publisher went away."""
        queue = self._audio.get(track)
        if queue is None:
            return
        with self._lock:
            if pcm is None:
                queue.clear()
            else:
                queue.push(pcm)

    def read_audio(self, track: str, samples: int | None = None) -> Pcm:
        queue = self._audio.get(track)
        if queue is None:
            return np.zeros((0, 1), dtype=np.int16)
        with self._lock:
            return queue.read(samples)

    def bind(self, wake: Callable[[], None] | None) -> None:
        """``wake()`` is called (from the sending thread) after every queued message."""
        with self._lock:
            self._wake = wake

    def send(self, type: str, data: Mapping[str, Any], *, to: str | None = None) -> None:
        with self._lock:
            if len(self._messages) >= MAX_QUEUED_MESSAGES:
                self._messages.popleft()
                self.messages_dropped += 1
            self._messages.append(SentMessage(type=type, data=dict(data), to=to))
            wake = self._wake
        if wake is not None:
            wake()

    def take_messages(self) -> list[SentMessage]:
        with self._lock:
            taken = list(self._messages)
            self._messages.clear()
        return taken

    def latest_input(self, track: str) -> Frame | None:
        with self._lock:
            return self._inputs.get(track)

    def set_input(self, track: str, frame: Frame | None) -> None:
        if frame is None:
            self.push_audio(track, None)
        with self._lock:
            if frame is None:
                self._inputs.pop(track, None)
            else:
                self._inputs[track] = frame


_Job = tuple[str, Callable[[], None]]
StepFiles = Mapping[str, tuple[str, bytes]]


@attrs.frozen(kw_only=True)
class CommandOutcome:
    """How a command ended, for ``RuntimeMachine.command_done`` / ``command_failed``:
    ``reply`` (None: an ack) or the error ``code`` and ``message``."""

    connection_id: int
    request_id: str
    reply: CommandReply | None = None
    code: str | None = None
    message: str = ""


def outcome_of(event: CommandReceived, reply: CommandReply | None,
               error: Exception | None) -> CommandOutcome:
    """The outcome of a command: its reply, or the code its failure maps to."""
    cid, request_id = event.connection_id, event.request_id
    if isinstance(error, CommandError):
        return CommandOutcome(connection_id=cid, request_id=request_id, code=error.code,
                              message=error.message)
    if isinstance(error, CommandValidationError):  # the model's own checks refused it
        return CommandOutcome(connection_id=cid, request_id=request_id,
                              code=INVALID_COMMAND, message=error.message)
    if error is not None:
        return CommandOutcome(connection_id=cid, request_id=request_id, code=INTERNAL_ERROR,
                              message="the command handler failed")
    return CommandOutcome(connection_id=cid, request_id=request_id, reply=reply)


class ModelWorker:
    """One thread running model calls in submission order; a failing call is logged."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"reactor-model-{name}",
                                        daemon=True)
        self._started = False
        self._closed = False
        self.failures = 0
        self.completed = 0

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def submit(self, what: str, call: Callable[[], None]) -> None:
        if self._closed:
            logger.debug("model worker closed: dropping %s", what)
            return
        self.start()
        self._jobs.put((what, call))

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            what, call = job
            try:
                call()
            except Exception:
                self.failures += 1
                logger.exception("model call %s failed", what)
            self.completed += 1

    def close(self, timeout: float) -> bool:
        """Run what is queued, then end the thread; True when it is gone."""
        self._closed = True
        if not self._started:
            return True
        self._jobs.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()


def to_model_upload(stored: StoredUpload) -> UploadedFile:
    return UploadedFile(upload_id=stored.upload_id, name=stored.name,
                        mime_type=stored.mime_type, size=stored.size, data=stored.data)


class ModelHost:
    """One model instance, fed the machine's events through its worker thread."""

    def __init__(self, model_class: type[Model], options: Mapping[str, Any]) -> None:
        self.context = RuntimeModelContext(
            {t.name: t.audio_format for t in model_class.inputs if t.kind == "audio"})
        self.model = model_class(self.context, **dict(options))
        self.worker = ModelWorker(model_class.name)
        #: called on the worker thread with every command's outcome (the runtime hands it
        #: to its loop); None: outcomes are dropped
        self.on_command_done: Callable[[CommandOutcome], None] | None = None
        #: the same for every step: its event, outcome and the files the model kept
        self.on_step_done: Callable[[StepRequested, StepOutcome, StepFiles], None] | None \
            = None
        #: whether step files are kept (§15.7: only when step results are stored)
        self.keep_step_files = False

    def _run_step(self, event: StepRequested) -> None:
        """On the worker thread: decode, apply the calls, generate (§15.3 steps 0, 9, 10)."""
        from .steps import MediaRefused, decode_media, generate, run_calls

        files: StepFiles = {}
        try:
            inputs = decode_media(event.plan.media, self.context.audio_formats)
        except MediaRefused as refused:
            outcome = StepOutcome(refused=True, entry=refused.entry, error=refused.error)
        else:
            to = str(event.connection_id)
            failed = run_calls(self.model, event.plan.calls,
                               lambda kind, data: self.context.send(kind, data, to=to))
            if failed is not None:
                outcome = failed
            else:
                outcome, files = generate(self.model, inputs, self.context,
                                          keep_files=self.keep_step_files)
        done = self.on_step_done
        if done is not None:
            done(event, outcome, files)

    def _run_starting_input(self, event: StartingInput) -> None:
        from .steps import run_calls

        failed = run_calls(self.model, event.calls, lambda kind, data: self.context.send(
            kind, data))
        if failed is not None:
            logger.warning("starting input: %s", failed.error)

    def _run_command(self, event: CommandReceived, arguments: dict[str, Any]) -> None:
        """On the worker thread: call the command, report its outcome, and let a failure
        reach the worker (which logs and counts it)."""
        try:
            reply = self.model.dispatch(event.command, arguments)
        except Exception as exc:
            self._finish(outcome_of(event, None, exc))
            raise
        self._finish(outcome_of(event, reply, None))

    def _finish(self, outcome: CommandOutcome) -> None:
        done = self.on_command_done
        if done is not None:
            done(outcome)

    def handle(self, event: RuntimeEvent) -> None:
        """Queue the model call an event implies (state changes and slots need none)."""
        model = self.model
        match event:
            case SessionStarted():
                self.worker.submit("on_session_start", model.on_session_start)
            case SessionEnded():
                self.worker.submit("on_session_end", model.on_session_end)
            case ClientConnected(connection_id=cid, connected_users=users):
                self.worker.submit("on_connected",
                                   lambda: model.on_connected(str(cid), users))
            case ClientDisconnected(connection_id=cid, connected_users=users):
                self.worker.submit("on_disconnected",
                                   lambda: model.on_disconnected(str(cid), users))
            case CommandReceived(command=name, args=args, uploads=uploads):
                arguments = dict(args)
                for param, stored in uploads.items():
                    arguments[param] = to_model_upload(stored)
                received = event
                self.worker.submit(f"command {name!r}",
                                   lambda: self._run_command(received, arguments))
            case StepRequested():
                step = event
                self.worker.submit("step", lambda: self._run_step(step))
            case StartingInput():
                starting = event
                self.worker.submit("starting input", lambda: self._run_starting_input(starting))
            case FileUploaded(upload=stored):
                upload = to_model_upload(stored)
                self.worker.submit("on_file_uploaded", lambda: model.on_file_uploaded(upload))
            case InternalErrorOccurred(where=where, error=error):
                logger.error("runtime machine internal error in %s: %s", where, error)
            case _:
                pass
