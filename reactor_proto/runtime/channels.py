"""Per-connection channel traffic: ``data`` messages, ``control`` messages, publisher slots,
output pause state and the ping watchdog (PROTOCOL.md §6, Appendix C.3).

Policy decisions (documented here because they differ from the official runtime):

* Every application command the model will not see is answered, to the sender only, with
  the runtime message ``commandRejected {"command": <name or null>, "reason": ...}``:
  malformed envelope, oversize (> ``max_message_bytes``, checked before parsing), unknown
  command, schema violation, unknown or incomplete upload.  [R2] drops them silently (F24).
* Messages are only read from *installed* connections.  An installed connection exists only
  in STREAMING (ORPHANED has none, CLOSING clears them), so "messages outside
  STREAMING/ORPHANED are ignored" ([R2]) holds, and such frames get no ``commandRejected``
  either: there is no live transport to answer on.
* ``publish_track`` for a name the model does not declare as an input gets ``UNKNOWN_TRACK``
  and a request without ``request_id`` gets ``INVALID_REQUEST`` ([R2] granted both, C.3).
* The legacy connection 1001 (JS SDK 2.9.0, no control channel) gets its outputs resumed
  and claims the free input slots of its mapping when it is installed.
* Only pings reset a connection's watchdog, and only that connection's ([R2]).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..control import (
    INVALID_REQUEST,
    PAUSE_TRACK,
    PUBLISH_TRACK,
    PUBLISHER_SLOT_TAKEN,
    RESUME_TRACK,
    UNKNOWN_TRACK,
    UNPUBLISH_TRACK,
    ControlMessage,
    ControlNotification,
    ControlRequest,
    decode_control,
    encode_control,
    error_response,
    ok_response,
    response_to_malformed,
    unknown_method_response,
)
from ..envelope import (
    Envelope,
    FileRef,
    RuntimeMessageType,
    Scope,
    command_rejected,
    encode_envelope,
    merge_uploads,
    parse_envelope,
)
from ..errors import CommandValidationError, ReactorError
from .actions import SendControl, SendData, SetInputFlow, SetOutputFlow
from .config import RuntimeConfig
from .connections import Connection, ConnectionRegistry
from .descriptor import ModelDocuments
from .events import CommandReceived, FileUploaded, TrackPublished, TrackUnpublished
from .outbox import Outbox
from .uploads import UploadedFile, UploadStore


class Channels:
    """Channel handling and the per-track publisher slots of the running session."""

    def __init__(self, *, config: RuntimeConfig, documents: ModelDocuments,
                 registry: ConnectionRegistry, uploads: UploadStore, outbox: Outbox) -> None:
        self._config = config
        self._documents = documents
        self._registry = registry
        self._uploads = uploads
        self._outbox = outbox
        #: input track name -> the connection that holds its publisher slot
        self.slots: dict[str, int] = {}

    # ---- tracks and flows -----------------------------------------------------------------

    def _mapped(self, conn: Connection, direction: str, declared: tuple[str, ...]) -> list[str]:
        if not conn.track_mapping:
            return list(declared)
        return [entry.name for entry in conn.track_mapping
                if entry.direction == direction and entry.name in declared]

    def outputs_of(self, conn: Connection) -> list[str]:
        return self._mapped(conn, "recvonly", self._documents.outputs)

    def inputs_of(self, conn: Connection) -> list[str]:
        return self._mapped(conn, "sendonly", self._documents.inputs)

    def on_installed(self, conn: Connection, *, first: bool) -> None:
        """Queue the flow state of a newly installed (or swapped-in) transport."""
        outputs = self.outputs_of(conn)
        if first:
            conn.paused_outputs = set() if conn.legacy else set(outputs)
        for track in outputs:
            self._outbox.act(SetOutputFlow(connection_id=conn.connection_id, track=track,
                                           paused=track in conn.paused_outputs))
        if first and conn.legacy:
            for track in self.inputs_of(conn):
                if track not in self.slots:
                    self._grant(conn, track)
        elif not first:
            for track, owner in sorted(self.slots.items()):
                if owner == conn.connection_id:
                    self._outbox.act(SetInputFlow(connection_id=owner, track=track,
                                                  enabled=True))

    def release_slots(self, connection_id: int) -> None:
        """Free every slot the connection holds (its transport is gone: no flow action)."""
        for track, owner in sorted(self.slots.items()):
            if owner == connection_id:
                del self.slots[track]
                self._outbox.tell(TrackUnpublished(connection_id=owner, track=track))

    def release_all_slots(self) -> None:
        for connection_id in sorted(set(self.slots.values())):
            self.release_slots(connection_id)

    def _grant(self, conn: Connection, track: str) -> None:
        self.slots[track] = conn.connection_id
        self._outbox.act(SetInputFlow(connection_id=conn.connection_id, track=track,
                                      enabled=True))
        self._outbox.tell(TrackPublished(connection_id=conn.connection_id, track=track))

    # ---- ping watchdog --------------------------------------------------------------------

    def arm_watchdog(self, conn: Connection, now: float) -> None:
        conn.last_ping = now
        conn.next_ping_check = (now + self._config.ping_check_period
                                if self._config.ping_timeout > 0 else None)

    def expired_watchdogs(self, now: float) -> list[Connection]:
        """Connections whose check is due and found no ping for more than ``ping_timeout``;
        every other due check moves to the first tick after ``now``."""
        period = self._config.ping_check_period
        expired: list[Connection] = []
        for conn in self._registry.installed():
            due = conn.next_ping_check
            if due is None or now < due:
                continue
            if now - conn.last_ping > self._config.ping_timeout:
                expired.append(conn)
                continue
            due += (math.floor((now - due) / period) + 1) * period
            while due <= now:  # float rounding can leave it one tick short
                due += period
            conn.next_ping_check = due
        return expired

    # ---- data channel ---------------------------------------------------------------------

    def data_message(self, conn: Connection, message: str | bytes, now: float) -> None:
        limit = self._config.max_message_bytes
        size = len(message.encode("utf-8", "surrogatepass")) if isinstance(message, str) \
            else len(message)
        if size > limit:
            self._reject(conn, None, f"message of {size} bytes exceeds the limit of "
                                     f"{limit} bytes")
            return
        try:
            envelope = parse_envelope(message, max_bytes=limit)
        except ReactorError as exc:
            self._reject(conn, None, exc.message)
            return
        if envelope.scope is Scope.RUNTIME:
            self._runtime_message(conn, envelope, now)
        else:
            self._command(conn, envelope)

    def _reject(self, conn: Connection, command: str | None, reason: str) -> None:
        text = encode_envelope(command_rejected(command, reason[:1000]))
        self._outbox.act(SendData(connection_id=conn.connection_id, text=text))

    def _runtime_message(self, conn: Connection, envelope: Envelope, now: float) -> None:
        kind = envelope.type
        if kind == RuntimeMessageType.PING:
            conn.last_ping = now
        elif kind == RuntimeMessageType.REQUEST_SCHEMA:
            self._outbox.act(SendData(connection_id=conn.connection_id,
                                      text=self._documents.schema_message))
        elif kind == RuntimeMessageType.REQUEST_CAPABILITIES:
            self._outbox.act(SendData(connection_id=conn.connection_id,
                                      text=self._documents.capabilities_message))
        elif kind == RuntimeMessageType.FILE_UPLOADED:
            try:
                ref = FileRef.from_json(envelope.data, path="fileUploaded")
            except ReactorError:
                return
            upload = self._uploads.completed(ref.upload_id)
            if upload is not None:
                self._outbox.tell(FileUploaded(connection_id=conn.connection_id,
                                               upload=upload))
        # Other runtime types (clips, recordings, unknown) are not served: ignored ([R2]).

    def _command(self, conn: Connection, envelope: Envelope) -> None:
        command = envelope.type
        for name, ref in sorted((envelope.uploads or {}).items()):
            if self._uploads.completed(ref.upload_id) is None:
                self._reject(conn, command, f"uploads.{name}: upload {ref.upload_id!r} is "
                                            "unknown or not completed")
                return
        try:
            args = self._config.model_schema.validate(command, merge_uploads(envelope))
        except CommandValidationError as exc:
            self._reject(conn, command, exc.message)
            return
        except ReactorError as exc:
            self._reject(conn, command, exc.message)
            return
        uploads = self._referenced_uploads(command, args)
        if isinstance(uploads, str):
            self._reject(conn, command, uploads)
            return
        self._outbox.tell(CommandReceived(connection_id=conn.connection_id, command=command,
                                          args=args, uploads=uploads))

    def _referenced_uploads(self, command: str,
                            args: Mapping[str, object]) -> dict[str, UploadedFile] | str:
        """The files behind every upload parameter, or the rejection reason."""
        spec = self._config.model_schema.commands.get(command)
        found: dict[str, UploadedFile] = {}
        for param in spec.params if spec is not None else ():
            value = args.get(param.name)
            if not param.is_upload or not isinstance(value, Mapping):
                continue
            upload_id = value.get("upload_id")
            upload = self._uploads.completed(upload_id) if isinstance(upload_id, str) else None
            if upload is None:
                return f"{param.name}: upload {upload_id!r} is unknown or not completed"
            found[param.name] = upload
        return found

    # ---- control channel ------------------------------------------------------------------

    def control_message(self, conn: Connection, message: str | bytes) -> None:
        limit = self._config.max_message_bytes
        try:
            decoded: ControlMessage = decode_control(message, max_bytes=limit)
        except ReactorError:
            reply = response_to_malformed(message, max_bytes=limit)
            if reply is not None:
                self._send_control(conn, encode_control(reply))
            return
        if isinstance(decoded, ControlRequest):
            self._request(conn, decoded)
        elif isinstance(decoded, ControlNotification):
            self._notification(conn, decoded)
        # Responses: the runtime sends no requests, so there is nothing to match them to.

    def _send_control(self, conn: Connection, text: str) -> None:
        self._outbox.act(SendControl(connection_id=conn.connection_id, text=text))

    def _request(self, conn: Connection, request: ControlRequest) -> None:
        if request.method != PUBLISH_TRACK:
            self._send_control(conn, encode_control(unknown_method_response(request)))
            return
        name = request.data.get("name")
        if not isinstance(name, str) or not name:
            reply = error_response(request, INVALID_REQUEST,
                                   f"control.data.name: expected a track name, got {name!r:.80}")
        elif name not in self._documents.inputs:
            reply = error_response(
                request, UNKNOWN_TRACK,
                f"Unknown track: {name!r:.80} is not an input track of the model "
                f"(inputs: {', '.join(self._documents.inputs) or 'none'})")
        elif self.slots.get(name, conn.connection_id) != conn.connection_id:
            reply = error_response(request, PUBLISHER_SLOT_TAKEN,
                                   "publisher slot already taken")
        else:
            if name not in self.slots:
                self._grant(conn, name)
            reply = ok_response(request)
        self._send_control(conn, encode_control(reply))

    def _notification(self, conn: Connection, notification: ControlNotification) -> None:
        name = notification.data.get("name")
        if not isinstance(name, str):
            return
        event = notification.event
        if event == UNPUBLISH_TRACK:
            if self.slots.get(name) == conn.connection_id:
                del self.slots[name]
                self._outbox.act(SetInputFlow(connection_id=conn.connection_id, track=name,
                                              enabled=False))
                self._outbox.tell(TrackUnpublished(connection_id=conn.connection_id,
                                                   track=name))
        elif event in (PAUSE_TRACK, RESUME_TRACK) and name in self.outputs_of(conn):
            paused = event == PAUSE_TRACK
            if paused != (name in conn.paused_outputs):
                if paused:
                    conn.paused_outputs.add(name)
                else:
                    conn.paused_outputs.discard(name)
                self._outbox.act(SetOutputFlow(connection_id=conn.connection_id, track=name,
                                               paused=paused))
        # Unknown notification events are ignored ([R2]).
