"""Static configuration of the local runtime machine (docs/protocol §4, §6.5, §8.3, §9).

Every limit the runtime enforces lives here, with the value the official runtime uses as its
default where one exists.  Timers are seconds; ``0`` disables the orphan timer, the ping
watchdog (any value ``<= 0``) and the negotiation deadline.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..bodies import IceServer
from ..constants import (
    MAX_DATA_CHANNEL_MESSAGE_BYTES,
    MAX_HTTP_BODY_BYTES,
    MAX_UPLOAD_BYTES,
    ORPHAN_TIMEOUT,
    SDK_VERSION,
    SERVER_PING_CHECK_PERIOD,
    SERVER_PING_TIMEOUT,
)
from ..errors import LocalProtocolError
from ..schema import ModelSchema

#: Concurrent connections per session ([R3] uses the same ceiling; [R2] has none).
DEFAULT_MAX_CONNECTIONS = 64
#: An offered connection that is not installed within this time is dropped ([R3]: 30 s).
DEFAULT_NEGOTIATION_TIMEOUT = 30.0


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise LocalProtocolError(f"RuntimeConfig.{attribute.name}: must be > 0, got {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value >= 0:
        raise LocalProtocolError(f"RuntimeConfig.{attribute.name}: must be >= 0, got {value!r}")


def _finite(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value != value or value in (float("inf"), float("-inf")):
        raise LocalProtocolError(f"RuntimeConfig.{attribute.name}: must be finite, got {value!r}")


def _fits_id_space(instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    # Minted ids are 1002..9999 and 1001 is the legacy id: 8999 ids in all.
    if value > 8999:
        raise LocalProtocolError(f"RuntimeConfig.{attribute.name}: at most 8999, got {value!r}")


def _non_empty(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value:
        raise LocalProtocolError(f"RuntimeConfig.{attribute.name}: must not be empty")


@attrs.frozen(kw_only=True)
class RuntimeConfig:
    """What the runtime serves and the limits it enforces."""

    model_name: str = attrs.field(validator=_non_empty)
    model_schema: ModelSchema
    server_version: str = SDK_VERSION
    #: Reported as ``capabilities.emission_fps`` ([R2] reports null; the JS SDK uses it).
    emission_fps: float = attrs.field(default=30.0, validator=_positive)
    #: Returned by ``ice_servers``; empty by default: no public STUN host is ever implied.
    ice_servers: tuple[IceServer, ...] = ()
    #: ``False``: start in CREATED until the adapter calls ``model_loaded(now)``.
    start_ready: bool = True
    orphan_timeout: float = attrs.field(
        default=ORPHAN_TIMEOUT, validator=[_non_negative, _finite])
    ping_timeout: float = attrs.field(default=SERVER_PING_TIMEOUT, validator=_finite)
    ping_check_period: float = attrs.field(
        default=SERVER_PING_CHECK_PERIOD, validator=[_positive, _finite])
    negotiation_timeout: float = attrs.field(
        default=DEFAULT_NEGOTIATION_TIMEOUT, validator=[_non_negative, _finite])
    #: ``False`` ([R2]): an answer stays pollable; ``True`` ([R3]): the first 200 consumes it.
    consume_answers: bool = False
    #: ``True``: CLOSING waits for ``cleanup_complete(now)`` after a ``TeardownSession``
    #: action; ``False``: CLOSING moves to READY at once.
    confirm_teardown: bool = False
    max_body_bytes: int = attrs.field(default=MAX_HTTP_BODY_BYTES, validator=_positive)
    max_upload_bytes: int = attrs.field(default=MAX_UPLOAD_BYTES, validator=_positive)
    max_total_upload_bytes: int = attrs.field(
        default=4 * MAX_UPLOAD_BYTES, validator=_positive)
    max_uploads: int = attrs.field(default=64, validator=_positive)
    max_connections: int = attrs.field(default=DEFAULT_MAX_CONNECTIONS,
                                       validator=[_positive, _fits_id_space])
    max_buffered_candidates: int = attrs.field(default=64, validator=_positive)
    #: Inbound data/control message limit, checked before parsing.
    max_message_bytes: int = attrs.field(
        default=MAX_DATA_CHANNEL_MESSAGE_BYTES, validator=_positive)
    #: The receive limit a chunked connection declares (§6.8.7): step requests carry
    #: frames (a 640x360 RGB frame is 675 KiB).  Bounds the reassembler at twice this.
    max_chunked_message_bytes: int = attrs.field(default=16 * 1024 * 1024,
                                                 validator=_positive)
    #: Frames (audio: chunks) one step request may carry per input track (§15.4).
    max_step_frames: int = attrs.field(default=64, validator=_positive)
    #: Keep step results for ``GET /sessions/{sid}/steps`` (§15.7; the model asks for it).
    step_results: bool = False
    #: Step results kept for ``GET /sessions/{sid}/steps`` (§15.7): at most this many
    #: steps and bytes (oldest dropped first), each for ``step_results_retention`` s.
    step_results_max: int = attrs.field(default=64, validator=_positive)
    step_results_max_bytes: int = attrs.field(default=64 * 1024 * 1024, validator=_positive)
    step_results_retention: float = attrs.field(default=300.0, validator=[_positive, _finite])
    #: Advertised as ``a=max-message-size`` in every answer (docs/protocol C.3).
    answer_max_message_size: int = attrs.field(
        default=MAX_DATA_CHANNEL_MESSAGE_BYTES, validator=_positive)
    #: Record the output video and answer ``requestClip`` / ``requestRecording`` (§10);
    #: ``False``: every clip request gets ``clipFailed`` ``recorder disabled``.
    recording: bool = False
    #: Host used in ``presigned_url`` when the request's Host header is absent or unusable.
    default_host: str = attrs.field(default="localhost:8080", validator=_non_empty)

    def negotiation_deadline(self, now: float) -> float | None:
        """When a connection registered or offered at ``now`` is dropped if not installed."""
        timeout = self.negotiation_timeout
        return now + timeout if timeout > 0 else None

    @property
    def protocol_version(self) -> str:
        """The capabilities' ``protocol_version``: schema version without its ``v`` ([R2])."""
        return self.model_schema.version.removeprefix("v") or "0.0.0"
