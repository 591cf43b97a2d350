"""The recorder's worker carries its own name in the OS thread list (bench figure 11 reads
the served runtime's recording CPU per thread by that name)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from reactor_anyio.recording import Recorder, native
from reactor_anyio.recording.native import WORKER_NAME, name_this_thread

from .conftest import counter_frame


def _comm(native_id: int) -> str:
    return Path(f"/proc/self/task/{native_id}/comm").read_text().strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux thread names")
def test_the_worker_is_named_in_the_os_and_records_as_before() -> None:
    with Recorder() as recorder:
        assert recorder.offer(counter_frame(0))
        assert recorder.idle(timeout=10)
        ident = recorder._thread.native_id
        assert ident is not None
        assert _comm(ident) == WORKER_NAME
        assert recorder.frames_recorded == 1
    assert len(WORKER_NAME.encode()) <= 15  # the kernel keeps 15 bytes


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux thread names")
def test_a_long_name_is_cut_to_fifteen_bytes() -> None:
    seen: list[str] = []

    def run() -> None:
        assert name_this_thread("a-name-longer-than-fifteen-bytes")
        seen.append(_comm(threading.get_native_id()))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == ["a-name-longer-t"]


def test_elsewhere_or_on_failure_naming_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native.sys, "platform", "darwin")
    assert name_this_thread("x") is False
    monkeypatch.setattr(native.sys, "platform", "linux")

    def broken() -> object:
        raise OSError("no libc")

    monkeypatch.setattr(native, "_prctl", broken)
    assert name_this_thread("x") is False
