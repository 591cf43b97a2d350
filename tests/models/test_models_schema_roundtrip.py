"""Property: a model class built from random signatures -> schema -> OpenAPI -> parse -> equal."""

from __future__ import annotations

import inspect
import keyword
from typing import Annotated, Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactor_anyio.models import (
    Field,
    MessageType,
    Model,
    RecordingContext,
    TrackSpec,
    UploadedFile,
    command,
)

schema_mod = pytest.importorskip("reactor_proto.schema")

_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(
    lambda name: not keyword.iskeyword(name))

_HINTS: list[tuple[Any, st.SearchStrategy[Any]]] = [
    (int, st.integers(-5, 5)),
    (float, st.floats(-2, 2, allow_nan=False)),
    (str, st.text(max_size=4)),
    (bool, st.booleans()),
    (Literal["a", "b"], st.sampled_from(["a", "b"])),
    (int | None, st.none() | st.integers(0, 3)),
    (list[str], st.lists(st.text(max_size=2), max_size=2)),
    (dict[str, int], st.dictionaries(st.text(max_size=2), st.integers(0, 3), max_size=2)),
    (Annotated[int, Field(ge=0, le=9, description="digit")], st.integers(0, 9)),
    (Annotated[str, Field(min_length=1, max_length=3)], st.text(min_size=1, max_size=3)),
]


def _make_command(params: list[tuple[str, Any, Any]]) -> Any:
    def handler(self: Any, **kwargs: Any) -> None:
        self.received = kwargs

    signature = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    signature += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                    annotation=hint) for name, hint, default in params]
    handler.__signature__ = inspect.Signature(signature)  # type: ignore[attr-defined]
    handler.__annotations__ = {name: hint for name, hint, _ in params}
    return handler


@st.composite
def _model_classes(draw: st.DrawFn) -> tuple[type[Model], dict[str, dict[str, Any]]]:
    namespace: dict[str, Any] = {"name": draw(_NAMES), "version": "1.0.0",
                                 "description": draw(st.text(max_size=10))}
    samples: dict[str, dict[str, Any]] = {}
    for command_name in draw(st.lists(_NAMES, max_size=4, unique=True)):
        names = draw(st.lists(_NAMES, max_size=4, unique=True))
        params, values = [], {}
        for name in names:
            hint, values_of = draw(st.sampled_from(_HINTS))
            default = draw(st.none() | values_of) if draw(st.booleans()) else (
                inspect.Parameter.empty)
            if default is None and hint is not (int | None):
                default = inspect.Parameter.empty
            params.append((name, hint, default))
            values[name] = draw(values_of)
        if draw(st.booleans()):
            params.append(("upload", UploadedFile, inspect.Parameter.empty))
        description = draw(st.none() | st.text(min_size=1, max_size=10))
        namespace[f"cmd_{command_name}"] = command(name=command_name, description=description)(
            _make_command(params))
        samples[command_name] = values
    namespace["messages"] = {"note": MessageType(description="n", fields={"x": int | None})}
    namespace["inputs"] = (TrackSpec(name="cam"),) if draw(st.booleans()) else ()
    return type("Generated", (Model,), namespace), samples


@settings(max_examples=60)
@given(_model_classes())
def test_property_schema_openapi_round_trip(generated: tuple[type[Model], Any]) -> None:
    model_class, samples = generated
    schema = model_class.schema()
    assert schema_mod.parse_openapi(schema_mod.to_openapi(schema)) == schema
    model = model_class(RecordingContext())
    for command_name, values in samples.items():
        spec = schema.commands[command_name]
        if any(p.is_upload for p in spec.params):
            continue
        validated = schema.validate(command_name, values)
        assert validated == values
        model.dispatch(command_name, validated)
        assert model.received == values  # type: ignore[attr-defined]
