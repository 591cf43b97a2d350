"""The checked-in protobuf modules are exactly what scripts/gen_proto.sh produces, and the
typed classes agree with the .proto messages field for field."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from reactor_proto.wire_v1 import codec, envelopes, payloads
from reactor_proto.wire_v1.proto import envelopes_pb2

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "reactor_proto" / "wire_v1" / "proto"


def test_generated_modules_match_the_proto_files(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (the dev extra) regenerates them")
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gen_proto.sh"), str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert proc.returncode == 0, proc.stderr
    fresh_dir = tmp_path / "reactor_proto" / "wire_v1" / "proto"
    fresh = sorted(p.name for p in fresh_dir.iterdir())
    checked_in = sorted(p.name for p in GENERATED.iterdir()
                        if p.name.endswith(("_pb2.py", "_pb2.pyi")))
    assert fresh == checked_in, "a .proto file was added or removed: run scripts/gen_proto.sh"
    stale = [name for name in fresh
             if (fresh_dir / name).read_bytes() != (GENERATED / name).read_bytes()]
    assert stale == [], f"out of date, run scripts/gen_proto.sh: {stale}"
    protos = sorted(p.stem for p in GENERATED.glob("*.proto"))
    assert sorted({n.split("_pb2")[0] for n in fresh}) == protos


@pytest.mark.parametrize("cls", [*payloads.PAYLOAD_TYPES, *envelopes.PAYLOAD_FIELDS],
                         ids=lambda c: c.__name__)
def test_every_typed_class_matches_its_proto_message(cls: type) -> None:
    descriptor = codec._PB_BY_CLASS[cls].DESCRIPTOR
    assert {a.name for a in attrs.fields(cls)} - {"payload"} <= set(descriptor.fields_by_name)
    if cls not in envelopes.PAYLOAD_FIELDS:
        assert {a.name for a in attrs.fields(cls)} == set(descriptor.fields_by_name)
        assert codec._plan(cls).pb_class is codec._PB_BY_CLASS[cls]


@pytest.mark.parametrize("envelope", list(envelopes.PAYLOAD_FIELDS), ids=lambda c: c.__name__)
def test_payload_members_cover_the_oneof(envelope: type) -> None:
    pb = getattr(envelopes_pb2, envelope.__name__).DESCRIPTOR
    members = {f.name: f.message_type.name for f in pb.oneofs_by_name["payload"].fields}
    ours = {name: cls.__name__ for cls, name in envelopes.PAYLOAD_FIELDS[envelope].items()}
    assert ours == members
    assert pb.fields_by_name["request_id"].number == 1
    assert pb.fields_by_name["kind"].number == 2
    assert pb.fields_by_name["error"].number == 40


def test_field_numbers_of_the_envelopes() -> None:
    numbers = {
        name: {f.name: f.number for f in getattr(envelopes_pb2, name).DESCRIPTOR.fields}
        for name in ("DataClientMessage", "DataServerMessage", "ControlClientMessage",
                     "ControlServerMessage")
    }
    assert numbers["DataClientMessage"] == {"request_id": 1, "kind": 2, "command": 10,
                                            "request_step": 11, "error": 40}
    assert numbers["DataServerMessage"] == {"request_id": 1, "kind": 2, "message": 10,
                                            "step_result": 11, "error": 40}
    assert numbers["ControlClientMessage"] == {
        "request_id": 1, "kind": 2, "ping": 10, "request_schema": 11, "file_uploaded": 12,
        "request_clip": 13, "request_recording": 14, "publish_track": 15, "pause_track": 16,
        "resume_track": 17, "unpublish_track": 18, "client_stats": 19, "error": 40}
    assert numbers["ControlServerMessage"] == {
        "request_id": 1, "kind": 2, "model_schema": 10, "clip_ready": 11, "clip_failed": 12,
        "moderation": 13, "publish_track": 14, "session_ended": 15, "error": 40}
