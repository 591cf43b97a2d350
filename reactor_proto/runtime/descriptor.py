"""The static documents a runtime serves about its model, computed once per machine.

* the legacy capabilities object (§7.1) with ``commands`` FILLED in the §7.2 shape, so the
  JS ``ReactorController`` can draw its forms (Appendix C.2), and ``emission_fps`` = the
  model's frame rate;
* the OpenAPI 3.1 document (§7.3);
* the ready-encoded ``modelSchema`` / ``modelCapabilities`` runtime messages (§6.3);
* the session descriptor of ``/start_session`` and ``GET /session`` (§4.3, [R2] shape).
"""

from __future__ import annotations

from typing import Any

import attrs

from ..constants import LOCAL_SESSION_ID, WEBRTC_VERSION
from ..envelope import RuntimeMessageType, encode_runtime_message
from ..schema import to_legacy_commands, to_openapi
from .config import RuntimeConfig


@attrs.frozen(kw_only=True)
class ModelDocuments:
    capabilities: dict[str, Any]
    openapi: dict[str, Any]
    schema_message: str
    capabilities_message: str
    #: Model input track names (client ``sendonly``) and output names (client ``recvonly``).
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @classmethod
    def build(cls, config: RuntimeConfig) -> ModelDocuments:
        """Raises MessageTooLargeError when the schema cannot fit in one data message."""
        schema = config.model_schema
        capabilities = {
            "protocol_version": config.protocol_version,
            "tracks": [{"name": track.name, "kind": track.kind, "direction": track.direction}
                       for track in schema.tracks],
            "commands": to_legacy_commands(schema),
            "emission_fps": config.emission_fps,
        }
        openapi = to_openapi(schema)
        limit = max(config.max_message_bytes, 1)
        return cls(
            capabilities=capabilities,
            openapi=openapi,
            schema_message=encode_runtime_message(
                RuntimeMessageType.MODEL_SCHEMA.value, openapi, max_bytes=limit),
            capabilities_message=encode_runtime_message(
                RuntimeMessageType.MODEL_CAPABILITIES.value, capabilities, max_bytes=limit),
            inputs=tuple(t.name for t in schema.tracks if t.direction == "sendonly"),
            outputs=tuple(t.name for t in schema.tracks if t.direction == "recvonly"),
        )

    def descriptor(self, config: RuntimeConfig, state: str, *,
                   generation: str = "streamed",
                   session_id: str | None = None) -> dict[str, Any]:
        """The [R2] local session descriptor with the current state (upper-case), the
        generation mode ([R3], §15.2: 1.13.0 checks it at connect) and whether step
        results are kept (§15.7); a stepped session's own id (the one its stored results
        are under) is ``step_results.session_id``."""
        return {
            "session_id": LOCAL_SESSION_ID,
            "cluster": "local",
            # "wire": our marker that this runtime serves v1 too (clients cannot tell, §6.8.1)
            "server_info": {"server_version": config.server_version, "wire": ["v0", "v1"]},
            "selected_transport": {"protocol": "webrtc", "version": WEBRTC_VERSION},
            "model": {"name": config.model_name},
            "capabilities": self.capabilities,
            "schema": self.openapi,
            "state": state,
            "generation": generation,
            "step_results": {"enabled": config.step_results,
                             **({"session_id": session_id}
                                if config.step_results and session_id else {})},
        }
