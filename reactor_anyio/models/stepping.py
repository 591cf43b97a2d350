"""What a model's :meth:`~reactor_anyio.models.Model.step` receives and returns in a stepped
session (docs/protocol §15; see docs/models.md, "Stepped generation")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy.typing as npt


@attrs.frozen(kw_only=True)
class StepInput:
    """One input frame of a step (docs/protocol §15.4), decoded: video RGB ``uint8 (h, w, 3)``,
    audio ``int16`` mono samples; ``metadata`` and ``capture_time_us`` as the client sent
    them."""

    track: str
    frame: npt.NDArray[Any]
    metadata: bytes | None = None
    capture_time_us: int | None = None


@attrs.frozen(kw_only=True)
class StepOutput:
    """What one step produced: per output track, its frames (video: RGB ``uint8 (h, w, 3)``,
    a list of them or one ``(n, h, w, 3)`` batch; audio: ``int16`` samples, ``(samples,)``
    or ``(channels, samples)``, with the track's rate in ``sample_rates``); ``error`` when
    the model failed (the step still counts); ``files`` the model keeps (name -> (content
    type, bytes)), served over HTTP (§15.7); ``elapsed`` overrides the measured time."""

    frames: Mapping[str, Any] = attrs.field(factory=dict)
    sample_rates: Mapping[str, float] = attrs.field(factory=dict)
    error: str | None = None
    files: Mapping[str, tuple[str, bytes]] = attrs.field(factory=dict)
    elapsed: float | None = None
