"""helios' frame buffers are reused (reactor_anyio.models.helios_render, issue 21) without
changing a frame anyone still holds, and frames stay what a fresh buffer would give."""

from __future__ import annotations

import threading

import numpy as np

from reactor_anyio.models import helios_render
from reactor_anyio.models.helios_render import HeliosView, frame_buffer, render


def view(frame: int, running: bool = True, **extra: object) -> HeliosView:
    return HeliosView(width=64, height=36, running=running, paused=False,
                      pause_pending=False, frame=frame, prompt="a prompt", seed=3,
                      **extra)  # type: ignore[arg-type]


def fresh_render(v: HeliosView, now: float) -> np.ndarray:
    """The same frame rendered in a thread of its own (an empty pool: fresh buffers)."""
    out: list[np.ndarray] = []
    thread = threading.Thread(target=lambda: out.append(render(v, now).copy()))
    thread.start()
    thread.join()
    return out[0]


def test_a_dropped_frame_buffer_is_reused_and_a_held_one_is_not() -> None:
    first = frame_buffer(10, 12)
    address = first.ctypes.data
    second = frame_buffer(10, 12)
    assert second.ctypes.data != address  # `first` is still held
    del first
    assert frame_buffer(10, 12).ctypes.data == address
    view_of_second = second[2:4]
    del second
    assert frame_buffer(10, 12).ctypes.data != view_of_second.base.ctypes.data  # type: ignore[union-attr]


def test_frames_are_identical_to_fresh_ones_and_never_change_under_a_holder() -> None:
    image = np.full((36, 64, 3), 200, dtype=np.uint8)
    views = [view(i) for i in range(6)] + [view(0, running=False)] + [
        view(i, image=image) for i in range(3)]
    kept = []
    for index, v in enumerate(views):
        frame = render(v, now=index / 24)
        assert np.array_equal(frame, fresh_render(v, index / 24))
        if index % 2:
            kept.append((frame, frame.copy()))
        del frame
    for frame, copy in kept:
        assert np.array_equal(frame, copy)


def test_the_pool_stays_bounded() -> None:
    held = [frame_buffer(8, 8) for _ in range(helios_render.POOL_SIZE + 4)]
    assert len(helios_render._pools.frames) == helios_render.POOL_SIZE
    assert len({h.ctypes.data for h in held}) == len(held)
