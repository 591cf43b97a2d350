"""The schema derived from the Helios class equals the real Helios OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reactor_anyio.models import Echo, Helios
from reactor_anyio.models.helios import STATE_MESSAGE
from reactor_proto.errors import CommandValidationError

HELIOS_DOC = Path(__file__).resolve().parents[1] / "data" / "helios_schema.json"


@pytest.fixture(scope="module")
def real_openapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(HELIOS_DOC.read_text())["openapi"]
    return document


def normalised_commands(openapi: dict[str, Any]) -> dict[str, Any]:
    """name -> (summary, properties, sorted required) from an OpenAPI document's paths."""
    commands = {}
    for path, item in openapi["paths"].items():
        operation = item["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert path == f"/events/{operation['operationId']}"
        commands[operation["operationId"]] = (
            operation["summary"], body["properties"], sorted(body.get("required", [])))
    return commands


def derived_commands() -> dict[str, Any]:
    return {
        name: (info.description, {p.name: dict(p.schema) for p in info.params},
               sorted(p.name for p in info.params if p.required))
        for name, info in Helios.commands.items()
    }


def test_commands_params_required_enum_default_minimum_match(
        real_openapi: dict[str, Any]) -> None:
    assert derived_commands() == normalised_commands(real_openapi)


def test_state_message_matches_the_state_webhook(real_openapi: dict[str, Any]) -> None:
    webhook = real_openapi["webhooks"]["state"]["post"]
    real = webhook["requestBody"]["content"]["application/json"]["schema"]
    ours = STATE_MESSAGE.json_schema()
    assert ours["properties"] == real["properties"]
    assert sorted(ours["required"]) == sorted(real["required"])
    assert STATE_MESSAGE.description == webhook["summary"]


def test_to_openapi_reproduces_the_real_document(real_openapi: dict[str, Any]) -> None:
    schema_mod = pytest.importorskip("reactor_proto.schema")
    schema = Helios.schema()
    document = schema_mod.to_openapi(schema)
    assert document["openapi"] == real_openapi["openapi"]
    assert document["info"]["title"] == real_openapi["info"]["title"]
    assert document["info"]["version"] == real_openapi["info"]["version"]
    assert document["x-reactor"] == real_openapi["x-reactor"]
    assert normalised_commands(document) == normalised_commands(real_openapi)
    for path, item in real_openapi["paths"].items():
        assert document["paths"][path]["post"]["responses"] == item["post"]["responses"]
    assert document["webhooks"]["state"] == real_openapi["webhooks"]["state"]
    assert set(document["webhooks"]) == {"state", "event"}
    assert document["components"] == real_openapi["components"]
    assert schema_mod.parse_openapi(document) == schema
    real = schema_mod.parse_openapi(real_openapi)
    assert real.commands == schema.commands
    assert real.messages["state"] == schema.messages["state"]
    assert real.tracks == schema.tracks


def test_validation_through_the_derived_schema() -> None:
    pytest.importorskip("reactor_proto.schema")
    schema = Helios.schema()
    assert schema.validate("schedule_prompt", {"prompt": "p", "chunk": 2.0}) == {
        "prompt": "p", "chunk": 2}
    with pytest.raises(CommandValidationError) as info:
        schema.validate("schedule_prompt", {"prompt": "p", "chunk": -1})
    assert info.value.parameter == "chunk"


def test_legacy_commands_for_the_js_controller() -> None:
    schema_mod = pytest.importorskip("reactor_proto.schema")
    legacy = {c["name"]: c for c in schema_mod.to_legacy_commands(Helios.schema())}
    assert legacy["set_image"]["schema"]["transition"] == {
        "type": "string", "enum": ["cut", "blend"], "default": "cut", "required": False}
    assert legacy["schedule_prompt"]["schema"]["chunk"]["minimum"] == 0
    assert legacy["start"]["schema"] == {}


def test_echo_schema_tracks_are_client_perspective() -> None:
    pytest.importorskip("reactor_proto.schema")
    schema = Echo.schema()
    assert [(t.name, t.kind, t.direction) for t in schema.tracks] == [
        ("webcam", "video", "sendonly"), ("mic", "audio", "sendonly"),
        ("main_video", "video", "recvonly"), ("speaker", "audio", "recvonly")]
    assert schema.command_names() == ("set_effect",)
