"""Procedural frames for the synthetic Helios model: cheap, deterministic, informative.

A frame is a pure function of a :class:`HeliosView` (an immutable snapshot taken under the
model's lock), so rendering runs outside the lock and can be tested frame by frame.
The moving background is a slice of a pre-computed, horizontally tileable gradient built
from a seed-driven palette, so a frame costs one copy plus a few small text blits.
"""

from __future__ import annotations

import functools
import random
import sys
import threading

import attrs
import numpy as np

from .base import Frame
from .font import draw_text, text_size, wrap

CHUNK_FRAMES = 33
LABEL_COLOR = (255, 214, 10)
TEXT_COLOR = (255, 255, 255)
BAR_COLOR = (80, 220, 255)
IDLE_DRIFT_PX_PER_S = 12.0
RUN_DRIFT_PX_PER_FRAME = 3


@attrs.frozen(kw_only=True)
class HeliosView:
    """Everything one frame shows."""

    width: int
    height: int
    running: bool
    paused: bool
    pause_pending: bool
    frame: int  # index of the frame being rendered (generation position)
    prompt: str | None
    seed: int
    scheduled: tuple[tuple[int, str], ...] = ()
    image: Frame | None = attrs.field(default=None, eq=False)  # already output-sized
    previous_image: Frame | None = attrs.field(default=None, eq=False)
    blend: float = 1.0  # 0 shows the previous visual, 1 the image

    @property
    def chunk(self) -> int:
        return self.frame // CHUNK_FRAMES


def palette_colors(seed: int) -> list[tuple[int, int, int]]:
    """Three saturated-ish anchor colours derived from the seed (private RNG)."""
    rng = random.Random(seed)
    return [(rng.randrange(40, 256), rng.randrange(40, 256), rng.randrange(40, 256))
            for _ in range(3)]


@functools.lru_cache(maxsize=8)
def gradient_strip(seed: int, width: int, height: int) -> Frame:
    """A (height, 2 * width, 3) image, periodic with period ``width`` horizontally."""
    anchors = np.array([*palette_colors(seed), palette_colors(seed)[0]], dtype=np.float32)
    position = np.arange(width, dtype=np.float32) * (3.0 / width)
    index = np.minimum(position.astype(np.intp), 2)
    frac = (position - index)[:, None]
    row = anchors[index] * (1.0 - frac) + anchors[index + 1] * frac            # (width, 3)
    shade = np.linspace(1.0, 0.45, height, dtype=np.float32)[:, None, None]  # (height,1,1)
    period = (row[None, :, :] * shade).astype(np.uint8)
    strip = np.concatenate([period, period], axis=1)
    strip.setflags(write=False)
    return strip


#: frame buffers each rendering thread keeps for reuse (a runtime converts a frame before it
#: renders the next, so one is usually enough; a caller holding frames gets fresh ones)
POOL_SIZE = 3
_pools = threading.local()


def _references(pool: list[Frame]) -> list[int]:
    """Each buffer's reference count, as seen from here (counts differ between Python
    versions, so :data:`_UNHELD` is measured through this same function)."""
    return [sys.getrefcount(buffer) for buffer in pool]


#: the count of a pooled buffer no one else references
_UNHELD = _references([np.empty(0, dtype=np.uint8)])[0]


def frame_buffer(height: int, width: int) -> Frame:
    """An uninitialised (height, width, 3) frame for the caller to fill entirely.

    A frame per call would allocate and free ~700 KiB (640x360) 24 times a second, which
    glibc serves from its heap once it has raised its mmap threshold, between long-lived
    small blocks (issue 21).  So each rendering thread reuses up to :data:`POOL_SIZE`
    buffers, and only ones no one references any more (a frame a caller kept, or a view of
    it, holds a reference): a frame returned earlier never changes under its holder."""
    pool: list[Frame] | None = getattr(_pools, "frames", None)
    if pool is None:
        pool = _pools.frames = []
    for buffer, references in zip(pool, _references(pool), strict=True):
        if buffer.shape[:2] == (height, width) and references <= _UNHELD:
            return buffer
    buffer = np.empty((height, width, 3), dtype=np.uint8)
    if len(pool) >= POOL_SIZE:
        pool.pop(0)  # held elsewhere (or another size): the holder keeps it alive
    pool.append(buffer)
    return buffer


