"""Schema -> the source text of one typed SDK module (a subclass of ``Reactor``).

Pure: :func:`generate_sdk` takes a parsed document (or a :class:`ModelSchema`) and returns a
string; reading files, fetching from a runtime and writing the result are the CLI's job
(``reactor typegen``, in :mod:`reactor_anyio.typegen`).

Per command, one ``async def`` with keyword-only parameters: required ones have no default;
optional ones default to the schema's ``default`` when it is a valid scalar (and are then
always sent), otherwise to ``None``, which leaves them out of the command.  Upload
parameters accept a ``FileRef`` or anything ``upload_file`` takes (bytes, a path) and
upload it first.  The body is one ``send_command`` call, so the client validates the
arguments against the schema exactly as for a hand-written call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..capabilities import parse_capabilities
from ..errors import DecodeError
from ..schema import CommandSpec, ModelSchema, ParamSpec, parse_openapi, schema_from_capabilities
from ..schema.validate import Invalid, check
from .errors import TypegenError
from .messages import MessagePlan, decoder_source, plan_messages, record_source, variants_table
from .names import REACTOR_ATTRIBUTES, js_name, map_names
from .text import LINE_LIMIT, all_block, docstring, exploded, import_block
from .types import Annotator, Context, notes, py_literal, union

UPLOAD_SOURCES = ("bytes", "str", "PathLike[str]")
MODULE_NAMES = frozenset({"Any", "Callable", "FileRef", "Literal", "MODEL_NAME", "Mapping",
                          "PathLike", "Reactor", "Self", "TypeAlias", "TypeVar", "dataclass"})
"""Names the generated module defines or imports: no class or alias may take one."""
CONSTRUCTOR = ("model_name", "api_key", "api_url", "local")


@attrs.frozen(kw_only=True)
class NameRow:
    """One line of the name-mapping table: wire command, Python method, JS SDK method."""

    command: str
    method: str
    js: str


def load_schema(document: Any) -> ModelSchema:
    """A :class:`ModelSchema` from any published form of a model's schema.

    Accepts the OpenAPI document (§7.3), a local session descriptor holding it under
    ``schema``, a session response or capabilities object with a filled legacy ``commands``
    block (§7.2), and ``{"openapi": {...}, "legacy": {...}}`` bundles (the OpenAPI part
    wins).  A malformed document raises :class:`TypegenError` naming the command when the
    fault is inside one.
    """
    try:
        return _load(document)
    except DecodeError as exc:
        raise TypegenError(str(exc.message), command=_culprit(document)) from None


def _culprit(document: Any) -> str | None:
    """The command (or message) whose schema fails to parse on its own, if one does: a
    ``$ref`` error names the component it is in, not the command that reaches it."""
    if isinstance(document, Mapping) and isinstance(document.get("openapi"), Mapping):
        document = document["openapi"]
    if isinstance(document, Mapping) and isinstance(document.get("schema"), Mapping):
        document = document["schema"]
    if not isinstance(document, Mapping):
        return None
    for section in ("paths", "webhooks"):
        items = document.get(section)
        if not isinstance(items, Mapping):
            continue
        for key, item in items.items():
            alone = {**document, "paths": {}, "webhooks": {}, section: {key: item}}
            try:
                parse_openapi(alone)
            except DecodeError:
                operation = item.get("post") if isinstance(item, Mapping) else None
                name = operation.get("operationId") if isinstance(operation, Mapping) else None
                return str(name or key.rsplit("/", 1)[-1])
    return None


def _load(document: Any) -> ModelSchema:
    if not isinstance(document, Mapping):
        raise TypegenError(f"expected a JSON object, got {type(document).__name__}")
    if isinstance(document.get("openapi"), Mapping):
        return _load(document["openapi"])
    if "openapi" in document or isinstance(document.get("schema"), Mapping):
        return parse_openapi(dict(document))
    caps_source = document.get("capabilities", document.get("legacy", document))
    if isinstance(caps_source, Mapping) and "commands" in caps_source:
        caps = parse_capabilities(dict(caps_source))
        schema = schema_from_capabilities(caps)
        if schema is not None:
            model = document.get("model")
            title = model.get("name") if isinstance(model, Mapping) else None
            return attrs.evolve(schema, title=title or "")
    raise TypegenError("no command schema found: expected an OpenAPI document (§7.3), a "
                       "session descriptor with 'schema', or capabilities with a filled "
                       "'commands' list (§7.2)")


def name_table(schema: ModelSchema) -> list[NameRow]:
    """The command <-> Python method <-> JS SDK name rows for a schema."""
    methods = _method_names(schema)
    return [NameRow(command=name, method=methods[name], js=js_name(name))
            for name in schema.commands]


def _method_names(schema: ModelSchema) -> dict[str, str]:
    decorators = {f"on_{name}" for name in schema.messages}
    return map_names(schema.commands, kind="command", prefix="cmd_",
                     reserved=REACTOR_ATTRIBUTES | decorators | {"__init__"})


def generate_sdk(document: Any, *, class_name: str, model_name: str | None = None,
                 source: str | None = None) -> str:
    """The typed SDK module for ``document`` (anything :func:`load_schema` takes, or a
    :class:`ModelSchema`).  ``model_name`` overrides the schema's title as the constructor's
    default; ``source`` is mentioned in the module docstring (where the schema came from)."""
    schema = document if isinstance(document, ModelSchema) else load_schema(document)
    if not class_name.isidentifier() or not class_name[:1].isupper():
        raise TypegenError(f"class name {class_name!r} must be a CapWords identifier")
    if class_name in MODULE_NAMES:
        raise TypegenError(f"class name {class_name!r} is used by the generated module itself")
    model = model_name if model_name is not None else schema.title
    if not model:
        raise TypegenError("the schema does not name its model (a legacy capabilities "
                           "block has no title): give the model name explicitly")
    return _Module(schema, class_name=class_name, model=model, source=source).render()


class _Module:
    def __init__(self, schema: ModelSchema, *, class_name: str, model: str,
                 source: str | None) -> None:
        self.schema = schema
        self.class_name = class_name
        self.model = model
        self.source = source
        self.context = Context(reserved={class_name, *MODULE_NAMES})
        self.annotator = Annotator(self.context)
        self.methods = _method_names(schema)
        self.plans: list[MessagePlan] = plan_messages(list(schema.messages.values()),
                                                      reserved=self.context.reserved)

    def render(self) -> str:
        use = self.context.use
        use("reactor_anyio", "Reactor")
        use("typing", "Any")
        records: list[str] = []
        for plan in self.plans:
            for record in plan.records:
                records += [*record_source(record, self.annotator, owner=plan.wire), "", ""]
            decoder = decoder_source(plan, self.annotator)
            if decoder:
                records += [*decoder, "", ""]
        body = self._class_source()
        helpers: list[str] = []
        if self.plans:
            use("typing", "TypeVar")
            use("collections.abc", "Mapping")
            helpers = [*data_of_source(), "", ""]
        exports = [self.class_name, "MODEL_NAME", *self.context.aliases,
                   *(record.name for plan in self.plans for record in plan.records),
                   *(plan.annotation for plan in self.plans if plan.variants)]
        lines = [*self._module_doc(), "", *import_block(self.context.imports), "",
                 f"MODEL_NAME = {py_literal(self.model)}",
                 '"""The model this SDK was generated for (the constructor\'s default)."""']
        if self.plans:
            lines.append('_R = TypeVar("_R")')
        lines += self.context.alias_source()
        lines += ["", "", *helpers, *records, *body, "", "", *all_block(exports)]
        return "\n".join(lines) + "\n"

    def _module_doc(self) -> list[str]:
        where = f" from {self.source}" if self.source else ""
        summary = (f"Typed SDK for the {self.model!r} model, generated by ``reactor typegen``"
                   f"{where}. Do not edit: regenerate.")
        body = [self.schema.description] if self.schema.description else []
        body.append(f"``{self.class_name}`` is a ``Reactor`` with one method per command (each "
                    "a ``send_command`` underneath, validated against the schema) and typed "
                    "decorators for the model's messages.")
        return docstring(summary, body, indent="")

    # ---- the class -------------------------------------------------------------------------

    def _class_source(self) -> list[str]:
        summary = f"Typed client for the {self.model!r} model."
        lines = [f"class {self.class_name}(Reactor):"]
        lines += docstring(summary, [
            "Every ``Reactor`` method and decorator works unchanged; the methods below add "
            "names and types, not capabilities."], indent="    ")
        lines += ["", *exploded("def __init__", [
            "self", "model_name: str = MODEL_NAME", "api_key: str | None = None",
            "api_url: str | None = None", "local: bool = False", "**options: Any"],
            " -> None:", indent="    ")]
        lines += docstring("Same arguments as ``Reactor``; ``model_name`` defaults to "
                           "``MODEL_NAME``.", indent="        ")
        lines.append("        super().__init__(model_name, api_key, api_url, local, **options)")
        # ``Reactor.__aenter__`` is typed to return ``Reactor``: without this override
        # ``async with Model(...) as m`` would lose every typed method.
        self.context.use("typing", "Self")
        lines += ["", "    async def __aenter__(self) -> Self:"]
        lines += docstring("Enter ``async with``; the value is this typed client.",
                           indent="        ")
        lines += ["        await super().__aenter__()", "        return self"]
        for spec in self.schema.commands.values():
            lines += ["", *self._method(spec)]
        for plan in self.plans:
            lines += ["", *self._decorator(plan)]
        return lines

    def _param_names(self, spec: CommandSpec) -> dict[str, str]:
        return map_names([p.name for p in spec.params], kind="parameter", prefix="arg_",
                         reserved={"self"}, owner=spec.name)

    def _method(self, spec: CommandSpec) -> list[str]:
        method = self.methods[spec.name]
        names = self._param_names(spec)
        signature: list[str] = ["self"]
        if spec.params:
            signature.append("*")
        fields: list[str] = []
        omit_if_none: list[ParamSpec] = []
        for param in (*(p for p in spec.params if p.required),
                      *(p for p in spec.params if not p.required)):
            text, omitted = self._parameter(spec, param, names[param.name])
            signature.append(text)
            if omitted:
                omit_if_none.append(param)
            doc = self._param_doc(param, names[param.name])
            if doc:
                fields.append(doc)
        head = f"async def {method}"
        lines = ([f"    {head}(self) -> None:"] if len(signature) == 1 else
                 exploded(head, signature, " -> None:", indent="    "))
        summary = _sentence(spec.description or f"Send the {spec.name!r} command")
        sends = f"Sends the ``{spec.name}`` command (JS SDK: ``{js_name(spec.name)}``)."
        lines += docstring(summary, [sends, *fields],
                           indent="        ")
        lines += self._body(spec, names, omit_if_none)
        return lines

    def _parameter(self, spec: CommandSpec, param: ParamSpec, python: str) -> tuple[str, bool]:
        """The signature entry of one parameter, and whether None leaves it out."""
        hint = f"{_pascal(spec.name)}{_pascal(param.name)}"
        where = f"parameter {param.name!r}"
        if param.is_upload:
            self.context.use("reactor_anyio", "FileRef")
            self.context.use("os", "PathLike")
            annotation = union(["FileRef", *UPLOAD_SOURCES])
        else:
            annotation = self.annotator.annotate(param.schema, owner=spec.name, where=where,
                                                 hint=hint)
        if param.required:
            return f"{python}: {annotation}", False
        default = _usable_default(param)
        if default is not _NO_DEFAULT:
            return f"{python}: {annotation} = {py_literal(default)}", False
        return f"{python}: {union([annotation, 'None'])} = None", True

    def _param_doc(self, param: ParamSpec, python: str) -> str:
        parts = [param.description.strip().rstrip(".")] if param.description.strip() else []
        parts += notes(param.schema)
        if param.is_upload:
            parts.append("a FileRef, or bytes or a path to upload first")
        if python != param.name:
            parts.append(f"sent as {param.name!r}")
        text = "; ".join(parts)
        return f":param {python}: {text[:1].upper()}{text[1:]}." if text else ""

    def _body(self, spec: CommandSpec, names: Mapping[str, str],
              omit_if_none: Sequence[ParamSpec]) -> list[str]:
        lines: list[str] = []
        for param in spec.params:
            if param.is_upload:
                python = names[param.name]
                guard = f"{python} is not None and " if not param.required else ""
                lines += [f"        if {guard}not isinstance({python}, FileRef):",
                          f"            {python} = await self.upload_file({python})"]
        always = [p for p in spec.params if p not in omit_if_none]
        items = [f"{py_literal(p.name)}: {names[p.name]}" for p in always]
        wire = py_literal(spec.name)
        if not omit_if_none:
            call = f"        await self.send_command({wire}, {{{', '.join(items)}}})"
            if len(call) <= LINE_LIMIT:
                return [*lines, call]
            return [*lines, "        await self.send_command(", f"            {wire},",
                    "            {", *(f"                {item}," for item in items),
                    "            },", "        )"]
        var = _unused("payload", set(names.values()))
        self.context.use("typing", "Any")
        head = f"        {var}: dict[str, Any] = {{{', '.join(items)}}}"
        if len(head) <= LINE_LIMIT:
            lines.append(head)
        else:
            lines += [f"        {var}: dict[str, Any] = {{",
                      *(f"            {item}," for item in items), "        }"]
        for param in omit_if_none:
            python = names[param.name]
            lines += [f"        if {python} is not None:",
                      f"            {var}[{py_literal(param.name)}] = {python}"]
        lines.append(f"        await self.send_command({wire}, {var})")
        return lines

    def _decorator(self, plan: MessagePlan) -> list[str]:
        self.context.use("collections.abc", "Callable")
        kind = f"Callable[[{plan.annotation}], _R]"
        lines = exploded(f"def {plan.decorator}", ["self", f"func: {kind}"],
                         f" -> {kind}:", indent="    ")
        what = (f"``{plan.annotation}``" if plan.annotation != "Any"
                else "its ``data`` as received")
        summary = f"Decorator: call ``func`` with every ``{plan.wire}`` message, as {what}."
        extra = [plan.description] if plan.description else []
        if plan.variants:
            extra.append(f"The kind is read from ``data[{py_literal(plan.tag_key)}]``; kinds "
                         "this SDK does not know are skipped.")
        lines += docstring(summary, extra, indent="        ")
        lines += ["", "        def handler(message: Any) -> _R | None:"]
        if plan.records:
            lines.append(f"            data = _data_of(message, {py_literal(plan.wire)})")
        if plan.variants:
            table = variants_table(plan.wire)
            lines += ["            if data is None:", "                return None",
                      f"            decode = {table}.get(data.get("
                      f"{py_literal(plan.tag_key)}, \"\"))",
                      "            if decode is None:", "                return None",
                      "            return func(decode(data))"]
        elif plan.records:
            lines += ["            if data is None:", "                return None",
                      f"            return func({plan.annotation}.from_data(data))"]
        else:  # data that is not an object: delivered as received
            self.context.use("collections.abc", "Mapping")
            lines += ["            if not isinstance(message, Mapping) or message.get(\"type\") "
                      f"!= {py_literal(plan.wire)}:",
                      "                return None",
                      "            return func(message.get(\"data\"))"]
        lines += ["", '        self.on("message", handler)', "        return func"]
        return lines


