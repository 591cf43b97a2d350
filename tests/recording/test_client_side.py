"""The client's clip pieces: correlation (v0 in order, v1 by id), deadlines, F25's late
reply, disconnect, the playlist polling schedule and the error mapping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.errors import LocalProtocolError
from reactor_proto.recording import (
    Clip,
    ClipFailure,
    ClipKind,
    ClipRequestFailed,
    ClipRequests,
    ClipResolved,
    FetchNow,
    GiveUp,
    PlaylistOk,
    PlaylistPoll,
    WaitThen,
    check_clip_duration,
    chunk_error,
    failure_error,
    fetch_error,
)
from reactor_proto.recording.client import parse_retry_after
from reactor_proto.recording.errors import RecordingError, RecordingErrorCode

RID = "0b0e7c2a-1d0e-4c57-9d5f-7a1f3b2c4d5e"


def clip(end: float = 10.0, predicted: int = 0) -> Clip:
    return Clip(session_id=RID, kind=ClipKind.SNAP, start_marker=end - 4, end_marker=end,
                now_marker=end, predicted_ready_at_ms=predicted, playlist_url="/clips?x")


def drain(requests: ClipRequests) -> list[object]:
    events = []
    while (event := requests.next_event()) is not None:
        events.append(event)
    return events


def test_v0_replies_resolve_requests_in_order() -> None:
    requests = ClipRequests()
    requests.start("a", ClipKind.SNAP, now=0)
    requests.start("b", ClipKind.SNAP, now=0)
    assert len(requests) == 2
    assert requests.reply(clip(1), now=1)
    assert requests.reply(ClipFailure(reason="recorder disabled"), now=1)
    first, second = drain(requests)
    assert first == ClipResolved(request_id="a", clip=clip(1))
    assert isinstance(second, ClipRequestFailed) and second.request_id == "b"
    assert second.error.code == RecordingErrorCode.RECORDER_DISABLED
    assert not requests.reply(clip(2), now=2)  # nothing pending: dropped


def test_v1_replies_match_by_id() -> None:
    requests = ClipRequests()
    requests.start("a", ClipKind.SNAP, now=0)
    requests.start("b", ClipKind.RECORDING, now=0)
    assert requests.reply(clip(2), now=1, request_id="b")
    assert not requests.reply(clip(3), now=1, request_id="zzz")
    assert drain(requests) == [ClipResolved(request_id="b", clip=clip(2))]


def test_a_timeout_fails_the_request_and_its_late_reply_is_dropped() -> None:
    requests = ClipRequests(timeout=10, late_grace=30)
    requests.start("a", ClipKind.SNAP, now=0)
    assert requests.next_deadline() == 10
    requests.handle_timeout(10)
    (failed,) = drain(requests)
    assert isinstance(failed, ClipRequestFailed)
    assert failed.error.code == RecordingErrorCode.REQUEST_TIMEOUT and failed.error.recoverable
    requests.start("b", ClipKind.SNAP, now=11)
    assert requests.next_deadline() == 21
    # F25: the late answer to "a" must not resolve "b"
    assert not requests.reply(clip(1), now=12)
    assert requests.reply(clip(2), now=13)
    assert drain(requests) == [ClipResolved(request_id="b", clip=clip(2))]


def test_a_tombstone_expires_after_the_grace() -> None:
    requests = ClipRequests(timeout=10, late_grace=30)
    requests.start("a", ClipKind.SNAP, now=0)
    requests.handle_timeout(10)
    drain(requests)
    assert requests.next_deadline() == 40
    requests.start("b", ClipKind.SNAP, now=45)
    assert requests.reply(clip(2), now=46)
    assert drain(requests) == [ClipResolved(request_id="b", clip=clip(2))]


def test_disconnect_fails_everything_pending() -> None:
    requests = ClipRequests()
    requests.start("a", ClipKind.SNAP, now=0)
    requests.start("b", ClipKind.SNAP, now=0)
    requests.disconnected()
    events = drain(requests)
    assert [e.error.code for e in events if isinstance(e, ClipRequestFailed)] == [
        RecordingErrorCode.DISCONNECTED] * 2
    assert requests.next_deadline() is None and len(requests) == 0


def test_requests_are_bounded_and_unique() -> None:
    requests = ClipRequests(max_pending=2)
    requests.start("a", ClipKind.SNAP, now=0)
    with pytest.raises(LocalProtocolError):
        requests.start("a", ClipKind.SNAP, now=0)
    requests.start("b", ClipKind.SNAP, now=0)
    with pytest.raises(LocalProtocolError):
        requests.start("c", ClipKind.SNAP, now=0)


@given(st.lists(st.one_of(st.just("start"), st.just("reply"), st.floats(0, 40)), max_size=40))
def test_every_request_ends_exactly_once(steps: list[object]) -> None:
    requests = ClipRequests(timeout=10, late_grace=5)
    now, started = 0.0, []
    for step in steps:
        if step == "start":
            if len(requests) < requests.max_pending:
                requests.start(str(len(started)), ClipKind.SNAP, now=now)
                started.append(str(len(started)))
        elif step == "reply":
            requests.reply(clip(), now=now)
        else:
            assert isinstance(step, float)
            now += step
            requests.handle_timeout(now)
        deadline = requests.next_deadline()
        assert deadline is None or deadline > now
    requests.disconnected()
    ended = [e.request_id for e in drain(requests)  # type: ignore[attr-defined]
             if isinstance(e, ClipResolved | ClipRequestFailed)]
    assert sorted(ended) == sorted(started)


@pytest.mark.parametrize(("reason", "code"), [
    ("recorder disabled", RecordingErrorCode.RECORDER_DISABLED),
    ("Recorder disabled or encoder crashed", RecordingErrorCode.RECORDER_DISABLED),
    ("invalid duration_seconds", RecordingErrorCode.INVALID_DURATION),
    ("no media generated yet", RecordingErrorCode.INTERNAL_ERROR),
    ("internal error: boom", RecordingErrorCode.INTERNAL_ERROR),
    ("", RecordingErrorCode.INTERNAL_ERROR),
])
def test_clip_failed_maps_to_documented_codes(reason: str, code: str) -> None:
    error = failure_error(ClipFailure(reason=reason))
    assert error.code == code and error.reason
    assert not error.recoverable


def test_client_duration_check() -> None:
    assert check_clip_duration(4) == 4.0
    with pytest.raises(RecordingError) as info:
        check_clip_duration(float("nan"))
    assert info.value.code == RecordingErrorCode.INVALID_DURATION
    assert "duration_seconds" in info.value.reason


def test_poll_fetches_at_once_when_the_prediction_is_past() -> None:
    poll = PlaylistPoll(clip(predicted=1000), started_ms=2000)
    assert poll.first(now_ms=2000) == FetchNow()
    assert PlaylistPoll(clip(predicted=0), started_ms=0).first(now_ms=5) == FetchNow()
    early = PlaylistPoll(clip(predicted=5000), started_ms=1000)
    assert early.first(now_ms=4500) == WaitThen(seconds=0.5)
    assert early.first(now_ms=0) == WaitThen(seconds=2.0)


def test_poll_on_202_waits_retry_after_clamped_until_60s_past_the_prediction() -> None:
    poll = PlaylistPoll(clip(predicted=10_000), started_ms=0)
    assert poll.deadline_ms == 70_000
    assert poll.on_status(202, "2", now_ms=10_000) == WaitThen(seconds=2.0)
    assert poll.on_status(202, "0", now_ms=10_000) == WaitThen(seconds=0.2)
    assert poll.on_status(202, "30", now_ms=10_000) == WaitThen(seconds=2.0)
    assert poll.on_status(202, "Wed, 21 Oct 2015 07:28:00 GMT", now_ms=1) == WaitThen(
        seconds=2.0)
    given_up = poll.on_status(202, "1", now_ms=69_500)
    assert isinstance(given_up, GiveUp)
    assert given_up.error.code == RecordingErrorCode.CLIP_NOT_READY
    assert poll.on_status(200, None, now_ms=0) == PlaylistOk()


def test_poll_without_prediction_tries_five_times() -> None:
    poll = PlaylistPoll(clip(predicted=0), started_ms=0)
    steps = [poll.on_status(202, "1", now_ms=0) for _ in range(5)]
    assert all(isinstance(s, WaitThen) for s in steps[:4])
    assert isinstance(steps[4], GiveUp)


def test_poll_while_live_has_no_deadline() -> None:
    poll = PlaylistPoll(clip(predicted=10), started_ms=0, live=True)
    for _ in range(20):
        assert poll.on_status(202, "1", now_ms=10**9) == WaitThen(seconds=1.0)


@pytest.mark.parametrize(("status", "code"), [
    (404, RecordingErrorCode.CLIP_GONE), (410, RecordingErrorCode.CLIP_GONE),
    (400, RecordingErrorCode.PLAYLIST_FETCH_FAILED),
    (500, RecordingErrorCode.PLAYLIST_FETCH_FAILED),
    (401, RecordingErrorCode.PLAYLIST_FETCH_FAILED),
])
def test_poll_maps_statuses(status: int, code: str) -> None:
    step = PlaylistPoll(clip(), started_ms=0).on_status(status, None, now_ms=0)
    assert isinstance(step, GiveUp) and step.error.code == code
    assert step.error.status == status


def test_chunk_and_fetch_errors() -> None:
    error = chunk_error("/clips/chunks/x/init.mp4", 404)
    assert error.code == RecordingErrorCode.CHUNK_FETCH_FAILED and "404" in error.reason
    assert error.recoverable
    assert "reset" in chunk_error("u", None, "reset").reason
    assert fetch_error("refused").code == RecordingErrorCode.PLAYLIST_FETCH_FAILED


def test_parse_retry_after() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after(" 2 ") == 2.0
    assert parse_retry_after("-1") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("soon") is None


def test_a_lost_reply_costs_at_most_one_more_request() -> None:
    requests = ClipRequests(timeout=10, late_grace=30)
    requests.start("a", ClipKind.SNAP, now=0)
    requests.handle_timeout(10)  # "a"'s reply is lost for good
    requests.start("b", ClipKind.SNAP, now=11)
    assert not requests.reply(clip(2), now=11.1)  # taken for "a"'s late reply
    requests.handle_timeout(21)  # "b" times out, and leaves no tombstone
    requests.start("c", ClipKind.SNAP, now=22)
    assert requests.reply(clip(3), now=22.1)
    events = drain(requests)
    assert [type(e).__name__ for e in events] == ["ClipRequestFailed", "ClipRequestFailed",
                                                  "ClipResolved"]
    assert events[-1] == ClipResolved(request_id="c", clip=clip(3))
