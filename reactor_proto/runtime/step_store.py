"""Step results kept for ``GET /sessions/{sid}/steps[/{n}[/{file}]]`` (docs/protocol §15.7).

Only when ``RuntimeConfig.step_results`` is on (the model asks for it).  Each step that ran
is kept as its ``result.json`` document and the files the model returned, under the
session's own id.  Memory is bounded three ways: at most ``step_results_max`` steps and
``step_results_max_bytes`` of files in all (the oldest steps go first), and each step only
for ``step_results_retention`` seconds after it was stored (checked whenever the store is
touched: there is no timer).  A step whose files alone exceed the byte cap is kept without
them, with a ``save_error``.  No ``output.mp4`` is written: the frames travel in the step's
result.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..http import HttpResponse, json_response
from ..wire_v1 import StepFileRef

#: broadcasts kept per step in ``result.json`` (§15.7)
MAX_STEP_MESSAGES = 256


@attrs.frozen(kw_only=True)
class StoredStep:
    session_id: str
    step: int
    stored_at: float
    document: Mapping[str, Any]
    files: Mapping[str, tuple[str, bytes]]

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.files.values())


class StepStore:
    """Bounded, expiring step results keyed by ``(session_id, step)``."""

    def __init__(self, *, max_steps: int, max_bytes: int, retention: float) -> None:
        self._max_steps = max_steps
        self._max_bytes = max_bytes
        self._retention = retention
        self._steps: OrderedDict[tuple[str, int], StoredStep] = OrderedDict()
        self._bytes = 0

    @property
    def stored_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._steps)

    def expire(self, now: float) -> None:
        while self._steps:
            key, oldest = next(iter(self._steps.items()))
            if now - oldest.stored_at < self._retention:
                return
            self._drop(key)

    def _drop(self, key: tuple[str, int]) -> None:
        gone = self._steps.pop(key)
        self._bytes -= gone.size

    def put(self, *, session_id: str, step: int, elapsed: float, error: str | None,
            files: Mapping[str, tuple[str, bytes]], messages: Sequence[Mapping[str, Any]],
            now: float) -> tuple[StepFileRef, ...]:
        """Keep one step; returns the file references its ``step_result`` carries."""
        self.expire(now)
        save_error = None
        if sum(len(data) for _, data in files.values()) > self._max_bytes:
            save_error = f"the step's files exceed the store's {self._max_bytes} bytes"
            files = {}
        refs = tuple(StepFileRef(name=name, content_type=kind, size=len(data))
                     for name, (kind, data) in files.items())
        document = {
            "step": step, "session_id": session_id,
            "files": [{"name": r.name, "content_type": r.content_type, "size": r.size}
                      for r in refs],
            "usage": [], "messages": list(messages[-MAX_STEP_MESSAGES:]),
            "error": error, "save_error": save_error,
            "timings": {"generate_s": elapsed, "encode_s": 0.0},
        }
        stored = StoredStep(session_id=session_id, step=step, stored_at=now,
                            document=document, files=dict(files))
        key = (session_id, step)
        if key in self._steps:
            self._drop(key)
        self._steps[key] = stored
        self._bytes += stored.size
        while len(self._steps) > self._max_steps or self._bytes > self._max_bytes:
            self._drop(next(iter(self._steps)))
        return refs

    def steps(self, session_id: str, now: float) -> list[int] | None:
        """The stored step numbers of a session, or None when it kept nothing."""
        self.expire(now)
        found = sorted(step for sid, step in self._steps if sid == session_id)
        return found or None

    def get(self, session_id: str, step: int, now: float) -> StoredStep | None:
        self.expire(now)
        return self._steps.get((session_id, step))


# ---- the HTTP answers (the routes call these) ----------------------------------------------


def _not_found(detail: str) -> HttpResponse:
    return json_response(404, {"detail": detail})


def list_response(store: StepStore, session_id: str, now: float) -> HttpResponse:
    """``GET /sessions/{sid}/steps``: ``{"steps": [n, ...]}``, 404 when nothing is kept."""
    steps = store.steps(session_id, now)
    if steps is None:
        return _not_found("No stored steps for this session")
    return json_response(200, {"steps": steps})


def step_response(store: StepStore, session_id: str, number: str, file: str | None,
                  now: float) -> HttpResponse:
    """``GET /sessions/{sid}/steps/{n}`` (the ``result.json``) or ``.../{n}/{file}`` (the
    bytes, with ``Content-Length``); 404 for anything not stored."""
    stored = (store.get(session_id, int(number), now)
              if number.isdigit() and number.isascii() and len(number) <= 9 else None)
    if stored is None:
        return _not_found("Step not found")
    if file is None:
        return json_response(200, stored.document)
    found = stored.files.get(file)
    if found is None:
        return _not_found("File not found")
    content_type, data = found
    return HttpResponse(status=200, body=data, headers=(
        ("content-type", content_type or "application/octet-stream"),
        ("content-length", str(len(data)))))
