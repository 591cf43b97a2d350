"""attrs validators for the core's configuration classes: a bad value is a
:class:`~reactor_proto.errors.LocalProtocolError` naming the class, the field, the rule and
the value, raised when the configuration is built (not when it is first used)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

from .errors import LocalProtocolError

Validator = Callable[[object, "attrs.Attribute[Any]", Any], None]


def above(owner: str, bound: float, *, inclusive: bool = False,
          finite: bool = True) -> Validator:
    """A validator of numbers ``> bound`` (``>= bound`` when ``inclusive``), finite unless
    ``finite`` is False (then ``inf`` passes; NaN never does)."""
    rule = f"{'>=' if inclusive else '>'} {bound:g}"
    if finite:
        rule = f"a finite number {rule}"

    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and (
            value >= bound if inclusive else value > bound)
        if ok and finite:
            ok = math.isfinite(value)
        if not ok:
            raise LocalProtocolError(f"{owner}.{attribute.name}: must be {rule}, got {value!r}")

    return check
