"""``authorize_clips`` (docs/protocol §10): the coordinator's ``/clips`` needs a good JWT of
one of its keys; chunks need none."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest

from reactor_proto.coordinator import ApiKey, CoordinatorConfig
from reactor_proto.coordinator.forwarding import authorize_clips
from reactor_proto.coordinator.tokens import InvalidTokenError, TokenRequest, build_claims
from reactor_proto.http import HttpRequest

CONFIG = CoordinatorConfig(api_keys=(ApiKey(key_id="key-1", secret="s3cret"),))
NOW = 1_800_000_000.0
CLAIMS = build_claims(key_id="key-1", request=TokenRequest(), now_unix=NOW, ttl=600,
                      rng=random.Random(1)).to_json()
PLAYLIST = "http://c/clips?session_id=x&start=0&end=1"


def verify(token: str) -> Mapping[str, Any]:
    if token == "good":
        return CLAIMS
    if token == "stranger":
        return {**CLAIMS, "sub": "key-9"}
    if token == "boom":
        raise RuntimeError("verifier broke")
    raise InvalidTokenError("Signature verification failed")


def status(url: str, token: str | None, now: float = NOW) -> int | None:
    headers = () if token is None else (("Authorization", f"Bearer {token}"),)
    answer = authorize_clips(HttpRequest(method="GET", url=url, headers=headers),
                             verify=verify, config=CONFIG, unix_now=now)
    return None if answer is None else answer.status


@pytest.mark.parametrize(("token", "expected"), [
    ("good", None), (None, 401), ("bad", 401), ("stranger", 401), ("boom", 401),
    ("x" * 9000, 401),
])
def test_playlist_needs_a_good_token(token: str | None, expected: int | None) -> None:
    assert status(PLAYLIST, token) == expected


def test_expired_token_and_free_chunks() -> None:
    assert status(PLAYLIST, "good", now=NOW + 3600) == 401
    assert status("http://c/clips/chunks/x/init.mp4", None) is None
