"""A toy model for the official runtime: a 320x240 frame whose grey level ramps every frame.

Loaded by ``python -m reactor_runtime.serve run`` in the side venv ``.venv-rt`` (it imports
``reactor_runtime``, which our dev venv does not have); never imported by pytest."""

from __future__ import annotations

import numpy as np
from reactor_runtime.interface import Output, ReactorModel, Video  # type: ignore[import-not-found]


class RampOutput(Output):  # type: ignore[misc]
    video: Video


class RampModel(ReactorModel):  # type: ignore[misc]
    fps = 30

    def load(self, config: object) -> None:
        self.shape = (240, 320, 3)

    async def run(self) -> None:
        level = 0
        while True:
            await self.connected.wait()
            while self.connected.is_set():
                frame = np.full(self.shape, level % 256, dtype=np.uint8)
                level += 4
                await self.emit(RampOutput(video=frame))
