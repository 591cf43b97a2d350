#!/usr/bin/env bash
# What tests/e2e/test_audio_devices.py needs, installed idempotently: PortAudio (Debian's
# libportaudio2) under the `sounddevice` package of the `dev` extra (scripts/bootstrap.sh).
# ALSA's own library (libasound2) comes with the machine; the devices the test opens are
# declared in a temporary .asoundrc, no sound card is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
if ! /sbin/ldconfig -p | grep 'libportaudio\.so\.2' >/dev/null; then
  echo "audio_device_deps: installing libportaudio2 (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq libportaudio2 >/dev/null
fi
bash scripts/bootstrap.sh
.venv/bin/python -c 'import sounddevice'
