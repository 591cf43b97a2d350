// Sound in the page: the model's audio outputs play through one <audio> element each, with a
// level meter per track, and one button plays, mutes or unmutes them all (browsers may refuse
// to start sound without a click, so the button stays visible).  Audio inputs get the
// microphone or a synthetic tone (media.js); their level shows the same way.

import { el } from "./util.js";

const METER_PERIOD_MS = 100;
const FLOOR_DB = -60;

let shared = null;

/** The page's one AudioContext, made on first use; call it first from a click, so the
 * browser lets it run. */
export function audioContext() {
  if (!shared || shared.state === "closed") shared = new AudioContext();
  if (shared.state === "suspended") shared.resume().catch(() => {});
  return shared;
}

/** A `<meter>` showing the RMS level of `stream` (dBFS, -60 to 0) and its figure as text. */
export class LevelMeter {
  constructor(stream) {
    const context = audioContext();
    this.source = context.createMediaStreamSource(stream);
    this.analyser = context.createAnalyser();
    this.analyser.fftSize = 1024;
    this.source.connect(this.analyser);
    this.samples = new Float32Array(this.analyser.fftSize);
    this.db = -Infinity;
    this.meter = el("meter", { min: 0, max: 1, low: 0.5, high: 0.9, optimum: 0.6, value: 0 });
    this.text = el("span", { className: "db" }, "silent");
    this.node = el("span", { className: "level" }, this.meter, this.text);
  }

  update() {
    this.analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const s of this.samples) sum += s * s;
    const rms = Math.sqrt(sum / this.samples.length);
    this.db = rms > 0 ? 20 * Math.log10(rms) : -Infinity;
    this.meter.value = Math.max(0, 1 - this.db / FLOOR_DB);
    this.text.textContent = this.db > FLOOR_DB ? `${this.db.toFixed(0)} dBFS` : "silent";
  }

  stop() {
    try { this.source.disconnect(); } catch { /* already */ }
  }
}

const meters = new Set();
let meterTimer = null;

function watch(meter) {
  meters.add(meter);
  if (meterTimer === null) {
    meterTimer = setInterval(() => { for (const m of meters) m.update(); }, METER_PERIOD_MS);
  }
}

function unwatch(meter) {
  meter.stop();
  meters.delete(meter);
  if (!meters.size) { clearInterval(meterTimer); meterTimer = null; }
}

/** A level meter for a published (local) stream, already updating; `stop()` ends it. */
export function watchLevel(stream) {
  const meter = new LevelMeter(stream);
  watch(meter);
  return { node: meter.node, meter, stop: () => unwatch(meter) };
}

/** The audio outputs: a row per track in `list` (name, level, playing state) and the
 * play / mute button `toggle`; `section` is shown once a track arrives. */
export class AudioOutputs {
  constructor({ section, list, toggle }) {
    this.section = section;
    this.list = list;
    this.toggle = toggle;
    this.tracks = new Map();  // name -> {element, meter, row, state}
    this.muted = false;
    toggle.addEventListener("click", () => this._onToggle());
    this._refresh();
  }

  /** Play `track` (an audio MediaStreamTrack) named `name`. */
  add(name, track) {
    if (this.tracks.has(name)) this.remove(name);
    const stream = new MediaStream([track]);
    const element = el("audio", { dataset: { track: name } });
    element.srcObject = stream;
    element.muted = this.muted;
    // Chromium feeds a remote track to Web Audio only while a media element plays it: the
    // meter reads the same stream the element plays
    const meter = new LevelMeter(stream);
    const state = el("span", { className: "note" }, "starting");
    const row = el("li", { dataset: { track: name } }, el("code", {}, name), " ", meter.node,
                   " ", state, element);
    const entry = { element, meter, row, state, stream };
    this.tracks.set(name, entry);
    this.list.append(row);
    this.section.hidden = false;
    watch(meter);
    element.addEventListener("playing", () => this._refresh());
    element.addEventListener("pause", () => this._refresh());
    this._play(entry);
  }

  remove(name) {
    const entry = this.tracks.get(name);
    if (!entry) return;
    this.tracks.delete(name);
    unwatch(entry.meter);
    entry.element.pause();
    entry.element.srcObject = null;
    entry.row.remove();
    this._refresh();
  }

  clear() {
    for (const name of [...this.tracks.keys()]) this.remove(name);
    this.section.hidden = true;
  }

  _play(entry) {
    audioContext();
    // autoplay policies may refuse sound without a click: the button then says "Play audio"
    entry.element.play().then(() => this._refresh(), () => this._refresh());
  }

  _onToggle() {
    const paused = [...this.tracks.values()].filter((e) => e.element.paused);
    if (paused.length) {
      this.muted = false;
      for (const entry of paused) { entry.element.muted = false; this._play(entry); }
    } else {
      this.muted = !this.muted;
      for (const entry of this.tracks.values()) entry.element.muted = this.muted;
    }
    this._refresh();
  }

  _refresh() {
    const entries = [...this.tracks.values()];
    const paused = entries.some((e) => e.element.paused);
    this.toggle.disabled = !entries.length;
    this.toggle.textContent = paused || !entries.length ? "Play audio"
      : (this.muted ? "Unmute" : "Mute");
    this.toggle.dataset.state = !entries.length ? "none" : paused ? "paused"
      : (this.muted ? "muted" : "playing");
    for (const entry of entries) {
      entry.state.textContent = entry.element.paused ? "paused (press Play audio)"
        : (this.muted ? "muted" : "playing");
    }
  }
}
