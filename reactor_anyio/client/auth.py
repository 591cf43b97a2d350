"""``fetch_jwt_token``: exchange an API key for a short-lived JWT (for a browser app).

The request and the reading of the answer are the core's (:mod:`reactor_proto.client.tokens`);
this only sends it.  Pass the token to ``Reactor(model_name=..., jwt=token)`` or hand it to a
browser, which gives it to the JavaScript SDK's ``connect(token)``.
"""

from __future__ import annotations

from reactor_proto.client.tokens import token_error, token_from_response, token_request
from reactor_proto.constants import PRODUCTION_API_URL
from reactor_proto.errors import ReactorError

from ..http import HttpClient

TOKEN_TIMEOUT = 10.0


async def fetch_jwt_token(api_key: str, api_url: str = PRODUCTION_API_URL, *,
                          timeout: float = TOKEN_TIMEOUT) -> str:  # noqa: ASYNC109
    """POST ``{api_url}/tokens`` with the key; returns the JWT.

    Raises the typed error in documented form on failure (``code`` ``CONNECTION_FAILED``;
    a wrong key is an ``UnauthorizedError`` whose ``cause`` is ``UNAUTHORIZED``).  The key
    goes over https only (plain http is allowed for loopback hosts, for tests)."""
    request = token_request(api_key, api_url)
    http = HttpClient()
    try:
        response = await http.request(request, timeout=timeout)
    except ReactorError as exc:
        raise token_error(exc) from None
    finally:
        await http.aclose()
    return token_from_response(response)
