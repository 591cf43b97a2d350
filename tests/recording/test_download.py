"""The sans-IO clip download: order, progress, failures, the size bound."""

from __future__ import annotations

import pytest

from reactor_proto.errors import LocalProtocolError
from reactor_proto.recording import build_playlist, parse_playlist
from reactor_proto.recording.download import ClipDownload, Progress
from reactor_proto.recording.errors import RecordingError, RecordingErrorCode

RID = "0b0e7c2a-1d0e-4c57-9d5f-7a1f3b2c4d5e"
URL = f"http://127.0.0.1:8080/clips?session_id={RID}&start=0.000&end=8.000"


def download(max_bytes: int = 1 << 20) -> ClipDownload:
    playlist = parse_playlist(build_playlist(RID, [(0, 4.0), (1, 4.0)], chunk_seconds=4))
    return ClipDownload(playlist, URL, max_bytes=max_bytes)


def test_parts_come_init_first_with_progress() -> None:
    clip = download()
    assert clip.next_url() == f"http://127.0.0.1:8080/clips/chunks/{RID}/init.mp4"
    assert clip.received(200, b"I") == Progress(fetched=1, total=3, bytes=1)
    assert clip.next_url() is not None and clip.next_url().endswith("chunk_00000.m4s")
    clip.received(200, b"AA")
    assert clip.received(200, b"BBB") == Progress(fetched=3, total=3, bytes=6)
    assert clip.done and clip.next_url() is None
    assert clip.result() == b"IAABBB"
    with pytest.raises(LocalProtocolError):
        clip.received(200, b"")


def test_failures_are_typed() -> None:
    clip = download()
    with pytest.raises(LocalProtocolError):
        clip.result()
    with pytest.raises(RecordingError) as info:
        clip.received(404, b"")
    assert info.value.code == RecordingErrorCode.CHUNK_FETCH_FAILED and info.value.status == 404
    error = clip.failed("connection reset")
    assert error.code == RecordingErrorCode.CHUNK_FETCH_FAILED and "reset" in error.reason


def test_the_size_is_bounded() -> None:
    clip = download(max_bytes=4)
    clip.received(200, b"II")
    with pytest.raises(RecordingError) as info:
        clip.received(200, b"AAA")
    assert info.value.code == RecordingErrorCode.DOWNLOAD_UNSUPPORTED
