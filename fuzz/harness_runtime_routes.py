"""Fuzz the runtime: request bytes -> HttpServerConnection -> RuntimeMachine routes, plus
data/control channel frames.

An input is ``<http bytes>`` optionally followed by ``\\n--\\n``-separated channel frames
(alternately data and control) sent by an installed connection.  ``$CID`` is replaced by
that connection's id and ``$PID`` by a registered, not yet offered one.  Oracle: nothing
raises out of the machine, every answer is a known status with a JSON body (or nothing),
no 500, no ``InternalErrorOccurred``, no deadline in the past after ``handle_timeout``;
differential: the bytes fed whole and one byte at a time to two identically seeded runtimes
give the same responses.
"""

from __future__ import annotations

import json
import pickle

from reactor_proto.errors import RemoteProtocolError
from reactor_proto.http import HttpResponse, HttpServerConnection
from reactor_proto.runtime import InternalErrorOccurred
from tests.core.runtime_harness import Harness

ACCEPTED = (RemoteProtocolError,)
VALID = {200, 201, 202, 204, 400, 404, 405, 409, 413, 422, 431, 503}


def _setup() -> tuple[Harness, int, int]:
    harness = Harness(seed=11, max_body_bytes=8192)
    harness.start()
    live = harness.connect()
    pending = harness.register()
    harness.take()
    return harness, live, pending


#: The set-up runtime, built once and restored per input: the same state as building it
#: afresh (the machine is plain data with a seeded generator), at a tenth of the cost, so
#: the fuzzer spends its time on the input rather than on the same connect every run.
_SNAPSHOT = pickle.dumps(_setup())


def _restored() -> tuple[Harness, int, int]:
    restored: tuple[Harness, int, int] = pickle.loads(_SNAPSHOT)
    return restored


def _serve(harness: Harness, data: bytes, byte_at_a_time: bool) -> list[tuple[int, bytes]]:
    conn = HttpServerConnection(max_body_bytes=8192, max_header_bytes=8192)
    chunks = [data[i:i + 1] for i in range(len(data))] if byte_at_a_time else [data]
    answers: list[tuple[int, bytes]] = []
    for chunk in [*chunks, b""]:
        got = conn.receive(chunk)
        while got is not None:
            if isinstance(got, HttpResponse):
                # The framing layer's own rejection: its detail quotes h11's message, which
                # differs between whole and split input; the status must not.
                answers.append((got.status, b""))
                return answers
            response = harness.machine.handle_request(got, harness.now)
            assert response.status in VALID, (response.status, response.body)
            if response.body:
                json.loads(response.body)
            answers.append((response.status, response.body))
            conn.send(response)
            if not conn.keep_alive:
                return answers
            conn.start_next_cycle()
            got = conn.poll()
    return answers


def _check(harness: Harness) -> None:
    harness.collect()
    assert not any(isinstance(e, InternalErrorOccurred) for e in harness.events), harness.events
    harness.advance(25.0)
    deadline = harness.machine.next_deadline()
    assert deadline is None or deadline > harness.now


def one_input(data: bytes) -> None:
    exercise(_restored(), _restored(), data)


def exercise(first_setup: tuple[Harness, int, int], second_setup: tuple[Harness, int, int],
             data: bytes) -> None:
    """Run one input: whole into the first runtime, one byte at a time into the second."""
    first, live, pending = first_setup
    second, live2, pending2 = second_setup
    assert (live, pending) == (live2, pending2)  # seeded: both runtimes are identical
    data = data.replace(b"$CID", str(live).encode()).replace(b"$PID", str(pending).encode())
    http, *frames = data.split(b"\n--\n")
    whole = _serve(first, http, byte_at_a_time=False)
    for index, frame in enumerate(frames[:16]):
        if index % 2:
            first.control(live, frame)
        else:
            first.data(live, frame)
    _check(first)
    bytewise = _serve(second, http, byte_at_a_time=True)
    assert whole == bytewise, (whole, bytewise)
