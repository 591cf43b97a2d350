"""Source-text helpers: safe docstrings, wrapped lines, the import block and ``__all__``.

The generated module is laid out the way ``ruff format`` leaves it (signatures with
parameters are exploded one per line with a trailing comma, which the formatter keeps), so
formatting it again changes nothing.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from typing import Final

LINE_LIMIT: Final = 100
DOC_WIDTH: Final = 88


def escape_doc(text: str) -> str:
    """Text that is safe inside a non-raw triple-quoted docstring and ASCII-only.

    Backslashes are doubled, a quote is escaped when it follows another or ends the text
    (so no ``\"\"\"`` can close the docstring early), control and non-ASCII characters
    become ``\\uXXXX`` escapes (they read back as the same characters).
    """
    out: list[str] = []
    for index, char in enumerate(text):
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            risky = index + 1 == len(text) or text[index + 1] == '"'
            out.append('\\"' if risky else '"')
        elif char == "\n" or 32 <= code < 127:
            out.append(char)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def _wrap(paragraph: str, width: int, subsequent: str = "") -> list[str]:
    return textwrap.wrap(paragraph, width=width, subsequent_indent=subsequent,
                         break_long_words=False, break_on_hyphens=False) or [""]


def docstring(summary: str, body: Sequence[str] = (), *, indent: str) -> list[str]:
    """A docstring: escaped, wrapped to the line limit, one-line when it fits.

    ``body`` items are paragraphs; one starting with ``:`` (a sphinx field such as
    ``:param x: ...``) is wrapped with a hanging indent.
    """
    width = max(LINE_LIMIT - len(indent) - 6, 40)
    head = escape_doc(" ".join(summary.split()) or "No description.")
    if not body and len(head) <= width:
        return [f'{indent}"""{head}"""']
    lines = [f'{indent}"""{line}' if index == 0 else f"{indent}{line}"
             for index, line in enumerate(_wrap(head, min(width, DOC_WIDTH)))]
    previous_field = False
    for paragraph in body:
        text = escape_doc(" ".join(paragraph.split()))
        is_field = text.startswith(":")
        if not (is_field and previous_field):
            lines.append("")
        previous_field = is_field
        lines.extend(f"{indent}{line}" for line in
                     _wrap(text, min(width, DOC_WIDTH), "    " if is_field else ""))
    lines.append(f'{indent}"""')
    return [line.rstrip() for line in lines]


def import_block(imports: Iterable[tuple[str, str]]) -> list[str]:
    """isort-style imports: the standard library first, then ``reactor_anyio``."""
    by_module: dict[str, set[str]] = {}
    for module, name in imports:
        by_module.setdefault(module, set()).add(name)
    stdlib = sorted(m for m in by_module if not m.startswith("reactor"))
    ours = sorted(m for m in by_module if m.startswith("reactor"))
    lines: list[str] = []
    for group in (stdlib, ours):
        if not group:
            continue
        if lines:
            lines.append("")
        for module in group:
            names = sorted(by_module[module], key=_isort_key)
            lines.extend(_from_import(module, names))
    return lines


def _isort_key(name: str) -> tuple[int, str]:
    # isort's force-sort-within-sections default: CONSTANTS, Classes, then functions.
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def _from_import(module: str, names: Sequence[str]) -> list[str]:
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= LINE_LIMIT:
        return [line]
    return [f"from {module} import (", *(f"    {name}," for name in names), ")"]


def all_block(names: Iterable[str]) -> list[str]:
    """``__all__`` sorted the way ruff's RUF022 wants (isort-style)."""
    ordered = sorted(set(names), key=_isort_key)
    one = "__all__ = [" + ", ".join(f'"{n}"' for n in ordered) + "]"
    if len(one) <= LINE_LIMIT:
        return [one]
    return ["__all__ = [", *(f'    "{n}",' for n in ordered), "]"]


def exploded(head: str, items: Sequence[str], tail: str, *, indent: str) -> list[str]:
    """``head(`` + one item per line with a trailing comma + ``)tail``."""
    return [f"{indent}{head}(", *(f"{indent}    {item}," for item in items),
            f"{indent}){tail}"]
