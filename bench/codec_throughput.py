"""Figure 7: data-channel envelope codec throughput, stdlib ``json`` vs ``orjson``.

``reactor_proto.jsonfields`` picks ``orjson`` when it is importable.  To compare both in one
run, this benchmark swaps ``jsonfields._orjson`` between the module and ``None`` trial by
trial (ABBA order), timing the three codec entry points a session uses per message:
``encode_command`` (client -> runtime), ``parse_envelope`` (runtime, strict) and
``decode_inbound`` (client, lenient).  "ours" is the core with the ``[orjson]`` extra
installed, the baseline the same core on the standard library.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from reactor_proto import jsonfields
from reactor_proto.envelope import decode_inbound, encode_command, parse_envelope

from .common import Row, abba_order, median

NAME = "codec_throughput"
TITLE = "7. core codec throughput (envelopes/s)"

#: a typical command: what a UI sends when the user types a prompt
COMMAND = "schedule_prompt"
ARGUMENTS: dict[str, Any] = {
    "prompt": "A slow dolly shot through a misty pine forest at dawn, volumetric light",
    "chunk": 12,
}
#: a typical inbound message: Helios' state broadcast
STATE_MESSAGE = (
    '{"scope":"application","data":{"type":"state","data":{"running":true,'
    '"current_frame":396,"current_chunk":12,"current_prompt":"A slow dolly shot through a '
    'misty pine forest at dawn, volumetric light","paused":false,'
    '"scheduled_prompts":{"0":"A forest","12":"A slow dolly shot","24":"Night falls"}}}}'
)


def _orjson_module() -> ModuleType | None:
    try:
        import orjson
    except ImportError:
        return None
    return orjson


@contextlib.contextmanager
def json_backend(module: ModuleType | None) -> Iterator[None]:
    """Within the block the core encodes and decodes with ``module`` (None = stdlib)."""
    saved = jsonfields._orjson
    jsonfields._orjson = module
    try:
        yield
    finally:
        jsonfields._orjson = saved


def _operations() -> dict[str, Callable[[], object]]:
    command_text = encode_command(COMMAND, ARGUMENTS)
    return {
        "encode_command": lambda: encode_command(COMMAND, ARGUMENTS),
        "parse_envelope": lambda: parse_envelope(command_text),
        "decode_inbound": lambda: decode_inbound(STATE_MESSAGE),
    }


def rate(operation: Callable[[], object], iterations: int) -> float:
    """Calls per second of ``operation`` over ``iterations`` calls."""
    start = time.perf_counter()
    for _ in range(iterations):
        operation()
    elapsed = time.perf_counter() - start
    return iterations / elapsed if elapsed > 0 else math.nan


def check_same_results() -> None:
    """Both backends must produce identical results, or the comparison means nothing."""
    module = _orjson_module()
    if module is None:
        return
    outputs = []
    for backend in (None, module):
        with json_backend(backend):
            outputs.append(tuple(op() for op in _operations().values()))
    if outputs[0] != outputs[1]:
        raise AssertionError(f"json and orjson disagree: {outputs[0]!r} != {outputs[1]!r}")


def run(quick: bool = False) -> list[Row]:
    module = _orjson_module()
    trials = 3 if quick else 9
    iterations = 3_000 if quick else 20_000
    check_same_results()
    operations = _operations()
    rates: dict[str, dict[str, list[float]]] = {op: {"ours": [], "baseline": []}
                                                for op in operations}
    for side in abba_order(trials):
        if side == "ours" and module is None:
            continue
        with json_backend(module if side == "ours" else None):
            for op_name, operation in operations.items():
                rate(operation, iterations // 10)  # warm up this backend's caches
                rates[op_name][side].append(rate(operation, iterations))
    note = "" if module is not None else "orjson is not installed: pip install '.[orjson]'"
    rows = []
    for op_name in operations:
        ours = median(rates[op_name]["ours"]) / 1000
        baseline = median(rates[op_name]["baseline"]) / 1000
        rows.append(Row(figure="7 codec", metric=f"{op_name} (orjson vs json)", unit="k/s",
                        ours=ours, baseline=baseline, baseline_name="stdlib json",
                        goal="", note=note))
    return rows
