"""The ``Reactor``'s read-only side: status, state, waiting info, session, capabilities,
received tracks.

Split from :mod:`.reactor` along a seam: nothing here drives the machine; it reads the
machine's public properties and converts them to the documented types (:mod:`.types`).
"""

from __future__ import annotations

import time
from typing import Any

from reactor_proto.client import ClientMachine, ReactorStatus
from reactor_proto.errors import ReactorError
from reactor_proto.schema import ModelSchema

from .types import (
    Capabilities,
    CreateSessionResponse,
    ReactorState,
    WaitingInfo,
    capabilities_dict,
    session_response_dict,
)


class ReactorQueries:
    """The getters of the official client (and ours: schema, commands, waiting info)."""

    _machine: ClientMachine
    _remote_tracks: dict[str, Any]

    def get_status(self) -> ReactorStatus:
        return self._machine.status

    def get_state(self) -> ReactorState:
        return ReactorState(status=self._machine.status, last_error=self._machine.last_error,
                            waiting_info=self.get_waiting_info())

    def get_waiting_info(self) -> WaitingInfo | None:
        """While WAITING for a GPU: since when, how long, and the queue position (when the
        coordinator reports one); None otherwise."""
        since = self._machine.waiting_since
        if since is None or self._machine.status is not ReactorStatus.WAITING:
            return None
        waited = max(0.0, time.monotonic() - since)
        return WaitingInfo(since=time.time() - waited, waited=waited,
                           queue_position=self._machine.queue_position)

    def get_session_id(self) -> str | None:
        return self._machine.session_id

    def get_last_error(self) -> ReactorError | None:
        return self._machine.last_error

    def get_capabilities(self) -> Capabilities | None:
        """The model's tracks and commands, as the documented ``Capabilities`` dict."""
        caps = self._machine.capabilities
        return None if caps is None else capabilities_dict(caps)

    def get_session_info(self) -> CreateSessionResponse | None:
        """The session as last described by the coordinator (or the local runtime)."""
        snapshot = self._machine.session_info
        return None if snapshot is None else session_response_dict(snapshot)

    def get_schema(self) -> ModelSchema | None:
        return self._machine.schema

    @property
    def commands(self) -> tuple[str, ...]:
        schema = self._machine.schema
        return schema.command_names() if schema is not None else ()

    def get_remote_track(self) -> Any | None:
        """The first received video track (the raw aiortc track), or None."""
        for spec in self._machine.tracks:
            if spec.kind == "video" and spec.name in self._remote_tracks:
                return self._remote_tracks[spec.name]
        return None

    def get_remote_tracks(self) -> dict[str, Any]:
        """The received tracks by name (raw aiortc tracks; see the Frames guide)."""
        return dict(self._remote_tracks)
