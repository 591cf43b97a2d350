"""Protocol constants (docs/protocol §0, Appendix B).  Wire values are exact."""

from __future__ import annotations

from typing import Final

API_VERSION: Final = "1"
WEBRTC_VERSION: Final = "1.0"
SDK_TYPE: Final = "python"
SDK_VERSION: Final = "0.1.0"

PRODUCTION_API_URL: Final = "https://api.reactor.inc"
LOCAL_API_URL: Final = "http://localhost:8080"
LOCAL_SESSION_ID: Final = "local"
LOCAL_BEARER: Final = "local"

# Header names (lower-case: h11 normalises them, and comparisons are case-insensitive).
HEADER_AUTHORIZATION: Final = "authorization"
HEADER_API_KEY: Final = "reactor-api-key"
HEADER_API_VERSION: Final = "reactor-api-version"
HEADER_API_ACCEPT_VERSION: Final = "reactor-api-accept-version"
HEADER_WEBRTC_VERSION: Final = "reactor-webrtc-version"
HEADER_CONTENT_TYPE: Final = "content-type"
HEADER_RETRY_AFTER: Final = "retry-after"
JSON_CONTENT_TYPE: Final = "application/json"

# Data channels (§6.1): `control` is created first, then `data`.
CONTROL_CHANNEL: Final = "control"
DATA_CHANNEL: Final = "data"

# Limits.
MAX_DATA_CHANNEL_MESSAGE_BYTES: Final = 262_144
MAX_JSON_DEPTH: Final = 64
MAX_HTTP_BODY_BYTES: Final = 4 * 1024 * 1024
MAX_SCHEMA_BYTES: Final = 2 * 1024 * 1024
MAX_UPLOAD_BYTES: Final = 64 * 1024 * 1024

# Connection ids (§5.2).
MIN_CONNECTION_ID: Final = 1001
MAX_CONNECTION_ID: Final = 9999
LEGACY_CONNECTION_ID: Final = 1001

# Timers, in seconds.
PING_INTERVAL: Final = 5.0
SERVER_PING_TIMEOUT: Final = 20.0
SERVER_PING_CHECK_PERIOD: Final = 2.0
ORPHAN_TIMEOUT: Final = 30.0
CONTROL_REQUEST_TIMEOUT: Final = 10.0
CLIENT_ICE_GATHERING_TIMEOUT: Final = 5.0
#: our client's hard bound on gathering.  aioice itself stops waiting for STUN/TURN servers
#: after 5 s and completes with what it has (host candidates), which is the official clients'
#: "proceed with what was gathered after 5 s"; a bound at 5 s would race that and fail the
#: connect when a server the runtime hands out is unreachable (an offline machine).
CLIENT_ICE_GATHERING_DEADLINE: Final = 10.0
