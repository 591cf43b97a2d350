// Small shared pieces: the error record, a safe DOM builder and JSON over fetch.
// Every string that comes from a model or a server goes into the page as text
// (textContent, attribute values), never as markup.

/** An error shaped like the SDK's ReactorError; shown as `[component:code] message`. */
export class PlaygroundError extends Error {
  constructor(component, code, message, { recoverable = false, retryAfter } = {}) {
    super(message);
    this.component = component;
    this.code = code;
    this.recoverable = recoverable;
    this.retryAfter = retryAfter;
    this.timestamp = Date.now();
  }

  toString() {
    return `[${this.component}:${this.code}] ${this.message}`;
  }
}

/** Any thrown value as a PlaygroundError (component `local` for the page's own faults). */
export function asPlaygroundError(err, component = "local", code = "INTERNAL_ERROR") {
  if (err instanceof PlaygroundError) return err;
  const message = err && err.message ? err.message : String(err);
  return new PlaygroundError(component, code, message);
}

/** `el("div", {className: "x"}, "text", child)`: properties are assigned, children are
 * nodes or strings (strings become text nodes). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const STATUS_CODES = new Map([
  [400, "BAD_REQUEST"], [401, "UNAUTHORIZED"], [403, "UNAUTHORIZED"], [404, "NOT_FOUND"],
  [409, "CONFLICT"], [422, "BAD_REQUEST"], [426, "CLIENT_VERSION_TOO_OLD"], [429, "RATE_LIMITED"],
  [501, "SERVER_VERSION_TOO_OLD"],
]);

/** The error code our clients use for an HTTP status. */
export function statusCode(status) {
  return STATUS_CODES.get(status) || (status >= 500 ? "SERVER_ERROR" : "BAD_REQUEST");
}

/** fetch + JSON. Resolves `{status, body, headers}` for the statuses in `accept`, throws a
 * PlaygroundError (component `api`) for any other answer or a network failure. */
export async function requestJson(url, { method = "GET", body, headers = {}, accept = [200],
                                         signal, keepalive = false } = {}) {
  const init = { method, headers: { ...headers }, signal, cache: "no-store", keepalive };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new PlaygroundError("api", "NETWORK_ERROR", `${method} ${url}: ${err.message || err}`,
                              { recoverable: true });
  }
  const text = await response.text();
  let parsed = null;
  if (text) {
    try { parsed = JSON.parse(text); } catch { parsed = text; }
  }
  if (!accept.includes(response.status)) {
    const detail = parsed && typeof parsed === "object" && "detail" in parsed
      ? (typeof parsed.detail === "string" ? parsed.detail : JSON.stringify(parsed.detail))
      : (typeof parsed === "string" ? parsed : response.statusText);
    const retry = Number(response.headers.get("Retry-After")) || undefined;
    throw new PlaygroundError("api", statusCode(response.status),
                              `${method} ${new URL(url, location.href).pathname}: ` +
                              `${response.status} ${detail}`,
                              { recoverable: response.status >= 500 || response.status === 429,
                                retryAfter: retry });
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
