"""Request ids and replies on a v1 connection (docs/protocol §6.8.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.errors import ErrorCode, InvalidStateError, LocalProtocolError
from reactor_proto.wire_v1 import (
    Channel,
    ControlServerMessage,
    DataServerMessage,
    MessageKind,
    ModelMessage,
    ModelSchema,
)
from reactor_proto.wire_v1.correlation import Correlator, UnexpectedReplyError

RESP, NOTE = MessageKind.RESPONSE, MessageKind.NOTIFICATION


def test_ids_are_minted_and_replies_matched() -> None:
    table = Correlator(prefix="c1-")
    command = table.begin(channel=Channel.DATA, what="command set_prompt", deadline=10.0)
    schema = table.begin(channel=Channel.CONTROL, what="request_schema", deadline=5.0)
    assert (command.request_id, schema.request_id) == ("c1-1", "c1-2")
    assert table.in_flight == 2
    assert table.next_deadline() == 5.0
    reply = ControlServerMessage(request_id="c1-2", kind=RESP, payload=ModelSchema())
    assert table.resolve(reply) is schema
    assert table.resolve(DataServerMessage(request_id="c1-1", kind=RESP)) is command  # an ack
    assert table.in_flight == 0
    assert table.next_deadline() is None


def test_reused_and_empty_ids_are_refused() -> None:
    table = Correlator()
    table.begin(channel=Channel.DATA, what="a", deadline=1.0, request_id="x")
    with pytest.raises(LocalProtocolError, match="already in flight"):
        table.begin(channel=Channel.DATA, what="b", deadline=1.0, request_id="x")
    with pytest.raises(LocalProtocolError, match="non-empty"):
        table.begin(channel=Channel.DATA, what="c", deadline=1.0, request_id="")
    assert table.in_flight == 1


def test_the_table_is_bounded() -> None:
    table = Correlator(max_in_flight=2)
    table.begin(channel=Channel.DATA, what="a", deadline=1.0)
    table.begin(channel=Channel.DATA, what="b", deadline=1.0)
    with pytest.raises(InvalidStateError) as info:
        table.begin(channel=Channel.DATA, what="c", deadline=1.0)
    assert info.value.code == ErrorCode.INVALID_STATE


@pytest.mark.parametrize("message", [
    DataServerMessage(request_id="nope", kind=RESP),                       # unknown id
    DataServerMessage(request_id="", kind=RESP),                           # no id
    DataServerMessage(request_id="1", kind=NOTE,
                      payload=ModelMessage(type="progress")),              # a broadcast
    ControlServerMessage(request_id="1", kind=RESP),                       # other channel
])
def test_replies_to_nothing_are_refused(message: DataServerMessage | ControlServerMessage) -> None:
    table = Correlator()
    table.begin(channel=Channel.DATA, what="command", deadline=1.0)
    with pytest.raises(UnexpectedReplyError) as info:
        table.resolve(message)
    assert info.value.request_id == message.request_id
    assert info.value.code == ErrorCode.DECODE_FAILED
    assert table.in_flight == 1  # the real request is still waiting


def test_a_second_reply_to_the_same_request_is_refused() -> None:
    table = Correlator()
    pending = table.begin(channel=Channel.DATA, what="command", deadline=1.0)
    reply = DataServerMessage(request_id=pending.request_id, kind=RESP)
    table.resolve(reply)
    with pytest.raises(UnexpectedReplyError, match="no request in flight"):
        table.resolve(reply)


def test_is_reply() -> None:
    table = Correlator()
    assert table.is_reply(DataServerMessage(request_id="1", kind=RESP))
    assert not table.is_reply(DataServerMessage(kind=NOTE, payload=ModelMessage()))


def test_deadlines_and_abandon() -> None:
    table = Correlator()
    first = table.begin(channel=Channel.DATA, what="a", deadline=1.0)
    second = table.begin(channel=Channel.CONTROL, what="b", deadline=3.0)
    assert table.expire(0.5) == []
    assert table.expire(1.0) == [first]
    assert table.abandon_all() == [second]
    assert table.in_flight == 0


@given(st.lists(st.tuples(st.booleans(), st.floats(0, 100)), max_size=40))
def test_ids_never_repeat_and_every_request_ends_once(ops: list[tuple[bool, float]]) -> None:
    table = Correlator(max_in_flight=1000)
    seen: set[str] = set()
    open_ids: list[str] = []
    for answer, deadline in ops:
        if answer and open_ids:
            request_id = open_ids.pop(0)
            table.resolve(DataServerMessage(request_id=request_id, kind=RESP))
        else:
            pending = table.begin(channel=Channel.DATA, what="c", deadline=deadline)
            assert pending.request_id not in seen
            seen.add(pending.request_id)
            open_ids.append(pending.request_id)
    assert table.in_flight == len(open_ids)
    late = table.expire(100.0)
    assert sorted(p.request_id for p in late) == sorted(open_ids)
