"""The playground page plays a model's audio and publishes audio inputs, in headless Chromium.

``tone``: the page plays ``main_audio`` through its ``<audio>`` element; an ``AnalyserNode``
on the very stream that element plays finds 440 Hz, then about 1000 Hz once
``set_frequency(hz=1000)`` went out through the page's generated form.  ``echo``: the page
publishes its synthetic tone on ``mic`` and plays ``speaker``, where the tone comes back.
The console holds no error.  Skipped without chromium/playwright, failed under CI.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from .harness import CHROMIUM, CHROMIUM_FLAGS, ConsoleLog, Runtime
from .playground_helpers import (
    connect,
    disconnect,
    require_browser,
    submit,
    wait_log,
    wait_runtime_state,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(180)]

TIMEOUT_MS = 20_000
#: bins of 48000 / 16384 = 2.9 Hz; Opus and the analyser's window smear a little more
TOLERANCE_HZ = 12.0
#: what media.js publishes on an audio input when the source is synthetic
SYNTHETIC_HZ = 660.0
#: the loudest bin of a sine played at 0.3-0.4 reads about -25 dB; silence far below
MIN_DB = -70.0

#: an analyser of our own on the stream the page's <audio> element for `name` plays
TAP = """(name) => {
  const element = document.querySelector(`audio[data-track="${name}"]`);
  const context = new AudioContext({ sampleRate: 48000 });
  const analyser = context.createAnalyser();
  analyser.fftSize = 16384;
  analyser.smoothingTimeConstant = 0;
  context.createMediaStreamSource(element.srcObject).connect(analyser);
  window.audioTap = { analyser, context, element };
  return context.resume().then(() => context.state);
}"""

MEASURE = """() => {
  const { analyser, context, element } = window.audioTap;
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  let best = 1;
  for (let i = 2; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  return { hz: best * context.sampleRate / analyser.fftSize, db: bins[best],
           paused: element.paused, muted: element.muted };
}"""

#: the page's own meter of `name`, in dBFS
LEVEL = """(name) => {
  for (const [track, entry] of window.playground.state.audio.tracks) {
    if (track === name) return entry.meter.db;
  }
  return null;
}"""


@pytest.fixture(autouse=True)
def _browser() -> None:
    require_browser()


@contextmanager
def audio_page(url: str, init_script: str | None = None) -> Iterator[tuple[Any, ConsoleLog]]:
    """The playground in a headless Chromium that may play sound without a gesture and has
    the fake microphone granted without a prompt (``init_script`` runs before the page's)."""
    from playwright.sync_api import sync_playwright

    log = ConsoleLog()
    profile = tempfile.mkdtemp(prefix="reactor-chromium-audio-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True,
                args=[*CHROMIUM_FLAGS, "--autoplay-policy=no-user-gesture-required",
                      "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
                ignore_default_args=["--enable-automation"])
            try:
                page = context.pages[0] if context.pages else context.new_page()
                if init_script is not None:
                    page.add_init_script(init_script)
                page.on("console", lambda msg: log.add(msg.type, msg.text))
                page.on("pageerror", lambda exc: log.add("pageerror", str(exc)))
                page.goto(url)
                page.wait_for_function("window.pageReady === true", timeout=15_000)
                yield page, log
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def wait_playing(page: Any, name: str) -> None:
    """Until the page's <audio> element of ``name`` plays and its time advances."""
    page.wait_for_function(
        "(name) => { const a = document.querySelector(`audio[data-track=\"${name}\"]`);"
        " return a !== null && !a.paused && a.currentTime > 0; }",
        arg=name, timeout=TIMEOUT_MS)


def settle_on(page: Any, hz: float, within: float = 10.0) -> dict[str, Any]:
    """The analyser's reading once its loudest bin is near ``hz`` and loud enough (the
    analyser's first window may still hold the silence before the stream; or the last
    reading, at the deadline)."""
    deadline = time.monotonic() + within
    while True:
        reading: dict[str, Any] = page.evaluate(MEASURE)
        near = abs(reading["hz"] - hz) < TOLERANCE_HZ and reading["db"] > MIN_DB
        if near or time.monotonic() > deadline:
            return reading
        page.wait_for_timeout(200)


def test_tone_plays_in_the_playground_at_the_commanded_frequency() -> None:
    runtime = Runtime("--model", "tone")
    try:
        with audio_page(f"{runtime.url}/") as (page, log):
            connect(page)
            wait_playing(page, "main_audio")
            assert page.is_visible("#audio-toggle")
            assert page.get_attribute("#audio-toggle", "data-state") == "playing"
            assert page.evaluate(TAP, "main_audio") == "running"
            before = settle_on(page, 440)
            submit(page, "set_frequency", {"hz": "1000"})
            wait_log(page, "sent", "set_frequency ")
            after = settle_on(page, 1000)
            level = page.evaluate(LEVEL, "main_audio")
            # the button mutes the element (the stream still flows), and unmutes it
            page.click("#audio-toggle")
            assert page.get_attribute("#audio-toggle", "data-state") == "muted"
            assert page.evaluate(MEASURE)["muted"] is True
            page.click("#audio-toggle")
            assert page.get_attribute("#audio-toggle", "data-state") == "playing"
            disconnect(page)
            assert page.locator("audio").count() == 0
            assert wait_runtime_state(runtime.url, "READY") == "READY"
            page.wait_for_timeout(300)
            print(f"playground analyser: before {before}, after {after}, meter {level} dBFS")
            assert abs(before["hz"] - 440) < TOLERANCE_HZ and before["db"] > MIN_DB, before
            assert abs(after["hz"] - 1000) < TOLERANCE_HZ and after["db"] > MIN_DB, after
            assert before["paused"] is False and after["paused"] is False
            assert level is not None and level > -30, level  # a 0.4 sine is about -11 dBFS
            assert log.errors() == [], log.errors()
            assert page.locator("#error").is_hidden()
    finally:
        runtime.stop()


#: play() of <audio> refuses once, as an autoplay policy does without a click
REFUSE_FIRST_PLAY = """(() => {
  const play = HTMLMediaElement.prototype.play;
  let refused = false;
  HTMLMediaElement.prototype.play = function () {
    if (this instanceof HTMLAudioElement && !refused) {
      refused = true;
      return Promise.reject(new DOMException("play() needs a user gesture", "NotAllowedError"));
    }
    return play.call(this);
  };
})();"""


def test_a_refused_autoplay_leaves_a_play_button() -> None:
    runtime = Runtime("--model", "tone")
    try:
        with audio_page(f"{runtime.url}/", init_script=REFUSE_FIRST_PLAY) as (page, log):
            connect(page)
            page.wait_for_selector('#audio-toggle[data-state="paused"]', timeout=TIMEOUT_MS)
            assert page.inner_text("#audio-toggle") == "Play audio"
            assert "press Play audio" in page.inner_text("#audio-tracks")
            page.click("#audio-toggle")
            wait_playing(page, "main_audio")
            page.wait_for_selector('#audio-toggle[data-state="playing"]', timeout=TIMEOUT_MS)
            assert page.inner_text("#audio-toggle") == "Mute"
            disconnect(page)
            assert wait_runtime_state(runtime.url, "READY") == "READY"
            page.wait_for_timeout(300)
            assert log.errors() == [], log.errors()
    finally:
        runtime.stop()


def test_echo_returns_the_published_tone() -> None:
    """The synthetic source publishes a 660 Hz tone on ``mic``; it plays back on ``speaker``."""
    runtime = Runtime("--model", "echo", "--fps", "15")
    try:
        with audio_page(f"{runtime.url}/") as (page, log):
            page.select_option("#source", "canvas")
            connect(page)
            wait_log(page, "sent", "published mic (tone)")
            wait_log(page, "sent", "published webcam (canvas)")
            wait_playing(page, "speaker")
            page.evaluate(TAP, "speaker")
            back = settle_on(page, SYNTHETIC_HZ)
            assert page.locator("#input-levels li").count() == 1
            disconnect(page)
            assert wait_runtime_state(runtime.url, "READY") == "READY"
            page.wait_for_timeout(300)
            print(f"echo speaker analyser: {back}")
            assert abs(back["hz"] - SYNTHETIC_HZ) < TOLERANCE_HZ and back["db"] > MIN_DB, back
            assert log.errors() == [], log.errors()
            assert page.locator("#error").is_hidden()
    finally:
        runtime.stop()


def test_echo_publishes_the_fake_microphone() -> None:
    """Chromium's fake microphone (granted without a prompt) is published on ``mic``."""
    runtime = Runtime("--model", "echo", "--fps", "15")
    try:
        with audio_page(f"{runtime.url}/") as (page, log):
            page.select_option("#source", "camera")
            connect(page)
            wait_log(page, "sent", "published mic (microphone)")
            wait_playing(page, "speaker")
            disconnect(page)
            assert wait_runtime_state(runtime.url, "READY") == "READY"
            page.wait_for_timeout(300)
            assert log.errors() == [], log.errors()
            assert page.locator("#error").is_hidden()
    finally:
        runtime.stop()
