// The protocol client of the page: the local flow (`/start_session`) or the production flow
// (`/tokens`, `/sessions`, readiness poll), then one registered WebRTC connection with the
// `control` and `data` channels, spoken with the browser's own RTCPeerConnection.
// Status follows the four documented states: disconnected, connecting, waiting, ready.

import { API_HEADERS, CLIENT_INFO, mungeAnswer, startLocal, startProduction } from "./flows.js";
import { PlaygroundError, asPlaygroundError, requestJson, sleep } from "./util.js";

const WEBRTC_HEADERS = { "Reactor-WebRTC-Version": "1.0" };
const GATHER_TIMEOUT_MS = 5000;
const ANSWER_DEADLINE_MS = 15000;
const PING_INTERVAL_MS = 5000;
const CONTROL_TIMEOUT_MS = 10000;
const PING_TEXT = JSON.stringify({ scope: "runtime", data: { type: "ping", data: {} } });

export class PlaygroundClient extends EventTarget {
  /** `mode` is `local` or `coordinator`; `base` the origin's API root (this page's). */
  constructor({ mode = "local", base = location.origin, model = null } = {}) {
    super();
    this.mode = mode;
    this.base = base.replace(/\/$/, "");
    this.model = model;
    this.status = "disconnected";
    this.jwt = null;
    this.session = null;
    this.sessionId = null;
    this.connectionId = null;
    this.pc = null;
    this.channels = {};
    this.tracks = [];
    this.transceivers = new Map();
    this.schema = null;
    this.timings = {};
    this._requests = new Map();
    this._nextRequest = 1;
    this._ping = null;
    this._abort = null;
    this.ownsSession = false;
  }