_NO_DEFAULT: Any = object()


def _usable_default(param: ParamSpec) -> Any:
    """The schema default when it is a scalar the parameter's schema accepts."""
    if "default" not in param.schema:
        return _NO_DEFAULT
    default = param.schema["default"]
    if default is not None and not isinstance(default, str | int | float | bool):
        return _NO_DEFAULT
    if isinstance(default, float) and not math.isfinite(default):
        return _NO_DEFAULT  # no Python literal for it (and JSON has none either)
    try:
        return check(param.schema, default, param.name)
    except (Invalid, RecursionError):
        return _NO_DEFAULT


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?", ":")) else f"{text}."


def _unused(base: str, taken: set[str]) -> str:
    name = base
    while name in taken:
        name += "_"
    return name


def _pascal(name: str) -> str:
    from .names import pascal_name

    return pascal_name(name, prefix="N")


def data_of_source() -> list[str]:
    """The module's one private helper, shared by the message decorators."""
    return [
        "def _data_of(message: Any, type_: str) -> Mapping[str, Any] | None:",
        '    """The ``data`` of an application message of type ``type_``, else None."""',
        '    if isinstance(message, Mapping) and message.get("type") == type_:',
        '        data = message.get("data")',
        "        if isinstance(data, Mapping):",
        "            return data",
        "    return None",
    ]
