// One form per command, generated from the model's published schema: the OpenAPI document
// (paths["/events/<name>"].post, docs/protocol 7.3) or, failing that, the legacy command list
// of the capabilities (7.2).  Nothing here knows any particular model.  Every string from the
// schema is put in the page as text.

import { PlaygroundError, el } from "./util.js";

const UPLOAD_FORMAT = "reactor-upload-reference";

/** Follow a local `$ref` (`#/a/b`) inside `doc`. */
function resolve(doc, schema, depth = 0) {
  if (!schema || typeof schema !== "object" || depth > 16) return schema || {};
  if (typeof schema.$ref === "string" && schema.$ref.startsWith("#/")) {
    let node = doc;
    for (const part of schema.$ref.slice(2).split("/")) {
      node = node && typeof node === "object" ? node[part.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined;
    }
    const target = resolve(doc, node, depth + 1);
    return { ...target, ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== "$ref")),
             __ref: schema.$ref };
  }
  return schema;
}

/** `anyOf: [T, {type: null}]` is T, nullable. */
function unwrapNullable(doc, schema) {
  const options = schema.anyOf || schema.oneOf;
  if (Array.isArray(options)) {
    const real = options.filter((o) => !(o && o.type === "null"));
    if (real.length === 1) {
      const inner = resolve(doc, real[0]);
      return { ...inner, description: schema.description || inner.description,
               default: "default" in schema ? schema.default : inner.default, nullable: true };
    }
  }
  return schema;
}

function isUpload(schema) {
  return schema.format === UPLOAD_FORMAT || /ReactorUploadReference$/.test(schema.__ref || "");
}

/** The commands as `[{name, description, params: [{name, schema, required}]}]`. */
export function commandsFrom(openapi, capabilities) {
  const out = [];
  if (openapi && openapi.paths) {
    for (const [path, item] of Object.entries(openapi.paths)) {
      const post = item && item.post;
      if (!post || !path.startsWith("/events/")) continue;
      const name = post.operationId || path.slice("/events/".length);
      const content = post.requestBody && post.requestBody.content;
      const body = resolve(openapi, content && content["application/json"]
        ? content["application/json"].schema : {});
      const required = new Set(Array.isArray(body.required) ? body.required : []);
      const params = Object.entries(body.properties || {}).map(([param, schema]) => ({
        name: param, schema: unwrapNullable(openapi, resolve(openapi, schema)),
        required: required.has(param) }));
      out.push({ name, description: post.summary || post.description || "", params });
    }
    return out;
  }
  for (const command of (capabilities && capabilities.commands) || []) {
    const params = Object.entries(command.schema || {}).map(([param, schema]) => ({
      name: param, schema: schema || {}, required: Boolean(schema && schema.required) }));
    out.push({ name: command.name, description: command.description || "", params });
  }
  return out;
}

function typeOf(schema) {
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== "null") || "string";
  if (schema.type) return schema.type;
  if (Array.isArray(schema.enum) && schema.enum.length) {
    const kinds = new Set(schema.enum.map((v) => typeof v));
    if (kinds.size === 1) return { number: "number", boolean: "boolean" }[[...kinds][0]] || "string";
  }
  return "json";
}

