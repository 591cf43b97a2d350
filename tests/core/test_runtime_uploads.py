"""The upload store: ids, budget, single PUT, clearing."""

from __future__ import annotations

import random
import uuid

from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.runtime.uploads import (
    UploadFailure,
    UploadStore,
    is_upload_id,
    mint_upload_id,
)

from .runtime_harness import Harness


@given(st.integers(min_value=0, max_value=2**32))
def test_minted_ids_round_trip_through_the_validator(seed: int) -> None:
    upload_id = mint_upload_id(random.Random(seed))
    assert is_upload_id(upload_id)
    assert uuid.UUID(upload_id).version == 4
    assert str(uuid.UUID(upload_id)) == upload_id


@given(st.text(max_size=40))
def test_validator_accepts_only_canonical_uuids(text: str) -> None:
    try:
        canonical = str(uuid.UUID(text)) == text
    except ValueError:
        canonical = False
    assert is_upload_id(text) is canonical


def test_store_rules() -> None:
    store = UploadStore(max_upload_bytes=10, max_total_bytes=12, max_uploads=3)
    rng = random.Random(1)
    assert store.allocate(rng, name="a", mime_type="t", size=11) == UploadFailure(
        status=413, detail="size: 11 bytes exceeds the limit of 10 bytes")
    first = store.allocate(rng, name="a", mime_type="t", size=10)
    assert isinstance(first, str)
    assert first in store
    assert list(store) == [first]
    assert isinstance(store.allocate(rng, name="b", mime_type="t", size=3), UploadFailure)
    assert store.completed(first) is None
    assert store.put(first, b"x" * 9) == UploadFailure(
        status=400, detail="body: 9 bytes does not match the declared size 10")
    assert store.put(first, b"x" * 10) is None
    assert store.put(first, b"x" * 10) == UploadFailure(status=409,
                                                         detail="Upload already completed")
    assert store.put("nope", b"") == UploadFailure(status=404, detail="Upload not found")
    done = store.completed(first)
    assert done is not None
    assert done.data == b"x" * 10
    assert "10 bytes" in repr(done)
    for _ in range(2):
        assert isinstance(store.allocate(rng, name="c", mime_type="t", size=1), str)
    assert store.allocate(rng, name="d", mime_type="t", size=1) == UploadFailure(
        status=413, detail="too many uploads (limit 3)")
    store.clear()
    assert len(store) == 0
    assert store.reserved_bytes == 0


def test_id_collision_is_redrawn() -> None:
    store = UploadStore(max_upload_bytes=10, max_total_bytes=100, max_uploads=10)
    taken = store.allocate(random.Random(4), name="a", mime_type="t", size=1)
    again = store.allocate(random.Random(4), name="a", mime_type="t", size=1)
    assert isinstance(taken, str)
    assert isinstance(again, str)
    assert taken != again


def test_store_cleared_when_session_ends() -> None:
    harness = Harness()
    harness.start()
    upload_id = harness.upload(b"abc")
    harness.request("POST", "/stop_session")
    assert harness.request("PUT", f"/uploads/{upload_id}", raw=b"abc").status == 404
    assert len(harness.machine.uploads) == 0
