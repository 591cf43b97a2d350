"""Hypothesis: for generated schemas, every generated method sends exactly the command and
arguments the schema describes, and what it sends passes the sans-IO core's validation."""

from __future__ import annotations

import functools
import inspect
import string
from typing import Any

import anyio
from hypothesis import given
from hypothesis import strategies as st

from reactor_anyio import FileRef
from reactor_proto.typegen import TypegenError, load_schema
from reactor_proto.typegen.names import REACTOR_ATTRIBUTES, map_names

from .support import UPLOAD, client_of, command, document, generate_and_load

# Each kind: (schema, strategy of valid values).
KINDS: dict[str, tuple[dict[str, Any], st.SearchStrategy[Any]]] = {
    "string": ({"type": "string"}, st.text(max_size=8)),
    "bounded_int": ({"type": "integer", "minimum": -5, "maximum": 5},
                    st.integers(-5, 5)),
    "number": ({"type": "number"}, st.floats(allow_nan=False, allow_infinity=False)),
    "boolean": ({"type": "boolean"}, st.booleans()),
    "enum": ({"type": "string", "enum": ["cut", "blend", "fade"]},
             st.sampled_from(["cut", "blend", "fade"])),
    "int_enum": ({"enum": [1, 2, 3]}, st.sampled_from([1, 2, 3])),
    "nullable": ({"anyOf": [{"type": "string"}, {"type": "null"}]},
                 st.one_of(st.none(), st.text(max_size=4))),
    "either": ({"oneOf": [{"type": "integer"}, {"type": "string"}]},
               st.one_of(st.integers(), st.text(max_size=4))),
    "strings": ({"type": "array", "items": {"type": "string"}},
                st.lists(st.text(max_size=3), max_size=3)),
    "int_map": ({"type": "object", "additionalProperties": {"type": "integer"}},
                st.dictionaries(st.text(max_size=3), st.integers(), max_size=3)),
    "upload": (UPLOAD, st.builds(FileRef, upload_id=st.just("u"), name=st.just("n"),
                                 mime_type=st.just("a/b"), size=st.integers(1, 9))),
}
DEFAULTS = {"string": "x", "bounded_int": 3, "number": 0.25, "boolean": True, "enum": "cut",
            "int_enum": 2}

WORD = st.text(string.ascii_lowercase, min_size=1, max_size=6)
NAME = st.one_of(
    st.lists(WORD, min_size=1, max_size=3).map("_".join),
    st.lists(WORD, min_size=2, max_size=3).map(lambda ws: ws[0] + "".join(
        w.capitalize() for w in ws[1:])),
    st.sampled_from(["class", "from", "connect", "send_command", "on", "self", "type"]),
)


@st.composite
def schemas(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, dict[str, tuple[str, bool,
                                                                                 bool]]]]:
    """An OpenAPI document and, per command, param -> (kind, required, has default)."""
    command_names = draw(st.lists(NAME, min_size=1, max_size=5, unique_by=lambda n: n.lower()))
    commands: dict[str, Any] = {}
    plan: dict[str, dict[str, tuple[str, bool, bool]]] = {}
    for name in command_names:
        params = draw(st.dictionaries(NAME, st.tuples(st.sampled_from(sorted(KINDS)),
                                                      st.booleans(), st.booleans()),
                                      max_size=4))
        properties: dict[str, Any] = {}
        for param, (kind, required, with_default) in params.items():
            schema = dict(KINDS[kind][0])
            with_default = with_default and not required and kind in DEFAULTS
            if with_default:
                schema["default"] = DEFAULTS[kind]
            properties[param] = schema
            params[param] = (kind, required, with_default)
        commands[name] = command(properties, tuple(p for p, v in params.items() if v[1]))
        plan[name] = params
    return document(commands), plan


def _mapping_is_unique(doc: dict[str, Any]) -> bool:
    try:
        schema = load_schema(doc)
        map_names(schema.commands, kind="command", prefix="cmd_", reserved=REACTOR_ATTRIBUTES)
        for spec in schema.commands.values():
            map_names([p.name for p in spec.params], kind="parameter", prefix="arg_",
                      reserved={"self"})
    except TypegenError:
        return False
    return True


@given(data=st.data(), drawn=schemas())
def test_generated_methods_send_what_the_schema_describes(
        data: st.DataObject, drawn: tuple[dict[str, Any], dict[str, Any]]) -> None:
    doc, plan = drawn
    if not _mapping_is_unique(doc):
        return  # collisions are covered (as errors) by test_generate.py
    schema = load_schema(doc)
    module = generate_and_load(doc)
    client, recorder = client_of(module)
    for wire, params in plan.items():
        method_name = map_names(schema.commands, kind="command", prefix="cmd_",
                                reserved=REACTOR_ATTRIBUTES)[wire]
        python = map_names(list(params), kind="parameter", prefix="arg_", reserved={"self"})
        method = getattr(client, method_name)
        signature = inspect.signature(method)
        assert set(signature.parameters) == set(python.values())
        kwargs: dict[str, Any] = {}
        expected: dict[str, Any] = {}
        for param, (kind, required, with_default) in params.items():
            given_value = required or data.draw(st.booleans(), label=f"{wire}.{param} given")
            if given_value:
                value = data.draw(KINDS[kind][1], label=f"{wire}.{param}")
                if value is None and not required and not with_default:
                    continue  # None means "leave it out" for optional parameters
                kwargs[python[param]] = value
                expected[param] = value
            elif with_default:
                expected[param] = DEFAULTS[kind]
        recorder.sent.clear()
        anyio.run(functools.partial(method, **kwargs))
        assert recorder.sent == [(wire, expected)]
        schema.validate(wire, {k: (v.to_json() if isinstance(v, FileRef) else v)
                               for k, v in expected.items()})
