"""Typed model SDKs: a model's command schema -> a Python module with one method per command.

Pure (no I/O): :func:`generate_sdk` takes a parsed JSON document and returns source text.
``reactor typegen`` (:mod:`reactor_anyio.typegen`) is the command-line adapter around it.
See docs/guide/typed-sdks.md for the mapping rules.
"""

from .emit import NameRow, generate_sdk, load_schema, name_table
from .errors import TypegenError
from .names import REACTOR_ATTRIBUTES, js_name

__all__ = [
    "REACTOR_ATTRIBUTES",
    "NameRow",
    "TypegenError",
    "generate_sdk",
    "js_name",
    "load_schema",
    "name_table",
]