def background(view: HeliosView, now: float) -> Frame:
    """The moving gradient (frame-driven while running, clock-driven drift when idle)."""
    strip = gradient_strip(view.seed, view.width, view.height)
    if view.running:
        offset = (view.frame * RUN_DRIFT_PX_PER_FRAME) % view.width
    else:
        offset = int(now * IDLE_DRIFT_PX_PER_S) % view.width
    frame = frame_buffer(view.height, view.width)
    np.copyto(frame, strip[:, offset: offset + view.width])
    return frame


def crossfade(old: Frame, new: Frame, amount: float) -> Frame:
    """``old`` faded into ``new``; amount 0..1, integer arithmetic."""
    weight = round(max(0.0, min(1.0, amount)) * 256)
    mixed = old.astype(np.int16)
    mixed += ((new.astype(np.int16) - mixed) * weight) >> 8
    return mixed.astype(np.uint8)


def base_picture(view: HeliosView, now: float) -> Frame:
    if view.image is None:
        return background(view, now)
    if view.blend >= 1.0:
        image = view.image
        if image.dtype != np.uint8 or image.shape != (view.height, view.width, 3):
            return image.copy()
        frame = frame_buffer(view.height, view.width)
        np.copyto(frame, image)
        return frame
    old = view.previous_image if view.previous_image is not None else background(view, now)
    return crossfade(old, view.image, view.blend)


def render(view: HeliosView, now: float) -> Frame:
    """One RGB frame of the synthetic Helios output."""
    frame = base_picture(view, now)
    scale = max(1, view.height // 180)
    margin = 4 * scale
    if view.running:
        _draw_generation(frame, view, scale, margin)
    else:
        np.right_shift(frame, 1, out=frame)
        _draw_idle(frame, view, scale, margin)
    label = "SYNTHETIC"
    label_w, _ = text_size(label, 1)
    draw_text(frame, label, view.width - label_w - margin, margin, color=LABEL_COLOR, shade=True)
    return frame


def _draw_generation(frame: Frame, view: HeliosView, scale: int, margin: int) -> None:
    line = 9 * scale
    draw_text(frame, f"SEED {view.seed}", margin, margin, scale=scale, shade=True)
    draw_text(frame, f"CHUNK {view.chunk} FRAME {view.frame}", margin, margin + line,
              scale=scale, shade=True)
    max_chars = max(1, (view.width - 2 * margin) // (6 * scale))
    lines = wrap(view.prompt or "", max_chars, 3)
    bar_h = 3 * scale
    y = view.height - bar_h - margin - len(lines) * line
    for text in lines:
        draw_text(frame, text, margin, y, scale=scale, shade=True)
        y += line
    done = (view.frame % CHUNK_FRAMES + 1) / CHUNK_FRAMES
    bar = frame[view.height - bar_h:, :]
    np.right_shift(bar, 2, out=bar)
    bar[:, : round(view.width * done)] = BAR_COLOR
    if view.paused or view.pause_pending:
        status = "PAUSED" if view.paused else "PAUSING AFTER THIS CHUNK"
        big = scale * 2 if view.paused else scale
        width, height = text_size(status, big)
        draw_text(frame, status, (view.width - width) // 2, (view.height - height) // 2,
                  scale=big, color=LABEL_COLOR, shade=True)


def _draw_idle(frame: Frame, view: HeliosView, scale: int, margin: int) -> None:
    line = 9 * scale
    title = "HELIOS (SYNTHETIC) - WAITING FOR START"
    draw_text(frame, title, margin, margin, scale=scale, color=LABEL_COLOR)
    draw_text(frame, f"SEED {view.seed}", margin, margin + line, scale=scale)
    y = margin + 3 * line
    if not view.scheduled:
        draw_text(frame, "NO PROMPT SCHEDULED AT CHUNK 0", margin, y, scale=scale)
        return
    draw_text(frame, "SCHEDULED PROMPTS:", margin, y, scale=scale)
    max_chars = max(1, (view.width - 2 * margin) // (6 * scale))
    for chunk, prompt in view.scheduled:
        y += line
        if y + line > view.height - margin:
            draw_text(frame, "...", margin, y, scale=scale)
            break
        draw_text(frame, wrap(f"{chunk}: {prompt}", max_chars, 1)[0], margin, y, scale=scale)
