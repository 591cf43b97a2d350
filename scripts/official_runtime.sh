#!/usr/bin/env bash
# Builds the official runtimes, each in its own venv, for the interop tests
# (tests/interop/test_official_runtime_*.py) and the bench figure official_runtime_connect.
# Debian 12 (bookworm), run as root.
#
# .venv-rt3: reactor-runtime 3.10.0 (the newest; libwebrtc through reactor-webrtc, a
# self-contained wheel).  It needs Python >= 3.12: the first python3.12+ found on PATH or
# under pyenv is used, and without one this part is skipped with a note.  Its
# dependencies install as declared.
#
# .venv-rt: reactor-runtime 2.10.1 (GStreamer webrtcbin through PyGObject).
#
# reactor-runtime 2.10.1 asks for PyGObject>=3.56, which builds only against
# girepository-2.0 (GLib >= 2.80); bookworm ships GLib 2.74.  PyGObject 3.50 (the last
# release on girepository-1.0) works for what the runtime uses, so the runtime is
# installed without its dependencies and those are installed beside it with that pin.
# pip then reports the PyGObject conflict; it is expected.  About 2-3 minutes in all.
set -euo pipefail
cd "$(dirname "$0")/.."

apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    pkg-config libcairo2-dev libgirepository1.0-dev \
    gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-plugins-bad-1.0 \
    gstreamer1.0-nice gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
    gstreamer1.0-plugins-bad gstreamer1.0-libav ffmpeg

python3 -m venv .venv-rt
.venv-rt/bin/pip install -q "PyGObject<3.51"
.venv-rt/bin/pip install -q --no-deps reactor-runtime==2.10.1
.venv-rt/bin/pip install -q numpy "pydantic>=2.13" "omegaconf>=2.3" "fastapi>=0.136.1" \
    "uvicorn[standard]>=0.47" "aiohttp>=3.13" "httpx>=0.28" "redis>=7" "jsonschema>=4.26" \
    "opentelemetry-api~=1.42" "opentelemetry-sdk~=1.42" \
    "opentelemetry-exporter-otlp-proto-http~=1.42" "opentelemetry-exporter-prometheus~=0.63b0" \
    "grpcio>=1.80" "grpcio-health-checking>=1.80" "opentelemetry-instrumentation-grpc~=0.63b0" \
    "pynvml>=11.5" || true  # the PyGObject pin makes pip exit non-zero on the conflict check
.venv-rt/bin/python -c "import gi; gi.require_version('GstWebRTC', '1.0'); import reactor_runtime.interface"
echo ".venv-rt ready"

python312=""
for candidate in python3.13 python3.12 "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c \
            'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
        python312="$candidate"
        break
    fi
done
if [ -z "$python312" ]; then
    echo "no Python >= 3.12 found: .venv-rt3 (reactor-runtime 3.10.0) skipped"
    exit 0
fi
"$python312" -m venv .venv-rt3
.venv-rt3/bin/pip install -q reactor-runtime==3.10.0
.venv-rt3/bin/python -c "import reactor_webrtc, reactor_runtime.serve"
echo ".venv-rt3 ready ($("$python312" --version))"
