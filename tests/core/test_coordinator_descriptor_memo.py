"""The coordinator's per-slot descriptor memo gives what a fresh parse gives, whatever the
sequence of bodies its runtimes send, and keeps nothing from a body that failed."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.coordinator.runtime_link import DescriptorMemo, parse_descriptor
from reactor_proto.errors import DecodeError
from reactor_proto.http import HttpResponse


def _response(state: str, *, status: int = 200, schema_size: int = 2) -> HttpResponse:
    body = {"session_id": "local", "state": state, "capabilities": {"tracks": []},
            "schema": {"commands": {f"c{i}": {"type": "object"} for i in range(schema_size)}}}
    return HttpResponse(status=status, body=json.dumps(body).encode())


RESPONSES = st.sampled_from([
    _response("waiting"), _response("streaming"), _response("streaming", schema_size=5),
    _response("streaming", status=503), HttpResponse(status=200, body=b"{not json"),
    HttpResponse(status=200, body=b'{"state": "x"}'),
])


def _outcome(parse: object, response: HttpResponse) -> object:
    try:
        return parse(response)  # type: ignore[operator]
    except DecodeError as exc:
        return ("error", exc.message)


@given(st.lists(st.tuples(st.integers(0, 2), RESPONSES), max_size=30))
def test_memo_parses_as_a_fresh_parse_would(calls: list[tuple[int, HttpResponse]]) -> None:
    memo = DescriptorMemo()
    for slot, response in calls:
        assert (_outcome(lambda r, s=slot: memo.parse(s, r), response)
                == _outcome(parse_descriptor, response))


def test_an_identical_body_is_not_decoded_again() -> None:
    memo = DescriptorMemo()
    first = memo.parse(0, _response("streaming"))
    assert memo.parse(0, _response("streaming")) is first
    assert memo.parse(1, _response("streaming")) is not first      # per slot
    assert memo.parse(0, _response("waiting")).state == "waiting"   # a changed body


def test_a_failed_body_keeps_the_last_good_one_and_still_fails() -> None:
    memo = DescriptorMemo()
    good = memo.parse(0, _response("streaming"))
    with pytest.raises(DecodeError, match="HTTP 503"):
        memo.parse(0, _response("streaming", status=503))
    assert memo.parse(0, _response("streaming")) is good
