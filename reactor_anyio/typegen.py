"""``reactor typegen``: write a typed SDK module for a model's published schema.

    reactor typegen --url http://127.0.0.1:8080 --class HeliosModel -o helios_sdk.py
    reactor typegen --schema schema.json --class MyModel

``--url`` reads the schema from a running runtime: a bare runtime address fetches its
``GET /session`` descriptor (which carries the OpenAPI document, docs/protocol §4.3); any
other path is fetched as is and may return the OpenAPI document itself (``GET /schema`` on
newer runtimes), a descriptor, or capabilities with a filled legacy ``commands`` block.
``--schema`` reads the same from a JSON file (``-`` for stdin).  The generation itself is
:func:`reactor_proto.typegen.generate_sdk`; this module only does the I/O.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from reactor_proto.errors import ReactorError
from reactor_proto.http import parse_url
from reactor_proto.typegen import generate_sdk

FETCH_TIMEOUT = 10.0


def add_typegen_parser(subparsers: Any) -> None:
    """Add the ``typegen`` sub-command to an ``argparse`` sub-parsers object."""
    parser = subparsers.add_parser(
        "typegen", help="generate a typed SDK module from a model's command schema",
        description="Write one self-contained Python module: a Reactor subclass with one "
                    "typed method per command of the model, and typed message records.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="a running runtime (http://127.0.0.1:8080) or the URL "
                                      "of a schema document")
    source.add_argument("--schema", metavar="FILE",
                        help="a JSON file: OpenAPI document, session descriptor or "
                             "capabilities ('-' reads stdin)")
    parser.add_argument("--class", dest="class_name", required=True, metavar="NAME",
                        help="the generated class, e.g. HeliosModel")
    parser.add_argument("--model", default=None, metavar="NAME",
                        help="model_name default (default: the schema's title)")
    parser.add_argument("-o", "--output", default=None, metavar="FILE",
                        help="write the module here (default: stdout)")


async def fetch_schema(url: str) -> Any:
    """The JSON document at ``url`` (a bare runtime address means its ``/session``)."""
    from .http import HttpClient

    parsed = parse_url(url)
    if parsed.target in ("", "/"):
        url = url.rstrip("/") + "/session"
    async with HttpClient() as http:
        response = await http.request_json("GET", url, timeout=FETCH_TIMEOUT)
    if response.status != 200:
        raise ReactorError(f"GET {url}: HTTP {response.status}", status=response.status)
    return json.loads(response.body)


def _read(opts: argparse.Namespace) -> Any:
    if opts.url is not None:
        import anyio

        return anyio.run(fetch_schema, opts.url)
    if opts.schema == "-":
        return json.load(sys.stdin)
    return json.loads(Path(opts.schema).read_text(encoding="utf-8"))


def run_typegen(opts: argparse.Namespace) -> int:
    try:
        document = _read(opts)
        source = generate_sdk(document, class_name=opts.class_name, model_name=opts.model)
    except (OSError, ValueError, ReactorError) as exc:
        print(f"reactor typegen: {exc}", file=sys.stderr)
        return 1
    if opts.output is None:
        sys.stdout.write(source)
    else:
        Path(opts.output).write_text(source, encoding="utf-8")
    return 0
