"""A hostile model for the playground's security test: every string it publishes (its
description, command summaries, parameter descriptions, enum values, message contents) holds
markup that would run script if a page inserted it as HTML.  It also takes an upload, so the
same test drives a file field through the upload routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np

from reactor_anyio.models import (
    Field,
    Frame,
    MessageType,
    Model,
    ModelContext,
    UploadedFile,
    command,
)

MARKUP = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=2</script>"


class Hostile(Model):
    name = "hostile"
    description = f"A model whose strings are markup {MARKUP}"
    fps = 10.0
    messages = {
        "note": MessageType(description=f"Free text {SCRIPT}", fields={"text": str}),
        "received": MessageType(description="An upload arrived.",
                                fields={"name": str, "size": int}),
    }

    def __init__(self, ctx: ModelContext, **options: Any) -> None:
        super().__init__(ctx, **options)
        self.frames = 0

    @command(description=f"Echo text back {MARKUP}")
    def poke(self, text: Annotated[str, Field(description=f"what to say {SCRIPT}")] = MARKUP,
             style: Literal["<b>bold</b>", "<i>plain</i>"] = "<i>plain</i>") -> None:
        self.send("note", {"text": f"{text} {style} {MARKUP}"})

    @command
    def load(self, file: UploadedFile) -> None:
        """Take a file and report its name and size"""
        self.send("received", {"name": file.name, "size": len(file.data)})

    def produce_frame(self, track: str, now: float) -> Frame:
        with self.lock:
            self.frames += 1
            shade = (self.frames * 7) % 256
        return np.full((360, 640, 3), shade, np.uint8)
