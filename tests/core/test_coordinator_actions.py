"""The coordinator's actions and the inputs that complete them, driven by hand: calls left
in flight, answered late, out of order, never, or for a session that has moved on."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from reactor_proto.coordinator import (
    AssignGpu,
    CoordinatorAction,
    CoordinatorConfig,
    CoordinatorMachine,
    ForwardToRuntime,
    InternalError,
    PollRuntime,
    ReleaseRuntime,
    RuntimeCallFailed,
    SendResponse,
    SessionState,
)
from reactor_proto.coordinator import forwarding as forwarding_module
from reactor_proto.errors import LocalProtocolError
from reactor_proto.http import HttpRequest, HttpResponse

from .coordinator_harness import (
    API_HEADERS,
    KEYS,
    SECRET_A,
    UNIX_OFFSET,
    WEBRTC_HEADERS,
    FakeRuntime,
    sign,
    verify,
)


class Hand:
    """A coordinator machine whose runtime calls are answered (or not) by the test."""

    def __init__(self, slots: int = 1, **config: Any) -> None:
        config.setdefault("api_keys", KEYS)
        self.machine = CoordinatorMachine(CoordinatorConfig(**config), slots=slots,
                                          rng=random.Random(5), sign=sign, verify=verify,
                                          unix_offset=UNIX_OFFSET)
        self.runtimes = [FakeRuntime() for _ in range(slots)]
        self.now = 10.0
        self.answers: dict[int, HttpResponse] = {}
        self.calls: list[Any] = []
        self.jwt = ""

    def drain(self) -> list[CoordinatorAction]:
        actions = []
        while (action := self.machine.next_action()) is not None:
            actions.append(action)
            if isinstance(action, SendResponse):
                assert action.request_id not in self.answers
                self.answers[action.request_id] = action.response
            else:
                self.calls.append(action)
        return actions

    def send(self, method: str, path: str, headers: tuple[tuple[str, str], ...] = (),
             body: Any = None) -> int:
        raw = None if body is None else json.dumps(body).encode()
        request = HttpRequest(method=method, url=f"http://coord.test{path}",
                              headers=(("host", "coord.test"), *headers), body=raw)
        rid = self.machine.receive_request(request, self.now)
        self.drain()
        return rid

    def answer(self, call: Any) -> None:
        """Let the fake runtime answer ``call``."""
        response = self.runtimes[call.slot].handle_http(call.request, self.now)
        self.machine.runtime_replied(call.call_id, response, self.now)
        self.drain()

    def pending(self, kind: type) -> list[Any]:
        return [c for c in self.calls if isinstance(c, kind)]

    def take(self, kind: type) -> Any:
        calls = [c for c in self.calls if isinstance(c, kind)]
        assert calls, (kind, self.calls)
        self.calls.remove(calls[0])
        return calls[0]

    def token(self) -> str:
        rid = self.send("POST", "/tokens", (("reactor-api-key", SECRET_A),))
        self.jwt = json.loads(self.answers.pop(rid).body)["jwt"]
        return self.jwt

    def auth(self, transport: bool = False) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.jwt}"),
                *(WEBRTC_HEADERS if transport else API_HEADERS))

    def create(self) -> str:
        rid = self.send("POST", "/sessions", self.auth(), {"model": {"name": "helios"}})
        response = self.answers.pop(rid)
        assert response.status == 201, response.body
        session_id: str = json.loads(response.body)["session_id"]
        return session_id

    def hosted(self) -> str:
        """A token and a session whose start the runtime has answered (WAITING)."""
        self.token()
        sid = self.create()
        self.answer(self.take(AssignGpu))
        assert self.machine.session_state(sid) is SessionState.WAITING
        return sid

    def events(self) -> list[Any]:
        return list(iter(self.machine.next_event, None))


def test_every_request_is_answered_by_one_send_response() -> None:
    h = Hand()
    rid = h.send("POST", "/tokens", (("reactor-api-key", SECRET_A),))
    assert h.answers[rid].status == 200
    assert h.machine.requests_open == 0
    second = h.send("GET", "/nowhere")
    assert second == rid + 1 and h.answers[second].status == 404


def test_forwarded_request_is_answered_when_the_runtime_replies() -> None:
    h = Hand()
    sid = h.hosted()
    rid = h.send("GET", f"/sessions/{sid}/transport/webrtc/ice_servers", h.auth(True))
    assert rid not in h.answers and h.machine.requests_open == 1
    forward = h.take(ForwardToRuntime)
    assert forward.request.url.endswith("/sessions/local/transport/webrtc/ice_servers")
    h.machine.runtime_replied(forward.call_id + 1000, HttpResponse(status=200), h.now)
    assert h.drain() == []                            # an unknown call id is dropped
    h.answer(forward)
    assert h.answers[rid].status == 200
    assert isinstance(h.take(PollRuntime), PollRuntime)   # the post-transport poll


def test_a_failed_forward_is_502_and_an_event() -> None:
    h = Hand()
    sid = h.hosted()
    rid = h.send("GET", f"/sessions/{sid}/transport/webrtc/ice_servers", h.auth(True))
    h.machine.runtime_call_failed(h.take(ForwardToRuntime).call_id, "link down", h.now)
    h.drain()
    assert h.answers[rid].status == 502
    assert any(isinstance(e, RuntimeCallFailed) and e.detail == "link down"
               for e in h.events())


def test_an_unanswered_call_times_out_and_its_late_reply_is_dropped() -> None:
    h = Hand(runtime_call_timeout=5.0, runtime_poll_interval=100.0)
    sid = h.hosted()
    rid = h.send("GET", f"/sessions/{sid}/transport/webrtc/ice_servers", h.auth(True))
    forward = h.take(ForwardToRuntime)
    assert h.machine.next_deadline() is not None
    h.now += 5.0
    h.machine.handle_timeout(h.now)
    h.drain()
    assert h.answers[rid].status == 502
    assert h.machine.calls_in_flight == 0
    assert any(isinstance(e, RuntimeCallFailed) and "no answer within 5 s" in e.detail
               for e in h.events())
    h.answer(forward)                                 # too late: nobody waits for it
    assert h.machine.requests_open == 0


def test_a_start_answered_after_delete_is_undone_and_blocks_the_slot_meanwhile() -> None:
    h = Hand()
    h.token()
    first = h.create()
    start = h.take(AssignGpu)
    delete = h.send("DELETE", f"/sessions/{first}", h.auth())
    assert h.answers[delete].status == 200
    second = h.create()
    assert h.machine.session_slot(second) is None     # the slot waits for the start
    assert h.machine.queue == (second,)
    h.answer(start)
    release = h.take(ReleaseRuntime)
    assert release.slot == 0 and release.request.url.endswith("/stop_session")
    assert h.machine.session_slot(second) == 0
    h.answer(release)
    h.answer(h.take(AssignGpu))
    assert h.machine.session_state(second) is SessionState.WAITING


def test_a_failed_start_for_a_gone_session_is_not_undone() -> None:
    h = Hand()
    h.token()
    sid = h.create()
    start = h.take(AssignGpu)
    assert h.machine.expire_session(sid, h.now)
    h.drain()
    h.machine.runtime_call_failed(start.call_id, "boom", h.now)
    h.drain()
    assert not h.pending(ReleaseRuntime)
    assert h.machine.bookkeeping()["slots_held"] == 0


def test_too_many_calls_in_flight() -> None:
    h = Hand(slots=2, max_runtime_calls=1)
    sid = h.hosted()
    get = h.send("GET", f"/sessions/{sid}", h.auth())
    poll = h.take(PollRuntime)                        # the one call allowed
    forward = h.send("GET", f"/sessions/{sid}/transport/webrtc/ice_servers", h.auth(True))
    assert h.answers[forward].status == 503
    info = h.send("GET", f"/sessions/{sid}/info", h.auth())
    assert json.loads(h.answers[info].body)["state"] == "WAITING"   # answered unpolled
    second = h.create()
    assert h.machine.session_state(second) is SessionState.INACTIVE   # start refused
    assert any(isinstance(e, RuntimeCallFailed) and "in flight" in e.detail
               for e in h.events())
    h.answer(poll)
    assert h.answers[get].status == 200


def test_expire_session_input() -> None:
    h = Hand()
    sid = h.hosted()
    assert h.machine.live_sessions() == (sid,)
    assert "slots_held': 1" in repr(h.machine)
    assert not h.machine.expire_session("nope", h.now)
    assert h.machine.expire_session(sid, h.now)
    h.drain()
    assert isinstance(h.take(ReleaseRuntime), ReleaseRuntime)
    assert h.machine.session_state(sid) is SessionState.CLOSED
    assert not h.machine.expire_session(sid, h.now)
    assert h.machine.live_sessions() == ()
    closed = [e for e in h.events() if type(e).__name__ == "SessionClosed"]
    assert closed[-1].reason == "expired"


def test_transport_dropped_polls_the_runtime_now() -> None:
    h = Hand(runtime_poll_interval=100.0)
    sid = h.hosted()
    assert not h.machine.transport_dropped("nope", h.now)
    assert h.machine.transport_dropped(sid, h.now)
    h.drain()
    poll = h.take(PollRuntime)
    h.runtimes[0].orphan_timeout()
    h.answer(poll)
    assert h.machine.session_state(sid) is SessionState.CLOSED
    assert not h.machine.transport_dropped(sid, h.now)


def test_a_poll_for_a_get_whose_session_was_purged_answers_404() -> None:
    h = Hand(closed_retention=0.0)
    sid = h.hosted()
    get = h.send("GET", f"/sessions/{sid}", h.auth())
    poll = h.take(PollRuntime)
    h.send("DELETE", f"/sessions/{sid}", h.auth())
    assert h.machine.session_state(sid) is None       # purged at once
    h.answer(poll)                                    # stale for the session: ignored
    assert h.answers[get].status == 404


def test_an_upload_slot_made_after_the_session_ended_is_not_registered() -> None:
    h = Hand()
    sid = h.hosted()
    rid = h.send("POST", f"/sessions/{sid}/uploads", h.auth(),
                 {"name": "a", "size": 1, "mime_type": "x/y"})
    forward = h.take(ForwardToRuntime)
    h.machine.expire_session(sid, h.now)
    h.drain()
    h.answer(forward)
    assert h.answers[rid].status == 409
    assert h.machine.bookkeeping()["uploads"] == 0


def test_a_bug_while_completing_a_call_is_500(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Hand(runtime_call_timeout=1.0)
    sid = h.hosted()

    def explode(*args: Any) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(forwarding_module.Forwarding, "finish", explode)
    first = h.send("GET", f"/sessions/{sid}/transport/webrtc/ice_servers", h.auth(True))
    h.answer(h.take(ForwardToRuntime))
    second = h.send("GET", f"/sessions/{sid}/transport/webrtc/ice_servers", h.auth(True))
    h.now += 1.0
    h.machine.handle_timeout(h.now)                   # the timeout path hits it too
    h.drain()
    assert h.answers[first].status == h.answers[second].status == 500
    assert sum(isinstance(e, InternalError) for e in h.events()) == 2


def test_slot_count_is_checked() -> None:
    for slots in (-1, True, 1.5):
        with pytest.raises(LocalProtocolError, match="slots"):
            CoordinatorMachine(CoordinatorConfig(), slots=slots,  # type: ignore[arg-type]
                               rng=random.Random(1), sign=sign, verify=verify)
