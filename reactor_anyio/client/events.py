"""The ``Reactor``'s event side: handler registration, the decorators, and the translation of
the machine's events into the official event names.

Split from :mod:`.reactor` along a seam: nothing here drives the machine or touches a peer;
it only reads the :class:`EventEmitter` the client owns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from reactor_proto.client import (
    CapabilitiesReceived,
    ClientEvent,
    ErrorOccurred,
    MessageReceived,
    NotificationFailed,
    ReactorStatus,
    RuntimeMessageReceived,
    SchemaReceived,
    SessionExpirationChanged,
    SessionIdChanged,
    StatusChanged,
)

from .emitter import EventEmitter, Handler
from .types import capabilities_dict


def emit_client_event(emitter: EventEmitter, event: ClientEvent) -> None:
    """Deliver one machine event under its official name (operation outcomes are the
    client's own business and are not handled here)."""
    emit = emitter.emit
    if isinstance(event, StatusChanged):
        emit("status_changed", event.status)
    elif isinstance(event, SessionIdChanged):
        emit("session_id_changed", event.session_id)
    elif isinstance(event, CapabilitiesReceived):
        emit("capabilities_received", capabilities_dict(event.capabilities))
    elif isinstance(event, SchemaReceived):
        emit("schema_received", event.schema)
    elif isinstance(event, MessageReceived):
        emit("message", event.payload)
    elif isinstance(event, RuntimeMessageReceived):
        emit("runtime_message", event.payload)
    elif isinstance(event, ErrorOccurred | NotificationFailed):
        error = event.error
        if error.timestamp is None:
            error.timestamp = time.time()  # the core never reads a clock
        emit("error", error)
    elif isinstance(event, SessionExpirationChanged):
        emit("session_expiration_changed", event.expires_at)


class ReactorEvents:
    """``on``/``off`` and the handler decorators of the official client."""

    _emitter: EventEmitter

    def on(self, event: str, handler: Handler) -> Handler:
        return self._emitter.on(event, handler)

    def off(self, event: str, handler: Handler) -> None:
        self._emitter.off(event, handler)

    def on_message(self, func: Handler) -> Handler:
        return self._emitter.on("message", func)

    def on_internal_message(self, func: Handler) -> Handler:
        return self._emitter.on("runtime_message", func)

    def on_error(self, func: Handler) -> Handler:
        return self._emitter.on("error", func)

    def on_status(self, arg: Any = None) -> Any:
        """``@on_status``, ``@on_status(ReactorStatus.READY)`` or ``@on_status([...])``."""
        if callable(arg) and not isinstance(arg, ReactorStatus):
            return self._emitter.on("status_changed", arg)
        wanted = None if arg is None else (
            {ReactorStatus(arg)} if isinstance(arg, ReactorStatus | str) else
            {ReactorStatus(s) for s in arg})

        def decorate(func: Handler) -> Handler:
            def filtered(status: ReactorStatus) -> Any:
                if wanted is None or status in wanted:
                    return func(status)
                return None

            return self._emitter.on("status_changed", filtered, key=func)

        return decorate

    def on_track(self, name: str | None = None) -> Callable[[Handler], Handler]:
        """``@on_track("main_video")``: the handler gets the remote MediaStreamTrack."""

        def decorate(func: Handler) -> Handler:
            def filtered(track_name: str, track: Any) -> Any:
                if name is None or track_name == name:
                    return func(track)
                return None

            return self._emitter.on("track_received", filtered, key=func)

        return decorate
