"""Per-connection channel traffic: ``data`` messages, ``control`` messages, publisher slots,
output pause state and the ping watchdog (docs/protocol §6, §6.8, Appendix C.3).

Each connection speaks v0 (JSON) or v1 (protobuf), latched by its first inbound message;
its codec (:mod:`.wire`) turns messages into the typed vocabulary handled here and the
answers back into messages, so nothing below branches on the wire.

Policy decisions (documented here because they differ from the official runtime):

* Every application command the model will not see is answered, to the sender only: on v0
  with the runtime message ``commandRejected {"command": <name or null>, "reason": ...}``
  (malformed envelope, oversize (> ``max_message_bytes``, checked before parsing), unknown
  command, schema violation, unknown or incomplete upload; [R2] drops them silently, F24),
  on v1 with an ``error`` reply (``invalid_command`` / ``unresolved_upload``).  A v1 frame
  that does not decode gets no reply (§6.8.3).
* An unknown or incomplete upload is refused when the command arrives ([R3] waits 10 s).
* Messages are only acted on for *installed* connections.  Frames that arrive while a
  connection's transport is being built are held (``MAX_HELD_FRAMES``) and replayed once it
  is installed (§6.8.1); an installed connection exists only in STREAMING, so "messages
  outside STREAMING/ORPHANED are ignored" ([R2]) holds.
* ``publish_track`` for a name the model does not declare as an input gets ``UNKNOWN_TRACK``
  (v1: ``publish_refused``) and a v0 request without ``request_id`` gets
  ``INVALID_REQUEST`` ([R2] granted both, C.3).
* The legacy connection 1001 (JS SDK 2.9.0, no control channel) gets its outputs resumed
  and claims the free input slots of its mapping when it is installed.
* On v0 only pings reset a connection's watchdog, and only that connection's ([R2]); on v1
  every inbound message does (§6.8.9).
"""

from __future__ import annotations

import math

from ..constants import DATA_CHANNEL
from ..control import (
    INVALID_REQUEST,
    PAUSE_TRACK,
    PUBLISH_TRACK,
    PUBLISHER_SLOT_TAKEN,
    RESUME_TRACK,
    UNKNOWN_TRACK,
    UNPUBLISH_TRACK,
)
from ..envelope import merge_uploads
from ..errors import ReactorError
from ..recording.vocabulary import REASON_DISABLED, REASON_STEPPED, ClipFailure, ClipReply
from ..wire_v1 import ChunkError, StepResult, Wire
from .actions import PrepareClip, SendControl, SendData, SetInputFlow, SetOutputFlow
from .config import RuntimeConfig
from .connections import MAX_HELD_FRAMES, Connection, ConnectionRegistry
from .descriptor import ModelDocuments
from .events import (
    CommandReceived,
    FileUploaded,
    StepRequested,
    TrackPublished,
    TrackUnpublished,
)
from .outbox import Outbox
from .step_plan import StepRefusal, plan_step
from .stepping import Stepper, refusal, too_large
from .uploads import UploadStore
from .wire import (
    INVALID_COMMAND,
    UNRESOLVED_UPLOAD,
    CapabilitiesRequest,
    ClipAsk,
    CommandIn,
    DirectReply,
    Ignored,
    ModelOut,
    Outgoing,
    PingIn,
    Refused,
    RuntimeCodec,
    SchemaRequest,
    StepIn,
    TrackVerb,
    UploadNotice,
    V0Codec,
    V1Codec,
)


