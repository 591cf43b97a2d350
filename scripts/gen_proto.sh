#!/usr/bin/env bash
# Regenerates the Python modules (and their .pyi stubs) of the v1 wire from the .proto
# files in reactor_proto/wire_v1/proto/, with the protoc that grpcio-tools bundles (a dev
# dependency, pinned in pyproject.toml so the output is reproducible).
#
#   bash scripts/gen_proto.sh            # rewrite the checked-in modules
#   bash scripts/gen_proto.sh OUT_DIR    # write them under OUT_DIR instead (used by the test
#                                        # that fails when the checked-in modules drift)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
out=${1:-.}
mkdir -p "$out"
# Paths are given from the repository root so the generated imports read
# "from reactor_proto.wire_v1.proto import common_pb2".  `python -m grpc_tools.protoc`
# adds the include directory that holds google/protobuf/struct.proto by itself.
"$python" -m grpc_tools.protoc -I . --python_out="$out" --pyi_out="$out" \
    reactor_proto/wire_v1/proto/*.proto
