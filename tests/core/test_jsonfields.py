"""Bounded JSON decoding: limits, typed access, and stdlib/orjson parity."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto import jsonfields
from reactor_proto.errors import DecodeError
from reactor_proto.jsonfields import Fields, dumps, loads_bounded, type_name

JSON = st.recursive(
    st.none() | st.booleans() | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


def outcome(text: str | bytes) -> tuple[str, Any]:
    try:
        return "ok", loads_bounded(text, what="x", max_bytes=10_000, max_depth=8)
    except DecodeError as exc:
        return "error", exc.message


def both_ways(monkeypatch: pytest.MonkeyPatch, text: str | bytes) -> tuple[Any, Any]:
    fast = outcome(text)
    monkeypatch.setattr(jsonfields, "_orjson", None)
    slow = outcome(text)
    monkeypatch.undo()
    return fast, slow


@given(JSON)
def test_round_trip(value: Any) -> None:
    assert loads_bounded(dumps(value), what="x", max_bytes=1 << 20) == value


@pytest.mark.parametrize("text", [
    "1e999", "-1e400", '"\\ud800"', "18446744073709551616", "-9223372036854775809", "NaN",
    "[1,]", '{"a":1}x', "\xff", "[[[[[[[[[[1]]]]]]]]]]", '{"a":1e19}', "1.0", "null", "",
])
def test_orjson_and_stdlib_agree(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    fast, slow = both_ways(monkeypatch, text)
    assert fast == slow
    assert type(fast[1]) is type(slow[1])


def fast_and_stdlib(text: str) -> tuple[Any, Any]:
    """The outcome with orjson, then without (for hypothesis tests, which cannot take the
    function-scoped monkeypatch fixture)."""
    saved = jsonfields._orjson
    try:
        fast = outcome(text)
        jsonfields._orjson = None
        return fast, outcome(text)
    finally:
        jsonfields._orjson = saved


@given(st.text(max_size=40))
def test_orjson_and_stdlib_agree_on_any_text(text: str) -> None:
    fast, slow = fast_and_stdlib(text)
    assert fast == slow


NUMBER_TEXT = st.one_of(
    st.integers().map(str),
    st.integers(min_value=2**62, max_value=2**66).map(lambda n: str(n)),
    st.integers(min_value=-(2**66), max_value=-(2**62)).map(str),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-99, 99), st.integers(-400, 400)),
    st.builds(lambda m, e: f"{m}.5E+{e}", st.integers(0, 9), st.integers(0, 400)),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
LEAF_TEXT = NUMBER_TEXT | st.sampled_from(['"[[[{{"', '"1e999"', "true", "null", '"x"'])
NESTED_TEXT = st.recursive(
    LEAF_TEXT,
    lambda inner: st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]")
    | st.lists(inner, max_size=3).map(
        lambda xs: "{" + ",".join(f'"k{i}":{x}' for i, x in enumerate(xs)) + "}"),
    max_leaves=12,
)


@given(NESTED_TEXT, st.integers(0, 10))
def test_orjson_and_stdlib_agree_on_numbers_and_nesting(text: str, wrap: int) -> None:
    """The fast path skips its walks on text that cannot hold a number orjson misreads or
    nest past the limit; whatever it skips, the outcome is the stdlib's."""
    fast, slow = fast_and_stdlib("[" * wrap + text + "]" * wrap)
    assert fast == slow
    assert type(fast[1]) is type(slow[1])


def test_dumps_refuses_non_finite_and_matches_stdlib() -> None:
    with pytest.raises(ValueError, match="Out of range"):
        dumps({"a": float("inf")})
    assert dumps({1: 2**70}) == json.dumps({1: 2**70}, separators=(",", ":"))


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=16,
))
def test_dumps_is_the_stdlibs_compact_json(value: Any) -> None:
    """With or without orjson: the stdlib's compact text, and its refusal of inf/NaN."""
    try:
        expected: Any = json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                                   allow_nan=False)
    except ValueError:
        expected = ValueError
    try:
        got: Any = dumps(value)
    except ValueError:
        got = ValueError
    if got is ValueError or expected is ValueError:
        assert got is expected
    else:
        assert json.loads(got) == json.loads(expected)


def test_limits_and_encoding_errors() -> None:
    with pytest.raises(DecodeError, match="exceeds the limit"):
        loads_bounded(b"[1,2,3]", what="x", max_bytes=3)
    with pytest.raises(DecodeError, match="UTF-8"):
        loads_bounded(b"\xff\xfe", what="x", max_bytes=10)
    with pytest.raises(DecodeError, match="nested deeper"):
        loads_bounded("[" * 5000 + "]" * 5000, what="x", max_bytes=20_000)


def test_fields_accessors_name_the_path() -> None:
    f = Fields({"s": "a", "i": 1, "n": 1.5, "b": True, "l": [1], "o": {"k": 2}, "z": None},
               "root")
    assert (f.req_str("s"), f.req_int("i"), f.req_number("n"), f.req_bool("b")) == \
        ("a", 1, 1.5, True)
    assert f.req_list("l") == [1] and f.req_obj("o").req_int("k") == 2
    assert f.opt_str("z") is None and f.opt_int("missing") is None
    assert f.opt_number("n") == 1.5 and f.opt_bool("b") is True and f.opt_list("l") == [1]
    assert f.opt_obj("z") is None and f.opt_obj("o") is not None
    assert list(f.items("l")) == [("root.l[0]", 1)] and f.has("s") and not f.has("z")
    assert "s" in list(f.keys()) and f.raw["i"] == 1
    with pytest.raises(DecodeError, match=r"root\.i: expected a string, got number 1"):
        f.req_str("i")
    with pytest.raises(DecodeError, match=r"root\.q: required field is missing"):
        f.req_int("q")
    with pytest.raises(DecodeError, match="expected a JSON object, got array"):
        Fields([], "top")
    assert [type_name(v) for v in (None, True, 1, "s", [], {}, 1j)] == \
        ["null", "boolean", "number", "string", "array", "object", "complex"]