class Channels:
    """Channel handling and the per-track publisher slots of the running session."""

    def __init__(self, *, config: RuntimeConfig, documents: ModelDocuments,
                 registry: ConnectionRegistry, uploads: UploadStore, outbox: Outbox,
                 stepper: Stepper) -> None:
        self._config = config
        self._stepper = stepper
        self._documents = documents
        self._registry = registry
        self._uploads = uploads
        self._outbox = outbox
        #: input track name -> the connection that holds its publisher slot
        self.slots: dict[str, int] = {}
        limit = config.max_message_bytes
        self._codecs: dict[Wire, RuntimeCodec] = {
            Wire.V0: V0Codec(max_bytes=limit, documents=documents),
            Wire.V1: V1Codec(max_bytes=limit, documents=documents),
        }
        # a chunked v1 connection declares the larger limit: step requests carry frames
        self._chunked_v1 = V1Codec(max_bytes=config.max_chunked_message_bytes,
                                   documents=documents)
        self._input_kinds = {track.name: track.kind for track in config.model_schema.tracks
                             if track.direction == "sendonly"}
        self._minted = 0

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
            # §15.1: a stepped session's output tracks carry nothing
            self._outbox.act(SetOutputFlow(
                connection_id=conn.connection_id, track=track,
                paused=track in conn.paused_outputs or self._stepper.stepped))
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
        # §15.1: a stepped session drops live input media (a step sees only its frames)
        self._outbox.act(SetInputFlow(connection_id=conn.connection_id, track=track,
                                      enabled=not self._stepper.stepped))
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

    # ---- inbound messages (both wires, both channels) ----------------------------------

    def codec(self, conn: Connection) -> RuntimeCodec:
        """The connection's codec: v0 until its first inbound message latches one."""
        wire = conn.latch.wire
        if wire is Wire.V1 and conn.framing is not None:
            return self._chunked_v1
        return self._codecs[wire]

    def hold(self, conn: Connection, label: str, message: str | bytes) -> None:
        """A frame before the connection is installed: kept (in order, bounded) until then."""
        if len(conn.held) < MAX_HELD_FRAMES:
            conn.held.append((label, message))
        else:
            conn.held_dropped += 1

    def replay_held(self, conn: Connection, now: float) -> None:
        held, conn.held = conn.held, []
        for label, message in held:
            self.frame(conn, label, message, now)

    def frame(self, conn: Connection, label: str, message: str | bytes, now: float) -> None:
        """One data-channel frame of an installed connection: reassembled when chunking is
        on, then decoded by the connection's codec and acted on."""
        framing = conn.framing
        if framing is None:
            self._message(conn, label, message, now)
            return
        if isinstance(message, str):
            conn.frames_dropped += 1  # a chunked channel carries binary frames only
            return
        reassembler = framing.reassembler
        reassembler.expire(now)
        try:
            reassembler.feed(label, message, now=now)
        except ChunkError:
            # the reassembler already freed what it held; the channel and its video go on
            conn.frames_dropped += 1
        for whole in reassembler.drain():
            self._message(conn, whole.channel, whole.data, now)

    def _message(self, conn: Connection, label: str, message: str | bytes,
                 now: float) -> None:
        conn.latch.observe(message)
        codec = self.codec(conn)
        if codec.any_message_is_alive:
            conn.last_ping = now
        item = codec.data_in(message) if label == DATA_CHANNEL else codec.control_in(message)
        match item:
            case PingIn():
                conn.last_ping = now
            case SchemaRequest(request_id=request_id):
                self._emit(conn, codec.schema(request_id))
            case CapabilitiesRequest(request_id=request_id):
                self._emit(conn, codec.capabilities(request_id))
            case UploadNotice(ref=ref):
                upload = self._uploads.completed(ref.upload_id)
                if upload is not None:
                    self._outbox.tell(FileUploaded(connection_id=conn.connection_id,
                                                   upload=upload))
            case CommandIn():
                self._command(conn, item)
            case StepIn():
                self._step(conn, item)
            case ClipAsk():  # §10
                self._clip(conn, item)
            case TrackVerb(verb=verb):
                if verb == PUBLISH_TRACK:
                    self._publish(conn, item)
                else:
                    self._track_notification(conn, item)
            case Refused(command=command, reason=reason):
                self._emit(conn, codec.command_refused(self._mint_id(), command,
                                                       INVALID_COMMAND, reason))
            case DirectReply(reply=reply):
                self._emit(conn, reply)
            case Ignored():
                conn.frames_dropped += 1

    def _mint_id(self) -> str:
        """The id of a reply to a request that carried none (§6.8.3: 32 hex digits,
        useless to the client)."""
        self._minted += 1
        return f"{self._minted:032x}"

    # ---- outbound -------------------------------------------------------------------------

    def _emit(self, conn: Connection, out: Outgoing | None) -> None:
        """Queue one whole message, cut into frames when the connection chunks."""
        if out is None:
            return
        cid = conn.connection_id
        if conn.framing is None:
            frames: list[str | bytes] = [out.payload]
        else:
            try:
                frames = list(conn.framing.frames(out.payload))
            except ReactorError:  # over the negotiated limit: nothing can be sent
                conn.frames_dropped += 1
                return
        for frame in frames:
            if out.channel == DATA_CHANNEL:
                self._outbox.act(SendData(connection_id=cid, text=frame))
            else:
                self._outbox.act(SendControl(connection_id=cid, text=frame))

    def send_model_message(self, targets: list[Connection], message: ModelOut) -> None:
        """One model message to each target, encoded once per wire.  Encoding happens for
        every wire in use before anything is queued, so a message that cannot be encoded
        raises without reaching anyone."""
        # the v0 form always: its checks (size, JSON values) hold for every wire
        encoded: dict[Wire, Outgoing] = {Wire.V0: self._codecs[Wire.V0].model_message(message)}
        for conn in targets:
            codec = self.codec(conn)
            if codec.wire not in encoded:
                encoded[codec.wire] = codec.model_message(message)
        for conn in targets:
            self._emit(conn, encoded[self.codec(conn).wire])

    def session_ended(self, reason: str) -> None:
        """Tell every installed connection whose wire has the message (v1) that the session
        is ending; queued before their transports close."""
        for conn in self._registry.installed():
            self._emit(conn, self.codec(conn).session_ended(reason))

    # ---- commands and their replies -------------------------------------------------------

    def _command(self, conn: Connection, item: CommandIn) -> None:
        envelope = item.envelope
        request_id = item.request_id if item.request_id is not None else self._mint_id()
        command = envelope.type
        codec = self.codec(conn)

        def refuse(code: str, reason: str) -> None:
            self._emit(conn, codec.command_refused(request_id, command, code, reason))

        for name, ref in sorted((envelope.uploads or {}).items()):
            if self._uploads.completed(ref.upload_id) is None:
                refuse(UNRESOLVED_UPLOAD, f"uploads.{name}: upload {ref.upload_id!r} is "
                                          "unknown or not completed")
                return
        try:
            args = self._config.model_schema.validate(command, merge_uploads(envelope))
        except ReactorError as exc:
            refuse(INVALID_COMMAND, exc.message)
            return
        uploads = self._uploads.referenced(self._config.model_schema.commands.get(command), args)
        if isinstance(uploads, str):
            refuse(UNRESOLVED_UPLOAD, uploads)
            return
        self._outbox.tell(CommandReceived(connection_id=conn.connection_id, command=command,
                                          args=args, uploads=uploads, request_id=request_id))

    def _step(self, conn: Connection, item: StepIn) -> None:
        """A ``request_step`` (§15.3): refused at once, or handed to the model whole."""
        stepper = self._stepper
        request_id = item.request_id or self._mint_id()
        answer = stepper.admit(running=True, chunked=conn.framing is not None,
                               key=(conn.connection_id, request_id))
        if answer is None:
            plan = plan_step(item.request, schema=self._config.model_schema,
                             inputs=self._input_kinds,
                             max_frames=self._config.max_step_frames,
                             completed=self._uploads.completed)
            if isinstance(plan, StepRefusal):
                answer = refusal(plan.error, plan.entry)
            else:
                epoch = stepper.accept(conn.connection_id, request_id, plan)
                self._outbox.tell(StepRequested(connection_id=conn.connection_id,
                                                request_id=request_id, epoch=epoch,
                                                plan=plan))
                return
        self.step_result(conn, request_id, answer)

    def step_result(self, conn: Connection, request_id: str, result: StepResult) -> None:
        """Send a step's answer; one that does not fit the connection's limit becomes
        ``RESULT_TOO_LARGE`` (§15.5)."""
        codec = self._chunked_v1
        out = codec.step_result(request_id, result)
        limit = (conn.framing.send_limit if conn.framing is not None
                 else self._config.max_message_bytes)
        if len(out.payload) > limit:
            out = codec.step_result(request_id, too_large(result, len(out.payload), limit))
        self._emit(conn, out)

    def _clip(self, conn: Connection, item: ClipAsk) -> None:
        """§10: a stepped session or a runtime that does not record fails at once; anything
        else goes to the recorder (the adapter answers with :meth:`clip_reply`)."""
        if self._stepper.stepped or not self._config.recording:
            reason = REASON_STEPPED if self._stepper.stepped else REASON_DISABLED
            return self.clip_reply(conn, item.request_id, ClipFailure(reason=reason))
        self._outbox.act(PrepareClip(connection_id=conn.connection_id,
                                     request_id=item.request_id, request=item.request))

    def clip_reply(self, conn: Connection, request_id: str, reply: ClipReply) -> None:
        self._emit(conn, self.codec(conn).clip_reply(request_id, reply))

    def command_done(self, conn: Connection, request_id: str,
                     reply: ModelOut | None) -> None:
        self._emit(conn, self.codec(conn).command_done(request_id, reply))

    def command_failed(self, conn: Connection, request_id: str, code: str,
                       message: str) -> None:
        self._emit(conn, self.codec(conn).command_failed(request_id, code, message))

    # ---- track verbs ----------------------------------------------------------------------

    def _publish(self, conn: Connection, verb: TrackVerb) -> None:
        name = verb.name
        code: str | None = None
        message = ""
        if not isinstance(name, str) or not name:
            code, message = INVALID_REQUEST, \
                f"control.data.name: expected a track name, got {name!r:.80}"
        elif name not in self._documents.inputs:
            code, message = UNKNOWN_TRACK, (
                f"Unknown track: {name!r:.80} is not an input track of the model "
                f"(inputs: {', '.join(self._documents.inputs) or 'none'})")
        elif self.slots.get(name, conn.connection_id) != conn.connection_id:
            code, message = PUBLISHER_SLOT_TAKEN, "publisher slot already taken"
        elif name not in self.slots:
            self._grant(conn, name)
        self._emit(conn, self.codec(conn).publish_reply(verb, code, message))

    def _track_notification(self, conn: Connection, verb: TrackVerb) -> None:
        name = verb.name
        if not isinstance(name, str):
            return
        event = verb.verb
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
                if self._stepper.stepped:
                    return  # §15.1: outputs stay silent while stepped
                self._outbox.act(SetOutputFlow(connection_id=conn.connection_id, track=name,
                                               paused=paused))
        # Unknown notification events are ignored ([R2]).
