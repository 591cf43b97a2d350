"""Helpers for the typegen tests: OpenAPI documents in a few lines, and generated modules
loaded and driven against a recording ``send_command``."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from reactor_proto.schema import UPLOAD_REFERENCE_REF, UPLOAD_REFERENCE_SCHEMA
from reactor_proto.typegen import generate_sdk

_counter = itertools.count()


def command(properties: Mapping[str, Any] | None = None, required: tuple[str, ...] = (),
            *, summary: str = "", operation_id: str | None = None) -> dict[str, Any]:
    """A ``paths`` item for one command."""
    body: dict[str, Any] = {"type": "object", "properties": dict(properties or {})}
    if required:
        body["required"] = list(required)
    post: dict[str, Any] = {"requestBody": {"content": {"application/json": {"schema": body}}}}
    if summary:
        post["summary"] = summary
    if operation_id is not None:
        post["operationId"] = operation_id
    return {"post": post}


def document(commands: Mapping[str, dict[str, Any]], *, title: str = "toy",
             webhooks: Mapping[str, Any] | None = None,
             schemas: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An OpenAPI document with ``commands`` (name -> :func:`command`) as ``paths``."""
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "v1.0.0"},
        "paths": {f"/events/{name}": item for name, item in commands.items()},
        "webhooks": {name: {"post": {"requestBody": {"content": {"application/json": {
            "schema": schema}}}}} for name, schema in (webhooks or {}).items()},
        "components": {"schemas": {"ReactorUploadReference": dict(UPLOAD_REFERENCE_SCHEMA),
                                   **(schemas or {})}},
    }


UPLOAD = {"$ref": UPLOAD_REFERENCE_REF}


def load(source: str, name: str | None = None) -> ModuleType:
    """Execute generated source as a fresh module (registered in ``sys.modules``)."""
    module_name = name or f"_typegen_generated_{next(_counter)}"
    module = ModuleType(module_name)
    sys.modules[module_name] = module
    exec(compile(source, f"<{module_name}>", "exec"), module.__dict__)
    return module


def generate_and_load(doc: Any, class_name: str = "ToyModel") -> ModuleType:
    return load(generate_sdk(doc, class_name=class_name))


class Recorder:
    """Replaces ``send_command`` / ``upload_file`` on one client instance."""

    def __init__(self, client: Any) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.uploads: list[Any] = []
        client.send_command = self.send_command
        client.upload_file = self.upload_file

    async def send_command(self, command: str, data: Any = None) -> None:
        self.sent.append((command, data))

    async def upload_file(self, file: Any, **_: Any) -> Any:
        from reactor_anyio import FileRef

        self.uploads.append(file)
        return FileRef(upload_id=f"u{len(self.uploads)}", name="f", mime_type="x/y", size=1)


def client_of(module: ModuleType, class_name: str = "ToyModel") -> tuple[Any, Recorder]:
    client = getattr(module, class_name)(local=True)
    return client, Recorder(client)
