"""A stepping model for the official runtime 3.10.0: every step returns one 640x360 RGB card
on ``main_video``, as ``tests.interop.v1_models:ReplyEcho`` does on our runtime, so figure 12
can time reactor-sdk 1.13.0 stepping both runtimes with the same result size.

Loaded by ``python -m reactor_runtime.serve`` in the side venv ``.venv-rt3`` (it imports
``reactor_runtime``, which our dev venv does not have); never imported by pytest.
``STEP_CARD_SIZE=WxH`` changes the card's size (figure 12's 32x16 row)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from reactor_runtime.interface import Output, ReactorApp, Video  # type: ignore[import-not-found]


class CardOutput(Output):  # type: ignore[misc]
    main_video: Video


class StepCard(ReactorApp):  # type: ignore[misc]
    fps = 30

    def load(self, config_path: Path | None) -> None:
        width, height = (int(v) for v in os.environ.get("STEP_CARD_SIZE", "640x360").split("x"))
        card = np.zeros((height, width, 3), np.uint8)
        card[:, : width // 2] = (200, 40, 40)  # something other than a flat colour
        card[::8] = 255
        self.card = card

    def generate(self, input: object, /) -> CardOutput:
        return CardOutput(main_video=self.card)
