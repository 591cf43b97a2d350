"""Tokens: issuing, claims, scope, expiry, verification failures and secrecy of API keys."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.coordinator import (
    ApiKey,
    CoordinatorConfig,
    InvalidTokenError,
    TokenClaims,
    TokenIssued,
    TokenRequest,
)
from reactor_proto.coordinator.tokens import (
    bearer_token,
    build_claims,
    check_expiry,
    claims_from_mapping,
    parse_token_request,
    token_request_to_json,
)
from reactor_proto.errors import DecodeError, LocalProtocolError, UnauthorizedError
from reactor_proto.http import HttpRequest

from .coordinator_harness import (
    KEYS,
    SECRET_A,
    SECRET_B,
    UNIX_OFFSET,
    Driver,
    PairedCoordinator,
    body_of,
    sign,
    verify,
)


def test_token_claims_name_the_key_id_never_the_key() -> None:
    d = Driver(token_ttl=600.0)
    claims = verify(d.token())
    assert claims["sub"] == "key-a"
    assert claims["iat"] == int(100 + UNIX_OFFSET)
    assert claims["exp"] == int(100 + UNIX_OFFSET + 600)
    assert len(claims["jti"]) == 32
    assert int(claims["jti"], 16) >= 0
    assert "models" not in claims
    assert "sessions" not in claims
    issued = [e for e in d.events if isinstance(e, TokenIssued)]
    assert issued[0].key_id == "key-a"
    assert issued[0].jti == claims["jti"]
    assert verify(d.token())["jti"] != claims["jti"]


def test_scoped_token_body_is_honoured() -> None:
    d = Driver()
    jwt = d.token(body={"authorization_details": [{
        "type": "session",
        "resources": {"models": {"match": ["helios"]}, "sessions": {"bind": ["s1"]}},
        "constraints": {"max_sessions": 2, "max_session_duration_seconds": 30}}],
        "expires_after": 120})
    claims = verify(jwt)
    assert claims["models"] == ["helios"]
    assert claims["sessions"] == ["s1"]
    assert claims["max_sessions"] == 2
    assert claims["max_session_duration_seconds"] == 30
    assert claims["exp"] - claims["iat"] == 120
    assert d.get(jwt, "s2").status == 401          # not bound to s2
    assert d.get(jwt, "s1").status == 404          # bound, but does not exist


def test_model_scope() -> None:
    d = Driver()
    other = d.token(body={"authorization_details": [{
        "type": "session", "resources": {"models": {"match": ["echo"]}}}]})
    refused = d.create(other)
    assert refused.status == 401
    assert "not scoped for model 'helios'" in body_of(refused)["detail"]
    every = d.token(body={"authorization_details": [{
        "type": "session", "resources": {"models": {"all": True}}}]})
    assert d.create(every).status == 201
    assert d.request("POST", "/tokens", headers=(("reactor-api-key", SECRET_A),),
                     body=b"null").status == 200


def test_token_expiry() -> None:
    d = Driver(token_ttl=60.0)
    jwt = d.token()
    sid = d.create_id(jwt)
    d.now += 59.0
    assert d.get(jwt, sid).status == 200
    d.now += 1.0
    expired = d.get(jwt, sid)
    assert expired.status == 401
    assert "token expired" in body_of(expired)["detail"]


@pytest.mark.parametrize("verify_result", [
    RuntimeError("boom"), InvalidTokenError("bad sig"), ["not", "a", "mapping"],
    {"sub": "key-a"}, {"sub": "ghost", "iat": 0, "exp": 2**40, "jti": "j"},
    {"sub": "key-a", "iat": 0, "exp": 2**40, "jti": "j", "models": "helios"},
])
def test_verification_failures_are_401(verify_result: Any) -> None:
    def fake_verify(token: str) -> Mapping[str, Any]:
        if isinstance(verify_result, Exception):
            raise verify_result
        result: Mapping[str, Any] = verify_result
        return result

    machine = PairedCoordinator(CoordinatorConfig(api_keys=KEYS), [],
                                rng=random.Random(1), sign=sign, verify=fake_verify)
    response = machine.handle_http(HttpRequest(
        method="GET", url="http://c/sessions/x", headers=(("authorization", "Bearer t"),)), 0.0)
    assert response.status == 401


def test_sign_failure_is_500_and_an_event() -> None:
    def bad_sign(claims: Mapping[str, Any]) -> str:
        raise RuntimeError("no key")

    machine = PairedCoordinator(CoordinatorConfig(api_keys=KEYS), [],
                                rng=random.Random(1), sign=bad_sign, verify=verify)
    response = machine.handle_http(HttpRequest(
        method="POST", url="http://c/tokens", headers=(("reactor-api-key", SECRET_A),)), 0.0)
    assert response.status == 500
    assert machine.next_event() is not None


def test_api_key_never_leaks() -> None:
    d = Driver()
    jwt = d.token()
    sid = d.create_id(jwt)
    d.request("POST", "/tokens", headers=(("reactor-api-key", SECRET_A + "x"),))
    d.request("POST", "/tokens", headers=(("reactor-api-key", SECRET_B),), body=b"{bad")
    d.get(jwt, sid)
    d.delete(jwt, sid)
    texts = [repr(d.config), str(d.config), repr(KEYS), repr(d.machine)]
    texts += [repr(e) for e in d.events]
    for response in d.responses:
        texts.append(response.body.decode())
        texts.append(repr(response.headers))
    texts.append(str(verify(jwt)))
    for runtime in d.runtimes:
        texts.extend(repr(r) for r in runtime.requests)
    try:
        CoordinatorConfig(api_keys=(ApiKey(key_id="k", secret=SECRET_A),
                                    ApiKey(key_id="k", secret=SECRET_B)))
    except LocalProtocolError as exc:
        texts.append(str(exc))
    for text in texts:
        assert SECRET_A not in text
        assert SECRET_B not in text
    assert "SECRET" not in "".join(texts)


def test_config_validation() -> None:
    with pytest.raises(LocalProtocolError, match="force_version_status"):
        CoordinatorConfig(force_version_status=500)
    with pytest.raises(LocalProtocolError, match="token_ttl"):
        CoordinatorConfig(token_ttl=0)
    with pytest.raises(LocalProtocolError, match="assign_delay"):
        CoordinatorConfig(assign_delay=-1)
    with pytest.raises(LocalProtocolError, match="max_sessions"):
        ApiKey(key_id="k", secret="s", max_sessions=0)
    config = CoordinatorConfig(api_keys=KEYS)
    assert config.find_key(SECRET_B) is KEYS[1]
    assert config.find_key("nope") is None
    assert config.key_by_id("key-b") is KEYS[1]


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("  bearer   abc ") == "abc"
    for bad in (None, "", "Bearer", "Token abc"):
        with pytest.raises(UnauthorizedError):
            bearer_token(bad)


def test_parse_token_request_errors_name_the_field() -> None:
    cases = {
        '{"authorization_details":[{"type":"user"}]}': r"authorization_details\[0\]\.type",
        '{"authorization_details":[{"type":"session","resources":{"models":{"match":[]}}}]}':
            r"resources\.models\.match",
        '{"authorization_details":[{"type":"session","resources":{"sessions":{"bind":[""]}}}]}':
            r"sessions\.bind\[0\]",
        '{"authorization_details":[{"type":"session","constraints":{"max_sessions":0}}]}':
            r"constraints\.max_sessions",
        '{"expires_after":"soon"}': "expires_after",
        '{"expires_after":999999999}': "expires_after",
    }
    import json

    for text, field in cases.items():
        with pytest.raises(DecodeError, match=field):
            parse_token_request(json.loads(text), max_expires_after=86400)
    assert parse_token_request({"authorization_details": []},
                               max_expires_after=10) == TokenRequest()


def test_expiry_check_and_claim_round_trip() -> None:
    claims = build_claims(key_id="k", request=TokenRequest(models=("m",)), now_unix=10.5,
                          ttl=5, rng=random.Random(3))
    assert (claims.iat, claims.exp) == (10, 15)
    check_expiry(claims, 14.9)
    with pytest.raises(UnauthorizedError, match="expired"):
        check_expiry(claims, 15.0)
    assert claims_from_mapping(claims.to_json()) == claims


_names = st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4).map(tuple)
_requests = st.builds(
    TokenRequest, models=st.none() | _names, sessions=st.none() | _names,
    max_sessions=st.none() | st.integers(1, 1000),
    max_session_duration_seconds=st.none() | st.integers(1, 86400),
    expires_after=st.none() | st.integers(1, 86400))


@given(_requests)
def test_token_request_round_trip(request: TokenRequest) -> None:
    assert parse_token_request(token_request_to_json(request),
                               max_expires_after=86400) == request


@given(st.builds(TokenClaims, sub=st.text(max_size=8), iat=st.integers(0, 2**40),
                 exp=st.integers(0, 2**40), jti=st.text(max_size=8),
                 models=st.none() | _names, sessions=st.none() | _names,
                 max_sessions=st.none() | st.integers(1, 9),
                 max_session_duration_seconds=st.none() | st.integers(1, 9)))
def test_claims_round_trip(claims: TokenClaims) -> None:
    assert claims_from_mapping(verify(sign(claims.to_json()))) == claims
