"""Figure 8: typed SDKs: generating one from a big schema, and what importing one costs.

``reactor typegen`` must turn a 1,000-command schema into a module in under 2 s, and the
generated module must add under 20 ms to a client's start-up.

* **generate 1,000 commands**: ``reactor_proto.typegen.generate_sdk`` on an OpenAPI document
  of 1,000 commands with three parameters each (an integer with bounds, an optional enum, an
  optional string) and two messages, one a ten-kind tagged union; the baseline is
  ``parse_openapi`` of the same document, the part of the work any schema consumer pays.
* **import HeliosModel**: in a fresh interpreter, ``python -X importtime -c "from
  reactor_anyio import Reactor, HeliosModel"``; ours is the cumulative import time of
  ``reactor_anyio.sdk`` (the checked-in HeliosModel and everything it pulls in that the client
  had not), the baseline the client's import before it (the start-up it is added to).
* **import a 1,000-command SDK**: in a fresh interpreter that has imported ``reactor_anyio``,
  the time to import the module generated above (an upper bound for real models).

Medians over fresh interpreters (imports) or repeated calls (generation).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from reactor_proto.schema import parse_openapi
from reactor_proto.typegen import generate_sdk

from .common import VENV_PYTHON, Row, child_env, judge, median
from .connect_probe import bytecode_env

NAME = "typegen_speed"
TITLE = "8. typed SDK generation and import (ms)"
COMMANDS = 1000

_EVENT_KINDS = [f"kind_{i}" for i in range(10)]


def big_document(commands: int = COMMANDS) -> dict[str, Any]:
    """An OpenAPI document with ``commands`` commands and two messages."""
    def body(schema: dict[str, Any]) -> dict[str, Any]:
        return {"requestBody": {"content": {"application/json": {"schema": schema}}}}

    paths = {
        f"/events/command_{i}": {"post": {"summary": f"Command number {i}", **body({
            "type": "object",
            "properties": {"value": {"type": "integer", "minimum": 0, "maximum": i + 1},
                           "mode": {"type": "string", "enum": ["fast", "slow"],
                                    "default": "fast"},
                           "label": {"type": "string", "description": "A label"}},
            "required": ["value"]})}}
        for i in range(commands)
    }
    union = {"type": "object", "properties": {"kind": {"type": "string"}}, "required": ["kind"],
             "oneOf": [{"type": "object", "properties": {"kind": {"const": kind},
                                                         "n": {"type": "integer"}},
                        "required": ["kind", "n"]} for kind in _EVENT_KINDS],
             "discriminator": {"propertyName": "kind"}}
    state = {"type": "object", "properties": {"frame": {"type": "integer"},
                                              "prompt": {"anyOf": [{"type": "string"},
                                                                   {"type": "null"}]}},
             "required": ["frame", "prompt"]}
    return {"openapi": "3.1.0", "info": {"title": "big", "version": "v1.0.0"},
            "paths": paths,
            "webhooks": {"state": {"post": body(state)}, "event": {"post": body(union)}}}


def _timed(fn: Any, trials: int) -> list[float]:
    times = []
    for _ in range(trials):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


#: the client, then the typed SDK: each top-level import line is one or the other
IMPORT_STATEMENT = "from reactor_anyio import Reactor, HeliosModel"


def import_times(env: dict[str, str]) -> dict[str, float]:
    """Cumulative import ms of ``from reactor_anyio import Reactor, HeliosModel`` in a fresh
    interpreter: ``client`` (every top-level import before the SDK's) and ``sdk`` (the
    ``reactor_anyio.sdk`` lines: what HeliosModel adds).  The package serves its names
    lazily (issue 20), so each name's modules show as top-level lines of their own."""
    proc = subprocess.run([str(VENV_PYTHON), "-X", "importtime", "-c", IMPORT_STATEMENT],
                          env=env, capture_output=True, text=True, timeout=120, check=True)
    found = {"client": 0.0, "sdk": 0.0}
    started = False
    for line in proc.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if not match or len(match.group(3)) != 1:
            continue  # nested lines are inside a top-level line's cumulative time
        name = match.group(4)
        if name.startswith("reactor_anyio"):
            started = True
        if started:
            key = "sdk" if name.startswith("reactor_anyio.sdk") else "client"
            found[key] += int(match.group(2)) / 1000
    return found


_IMPORT_GENERATED = """
import importlib, sys, time
import reactor_anyio
sys.path.insert(0, {folder!r})
start = time.perf_counter()
importlib.import_module("big_sdk")
print((time.perf_counter() - start) * 1000)
"""


def import_generated_ms(source: str, trials: int) -> list[float]:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "big_sdk.py").write_text(source)
        code = _IMPORT_GENERATED.format(folder=folder)
        return [float(subprocess.run([str(VENV_PYTHON), "-B", "-c", code], env=child_env(),
                                     capture_output=True, text=True, timeout=120,
                                     check=True).stdout.strip().splitlines()[-1])
                for _ in range(trials)]


def run(quick: bool = False) -> list[Row]:
    trials = 3 if quick else 9
    document = big_document()
    source = generate_sdk(document, class_name="BigModel")
    generate = median(_timed(lambda: generate_sdk(document, class_name="BigModel"), trials))
    parse = median(_timed(lambda: parse_openapi(document), trials))
    with tempfile.TemporaryDirectory(prefix="bench-pyc-") as cache:
        # bytecode on, as for an installed package (see bench.connect_probe.bytecode_env)
        env = bytecode_env(child_env(), cache)
        import_times(env)  # untimed: fills the cache
        imports = [import_times(env) for _ in range(trials)]
    sdk = median(t["sdk"] for t in imports)
    client = median(t["client"] for t in imports)
    big = median(import_generated_ms(source, trials))
    size = f"{len(source.splitlines()):,} lines"
    return [
        judge(Row(figure="8 typegen", metric=f"generate {COMMANDS:,} commands", unit="ms",
                  ours=generate, baseline=parse, baseline_name="parse_openapi only",
                  goal="< 2000 ms", note=f"module of {size}"), generate < 2000),
        judge(Row(figure="8 typegen", metric="import HeliosModel (reactor_anyio.sdk)",
                  unit="ms", ours=sdk, baseline=client,
                  baseline_name="from reactor_anyio import Reactor",
                  goal="< 20 ms"), sdk < 20),
        Row(figure="8 typegen", metric=f"import a {COMMANDS:,}-command SDK", unit="ms",
            ours=big, goal="", note=f"after reactor_anyio; {size}"),
    ]
