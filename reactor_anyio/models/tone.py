"""``tone``: an audio demo model.

It plays a sine on ``main_audio`` (48 kHz mono) and shows the frequency it plays on
``main_video`` (320x180 at 15 fps by default; options ``width``, ``height``, ``fps``);
``set_frequency`` changes it.  The sine's phase carries over from
one chunk to the next and across a frequency change, so there is no click.  It exists to
exercise audio output end to end (tests measure the dominant frequency that arrives).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np

from .base import (
    Frame,
    MessageType,
    Model,
    ModelContext,
    ModelOptionError,
    Pcm,
    TrackSpec,
    command,
)
from .font import draw_text, text_size
from .signature import Field

VIDEO_TRACK = "main_video"
AUDIO_TRACK = "main_audio"
SAMPLE_RATE = 48_000
#: samples per produce_audio call: 20 ms, one frame of the runtime's audio clock
CHUNK = SAMPLE_RATE // 50
#: float32: its sine costs a quarter of float64's and still resolves a sample to within one
#: int16 step (the result is int16)
_RAMP = np.arange(CHUNK, dtype=np.float32)
DEFAULT_HZ = 440.0
AMPLITUDE = 0.4
WIDTH, HEIGHT = 320, 180
BACKGROUND = (16, 24, 48)
INK = (255, 214, 10)


def render_frequency(hz: float, width: int = WIDTH, height: int = HEIGHT) -> Frame:
    """The card showing ``hz``."""
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[...] = BACKGROUND
    text = f"{hz:g} HZ"
    scale = max(1, min(width // 80, height // 45))
    text_width, text_height = text_size(text, scale)
    draw_text(frame, text, (width - text_width) // 2, (height - text_height) // 2,
              scale=scale, color=INK)
    return frame


class Tone(Model):
    name = "tone"
    description = "Audio demo: a sine on main_audio at the commanded frequency, shown on video."
    version = "0.1.0"
    fps = 15.0
    outputs = (TrackSpec(name=VIDEO_TRACK, width=WIDTH, height=HEIGHT),
               TrackSpec(name=AUDIO_TRACK, kind="audio", sample_rate=SAMPLE_RATE, channels=1))
    messages = {
        "frequency": MessageType(description="The frequency now played, in hertz.",
                                 fields={"hz": float}),
    }

    def __init__(self, ctx: ModelContext, **options: Any) -> None:
        width = int(self.take_option(options, "width", WIDTH, minimum=16, maximum=3840))
        height = int(self.take_option(options, "height", HEIGHT, minimum=16, maximum=2160))
        fps = self.take_option(options, "fps", type(self).fps, minimum=1, maximum=60)
        if width % 2 or height % 2:
            raise ModelOptionError(f"options width/height: {width}x{height} must be even")
        super().__init__(ctx, **options)
        self.frame_rate = fps
        self.output_tracks = (TrackSpec(name=VIDEO_TRACK, width=width, height=height),
                              type(self).outputs[1])
        self.hz = DEFAULT_HZ
        self._phase = 0.0  # radians, only touched by the audio thread
        self._scratch = np.empty(CHUNK, dtype=np.float32)  # the audio thread's
        self._card: tuple[float, Frame] | None = None

    @command
    def set_frequency(
        self,
        hz: Annotated[float, Field(ge=20, le=20_000,
                                   description="The sine's frequency in hertz")] = DEFAULT_HZ,
    ) -> None:
        """Change the frequency of the tone"""
        self.hz = float(hz)
        self.send("frequency", {"hz": self.hz})

    def on_session_end(self) -> None:
        with self.lock:
            self.hz = DEFAULT_HZ

    def on_connected(self, client_id: str, connected_users: int) -> None:
        with self.lock:
            hz = self.hz
        self.send("frequency", {"hz": hz}, to=client_id)

    def produce_frame(self, track: str, now: float) -> Frame:
        self.output_track(track)
        with self.lock:
            hz = self.hz
        card = self._card
        if card is None or card[0] != hz:
            spec = self.output_track(track)
            card = self._card = (hz, render_frequency(hz, spec.width, spec.height))
        return card[1]

    def produce_audio(self, track: str, now: float) -> Pcm:
        """20 ms of the sine, continuing the phase of the previous chunk."""
        self.output_track(track)
        with self.lock:
            hz = self.hz
        step = 2 * math.pi * hz / SAMPLE_RATE
        # in place on one scratch array: a chunk costs one allocation (the result)
        wave = np.multiply(_RAMP, np.float32(step), out=self._scratch)
        wave += np.float32(self._phase)
        np.sin(wave, out=wave)
        wave *= np.float32(AMPLITUDE * 32767)
        self._phase = float((self._phase + step * CHUNK) % (2 * math.pi))
        return wave.astype(np.int16).reshape(CHUNK, 1)
