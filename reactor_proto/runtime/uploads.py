"""The local upload store (docs/protocol §9): slots allocated by ``POST .../uploads``, filled by
``PUT /uploads/{id}``, read by commands and ``fileUploaded``, cleared when the session ends.

Bounds: each upload's declared size is at most ``max_upload_bytes``; the sum of declared
sizes of all slots (filled or not) at most ``max_total_bytes``; at most ``max_uploads``
slots.  Space is reserved at allocation, so a PUT can never push the store over its budget.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from ..schema import CommandSpec


@attrs.frozen(kw_only=True)
class UploadedFile:
    """A completed upload as the model receives it."""

    upload_id: str
    name: str
    mime_type: str
    size: int
    data: bytes = attrs.field(repr=lambda value: f"<{len(value)} bytes>")

    def reference(self) -> dict[str, Any]:
        """The ``ReactorUploadReference`` object (§7.3) naming this file."""
        return {"upload_id": self.upload_id, "name": self.name,
                "mime_type": self.mime_type, "size": self.size}


@attrs.frozen(kw_only=True)
class UploadFailure:
    """Why a store operation was refused: the HTTP status and ``detail`` text to answer."""

    status: int
    detail: str


@attrs.define(kw_only=True)
class _Slot:
    name: str
    mime_type: str
    size: int
    data: bytes | None = None


def mint_upload_id(rng: random.Random) -> str:
    """A UUID4 string drawn from the injected RNG."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def is_upload_id(text: str) -> bool:
    """True only for a canonical lower-case hyphenated UUID (no path tricks, no variants)."""
    if len(text) != 36:
        return False
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return False
    return str(parsed) == text


class UploadStore:
    """Upload slots of the running session."""

    def __init__(self, *, max_upload_bytes: int, max_total_bytes: int, max_uploads: int) -> None:
        self.max_upload_bytes = max_upload_bytes
        self.max_total_bytes = max_total_bytes
        self.max_uploads = max_uploads
        self._slots: dict[str, _Slot] = {}

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, upload_id: object) -> bool:
        return upload_id in self._slots

    def __iter__(self) -> Iterator[str]:
        return iter(self._slots)

    @property
    def reserved_bytes(self) -> int:
        return sum(slot.size for slot in self._slots.values())

    def allocate(self, rng: random.Random, *, name: str, mime_type: str,
                 size: int) -> str | UploadFailure:
        """Reserve a slot; returns its id, or why it was refused (413)."""
        if size > self.max_upload_bytes:
            return UploadFailure(
                status=413,
                detail=f"size: {size} bytes exceeds the limit of {self.max_upload_bytes} bytes")
        if len(self._slots) >= self.max_uploads:
            return UploadFailure(status=413,
                                 detail=f"too many uploads (limit {self.max_uploads})")
        if self.reserved_bytes + size > self.max_total_bytes:
            return UploadFailure(
                status=413,
                detail=f"size: {size} bytes does not fit in the upload store "
                       f"({self.max_total_bytes - self.reserved_bytes} bytes left)")
        upload_id = mint_upload_id(rng)
        while upload_id in self._slots:  # 2**-122 per draw; keep ids unique regardless
            upload_id = mint_upload_id(rng)
        self._slots[upload_id] = _Slot(name=name, mime_type=mime_type, size=size)
        return upload_id

    def put(self, upload_id: str, data: bytes) -> UploadFailure | None:
        """Store the bytes of a slot once; ``None`` on success."""
        slot = self._slots.get(upload_id)
        if slot is None:
            return UploadFailure(status=404, detail="Upload not found")
        if slot.data is not None:
            return UploadFailure(status=409, detail="Upload already completed")
        if len(data) != slot.size:
            return UploadFailure(
                status=400,
                detail=f"body: {len(data)} bytes does not match the declared size {slot.size}")
        slot.data = bytes(data)
        return None

    def completed(self, upload_id: str) -> UploadedFile | None:
        """The finished upload with this id, or ``None`` if unknown or not yet PUT."""
        slot = self._slots.get(upload_id)
        if slot is None or slot.data is None:
            return None
        return UploadedFile(upload_id=upload_id, name=slot.name, mime_type=slot.mime_type,
                            size=slot.size, data=slot.data)

    def referenced(self, spec: CommandSpec | None,
                   args: Mapping[str, object]) -> dict[str, UploadedFile] | str:
        """The finished files behind every upload parameter of a validated command, or the
        reason to refuse it (an upload that is unknown or not completed)."""
        found: dict[str, UploadedFile] = {}
        for param in spec.params if spec is not None else ():
            value = args.get(param.name)
            if not param.is_upload or not isinstance(value, Mapping):
                continue
            upload_id = value.get("upload_id")
            upload = self.completed(upload_id) if isinstance(upload_id, str) else None
            if upload is None:
                return f"{param.name}: upload {upload_id!r} is unknown or not completed"
            found[param.name] = upload
        return found

    def clear(self) -> None:
        self._slots.clear()
