"""HTTP requests the client sends, with exactly the headers each route expects (§2-§5, §9).

* coordinator session routes: ``Authorization: Bearer <jwt>`` + both API-version headers;
* local session routes: the API-version headers and no ``Authorization``;
* transport routes: ``Authorization: Bearer <jwt or "local">`` + ``Reactor-WebRTC-Version``;
* ``POST /tokens``: the API key, and nothing else ever carries it;
* presigned upload ``PUT``: the MIME type only, no credentials.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from ..bodies import (
    ClientInfo,
    TrackMappingEntry,
    build_create_session,
    build_delete_session,
    build_sdp_offer,
    build_start_session,
    build_upload_request,
)
from ..constants import (
    API_VERSION,
    HEADER_API_ACCEPT_VERSION,
    HEADER_API_KEY,
    HEADER_API_VERSION,
    HEADER_AUTHORIZATION,
    HEADER_CONTENT_TYPE,
    HEADER_WEBRTC_VERSION,
    LOCAL_BEARER,
    WEBRTC_VERSION,
)
from ..http import HttpRequest, json_request
from .config import ClientConfig
from .stepping import session_extra, start_session_body

Headers = tuple[tuple[str, str], ...]


class RequestBuilder:
    """Builds every request of one client from its configuration and current credentials."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.base = config.api_url.rstrip("/")
        self.client_info = ClientInfo(sdk_version=config.sdk_version, sdk_type=config.sdk_type)

    def _extra(self) -> dict[str, object] | None:
        # §15.2: a stepped session says so in the session request's extra bag
        return session_extra(self.config.extra_args, self.config.generation)

    # -- headers -------------------------------------------------------------------------

    def _version_headers(self) -> Headers:
        return ((HEADER_API_VERSION, API_VERSION), (HEADER_API_ACCEPT_VERSION, API_VERSION))

    def session_headers(self, jwt: str | None) -> Headers:
        if self.config.local or jwt is None:
            return self._version_headers()
        return ((HEADER_AUTHORIZATION, f"Bearer {jwt}"), *self._version_headers())

    def transport_headers(self, jwt: str | None) -> Headers:
        bearer = LOCAL_BEARER if self.config.local or jwt is None else jwt
        return ((HEADER_AUTHORIZATION, f"Bearer {bearer}"),
                (HEADER_WEBRTC_VERSION, WEBRTC_VERSION))

    # -- urls ----------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base + path

    def session_path(self, session_id: str) -> str:
        return f"/sessions/{quote(session_id, safe='')}"

    def transport_url(self, session_id: str, suffix: str) -> str:
        return self.url(f"{self.session_path(session_id)}/transport/webrtc{suffix}")

    # -- coordinator / local session routes ------------------------------------------------

    def token(self) -> HttpRequest:
        assert self.config.api_key is not None
        return HttpRequest(method="POST", url=self.url("/tokens"),
                           headers=((HEADER_API_KEY, self.config.api_key),), body=b"")

    def create_session(self, jwt: str | None) -> HttpRequest:
        body = build_create_session(self.config.model_name, self.client_info,
                                    extra_args=self._extra())
        return json_request("POST", self.url("/sessions"), body, self.session_headers(jwt))

    def start_session(self) -> HttpRequest:
        return json_request("POST", self.url("/start_session"),
                            start_session_body(build_start_session(self.config.extra_args),
                                               self.config.generation),
                            self.session_headers(None))

    def local_session(self) -> HttpRequest:
        return HttpRequest(method="GET", url=self.url("/session"),
                           headers=self.session_headers(None))

    def get_session(self, session_id: str, jwt: str | None) -> HttpRequest:
        return HttpRequest(method="GET", url=self.url(self.session_path(session_id)),
                           headers=self.session_headers(jwt))

    def restart_session(self, session_id: str, jwt: str | None) -> HttpRequest:
        return HttpRequest(method="PUT", url=self.url(self.session_path(session_id)),
                           headers=self.session_headers(jwt), body=b"")

    def terminate(self, session_id: str, jwt: str | None, reason: str | None) -> HttpRequest:
        if self.config.local:
            return HttpRequest(method="POST", url=self.url("/stop_session"),
                               headers=self.session_headers(None), body=b"")
        body = build_delete_session(reason)
        url = self.url(self.session_path(session_id))
        if body is None:
            return HttpRequest(method="DELETE", url=url, headers=self.session_headers(jwt))
        return json_request("DELETE", url, body, self.session_headers(jwt))

    def upload_slot(self, session_id: str, jwt: str | None, name: str, size: int,
                    mime_type: str) -> HttpRequest:
        return json_request("POST", self.url(f"{self.session_path(session_id)}/uploads"),
                            build_upload_request(name, size, mime_type),
                            self.session_headers(jwt))

    def upload_put(self, presigned_url: str, mime_type: str, data: bytes) -> HttpRequest:
        url = presigned_url
        if self.config.local or presigned_url.startswith("/"):
            url = rebase_url(presigned_url, self.base)
        return HttpRequest(method="PUT", url=url, headers=((HEADER_CONTENT_TYPE, mime_type),),
                           body=data)

    # -- transport routes ------------------------------------------------------------------

    def ice_servers(self, session_id: str, jwt: str | None) -> HttpRequest:
        return HttpRequest(method="GET", url=self.transport_url(session_id, "/ice_servers"),
                           headers=self.transport_headers(jwt))

    def register_connection(self, session_id: str, jwt: str | None) -> HttpRequest:
        return HttpRequest(method="POST", url=self.transport_url(session_id, "/connections"),
                           headers=self.transport_headers(jwt), body=b"")

    def offer(self, session_id: str, jwt: str | None, connection_id: int, sdp: str,
              mapping: Sequence[TrackMappingEntry], *, renegotiate: bool) -> HttpRequest:
        body = build_sdp_offer(sdp, self.client_info, mapping)
        return json_request("PUT" if renegotiate else "POST",
                            self.transport_url(session_id,
                                               f"/connections/{connection_id}/sdp_params"),
                            body, self.transport_headers(jwt))

    def poll_answer(self, session_id: str, jwt: str | None, connection_id: int) -> HttpRequest:
        return HttpRequest(
            method="GET",
            url=self.transport_url(session_id, f"/connections/{connection_id}/sdp_params"),
            headers=self.transport_headers(jwt),
        )


def rebase_url(url: str, base: str) -> str:
    """Put ``url``'s path and query under ``base``'s scheme, host and port (§9 step 3)."""
    target = urlsplit(url)
    origin = urlsplit(base)
    return urlunsplit((origin.scheme, origin.netloc, target.path, target.query, ""))


def json_headers(headers: Mapping[str, str]) -> Headers:
    return tuple(headers.items())


def describe(request: HttpRequest) -> dict[str, Any]:
    """A loggable summary that never includes header values (they may hold secrets)."""
    return {"method": request.method, "url": request.url,
            "headers": [name for name, _ in request.headers]}