  // ---- events -----------------------------------------------------------------------------

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this._emit("status", status);
  }

  _fail(err) {
    this._emit("error", asPlaygroundError(err));
  }

  // ---- connect ---------------------------------------------------------------------------

  /** The full flow up to `ready`; `apiKey` only in the coordinator flow (exchanged for a
   * JWT through `/tokens`, like any client; it is never stored). */
  async connect({ apiKey } = {}) {
    if (this.status !== "disconnected") {
      throw new PlaygroundError("local", "INVALID_STATE", `connect: status is ${this.status}`);
    }
    const abort = new AbortController();
    this._abort = abort;
    const started = performance.now();
    this.timings = {};
    this._setStatus("connecting");
    try {
      const session = this.mode === "local" ? await this._startLocal()
        : await this._startProduction(apiKey);
      this.timings.sessionMs = performance.now() - started;
      this.session = session;
      this.tracks = (session.capabilities && session.capabilities.tracks) || [];
      this.schema = session.schema && session.schema.paths ? session.schema : null;
      this._emit("session", session);
      this._setStatus("waiting");
      await this._negotiate(started);
    } catch (err) {
      if (abort.signal.aborted) {
        throw new PlaygroundError("local", "ABORTED", "connect: disconnected by the user");
      }
      if (this.status !== "disconnected") {
        this._fail(err);
        await this.disconnect({ quiet: true });
      }
      throw asPlaygroundError(err);
    }
  }

  _transportUrl(path = "") {
    return `${this.base}/sessions/${encodeURIComponent(this.sessionId)}/transport/webrtc${path}`;
  }

  _headers(kind) {
    const auth = this.jwt ? { Authorization: `Bearer ${this.jwt}` } : {};
    return kind === "webrtc" ? { ...auth, ...WEBRTC_HEADERS } : { ...auth, ...API_HEADERS };
  }

  async _startLocal() {
    const started = await startLocal({ base: this.base, signal: this._abort.signal });
    this.sessionId = started.sessionId;
    this.ownsSession = started.ownsSession;
    return started.session;
  }

  async _startProduction(apiKey) {
    const started = await startProduction({
      base: this.base, model: this.model, apiKey, signal: this._abort.signal,
      headers: (kind, jwt) => { this.jwt = jwt; return this._headers(kind); },
      onCreated: (created) => {
        this.sessionId = created.session_id;
        this.ownsSession = true;
        this._emit("session", created);
        this._setStatus("waiting");
      } });
    return started;
  }

  async _negotiate(started) {
    const signal = this._abort.signal;
    const ice = await requestJson(this._transportUrl("/ice_servers"),
                                  { headers: this._headers("webrtc"), signal });
    const iceServers = ((ice.body && ice.body.ice_servers) || []).map((entry) => {
      const server = { urls: entry.uris };
      if (entry.credentials) {
        server.username = entry.credentials.username;
        server.credential = entry.credentials.password;
      }
      return server;
    });
    const registered = await requestJson(this._transportUrl("/connections"), {
      method: "POST", headers: this._headers("webrtc"), accept: [201], signal });
    this.connectionId = registered.body.connection_id;

    const pc = new RTCPeerConnection({ iceServers, bundlePolicy: "max-bundle" });
    this.pc = pc;
    pc.addEventListener("connectionstatechange", () => this._checkReady());
    pc.addEventListener("track", (event) => {
      const name = this._trackNameOf(event.transceiver);
      const stream = event.streams[0] || new MediaStream([event.track]);
      this._emit("track", { name, track: event.track, stream });
    });
    for (const track of this.tracks) {
      const direction = track.direction === "recvonly" ? "recvonly" : "sendonly";
      this.transceivers.set(track.name, pc.addTransceiver(track.kind, { direction }));
    }
    for (const label of ["control", "data"]) {
      const channel = pc.createDataChannel(label);
      this.channels[label] = channel;
      channel.addEventListener("open", () => this._checkReady());
      channel.addEventListener("close", () => this._channelClosed(label));
      channel.addEventListener("message", (event) => this._onMessage(label, event.data));
    }
    await pc.setLocalDescription(await pc.createOffer());
    await this._gathered(pc);
    const mapping = this.tracks.map((track) => {
      const mid = this.transceivers.get(track.name).mid;
      if (mid === null) throw new PlaygroundError("local", "INTERNAL_ERROR", `no MID for ${track.name}`);
      return { mid, name: track.name, kind: track.kind, direction:
               track.direction === "recvonly" ? "recvonly" : "sendonly" };
    });
    const path = `/connections/${this.connectionId}/sdp_params`;
    await requestJson(this._transportUrl(path), {
      method: "POST", headers: this._headers("webrtc"), accept: [202], signal,
      body: { sdp_offer: pc.localDescription.sdp, client_info: CLIENT_INFO, track_mapping: mapping } });
    const answer = await this._pollAnswer(path, signal);
    this.timings.sdpMs = performance.now() - started;
    await pc.setRemoteDescription({ type: "answer", sdp: mungeAnswer(answer) });
    this._iceStarted = performance.now();
    await this._waitReady(signal);
    this.timings.totalMs = performance.now() - started;
  }

  _gathered(pc) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, GATHER_TIMEOUT_MS);
      function done() {
        clearTimeout(timer);
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
      function check() { if (pc.iceGatheringState === "complete") done(); }
      pc.addEventListener("icegatheringstatechange", check);
    });
  }

  async _pollAnswer(path, signal) {
    const deadline = performance.now() + ANSWER_DEADLINE_MS;
    let wait = 25;
    for (;;) {
      const { status, body } = await requestJson(this._transportUrl(path), {
        headers: this._headers("webrtc"), accept: [200, 202], signal });
      if (status === 200 && body && typeof body.sdp_answer === "string") return body.sdp_answer;
      if (performance.now() + wait > deadline) {
        throw new PlaygroundError("gpu", "GPU_CONNECTION_ERROR", "no SDP answer in time");
      }
      await sleep(wait);
      wait = Math.min(wait * 2, 1000);
    }
  }

  _waitReady(signal) {
    if (this.status === "ready") return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onStatus = () => {
        if (this.status === "ready") { cleanup(); resolve(); }
        else if (this.status === "disconnected") {
          cleanup();
          reject(new PlaygroundError("gpu", "CONNECTION_FAILED", "the connection closed"));
        }
      };
      const onFailed = () => {
        if (this.pc && this.pc.connectionState === "failed") {
          cleanup();
          reject(new PlaygroundError("gpu", "CONNECTION_FAILED", "ICE/DTLS failed"));
        }
      };
      const onAbort = () => { cleanup(); reject(new PlaygroundError("local", "ABORTED", "aborted")); };
      const cleanup = () => {
        this.removeEventListener("status", onStatus);
        if (this.pc) this.pc.removeEventListener("connectionstatechange", onFailed);
        signal.removeEventListener("abort", onAbort);
      };
      this.addEventListener("status", onStatus);
      this.pc.addEventListener("connectionstatechange", onFailed);
      signal.addEventListener("abort", onAbort);
    });
  }

  _trackNameOf(transceiver) {
    for (const [name, t] of this.transceivers) if (t === transceiver) return name;
    return transceiver.mid;
  }

  /** Ready = peer connected and both channels open (docs/protocol 6.1). */
  _checkReady() {
    const pc = this.pc;
    if (!pc) return;
    if (["failed", "closed"].includes(pc.connectionState) && this.status === "ready") {
      this._fail(new PlaygroundError("gpu", "GPU_CONNECTION_ERROR",
                                     `peer connection ${pc.connectionState}`));
      this.disconnect({ quiet: true });
      return;
    }
    const open = ["control", "data"].every((l) => this.channels[l] && this.channels[l].readyState === "open");
    if (pc.connectionState === "connected" && open && this.status === "waiting") {
      if (this._iceStarted) this.timings.iceMs = performance.now() - this._iceStarted;
      this._setStatus("ready");
      this._onReady();
    }
  }

  _onReady() {
    // Outputs of a registered connection start paused: resume each one (6.7).
    for (const track of this.tracks) {
      if (track.direction === "recvonly") this.notify("resume_track", { name: track.name });
    }
    this._ping = setInterval(() => this._sendRaw("data", PING_TEXT), PING_INTERVAL_MS);
    if (!this.schema) this.sendRuntime("requestSchema", {});
  }

  _channelClosed(label) {
    if (this.status === "ready") {
      this._fail(new PlaygroundError("gpu", "GPU_CONNECTION_ERROR", `the ${label} channel closed`));
      this.disconnect({ quiet: true });
    }
  }

  // ---- messages --------------------------------------------------------------------------

  _onMessage(label, text) {
    let parsed;
    try { parsed = JSON.parse(text); } catch { parsed = text; }
    if (label === "control") {
      this._onControl(parsed);
      return;
    }
    if (parsed && typeof parsed === "object" && parsed.scope === "runtime" && parsed.data) {
      const inner = parsed.data;
      if (inner.type === "modelSchema" && inner.data && inner.data.paths) {
        this.schema = inner.data;
        this._emit("schema", this.schema);
      }
      this._emit("runtime-message", inner);
      if (inner.type === "commandRejected") {
        const d = inner.data || {};
        this._fail(new PlaygroundError("gpu", "COMMAND_REJECTED",
                                       `${d.command === null ? "command" : d.command}: ${d.reason}`));
      }
      return;
    }
    const inner = parsed && typeof parsed === "object" && parsed.scope === "application"
      ? parsed.data : parsed;
    this._emit("message", inner);
  }

  _onControl(frame) {
    if (!frame || frame.type !== "response") return;
    const pending = this._requests.get(frame.request_id);
    if (!pending) return;
    this._requests.delete(frame.request_id);
    clearTimeout(pending.timer);
    if (frame.error) {
      pending.reject(new PlaygroundError("gpu", "TRACK_PUBLISH_FAILED",
        `${frame.method}: ${frame.error.code || "UNKNOWN"} ${frame.error.message || "unknown error"}`));
    } else pending.resolve(frame.data || {});
  }

  _sendRaw(label, text) {
    const channel = this.channels[label];
    if (!channel || channel.readyState !== "open") return false;
    try { channel.send(text); return true; } catch { return false; }
  }

  _send(label, obj, what) {
    if (!this._sendRaw(label, JSON.stringify(obj))) {
      throw new PlaygroundError("local", "MESSAGE_SEND_FAILED", `${what}: the ${label} channel is not open`);
    }
  }

  notify(event, data) {
    this._sendRaw("control", JSON.stringify({ type: "notification", event, data }));
  }

  controlRequest(method, data) {
    const requestId = `ctrl_${this._nextRequest++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._requests.delete(requestId);
        reject(new PlaygroundError("gpu", "REQUEST_TIMEOUT", `${method}: no response`));
      }, CONTROL_TIMEOUT_MS);
      this._requests.set(requestId, { resolve, reject, timer });
      try {
        this._send("control", { type: "request", method, request_id: requestId, data }, method);
      } catch (err) {
        clearTimeout(timer);
        this._requests.delete(requestId);
        reject(err);
      }
    });
  }

  sendRuntime(type, data) {
    this._send("data", { scope: "runtime", data: { type, data } }, type);
  }

  /** Send a command; `uploads` maps parameter names to file references (docs/protocol 9). */
  sendCommand(name, data, uploads) {
    if (this.status !== "ready") {
      throw new PlaygroundError("local", "INVALID_STATE", `${name}: status is ${this.status}`);
    }
    const inner = { type: name, data };
    if (uploads && Object.keys(uploads).length) inner.uploads = uploads;
    this._send("data", { scope: "application", data: inner }, name);
  }

  /** Allocate, store and announce one file; returns its reference. */
  async uploadFile(file) {
    if (this.status !== "ready") {
      throw new PlaygroundError("local", "INVALID_STATE", `upload: status is ${this.status}`);
    }
    if (!file.size) throw new PlaygroundError("local", "INVALID_ARGUMENT", "upload: the file is empty");
    const name = file.name || "upload";
    const mime = file.type || "application/octet-stream";
    const slot = await requestJson(`${this.base}/sessions/${encodeURIComponent(this.sessionId)}/uploads`, {
      method: "POST", headers: this._headers("api"), accept: [200, 201],
      body: { name, size: file.size, mime_type: mime } });
    // The store is reached through this page's own origin, whatever host the URL names.
    const presigned = new URL(slot.body.presigned_url, this.base);
    const target = `${this.base}${presigned.pathname}${presigned.search}`;
    let stored;
    try {
      stored = await fetch(target, { method: "PUT", body: file, headers: { "Content-Type": mime } });
    } catch (err) {
      throw new PlaygroundError("api", "NETWORK_ERROR", `upload: ${err.message || err}`);
    }
    if (!stored.ok) {
      throw new PlaygroundError("api", "UPLOAD_FAILED", `upload: PUT answered ${stored.status}`);
    }
    const ref = { upload_id: slot.body.presigned_id, name, mime_type: mime, size: file.size };
    this.sendRuntime("fileUploaded", ref);
    return ref;
  }

  /** Ask for an input slot, then attach `track` to its transceiver (6.6). */
  async publish(name, track) {
    const transceiver = this.transceivers.get(name);
    if (!transceiver) throw new PlaygroundError("local", "INVALID_ARGUMENT", `no input track ${name}`);
    await this.controlRequest("publish_track", { name });
    await transceiver.sender.replaceTrack(track);
  }

  // ---- disconnect ------------------------------------------------------------------------

  /** Close the transport and end the session (`/stop_session` or `DELETE /sessions/{id}`). */
  async disconnect({ quiet = false } = {}) {
    if (this.status === "disconnected") return;
    const endSession = this.sessionId !== null && this.ownsSession;
    if (this._abort) this._abort.abort();
    clearInterval(this._ping);
    this._ping = null;
    for (const pending of this._requests.values()) {
      clearTimeout(pending.timer);
      pending.reject(new PlaygroundError("local", "ABORTED", "disconnected"));
    }
    this._requests.clear();
    const pc = this.pc;
    this.pc = null;
    this.status = "disconnecting";  // not one of the four: nothing is emitted for it
    for (const channel of Object.values(this.channels)) {
      try { channel.close(); } catch { /* already closed */ }
    }
    if (pc) pc.close();
    this.channels = {};
    this.transceivers = new Map();
    if (endSession) {
      try {
        if (this.mode === "local") {
          // keepalive: the request survives the page being closed (pagehide)
          await requestJson(`${this.base}/stop_session`, { method: "POST", body: {},
                                                           accept: [200, 409], keepalive: true });
        } else {
          await requestJson(`${this.base}/sessions/${encodeURIComponent(this.sessionId)}`, {
            method: "DELETE", headers: this._headers("api"), accept: [200, 202, 204, 404],
            keepalive: true });
        }
      } catch (err) {
        if (!quiet) this._fail(err);
      }
    }
    this.sessionId = null;
    this.connectionId = null;
    this.jwt = null;
    this.session = null;
    this.status = "ready-to-reset";
    this._setStatus("disconnected");
  }
}
