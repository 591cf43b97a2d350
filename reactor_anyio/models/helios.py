"""``helios``: a synthetic stand-in for the Helios real-time video model (docs/protocol §12).

It implements the real model's whole command set, its prompt-scheduling rules and its
``state`` / ``event`` messages, but renders frames procedurally (see :mod:`.helios_render`);
no neural network is involved.  Rules, as documented for Helios:

* Generation runs in chunks of 33 frames and advances one frame per :meth:`produce_frame`
  call while running and not paused.  ``current_frame`` counts the frames generated since
  ``start``; ``current_chunk`` is ``current_frame // 33`` (the chunk the next frame is in).
* ``set_prompt`` schedules at chunk 0 before ``start``, at the current chunk while paused,
  and at the next chunk while running.  ``schedule_prompt`` overwrites the same chunk and
  rejects past chunks (a chunk already begun counts as past) with an ``error`` event.
* A prompt takes effect when generation enters its chunk (``prompt_switched``); while paused
  the current chunk has not begun, so a prompt scheduled there takes effect at once.
* ``start`` needs a prompt at chunk 0.  ``pause`` takes effect at the end of the current
  chunk (at once on a chunk boundary); ``resume`` continues, or cancels a pending pause.
  ``reset`` returns to the initial state (prompts, image, seed and counters).
* ``set_image`` takes a base64 PNG or JPEG; ``cut`` shows it at once, ``blend`` cross-fades
  to it over one chunk of generated frames.

Messages: ``state`` (a snapshot) after every command, at every chunk boundary, when a pause
takes effect and, to the new client only, on connection; ``event`` messages carry the event
name under ``data["event"]`` (the docs do not name that key) plus the documented fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from .base import Frame, MessageType, Model, ModelContext, ModelOptionError, TrackSpec, command
from .helios_render import CHUNK_FRAMES, HeliosView, render
from .images import ImageDecodeError, decode_image_b64, resize_nearest
from .signature import Field

EVENT_KEY = "event"
DEFAULT_SEED = 0

EventName = Literal[
    "generation_started", "generation_paused", "generation_resumed", "generation_reset",
    "image_set", "image_cleared", "seed_set", "prompt_scheduled", "prompt_switched", "error",
]

STATE_MESSAGE = MessageType(
    description="Generation state snapshot.",
    fields={
        "running": bool,
        "current_frame": int,
        "current_chunk": int,
        "current_prompt": str | None,
        "paused": bool,
        "scheduled_prompts": dict[str, str],
    },
)

EVENT_FIELDS: dict[str, Any] = {
    EVENT_KEY: EventName,
    "prompt": str,
    "frame": int,
    "chunk": int,
    "width": int,
    "height": int,
    "transition": Literal["cut", "blend"],
    "seed": int,
    "new_prompt": str,
    "previous_prompt": str | None,
    "message": str,
}

def _kind(description: str, **fields: Any) -> MessageType:
    return MessageType(description=description, fields=fields)


#: The ten documented event kinds and their fields (docs/protocol §12.2), published as the
#: ``oneOf`` branches of the ``event`` webhook so typed SDKs get one record per kind.
EVENT_KINDS: dict[str, MessageType] = {
    "generation_started": _kind("Generation started.", prompt=str),
    "generation_paused": _kind("Generation paused at a chunk boundary.", frame=int, chunk=int),
    "generation_resumed": _kind("Generation resumed.", frame=int, chunk=int),
    "generation_reset": _kind("The model was reset.", frame=int, chunk=int),
    "image_set": _kind("A reference image was set.", width=int, height=int,
                       transition=Literal["cut", "blend"]),
    "image_cleared": _kind("The reference image was removed."),
    "seed_set": _kind("The RNG seed was set.", seed=int),
    "prompt_scheduled": _kind("A prompt was scheduled.", chunk=int, prompt=str),
    "prompt_switched": _kind("A scheduled prompt took effect.", frame=int, chunk=int,
                             new_prompt=str, previous_prompt=str | None),
    "error": _kind("A command was rejected.", message=str),
}

EVENT_MESSAGE = MessageType(
    description="A generation event; data.event names it, the other fields depend on it.",
    fields=EVENT_FIELDS,
    optional=frozenset(EVENT_FIELDS) - {EVENT_KEY},
    tag=EVENT_KEY,
    variants=EVENT_KINDS,
)


class Helios(Model):
    name = "helios"
    description = (
        "Synthetic stand-in for Helios, the 14B-parameter real-time video model: the same "
        "commands, prompt-scheduling rules and messages, with procedurally rendered frames "
        "instead of generated video."
    )
    version = "1.0.0"
    fps = 24.0
    outputs = (TrackSpec(name="main_video"),)
    messages = {"state": STATE_MESSAGE, "event": EVENT_MESSAGE}

    def __init__(self, ctx: ModelContext, **options: Any) -> None:
        width = int(self.take_option(options, "width", 640, minimum=16, maximum=3840))
        height = int(self.take_option(options, "height", 360, minimum=16, maximum=2160))
        fps = self.take_option(options, "fps", type(self).fps, minimum=1, maximum=60)
        if width % 2 or height % 2:
            raise ModelOptionError(f"options width/height: {width}x{height} must be even "
                                   "(4:2:0 video encoders need even sizes)")
        super().__init__(ctx, **options)
        self.frame_rate = fps
        self.output_tracks = (TrackSpec(name="main_video", width=width, height=height),)
        self._width, self._height = width, height
        self._reset_state()

    # ---- state ---------------------------------------------------------------------------

    def _reset_state(self) -> None:
        self._running = False
        self._paused = False
        self._pause_pending = False
        self._frame = 0
        self._prompt: str | None = None
        self._scheduled: dict[int, str] = {}
        self._seed = DEFAULT_SEED
        self._image: Frame | None = None
        self._previous_image: Frame | None = None
        self._blend_total = 0
        self._blend_left = 0

    @property
    def _chunk(self) -> int:
        return self._frame // CHUNK_FRAMES

    @property
    def _at_chunk_start(self) -> bool:
        return self._frame % CHUNK_FRAMES == 0

    def state_data(self) -> dict[str, Any]:
        """The ``state`` message payload for the current state."""
        with self.lock:
            prompt = self._prompt if self._running else self._scheduled.get(0)
            return {
                "running": self._running,
                "current_frame": self._frame,
                "current_chunk": self._chunk,
                "current_prompt": prompt,
                "paused": self._paused,
                "scheduled_prompts": {str(k): self._scheduled[k] for k in sorted(self._scheduled)},
            }

    def _send_state(self, to: str | None = None) -> None:
        self.send("state", self.state_data(), to=to)

    def _event(self, name: EventName, **fields: Any) -> None:
        self.send("event", {EVENT_KEY: name, **fields})

    def _error(self, message: str) -> None:
        self._event("error", message=message)

    def _prompt_for_chunk(self, chunk: int) -> str | None:
        started = [k for k in self._scheduled if k <= chunk]
        return self._scheduled[max(started)] if started else None

    def _enter_chunk(self) -> None:
        """Switch to the prompt scheduled for the current chunk, if it differs."""
        prompt = self._prompt_for_chunk(self._chunk)
        if prompt is not None and prompt != self._prompt:
            previous, self._prompt = self._prompt, prompt
            self._event("prompt_switched", frame=self._frame, chunk=self._chunk,
                        new_prompt=prompt, previous_prompt=previous)

    def _schedule(self, chunk: int, prompt: str) -> None:
        self._scheduled[chunk] = prompt
        self._event("prompt_scheduled", chunk=chunk, prompt=prompt)
        if self._running and self._paused and chunk == self._chunk:
            self._enter_chunk()
        self._send_state()

    # ---- commands ------------------------------------------------------------------------

    @command
    def set_prompt(self, prompt: str) -> None:
        """Set the prompt

        At chunk 0 before start, at the current chunk while paused, else at the next chunk.
        """
        if not self._running:
            chunk = 0
        elif self._paused:
            chunk = self._chunk
        else:
            chunk = self._chunk + 1
        self._schedule(chunk, prompt)

    @command
    def schedule_prompt(self, prompt: str, chunk: Annotated[int, Field(ge=0)]) -> None:
        """Schedule a prompt at a chunk index"""
        if chunk < 0:
            self._error(f"schedule_prompt.chunk: {chunk} is negative")
            return
        begun = self._chunk if self._at_chunk_start else self._chunk + 1
        if self._running and chunk < begun:
            self._error(f"schedule_prompt.chunk: chunk {chunk} is in the past "
                        f"(generation is at frame {self._frame}, chunk {self._chunk})")
            return
        self._schedule(chunk, prompt)

    @command
    def set_image(self, image_b64: str, transition: Literal["cut", "blend"] = "cut") -> None:
        """Set a base64 reference image"""
        try:
            pixels = decode_image_b64(image_b64, field="set_image.image_b64")
        except ImageDecodeError as exc:
            self._error(exc.message)
            return
        if transition == "blend":
            self._previous_image = self._image
            self._blend_total = self._blend_left = CHUNK_FRAMES
        else:
            self._previous_image = None
            self._blend_total = self._blend_left = 0
        self._image = resize_nearest(pixels, self._height, self._width)
        self._event("image_set", width=int(pixels.shape[1]), height=int(pixels.shape[0]),
                    transition=transition)
        self._send_state()

    @command
    def clear_image(self) -> None:
        """Remove the reference image"""
        self._image = self._previous_image = None
        self._blend_total = self._blend_left = 0
        self._event("image_cleared")
        self._send_state()

    @command
    def set_seed(self, seed: int) -> None:
        """Set the RNG seed"""
        self._seed = seed
        self._event("seed_set", seed=seed)
        self._send_state()

    @command
    def start(self) -> None:
        """Start generation"""
        if self._running:
            self._error("start: generation is already running; send reset first")
            return
        if 0 not in self._scheduled:
            self._error("start: a prompt must be scheduled at chunk 0 first "
                        "(set_prompt or schedule_prompt with chunk 0)")
            return
        self._running, self._paused, self._pause_pending = True, False, False
        self._frame = 0
        self._prompt = self._scheduled[0]
        self._event("generation_started", prompt=self._prompt)
        self._send_state()

    @command
    def pause(self) -> None:
        """Pause after the current chunk"""
        if not self._running:
            self._error("pause: generation is not running")
            return
        if self._paused:
            self._error("pause: generation is already paused")
            return
        self._pause_pending = True
        if self._at_chunk_start:
            self._apply_pause()
        else:
            self._send_state()

    def _apply_pause(self) -> None:
        self._paused, self._pause_pending = True, False
        self._event("generation_paused", frame=self._frame, chunk=self._chunk)
        self._send_state()

    @command
    def resume(self) -> None:
        """Resume generation"""
        if not self._running:
            self._error("resume: generation is not running")
            return
        if not (self._paused or self._pause_pending):
            self._error("resume: generation is not paused")
            return
        self._paused = self._pause_pending = False
        self._event("generation_resumed", frame=self._frame, chunk=self._chunk)
        self._send_state()

    @command
    def reset(self) -> None:
        """Reset to initial state"""
        frame, chunk = self._frame, self._chunk
        self._reset_state()
        self._event("generation_reset", frame=frame, chunk=chunk)
        self._send_state()

    # ---- lifecycle -----------------------------------------------------------------------

    def on_session_start(self) -> None:
        with self.lock:
            self._reset_state()

    def on_session_end(self) -> None:
        with self.lock:
            self._reset_state()

    def on_connected(self, client_id: str, connected_users: int) -> None:
        self._send_state(to=client_id)

    # ---- frames --------------------------------------------------------------------------

    def _advance(self) -> HeliosView:
        """Take the snapshot for one frame and move generation on (caller holds the lock)."""
        frame_index = self._frame
        if self._running and not self._paused:
            if self._at_chunk_start and self._pause_pending:
                self._apply_pause()
            elif self._at_chunk_start:
                self._enter_chunk()
                if self._frame:
                    self._send_state()
        advancing = self._running and not self._paused
        if advancing:
            frame_index = self._frame
            self._frame += 1
            if self._blend_left:
                self._blend_left -= 1
        blend = 1.0
        if self._blend_total and self._running:
            blend = 1.0 - self._blend_left / self._blend_total
        return HeliosView(
            width=self._width, height=self._height, running=self._running,
            paused=self._paused, pause_pending=self._pause_pending, frame=frame_index,
            prompt=self._prompt, seed=self._seed, scheduled=tuple(sorted(self._scheduled.items())),
            image=self._image, previous_image=self._previous_image, blend=blend,
        )

    def produce_frame(self, track: str, now: float) -> Frame:
        """The next frame; advances generation by one frame while running."""
        self.output_track(track)
        with self.lock:
            view = self._advance()
        return render(view, now)


__all__ = ["EVENT_KEY", "Helios"]
