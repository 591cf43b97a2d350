"""The checked-in HeliosModel is exactly what ``reactor typegen`` makes of the Helios schema,
and what it makes is mypy --strict, ruff and ruff-format clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from reactor_anyio import HeliosModel, Reactor
from reactor_anyio.cli import main
from reactor_anyio.models import Helios
from reactor_anyio.models.helios import EVENT_KINDS
from reactor_anyio.sdk import helios as sdk
from reactor_proto.schema import parse_openapi, to_openapi
from reactor_proto.typegen import generate_sdk

from .support import Recorder
from .test_generate import HARD, MESSAGES

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "reactor_anyio" / "sdk" / "helios.py"
VENV_BIN = Path(sys.executable).parent


def test_checked_in_module_matches_a_fresh_generation(tmp_path: Path) -> None:
    schema_file = tmp_path / "helios.json"
    schema_file.write_text(json.dumps(to_openapi(Helios.schema())))
    out = tmp_path / "helios.py"
    assert main(["typegen", "--schema", str(schema_file), "--class", "HeliosModel",
                 "-o", str(out)]) == 0
    assert out.read_text() == CHECKED_IN.read_text(), (
        "reactor_anyio/sdk/helios.py is stale: regenerate it with `reactor typegen` "
        "(see reactor_anyio/sdk/__init__.py)")


def test_cli_writes_to_stdout_and_reports_errors(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    schema_file = tmp_path / "helios.json"
    schema_file.write_text(json.dumps(to_openapi(Helios.schema())))
    assert main(["typegen", "--schema", str(schema_file), "--class", "HeliosModel"]) == 0
    assert capsys.readouterr().out == CHECKED_IN.read_text()
    schema_file.write_text(json.dumps({"openapi": "3.1.0", "info": {"title": "x",
                                                                     "version": "v1"},
                                       "paths": {"/events/a-b": {"post": {}},
                                                 "/events/a_b": {"post": {}}}}))
    assert main(["typegen", "--schema", str(schema_file), "--class", "X"]) == 1
    assert "'a-b' and 'a_b'" in capsys.readouterr().err


def test_helios_sdk_surface() -> None:
    assert issubclass(HeliosModel, Reactor)
    commands = ["set_prompt", "schedule_prompt", "set_image", "clear_image", "set_seed",
                "start", "pause", "resume", "reset"]
    assert all(callable(getattr(HeliosModel, name)) for name in commands)
    assert sdk.MODEL_NAME == "helios"
    kinds = [cls.__name__ for cls in sdk.EventMessage.__args__]
    assert len(kinds) == len(EVENT_KINDS) == 10
    assert sdk.StateMessage.__dataclass_fields__.keys() == {
        "running", "current_frame", "current_chunk", "current_prompt", "paused",
        "scheduled_prompts"}


def test_event_webhook_publishes_the_kinds_and_round_trips() -> None:
    document = to_openapi(Helios.schema())
    body = document["webhooks"]["event"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert body["discriminator"] == {"propertyName": "event"}
    assert [b["properties"]["event"]["const"] for b in body["oneOf"]] == list(EVENT_KINDS)
    switched = body["oneOf"][8]
    assert switched["required"] == ["event", "frame", "chunk", "new_prompt", "previous_prompt"]
    assert parse_openapi(document) == Helios.schema()


def test_methods_send_the_documented_commands() -> None:
    client = HeliosModel(local=True)
    recorder = Recorder(client)

    async def drive() -> None:
        await client.set_seed(seed=42)
        await client.schedule_prompt(prompt="A forest", chunk=0)
        await client.set_image(image_b64="AAAA")
        await client.set_image(image_b64="AAAA", transition="blend")
        await client.start()

    anyio.run(drive)
    assert recorder.sent == [
        ("set_seed", {"seed": 42}), ("schedule_prompt", {"prompt": "A forest", "chunk": 0}),
        ("set_image", {"image_b64": "AAAA", "transition": "cut"}),
        ("set_image", {"image_b64": "AAAA", "transition": "blend"}), ("start", {})]


def test_typed_handlers_receive_records() -> None:
    client = HeliosModel(local=True)
    states: list[sdk.StateMessage] = []
    events: list[sdk.EventMessage] = []
    client.on_state(states.append)
    client.on_event(events.append)
    emit = client._emitter.emit
    emit("message", {"type": "state", "data": {
        "running": True, "current_frame": 3, "current_chunk": 0, "current_prompt": "p",
        "paused": False, "scheduled_prompts": {"0": "p"}}})
    emit("message", {"type": "event", "data": {"event": "prompt_switched", "frame": 33,
                                               "chunk": 1, "new_prompt": "b",
                                               "previous_prompt": None}})
    emit("message", {"type": "event", "data": {"event": "seed_set", "seed": 7}})
    assert states == [sdk.StateMessage(running=True, current_frame=3, current_chunk=0,
                                       current_prompt="p", paused=False,
                                       scheduled_prompts={"0": "p"})]
    assert events == [sdk.PromptSwitchedEvent(frame=33, chunk=1, new_prompt="b",
                                              previous_prompt=None),
                      sdk.SeedSetEvent(seed=7)]


def _tool(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A dev tool from this interpreter's environment, seeing the repository's packages."""
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    return subprocess.run([str(VENV_BIN / name), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False, env=env)


def test_generated_modules_are_mypy_strict_ruff_and_format_clean(tmp_path: Path) -> None:
    """Helios, the hard schema and the message schema, checked as a user would."""
    sources: dict[str, Any] = {"helios_sdk.py": CHECKED_IN.read_text(),
                               "hard_sdk.py": generate_sdk(HARD, class_name="ToyModel"),
                               "messages_sdk.py": generate_sdk(MESSAGES, class_name="ToyModel")}
    for name, text in sources.items():
        (tmp_path / name).write_text(text)
    config = str(ROOT / "pyproject.toml")
    files = sorted(sources)
    ruff = _tool("ruff", "check", "--config", config, *files, cwd=tmp_path)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    fmt = _tool("ruff", "format", "--check", "--diff", "--config", config, *files, cwd=tmp_path)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    mypy = _tool("mypy", "--strict", "--no-incremental", "--config-file", config, *files,
                 cwd=tmp_path)
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr


def test_docs_name_table_matches_the_generator() -> None:
    from reactor_proto.typegen import name_table

    page = (ROOT / "docs" / "guide" / "typed-sdks.md").read_text()
    table = page.split("<!-- helios-name-table -->", 1)[1].split("\n\n", 1)[0]
    rows = [[cell.strip().strip("`") for cell in line.strip("|").split("|")]
            for line in table.strip().splitlines()[2:]]
    assert rows == [[r.command, r.method, r.js] for r in name_table(Helios.schema())]
