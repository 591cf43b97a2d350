"""Fuzz the upload store through the runtime's routes.

An input is a sequence of ``\\n--\\n``-separated parts, taken in pairs: an allocation body
(JSON for ``POST /sessions/local/uploads``) and the raw bytes PUT to the slot it returned
(``$ID`` in a later part is replaced by the last allocated id).  Oracle: nothing raises,
statuses are the documented ones, the store never holds more than its budget, a completed
upload's bytes are exactly what was PUT, a second PUT is 409, and a command naming a
completed upload reaches the model with those bytes.
"""

from __future__ import annotations

import pickle

from reactor_proto.errors import RemoteProtocolError
from reactor_proto.runtime import CommandReceived, InternalErrorOccurred
from tests.core.runtime_harness import Harness, command

ACCEPTED = (RemoteProtocolError,)
TOTAL = 64


def _setup() -> tuple[Harness, int]:
    harness = Harness(seed=5, max_total_upload_bytes=TOTAL, max_upload_bytes=48, max_uploads=4)
    harness.start()
    cid = harness.connect()
    harness.take()
    return harness, cid


#: The connected runtime, built once and restored per input (the same state as building it
#: afresh, at a fraction of the cost: see harness_runtime_routes).
_SNAPSHOT = pickle.dumps(_setup())


def one_input(data: bytes) -> None:
    restored: tuple[Harness, int] = pickle.loads(_SNAPSHOT)
    exercise(*restored, data)


def exercise(harness: Harness, cid: int, data: bytes) -> None:
    """Run one input against a connected runtime (``cid`` is its installed connection)."""
    parts = data.split(b"\n--\n")
    last_id = "00000000-0000-4000-8000-000000000000"
    for index in range(0, min(len(parts), 16), 2):
        body = parts[index].replace(b"$ID", last_id.encode())
        reply = harness.request("POST", "/sessions/local/uploads", raw=body)
        assert reply.status in {201, 400, 413, 422}, (reply.status, reply.body)
        store = harness.machine.uploads
        assert store.reserved_bytes <= TOTAL
        assert len(store) <= 4
        if reply.status == 201:
            last_id = reply.body["presigned_id"]
        payload = parts[index + 1] if index + 1 < len(parts) else b""
        put = harness.request("PUT", f"/uploads/{last_id}", raw=payload)
        assert put.status in {200, 400, 404, 409, 422}, (put.status, put.body)
        done = store.completed(last_id)
        if put.status == 200:
            assert done is not None
            assert done.data == payload
            assert harness.request("PUT", f"/uploads/{last_id}", raw=payload).status == 409
            ref = done.reference()
            harness.data(cid, command("set_image", {"image": ref}))
            (event,) = harness.take()[1]
            assert isinstance(event, CommandReceived)
            assert event.uploads["image"].data == payload
        else:
            assert done is None or put.status == 409
    harness.collect()
    assert not any(isinstance(e, InternalErrorOccurred) for e in harness.events)
    harness.request("POST", "/stop_session")
    assert len(harness.machine.uploads) == 0
