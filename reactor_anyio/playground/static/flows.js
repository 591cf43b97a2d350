// How a session is obtained before the transport: the local flow (`POST /start_session`,
// docs/protocol 4) or the production flow (`POST /tokens` with the key the user typed,
// `POST /sessions`, then the readiness poll of `GET /sessions/{id}`, docs/protocol 3), plus
// the answer munging of 5.7.  The key is only sent to `/tokens`; nothing keeps it.

import { PlaygroundError, requestJson, sleep } from "./util.js";

export const CLIENT_INFO = { sdk_version: "0.1.0", sdk_type: "playground" };
export const API_HEADERS = { "Reactor-API-Version": "1", "Reactor-API-Accept-Version": "1" };
const SESSION_DEADLINE_MS = 180000;

/** `{session, sessionId, ownsSession}` from the local runtime. */
export async function startLocal({ base, signal }) {
  const { body } = await requestJson(`${base}/start_session`, { method: "POST", body: {}, signal });
  // A session another client is streaming is joined, not owned: leaving it must not end it
  // (the local start is idempotent, docs/protocol 4.1).
  return { session: body, sessionId: body.session_id, ownsSession: body.state !== "STREAMING" };
}

/** The session descriptor once a GPU took it; `headers(kind, jwt)` gives the request
 * headers for the token, `onCreated(slim)` hears of the created session. */
export async function startProduction({ base, model, apiKey, signal, headers, onCreated }) {
  if (!apiKey) throw new PlaygroundError("local", "INVALID_ARGUMENT", "an API key is needed");
  const token = await requestJson(`${base}/tokens`, {
    method: "POST", headers: { "Reactor-API-Key": apiKey }, accept: [200, 201], signal });
  if (!token.body || typeof token.body.jwt !== "string" || !token.body.jwt) {
    throw new PlaygroundError("api", "AUTHENTICATION_FAILED", "the token reply has no jwt");
  }
  const api = headers("api", token.body.jwt);
  const created = await requestJson(`${base}/sessions`, {
    method: "POST", headers: api, accept: [200, 201, 202], signal,
    body: { model: { name: model }, client_info: CLIENT_INFO,
            supported_transports: [{ protocol: "webrtc", version: "1.0" }] } });
  onCreated(created.body);
  const url = `${base}/sessions/${encodeURIComponent(created.body.session_id)}`;
  const deadline = performance.now() + SESSION_DEADLINE_MS;
  let wait = 50;
  for (;;) {
    const { body } = await requestJson(url, { headers: api, signal });
    if (body.capabilities && body.selected_transport) return body;
    if (["CLOSED", "INACTIVE"].includes(body.state)) {
      throw new PlaygroundError("api", "SESSION_CLOSED", `the session is ${body.state}`);
    }
    if (performance.now() > deadline) {
      throw new PlaygroundError("api", "REQUEST_TIMEOUT", "no GPU took the session in time");
    }
    await sleep(wait);
    wait = Math.min(wait * 2, 2000);
  }
}

/** Copy the first section's candidates to later sections that have none, and add
 * `a=rtcp-mux` where a section lacks it (docs/protocol 5.7). */
export function mungeAnswer(sdp) {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  const parts = sdp.split(/(?=^m=)/m);
  if (parts.length < 2) return sdp;
  const candidates = parts[1].split(eol).filter((line) => line.startsWith("a=candidate:"));
  for (let i = 1; i < parts.length; i += 1) {
    let section = parts[i];
    if (i > 1 && candidates.length && !section.includes("a=candidate:")) {
      if (!section.endsWith(eol)) section += eol;
      section += candidates.map((c) => c + eol).join("");
    }
    if (!section.includes("a=rtcp-mux")) {
      const end = section.indexOf(eol);
      section = section.slice(0, end + eol.length) + "a=rtcp-mux" + eol + section.slice(end + eol.length);
    }
    parts[i] = section;
  }
  return parts.join("");
}
