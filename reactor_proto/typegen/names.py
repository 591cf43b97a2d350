"""The name mapping of typed SDKs: wire names -> Python identifiers (and the JS SDK's names).

The rules, applied in this order (docs/guide/typed-sdks.md shows them as a table):

1. **snake_case**: camelCase humps are split (``setPrompt`` and ``SetPrompt`` ->
   ``set_prompt``, ``HTTPMode`` -> ``http_mode``), every run of characters that cannot appear
   in an identifier becomes one ``_``, the result is lower-cased and stripped of leading and
   trailing ``_`` (names starting with ``_`` would be private).  Non-ASCII letters are
   dropped like punctuation, so the module stays ASCII.
2. **leading digit**: a name that starts with a digit gets a prefix (``cmd_`` for methods,
   ``arg_`` for parameters and fields, ``Message`` for message classes).
3. **keywords and reserved names**: a Python keyword (``class``, ``from``, ...), a name the
   generated class already has (every public ``Reactor`` attribute: ``connect``,
   ``send_command``, ``on_message`` ...; the generated ``on_<message>`` decorators) or a
   parameter called ``self`` gets a trailing ``_`` (``connect`` -> ``connect_``).
4. **collisions**: if two wire names still map to the same Python name, generation fails
   with :class:`~.errors.TypegenError` naming both; nothing is renamed behind your back.

A name that maps to nothing (``"--"``, ``"日本"``) fails the same way.  The JS SDK names its
methods in lowerCamelCase of the command name (``set_prompt`` -> ``setPrompt``).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable
from typing import Final

from .errors import TypegenError

REACTOR_ATTRIBUTES: Final = frozenset({
    # The official client's public API (docs/protocol/ the Python SDK reference) ...
    "connect", "disconnect", "reconnect", "send_command", "get_status", "get_state",
    "get_session_id", "get_last_error", "get_capabilities", "get_session_info",
    "get_remote_track", "get_remote_tracks", "publish_track", "unpublish_track",
    "set_frame_callback", "on", "off", "on_frame", "on_message", "on_internal_message",
    "on_status", "on_error", "on_track", "upload_file",
    # ... and what reactor_anyio.Reactor adds to it.
    "aclose", "commands", "get_schema", "get_stats", "pause_track", "resume_track",
    "request_schema", "send_runtime_message", "timings", "get_waiting_info",
    "on_audio_frame", "set_audio_callback", "set_audio_buffer",
    # Reserved ahead for the 1.13.0 surface (stepping, track objects, clips), so adding those
    # methods never renames a generated command.
    "step", "clear_step_inputs", "track", "tracks", "generation", "request_clip",
    "request_recording",
    "download_clip_as_file", "download_clip", "download_recording", "download",
})
"""Public attributes of ``Reactor``: a command named like one gets a trailing ``_``.

Fixed here (not read from the class at generation time) so that the same schema always
gives the same module; a test checks the list still covers ``reactor_anyio.Reactor``.
"""

_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")


def words(name: str) -> list[str]:
    """The lower-case words of a wire name (rule 1)."""
    spaced = _NOT_WORD.sub(" ", _HUMP.sub(" ", name))
    return [word.lower() for word in spaced.split()]


def snake_name(name: str, *, prefix: str) -> str:
    """Rules 1 and 2: a lower-case identifier, or ``""`` when nothing is left."""
    result = "_".join(words(name))
    if result[:1].isdigit():
        result = f"{prefix}{result}"
    return result


def pascal_name(name: str, *, prefix: str = "Message") -> str:
    """``prompt_switched`` -> ``PromptSwitched`` (rules 1 and 2 for class names)."""
    result = "".join(word[:1].upper() + word[1:] for word in words(name))
    if result[:1].isdigit():
        result = f"{prefix}{result}"
    return result


def js_name(name: str) -> str:
    """The JS SDK's lowerCamelCase spelling of a wire name (``set_prompt`` -> ``setPrompt``)."""
    parts = words(name)
    if not parts:
        return name
    return parts[0] + "".join(word[:1].upper() + word[1:] for word in parts[1:])


def _guard(name: str, reserved: Iterable[str]) -> str:
    """Rule 3: a trailing ``_`` for keywords and reserved names (soft keywords such as
    ``type`` and ``match`` are ordinary names and stay)."""
    if keyword.iskeyword(name) or name in reserved:
        return f"{name}_"
    return name


def map_names(wire_names: Iterable[str], *, kind: str, prefix: str,
              reserved: Iterable[str] = (), owner: str | None = None) -> dict[str, str]:
    """Map every wire name to its Python identifier (rules 1-4), in input order.

    ``kind`` ("command", "parameter", "field") and ``owner`` (the command or message the
    names belong to) only word the errors.
    """
    reserved = frozenset(reserved)
    taken: dict[str, str] = {}
    result: dict[str, str] = {}
    for wire in wire_names:
        base = snake_name(wire, prefix=prefix)
        where = owner if owner is not None else wire
        if not base:
            raise TypegenError(f"{kind} {wire!r} has no letters or digits to make a Python "
                               "name from", command=where)
        python = _guard(base, reserved)
        if python in taken:
            raise TypegenError(f"{kind}s {taken[python]!r} and {wire!r} both map to the "
                               f"Python name {python!r}", command=where)
        taken[python] = wire
        result[wire] = python
    return result


def map_classes(wire_names: Iterable[str], *, kind: str, reserved: Iterable[str],
                suffix: str = "") -> dict[str, str]:
    """PascalCase class names (``state`` -> ``StateMessage`` with ``suffix="Message"``)."""
    reserved = frozenset(reserved)
    taken: dict[str, str] = {}
    result: dict[str, str] = {}
    for wire in wire_names:
        base = pascal_name(wire)
        if not base:
            raise TypegenError(f"{kind} {wire!r} has no letters or digits to make a Python "
                               "name from", command=wire)
        python = f"{base}{suffix}"
        if python in reserved:
            python = f"{python}_"
        if python in taken:
            raise TypegenError(f"{kind}s {taken[python]!r} and {wire!r} both map to the "
                               f"class name {python!r}", command=wire)
        taken[python] = wire
        result[wire] = python
    return result
