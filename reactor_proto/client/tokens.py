"""The API-key -> JWT exchange on its own (``fetch_jwt_token``), sans-IO.

A Python backend that hands short-lived tokens to browser apps needs only this step of the
connect pipeline: build the request with :func:`token_request`, send it however you like, and
read the JWT (or the typed error) with :func:`token_from_response`.  The same request and
parser serve the client machine's own token step (docs/protocol §2.1).
"""

from __future__ import annotations

from ..bodies import decode_json_body, parse_token
from ..constants import PRODUCTION_API_URL
from ..errors import Failure, ReactorError, documented
from ..http import HttpRequest, HttpResponse
from ..status import error_for_status
from .config import ClientConfig
from .requests import RequestBuilder


def token_request(api_key: str, api_url: str = PRODUCTION_API_URL) -> HttpRequest:
    """``POST {api_url}/tokens`` with the key header; the URL is checked as the client's."""
    config = ClientConfig.create("token", api_key=api_key, api_url=api_url)
    return RequestBuilder(config).token()


def token_from_response(response: HttpResponse) -> str:
    """The JWT; a failure raises its typed error in documented form (``CONNECTION_FAILED``
    with the specific cause: a wrong key is ``UnauthorizedError`` / ``UNAUTHORIZED``)."""
    error = error_for_status(response.status, body=response.body, headers=response.headers,
                             operation="fetch_jwt_token")
    try:
        if error is not None:
            raise error
        return parse_token(decode_json_body(response.body, what="token response"))
    except ReactorError as exc:
        raise token_error(exc) from None


def token_error(error: ReactorError) -> ReactorError:
    """What a failed exchange raises (also one that got no answer at all)."""
    return documented(error, Failure.CONNECT)
