"""``echo``: a video-to-video (and audio-to-audio) demo model.

It takes the client's ``webcam`` track (published ``sendonly`` by the client) and returns it
on ``main_video`` visibly transformed: resized to the output size (nearest neighbour), the
chosen effect applied, and a label drawn on top.  Without input it shows a "no input" card.
Audio published on ``mic`` (48 kHz mono) comes back unchanged on ``speaker``, about one
frame later; without it ``speaker`` is silent.  It exists to exercise publish / unpublish
and the publisher slot end to end.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

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
from .images import as_rgb, resize_nearest

Effect = Literal["invert", "mirror", "edges", "none"]
EFFECTS: tuple[str, ...] = get_args(Effect)
INPUT_TRACK = "webcam"
OUTPUT_TRACK = "main_video"
MIC_TRACK = "mic"
SPEAKER_TRACK = "speaker"
AUDIO_RATE = 48_000
#: samples per produce_audio call (20 ms)
AUDIO_CHUNK = AUDIO_RATE // 50
#: received audio held back at most (a burst beyond it is skipped, keeping latency low)
AUDIO_HOLD = 3 * AUDIO_CHUNK
LABEL_COLOR = (255, 214, 10)


def apply_effect(frame: Frame, effect: str) -> Frame:
    """``frame`` (already output-sized, owned by the caller) with ``effect`` applied."""
    if effect == "invert":
        np.subtract(255, frame, out=frame)
        return frame
    if effect == "mirror":
        return np.ascontiguousarray(frame[:, ::-1])
    if effect == "edges":
        # Green approximates luma well enough for a demo and avoids a 3-channel sum.
        grey = frame[:, :, 1].astype(np.int16)
        edges = np.zeros_like(grey)
        edges[:, 1:] = np.abs(np.diff(grey, axis=1))
        edges[1:, :] += np.abs(np.diff(grey, axis=0))
        np.left_shift(edges, 2, out=edges)
        np.minimum(edges, 255, out=edges)
        out = np.empty_like(frame)
        out[...] = edges[:, :, None]
        return out
    return frame


class Echo(Model):
    name = "echo"
    description = ("Video-to-video demo: returns the client's webcam track transformed "
                   "(invert, mirror or edges) with a label.")
    version = "0.1.0"
    fps = 30.0
    inputs = (TrackSpec(name=INPUT_TRACK),
              TrackSpec(name=MIC_TRACK, kind="audio", sample_rate=AUDIO_RATE))
    outputs = (TrackSpec(name=OUTPUT_TRACK),
               TrackSpec(name=SPEAKER_TRACK, kind="audio", sample_rate=AUDIO_RATE))
    messages = {
        "effect": MessageType(description="The effect now applied.",
                              fields={"effect": Effect}),
    }

    def __init__(self, ctx: ModelContext, **options: Any) -> None:
        width = int(self.take_option(options, "width", 640, minimum=16, maximum=3840))
        height = int(self.take_option(options, "height", 360, minimum=16, maximum=2160))
        fps = self.take_option(options, "fps", type(self).fps, minimum=1, maximum=60)
        if width % 2 or height % 2:
            raise ModelOptionError(f"options width/height: {width}x{height} must be even")
        super().__init__(ctx, **options)
        self.frame_rate = fps
        self.output_tracks = (TrackSpec(name=OUTPUT_TRACK, width=width, height=height),
                              type(self).outputs[1])
        self._width, self._height = width, height
        self.effect: str = "invert"
        self._heard = np.zeros((0, 1), dtype=np.int16)  # the audio thread's own

    @command
    def set_effect(self, effect: Effect) -> None:
        """Choose the transformation applied to the webcam video"""
        self.effect = effect
        self.send("effect", {"effect": effect})

    def on_session_end(self) -> None:
        with self.lock:
            self.effect = "invert"

    def on_connected(self, client_id: str, connected_users: int) -> None:
        with self.lock:
            effect = self.effect
        self.send("effect", {"effect": effect}, to=client_id)

    def produce_audio(self, track: str, now: float) -> Pcm:
        """The next 20 ms of what arrived on ``mic`` (silence where nothing did)."""
        self.output_track(track)
        heard = np.concatenate((self._heard, self.ctx.read_audio(MIC_TRACK)))[-AUDIO_HOLD:]
        out = np.zeros((AUDIO_CHUNK, 1), dtype=np.int16)
        used = min(len(heard), AUDIO_CHUNK)
        out[:used] = heard[:used]
        self._heard = heard[used:]
        return out

    def produce_frame(self, track: str, now: float) -> Frame:
        """The latest webcam frame, transformed; a "no input" card when there is none."""
        self.output_track(track)
        with self.lock:
            effect = self.effect
        latest = self.ctx.latest_input(INPUT_TRACK)
        source = None if latest is None else as_rgb(latest)
        scale = max(1, self._height // 180)
        if source is None:
            frame = np.full((self._height, self._width, 3), 32, dtype=np.uint8)
            text = "NO INPUT - PUBLISH A WEBCAM TRACK"
            width, height = text_size(text, scale)
            draw_text(frame, text, (self._width - width) // 2, (self._height - height) // 2,
                      scale=scale, color=LABEL_COLOR)
            return frame
        # Mirroring is folded into the resize's column index: no extra pass.
        frame = resize_nearest(source, self._height, self._width, mirror=effect == "mirror")
        frame = apply_effect(frame, "none" if effect == "mirror" else effect)
        draw_text(frame, f"ECHO: {effect}", 4 * scale, 4 * scale, scale=scale,
                  color=LABEL_COLOR, shade=True)
        return frame
