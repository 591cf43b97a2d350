// What the page publishes on a model's input tracks: the camera or the microphone, or a
// synthetic source (a canvas with a moving pattern and a clock; a sine tone) when there is
// no device or the user asks for it.

import { audioContext } from "./audio.js";

/** Hertz of the synthetic tone published on audio inputs. */
export const SYNTHETIC_HZ = 660;

/** A canvas-backed video track that changes every frame; `stop()` ends its animation. */
export function syntheticTrack({ width = 640, height = 360, fps = 30 } = {}) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  const started = performance.now();
  let frame = 0;
  const draw = () => {
    const t = (performance.now() - started) / 1000;
    const hue = (t * 60) % 360;
    ctx.fillStyle = `hsl(${hue}, 70%, 35%)`;
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = `hsl(${(hue + 180) % 360}, 80%, 60%)`;
    const x = (Math.sin(t * 2) * 0.4 + 0.5) * width;
    ctx.fillRect(x - 40, height / 2 - 40, 80, 80);
    ctx.fillStyle = "#fff";
    ctx.font = "24px monospace";
    ctx.fillText(`synthetic ${t.toFixed(2)} s #${frame}`, 16, 36);
    frame += 1;
  };
  draw();
  const timer = setInterval(draw, 1000 / fps);
  const stream = canvas.captureStream(fps);
  const [track] = stream.getVideoTracks();
  const stop = () => { clearInterval(timer); track.stop(); };
  track.addEventListener("ended", () => clearInterval(timer));
  return { track, stream, stop, source: "canvas" };
}

/** A sine of `hz` from the page's AudioContext as an audio track; `stop()` ends it. */
export function syntheticAudioTrack({ hz = SYNTHETIC_HZ, gain = 0.3 } = {}) {
  const context = audioContext();
  const oscillator = new OscillatorNode(context, { frequency: hz });
  const level = new GainNode(context, { gain });
  const destination = context.createMediaStreamDestination();
  oscillator.connect(level).connect(destination);
  oscillator.start();
  const { stream } = destination;
  const [track] = stream.getAudioTracks();
  const stop = () => {
    track.stop();
    try { oscillator.stop(); oscillator.disconnect(); level.disconnect(); } catch { /* done */ }
  };
  return { track, stream, stop, source: "tone" };
}

async function microphoneTrack(source) {
  if (source !== "canvas" && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const [track] = stream.getAudioTracks();
      return { track, stream, stop: () => track.stop(), source: "microphone" };
    } catch (err) {
      if (source === "camera") throw err;
    }
  }
  return syntheticAudioTrack();
}

/** For `video`: the camera when `source` allows it and one answers, else the synthetic
 * canvas; for `audio`: the microphone, else the synthetic tone (`source` is `auto`,
 * `camera` (devices only) or `canvas` (synthetic only)). */
export async function inputTrack(source, kind = "video") {
  if (kind === "audio") return microphoneTrack(source);
  if (kind !== "video") throw new Error(`${kind} inputs are not supported by the playground`);
  if (source !== "canvas" && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 } });
      const [track] = stream.getVideoTracks();
      return { track, stream, stop: () => track.stop(), source: "camera" };
    } catch (err) {
      if (source === "camera") throw err;
    }
  }
  return syntheticTrack();
}
