"""The one error the generator raises."""

from __future__ import annotations

from typing import Any

from ..errors import LocalProtocolError


class TypegenError(LocalProtocolError):
    """A schema that cannot become a typed SDK; ``command`` names the command (or message)
    at fault and ``reason`` says why, e.g. ``command 'x': parameter 'y' ...``."""

    def __init__(self, reason: str, *, command: str | None = None, **kwargs: Any) -> None:
        where = f"{command!r}: " if command is not None else ""
        super().__init__(f"typegen: {where}{reason}", **kwargs)
        self.command = command
        self.reason = reason
