"""The official JS SDK 2.9.0 in headless Chromium plays ``tone``'s ``main_audio``: a Web
Audio ``AnalyserNode`` on the received track finds the commanded frequency, before and
after ``set_frequency``.  Skipped without chromium/node/playwright, failed under CI."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from .harness import CHROMIUM, CHROMIUM_FLAGS, Runtime

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(180)]

TIMEOUT_MS = 20_000
#: bins of 48000 / 16384 = 2.9 Hz; Opus and the analyser's window smear a little more
TOLERANCE_HZ = 12.0

START = """async ({ url, timeoutMs }) => {
  const { Reactor } = await import("./sdk.js");
  const reactor = new Reactor({ modelName: "tone", local: true, apiUrl: url });
  const context = new AudioContext({ sampleRate: 48000 });
  await context.resume();
  const state = { tracks: [], errors: [], analyser: null, context, reactor, keep: [] };
  window.audioTest = state;
  reactor.on("error", (e) => state.errors.push(`${e.code}: ${e.message}`));
  reactor.on("trackReceived", (name, track) => {
    state.tracks.push(`${name}:${track.kind}`);
    if (track.kind !== "audio") return;
    const stream = new MediaStream([track]);
    // Chromium feeds a remote track into Web Audio only while a media element plays it
    const element = new Audio();
    element.muted = true;
    element.srcObject = stream;
    element.play().catch(() => {});
    state.keep.push(element);
    const analyser = context.createAnalyser();
    analyser.fftSize = 16384;
    analyser.smoothingTimeConstant = 0;
    context.createMediaStreamSource(stream).connect(analyser);
    state.analyser = analyser;
  });
  const started = performance.now();
  await reactor.connect();
  while (state.analyser === null && performance.now() - started < timeoutMs) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return { tracks: state.tracks, errors: state.errors, contextState: context.state };
}"""

MEASURE = """() => {
  const { analyser, context } = window.audioTest;
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  let best = 0;
  for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best] || best === 0) best = i;
  return { hz: best * context.sampleRate / analyser.fftSize, db: bins[best] };
}"""


@contextmanager
def audio_page(page_url: str) -> Iterator[Any]:
    """A headless Chromium allowed to play audio without a gesture, with the test page."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="reactor-chromium-audio-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True,
                args=[*CHROMIUM_FLAGS, "--autoplay-policy=no-user-gesture-required"],
                ignore_default_args=["--enable-automation"])
            try:
                page = context.pages[0] if context.pages else context.new_page()
                page.goto(page_url)
                page.wait_for_function("window.pageReady === true", timeout=15_000)
                yield page
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def settle_on(page: Any, hz: float, within: float = 10.0) -> dict[str, Any]:
    """The analyser's reading once it is near ``hz`` (or the last one, at the deadline)."""
    deadline = time.monotonic() + within
    while True:
        reading: dict[str, Any] = page.evaluate(MEASURE)
        if abs(reading["hz"] - hz) < TOLERANCE_HZ or time.monotonic() > deadline:
            return reading
        page.wait_for_timeout(200)


def test_js_sdk_plays_tone_at_the_commanded_frequency(page_url: str) -> None:
    runtime = Runtime("--model", "tone")
    try:
        with audio_page(page_url) as page:
            started = page.evaluate(START, {"url": runtime.url, "timeoutMs": TIMEOUT_MS})
            assert started["errors"] == [], started
            assert "main_audio:audio" in started["tracks"], started
            before = settle_on(page, 440)
            page.evaluate("() => window.audioTest.reactor.sendCommand("
                          "'set_frequency', { hz: 1000 })")
            after = settle_on(page, 1000)
            page.evaluate("() => window.audioTest.reactor.disconnect()")
        print(f"JS SDK analyser: before {before}, after {after}")
        assert abs(before["hz"] - 440) < TOLERANCE_HZ and before["db"] > -70, before
        assert abs(after["hz"] - 1000) < TOLERANCE_HZ and after["db"] > -70, after
    finally:
        runtime.stop()