/** One input element (plus how to read its value) for a parameter. */
function control(param, id) {
  const { schema } = param;
  const kind = isUpload(schema) ? "upload" : typeOf(schema);
  const common = { id, name: param.name };
  if (kind === "upload") {
    const input = el("input", { ...common, type: "file", required: param.required });
    return { input, kind, read: () => input.files[0] || null };
  }
  if (Array.isArray(schema.enum)) {
    const select = el("select", { ...common, required: param.required });
    if (!param.required) select.append(el("option", { value: "" }, "(default)"));
    schema.enum.forEach((value, index) => {
      select.append(el("option", { value: String(index),
                                   selected: "default" in schema && schema.default === value },
                        JSON.stringify(value)));
    });
    return { input: select, kind: "enum",
             read: () => (select.value === "" ? undefined : schema.enum[Number(select.value)]) };
  }
  if (kind === "boolean") {
    const input = el("input", { ...common, type: "checkbox", checked: schema.default === true });
    return { input, kind, read: () => input.checked };
  }
  if (kind === "integer" || kind === "number") {
    const input = el("input", { ...common, type: "number", required: param.required,
                                step: kind === "integer" ? "1" : "any" });
    if (typeof schema.minimum === "number") input.min = String(schema.minimum);
    if (typeof schema.maximum === "number") input.max = String(schema.maximum);
    if (typeof schema.default === "number") input.value = String(schema.default);
    return { input, kind, read: () => (input.value === "" ? undefined : Number(input.value)) };
  }
  if (kind === "string") {
    const input = el("input", { ...common, type: "text", required: param.required });
    if (typeof schema.minLength === "number") input.minLength = schema.minLength;
    if (typeof schema.maxLength === "number") input.maxLength = schema.maxLength;
    if (typeof schema.default === "string") input.value = schema.default;
    return { input, kind, read: () => (input.value === "" && !param.required ? undefined : input.value) };
  }
  // arrays, objects and anything else: JSON text
  const input = el("textarea", { ...common, rows: 2, required: param.required,
                                 placeholder: kind === "array" ? "[ ... ] (JSON)" : "JSON" });
  if ("default" in schema) input.value = JSON.stringify(schema.default);
  return { input, kind: "json", read: () => {
    if (input.value.trim() === "") return undefined;
    try { return JSON.parse(input.value); } catch (err) {
      throw new PlaygroundError("local", "INVALID_ARGUMENT", `${param.name}: not JSON (${err.message})`);
    }
  } };
}

function hint(schema) {
  const bits = [];
  if (schema.description) bits.push(schema.description);
  const type = isUpload(schema) ? "file" : typeOf(schema);
  const range = [];
  if (typeof schema.minimum === "number") range.push(`>= ${schema.minimum}`);
  if (typeof schema.maximum === "number") range.push(`<= ${schema.maximum}`);
  if (typeof schema.maxLength === "number") range.push(`at most ${schema.maxLength} chars`);
  bits.push([type, ...range].join(", "));
  if ("default" in schema) bits.push(`default ${JSON.stringify(schema.default)}`);
  return bits.join(" · ");
}

/** Build the forms into `container`; `onSubmit(name, data, files)` sends one command. */
export function renderCommands(container, commands, onSubmit) {
  container.replaceChildren();
  for (const command of commands) {
    const form = el("form", { className: "command", noValidate: false,
                              dataset: { command: command.name } });
    form.append(el("h3", {}, command.name));
    if (command.description) form.append(el("p", {}, command.description));
    const readers = [];
    for (const param of command.params) {
      const id = `cmd-${command.name}-${param.name}`.replace(/[^A-Za-z0-9_-]/g, "_");
      const made = control(param, id);
      readers.push({ param, ...made });
      const label = el("label", { htmlFor: id }, param.name,
                       param.required ? el("span", { className: "required", title: "required" }, " *") : null);
      form.append(el("div", { className: "field" }, label, made.input,
                     el("span", { className: "hint" }, hint(param.schema))));
    }
    const button = el("button", { type: "submit" }, "Send");
    form.append(button);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = {};
      const files = {};
      try {
        for (const { param, kind, read } of readers) {
          const value = read();
          if (value === undefined || value === null) {
            if (param.required) throw new PlaygroundError("local", "INVALID_ARGUMENT", `${param.name} is required`);
            continue;
          }
          if (kind === "upload") files[param.name] = value;
          else data[param.name] = value;
        }
      } catch (err) {
        onSubmit(command.name, null, null, err);
        return;
      }
      onSubmit(command.name, data, files, null);
    });
    container.append(form);
  }
}
