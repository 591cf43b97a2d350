"""The transition table and the machine's guards (events bound, internal errors, edge cases)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from reactor_proto.coordinator import (
    TRANSITIONS,
    InternalError,
    RuntimeCallFailed,
    SessionState,
    Trigger,
)
from reactor_proto.coordinator import forwarding as forwarding_module
from reactor_proto.coordinator import handlers as handlers_module
from reactor_proto.coordinator.lifecycle import Lifecycle
from reactor_proto.coordinator.sessions import SessionRecord
from reactor_proto.errors import ConflictError
from reactor_proto.http import HttpRequest, HttpResponse

from .coordinator_harness import Driver, FakeRuntime, body_of


def _record(state: SessionState) -> SessionRecord:
    return SessionRecord(session_id="s", owner="key-a", model_name="helios", model_version=None,
                         state=state, created_at=0.0, expires_at=None, expires_at_unix=None)


@pytest.mark.parametrize(("state", "trigger"), list(itertools.product(SessionState, Trigger)))
def test_every_state_trigger_pair(state: SessionState, trigger: Trigger) -> None:
    life = Lifecycle(Driver().config, 0, 0.0)
    record = _record(state)
    expected = TRANSITIONS.get((state, trigger))
    if expected is None:
        with pytest.raises(ConflictError, match=trigger.value):
            life.transition(record, trigger)
    else:
        assert life.transition(record, trigger).state is expected
        assert life.table.get("s") is not None


def test_table_shape() -> None:
    assert not any(state is SessionState.CLOSED for state, _ in TRANSITIONS)
    assert not any(state is SessionState.SUSPENDED for state, _ in TRANSITIONS)
    reachable = {SessionState.CREATED} | set(TRANSITIONS.values())
    assert reachable == set(SessionState) - {SessionState.SUSPENDED}


def test_events_are_bounded() -> None:
    d = Driver(max_events=3)
    for _ in range(5):
        d.machine.handle_http(HttpRequest(method="POST", url="http://c/tokens", headers=(
            ("reactor-api-key", "rk_live_SECRET_alpha_0123456789"),)), d.now)
    assert d.machine.events_dropped == 2
    assert sum(1 for _ in iter(d.machine.next_event, None)) == 3


def test_internal_bug_becomes_500_and_event(monkeypatch: pytest.MonkeyPatch) -> None:
    d = Driver()

    def explode(self: Any, request: HttpRequest, rid: int, now: float) -> HttpResponse:
        raise KeyError("bug")

    monkeypatch.setattr(handlers_module.RouteHandlers, "dispatch", explode)
    response = d.request("GET", "/tokens")
    assert response.status == 500
    assert body_of(response) == {"detail": "internal error"}
    assert any(isinstance(e, InternalError) for e in d.events)
    probe = HttpRequest(method="GET", url="http://c/")
    monkeypatch.setattr(Lifecycle, "run_due", lambda self, now: explode(self, probe, 0, now))
    d.machine.handle_timeout(d.now)
    d.drain()
    assert sum(isinstance(e, InternalError) for e in d.events) == 2


def test_descriptor_without_capabilities_fails_assignment() -> None:
    class NoCaps(FakeRuntime):
        def descriptor(self) -> dict[str, Any]:
            out = super().descriptor()
            del out["capabilities"], out["schema"], out["selected_transport"]
            return out

    d = Driver()
    d.runtimes[0] = NoCaps()
    d.rebuild(rng_seed=1)
    sid = d.create_id(d.token())
    assert d.machine.session_state(sid) is SessionState.INACTIVE
    assert d.machine.session_slot(sid) is None
    failures = [e for e in d.events if isinstance(e, RuntimeCallFailed)]
    assert "capabilities" in failures[-1].detail


def test_stop_session_failure_is_reported() -> None:
    class StubbornStop(FakeRuntime):
        def handle_http(self, request: HttpRequest, now: float) -> HttpResponse:
            if request.url.endswith("/stop_session"):
                return HttpResponse(status=409, body=b'{"detail":"closing"}')
            return super().handle_http(request, now)

    d = Driver(model_version="2.1")
    d.runtimes[0] = StubbornStop()
    d.rebuild(rng_seed=1)
    jwt = d.token()
    sid = d.create_id(jwt)
    assert body_of(d.get(jwt, sid))["model"] == {"name": "helios", "version": "2.1"}
    assert d.delete(jwt, sid).status == 200
    assert any(isinstance(e, RuntimeCallFailed) and e.operation == "stop_session"
               for e in d.events)


def test_upload_cap_and_foreign_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    d = Driver()
    jwt = d.token()
    sid = d.create_id(jwt)
    payload = {"name": "a", "size": 1, "mime_type": "x/y"}
    d.runtimes[0].upload_reply = {"presigned_id": "00000000-0000-4000-8000-000000000009",
                                  "presigned_url": "http://r/uploads/x", "path": "elsewhere/a"}
    slot = d.request("POST", f"/sessions/{sid}/uploads", headers=d.auth(jwt), json_body=payload)
    assert body_of(slot)["path"] == "elsewhere/a"
    monkeypatch.setattr(forwarding_module, "MAX_UPLOADS_PER_SESSION", 1)
    capped = d.request("POST", f"/sessions/{sid}/uploads", headers=d.auth(jwt),
                       json_body=payload)
    assert capped.status == 409


def test_schema_absent_is_omitted_and_transport_after_runtime_end() -> None:
    class NoSchema(FakeRuntime):
        def descriptor(self) -> dict[str, Any]:
            out = super().descriptor()
            del out["schema"]
            return out

    d = Driver()
    d.runtimes[0] = NoSchema()
    d.rebuild(rng_seed=1)
    jwt = d.token()
    sid = d.create_id(jwt)
    assert "schema" not in body_of(d.get(jwt, sid))
    d.runtimes[0].state = "READY"          # runtime ended on its own during the request
    d.runtimes[0].raise_on = None
    assert d.transport(jwt, sid, "GET", "/ice_servers").status == 200
    assert d.machine.session_state(sid) is SessionState.CLOSED
