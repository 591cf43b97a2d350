"""Bounded JSON decoding and typed field access with errors that name the field.

Every parser in the core goes through :func:`loads_bounded` (size checked on the UTF-8 bytes
*before* parsing, nesting depth checked after) and reads fields through :class:`Fields`,
whose accessors raise :class:`~reactor_proto.errors.DecodeError` with a dotted path such as
``session.capabilities.tracks[0].kind`` and the offending value.

``orjson`` is used when installed (an optional extra); the results are identical.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .constants import MAX_JSON_DEPTH
from .errors import DecodeError

_orjson: Any
try:  # pragma: no cover - depends on the optional extra
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None

_MISSING: Any = object()


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def depth_of(value: Any, limit: int) -> int:
    """Nesting depth of a decoded JSON value, stopping early once it exceeds ``limit``."""
    if not isinstance(value, (dict, list)):
        return 0
    deepest = 1
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        # Only containers are pushed: most nodes are leaves, and a tuple per leaf was most
        # of this walk's cost.
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return deepest


def _any_float(value: Any, test: Callable[[float], bool]) -> bool:
    """True if ``test`` holds for a float anywhere in a decoded JSON value."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, float):
            if test(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _big_integral(node: float) -> bool:
    # how orjson reads an integer literal beyond 64 bits (the stdlib keeps an int)
    return abs(node) >= 2.0**63 and node.is_integer()


def _non_finite(node: float) -> bool:
    return not math.isfinite(node)


#: Bytes with every non-digit turned into a space: the digit runs of a text, at C speed.
_DIGIT_RUNS = bytes(c if 0x30 <= c <= 0x39 else 0x20 for c in range(256))


def _may_hold_big_int(raw: bytes) -> bool:
    # orjson reads an integer literal beyond 64 bits as a float; such a literal has at least
    # 19 digits, so text with no run that long needs no walk for it (a run inside a string
    # only costs the walk).
    return any(len(run) >= 19 for run in raw.translate(_DIGIT_RUNS).split())


def _may_be_deeper(raw: bytes, limit: int) -> bool:
    # Each level opens with a bracket, so text with no more openers than the limit cannot
    # nest deeper (brackets inside strings only make this count larger).
    return raw.count(b"{") + raw.count(b"[") > limit


def loads_bounded(
    data: bytes | str,
    *,
    what: str,
    max_bytes: int,
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """Decode JSON with a byte limit and a depth limit; errors name ``what``."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise DecodeError(
            f"{what}: {len(raw)} bytes exceeds the limit of {max_bytes} bytes",
            field=what,
            value=len(raw),
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"{what}: not valid UTF-8 ({exc.reason} at byte {exc.start})",
                          field=what) from None
    try:
        value = _loads(text, raw)
    except RecursionError:
        raise DecodeError(f"{what}: nested deeper than {max_depth} levels", field=what) from None
    except ValueError as exc:
        raise DecodeError(f"{what}: not valid JSON ({exc})", field=what,
                          value=_short(text)) from None
    if _may_be_deeper(raw, max_depth) and depth_of(value, max_depth) > max_depth:
        raise DecodeError(f"{what}: nested deeper than {max_depth} levels", field=what)
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _loads(text: str, raw: bytes) -> Any:
    if _orjson is not None:
        # orjson is the fast path; whenever it disagrees with the stdlib (it refuses lone
        # surrogates, infinities and huge integers, reading the last as floats) the stdlib
        # decides, so the result and every error message are the same with or without the
        # extra.
        try:
            value = _orjson.loads(raw)
        except ValueError:
            pass
        else:
            if not (_may_hold_big_int(raw) and _any_float(value, _big_integral)):
                return value
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)


def dumps(value: Any) -> str:
    """Compact JSON text.  Non-finite floats are refused (JSON has no NaN)."""
    if _orjson is not None:
        try:
            encoded: bytes = _orjson.dumps(value)
        except TypeError:
            pass  # e.g. int keys or huge ints: the stdlib's rules apply, as without orjson
        else:
            # orjson writes inf/NaN as null, so output without a null had none; only
            # output with one needs the walk (and with a non-finite float, the stdlib's
            # refusal below).
            if b"null" not in encoded or not _any_float(value, _non_finite):
                return encoded.decode("utf-8")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def is_json_number(value: Any) -> bool:
    """True for int/float (not bool) that JSON can carry."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


class Fields:
    """Typed, path-aware read access to a decoded JSON object."""

    __slots__ = ("_data", "path")

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise DecodeError(
                f"{path}: expected a JSON object, got {type_name(data)} {_short(data)}",
                field=path,
                value=data,
            )
        self._data: dict[str, Any] = data
        self.path = path

    @property
    def raw(self) -> dict[str, Any]:
        return self._data

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return key in self._data and self._data[key] is not None

    def keys(self) -> Iterator[str]:
        return iter(self._data)

    def fail(self, key: str, expected: str, value: Any = _MISSING) -> DecodeError:
        where = self.where(key)
        if value is _MISSING:
            return DecodeError(f"{where}: required field is missing", field=where)
        return DecodeError(
            f"{where}: expected {expected}, got {type_name(value)} {_short(value)}",
            field=where,
            value=value,
        )

    def _get(self, key: str, check: Callable[[Any], bool], expected: str, required: bool,
             default: Any) -> Any:
        value = self._data.get(key, _MISSING)
        if value is _MISSING or (value is None and not required):
            if required:
                raise self.fail(key, expected)
            return default
        if not check(value):
            raise self.fail(key, expected, value)
        return value

    def req_str(self, key: str) -> str:
        return str(self._get(key, _is_str, "a string", True, None))

    def opt_str(self, key: str) -> str | None:
        value: str | None = self._get(key, _is_str, "a string", False, None)
        return value

    def req_int(self, key: str) -> int:
        return int(self._get(key, _is_int, "an integer", True, None))

    def opt_int(self, key: str) -> int | None:
        value: int | None = self._get(key, _is_int, "an integer", False, None)
        return value

    def req_number(self, key: str) -> float:
        return float(self._get(key, is_json_number, "a number", True, None))

    def opt_number(self, key: str) -> float | None:
        value = self._get(key, is_json_number, "a number", False, None)
        return None if value is None else float(value)

    def req_bool(self, key: str) -> bool:
        return bool(self._get(key, _is_bool, "a boolean", True, None))

    def opt_bool(self, key: str) -> bool | None:
        value: bool | None = self._get(key, _is_bool, "a boolean", False, None)
        return value

    def req_list(self, key: str) -> list[Any]:
        value: list[Any] = self._get(key, _is_list, "an array", True, None)
        return value

    def opt_list(self, key: str) -> list[Any] | None:
        value: list[Any] | None = self._get(key, _is_list, "an array", False, None)
        return value

    def req_obj(self, key: str) -> Fields:
        return Fields(self._get(key, _is_dict, "an object", True, None), self.where(key))

    def opt_obj(self, key: str) -> Fields | None:
        value = self._get(key, _is_dict, "an object", False, None)
        return None if value is None else Fields(value, self.where(key))

    def items(self, key: str) -> Iterator[tuple[str, Any]]:
        """(indexed path, element) pairs of a required array."""
        where = self.where(key)
        for index, element in enumerate(self.req_list(key)):
            yield f"{where}[{index}]", element


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, list)


def _is_dict(value: Any) -> bool:
    return isinstance(value, dict)


def type_name(value: Any) -> str:
    """JSON type name of a Python value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__
