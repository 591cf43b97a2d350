// The playground page: status, video, audio, generated command forms, message log, stats and
// published inputs, on top of PlaygroundClient.  Model strings only ever become text.

import { AudioOutputs, watchLevel } from "./audio.js";
import { PlaygroundClient } from "./client.js";
import { commandsFrom, renderCommands } from "./forms.js";
import { inputTrack } from "./media.js";
import { connectionStats, statsRows } from "./stats.js";
import { asPlaygroundError, el, requestJson } from "./util.js";

const LOG_LIMIT = 500;
const STATS_PERIOD_MS = 2000;
const $ = (id) => document.getElementById(id);

const ui = {
  connect: $("connect"), disconnect: $("disconnect"), status: $("status"), error: $("error"),
  video: $("video"), preview: $("preview"), inputs: $("inputs"), source: $("source"),
  inputState: $("input-state"), stats: $("stats"), commands: $("commands"),
  commandsNote: $("commands-note"), log: $("log"), keyRow: $("key-row"), apiKey: $("api-key"),
  modelName: $("model-name"), inputLevels: $("input-levels"),
};

const audio = new AudioOutputs({ section: $("audio"), list: $("audio-tracks"),
                                 toggle: $("audio-toggle") });

const state = { client: null, config: { mode: "local", model: null }, statsTimer: null,
                published: [], log: [], audio };

function showError(err) {
  const error = asPlaygroundError(err);
  ui.error.textContent = error.toString();
  ui.error.hidden = false;
  addLog("error", error.toString());
}

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = "";
}

function addLog(kind, text) {
  const time = new Date().toISOString().slice(11, 23);
  state.log.push({ kind, text });
  ui.log.append(el("li", { dataset: { kind } }, `${time} ${kind} ${text}`));
  while (ui.log.childElementCount > LOG_LIMIT) ui.log.firstElementChild.remove();
  ui.log.scrollTop = ui.log.scrollHeight;
}

function describe(message) {
  if (message && typeof message === "object" && "type" in message) {
    return `${String(message.type)} ${JSON.stringify(message.data === undefined ? null : message.data)}`;
  }
  return typeof message === "string" ? message : JSON.stringify(message);
}

function setStatus(status) {
  ui.status.textContent = status;
  ui.status.dataset.status = status;
  ui.connect.disabled = status !== "disconnected";
  ui.disconnect.disabled = status === "disconnected";
  ui.apiKey.disabled = status !== "disconnected";
}

function showCommands(client) {
  const commands = commandsFrom(client.schema, client.session && client.session.capabilities);
  ui.commandsNote.textContent = commands.length ? "" : "This model declares no commands.";
  renderCommands(ui.commands, commands, (name, data, files, err) => {
    if (err) { showError(err); return; }
    sendCommand(client, name, data, files).catch(showError);
  });
}

async function sendCommand(client, name, data, files) {
  const uploads = {};
  for (const [param, file] of Object.entries(files)) {
    addLog("sent", `upload ${param} ${file.name} (${file.size} bytes)`);
    uploads[param] = await client.uploadFile(file);
  }
  client.sendCommand(name, data, uploads);
  addLog("sent", `${name} ${JSON.stringify(data)}`);
}

function renderStats(stats) {
  ui.stats.replaceChildren(...statsRows(stats).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

async function publishInputs(client) {
  const inputs = client.tracks.filter((t) => t.direction === "sendonly");
  const publishing = [];
  for (const track of inputs) {
    const media = await inputTrack(ui.source.value, track.kind);
    state.published.push(media);
    if (track.kind === "audio") {
      media.level = watchLevel(media.stream);
      ui.inputLevels.append(el("li", {}, el("code", {}, track.name), " ", media.level.node));
    } else {
      ui.preview.srcObject = media.stream;
    }
    await client.publish(track.name, media.track);
    publishing.push(`${media.source} on ${track.name}`);
    ui.inputState.textContent = `publishing ${publishing.join(", ")}`;
    addLog("sent", `published ${track.name} (${media.source})`);
  }
}

function stopInputs() {
  for (const media of state.published) {
    if (media.level) media.level.stop();
    media.stop();
  }
  state.published = [];
  ui.preview.srcObject = null;
  ui.inputLevels.replaceChildren();
  ui.inputState.textContent = "";
}

function newClient() {
  const client = new PlaygroundClient({ mode: state.config.mode, model: state.config.model });
  client.addEventListener("status", (event) => {
    setStatus(event.detail);
    addLog("status", event.detail);
    if (event.detail === "ready") {
      showCommands(client);
      publishInputs(client).catch(showError);
      state.statsTimer = setInterval(async () => {
        if (!client.pc) return;
        try { renderStats(await connectionStats(client.pc, client.timings)); } catch { /* closed */ }
      }, STATS_PERIOD_MS);
    }
    if (event.detail === "disconnected") {
      clearInterval(state.statsTimer);
      stopInputs();
      audio.clear();
      ui.video.srcObject = null;
    }
  });
  client.addEventListener("session", (event) => {
    const session = event.detail;
    const name = session.model && session.model.name;
    if (name) ui.modelName.textContent = name;
    ui.inputs.hidden = !client.tracks.some((t) => t.direction === "sendonly");
  });
  client.addEventListener("schema", () => showCommands(client));
  client.addEventListener("track", (event) => {
    if (event.detail.track.kind === "video" && !ui.video.srcObject) {
      ui.video.srcObject = event.detail.stream;
      // autoplay alone may leave a muted stream paused; a refused play() is not an error here
      ui.video.play().catch(() => {});
    }
    if (event.detail.track.kind === "audio") {
      audio.add(event.detail.name, event.detail.track);
      addLog("status", `playing audio ${event.detail.name}`);
    }
  });
  client.addEventListener("message", (event) => addLog("message", describe(event.detail)));
  client.addEventListener("runtime-message", (event) => addLog("runtime", describe(event.detail)));
  client.addEventListener("error", (event) => showError(event.detail));
  return client;
}

async function connect() {
  clearError();
  const client = newClient();
  state.client = client;
  const apiKey = state.config.mode === "coordinator" ? ui.apiKey.value.trim() : undefined;
  try {
    await client.connect({ apiKey });
  } catch (err) {
    // the client already reported it through its error event, unless it never started
    if (client.status === "disconnected" && !ui.error.textContent) showError(err);
  }
}

async function disconnect() {
  const client = state.client;
  if (client) await client.disconnect();
}

async function init() {
  try {
    const { body } = await requestJson("/playground/config.json");
    if (body && typeof body === "object") state.config = { ...state.config, ...body };
  } catch (err) {
    showError(err);
  }
  ui.keyRow.hidden = state.config.mode !== "coordinator";
  if (state.config.model) ui.modelName.textContent = state.config.model;
  ui.connect.addEventListener("click", () => { connect(); });
  ui.disconnect.addEventListener("click", () => { disconnect().catch(showError); });
  $("clear-log").addEventListener("click", () => ui.log.replaceChildren());
  window.addEventListener("pagehide", () => { if (state.client) state.client.disconnect(); });
  setStatus("disconnected");
  // for tests and the curious: the page's state, read-only by convention
  window.playground = { state, get client() { return state.client; } };
  window.pageReady = true;
}

init();
