"""Figure 18: connect -> READY against the OFFICIAL runtime, ours vs reactor-sdk 0.8.0.

Figure 1 times both clients against our own runtime, which has the SDP answer ready before
the first poll.  The official runtime builds its answer in the background (its media engine
creates the peer and gathers candidates after the offer arrived), so the first poll finds
nothing and the poll schedule decides when the answer is picked up: 0.8.0 sleeps 200 ms
before its second poll.  This figure measures that case (issue 20: ours <= 0.4x 0.8.0).

**The runtimes.**  ``reactor-runtime`` 3.10.0 (libwebrtc through ``reactor-webrtc``) in
``.venv-rt3``, and 2.10.1 (GStreamer webrtcbin and libnice) in ``.venv-rt``; each one present
gives its own rows, and none present skips the figure with a note.
``scripts/official_runtime.sh`` builds both.  The toy model is
``tests/interop/official_runtime_model`` (a 320x240 ramp at 30 fps).

**Isolation.**  Everything runs in a private network namespace (``tests/interop/netns.py``:
loopback plus a veth pair whose two ends stay inside, no route out), because

* 0.8.0 only knows ``http://localhost:8080`` and the namespace has its own port 8080;
* neither runtime's ICE agent gathers on loopback, so the peers meet on the veth pair
  (both clients gather on the client end; 0.8.0's aioice is pointed there by
  ``bench/official_runtime_sdk08.py``, ours by ``ice_host_addresses``);
* nothing can leave the machine whatever a runtime tries.

Neither runtime may use a STUN server (that is what made a connect take 3-8 s here: the
runtime answers only after its agent gave up on the STUN server).  Both fall back to a
public one when none is configured, so each is given one dead entry that its own ICE agent
refuses and that aiortc (both clients) skips:

* 2.10.1: ``TURN_SERVERS="bench;unused;turn:127.0.0.1:9?transport=tls"`` (webrtcbin refuses
  a TURN transport other than udp/tcp; aiortc skips it too);
* 3.10.0: ``STUN_SERVERS="stuns:127.0.0.1:9"`` (libwebrtc refuses the TLS TURN entry
  outright, so 3.x gets a ``stuns:`` one, which aiortc ignores; at worst libwebrtc queries
  the dead loopback port, and its answer does not wait for that).

**Trials.**  One discarded warm-up connect (the runtime's first peer loads its media
stack), then fresh client processes, alternating (ABBA), one connect each, timed from the
``connect()`` call to READY and to the first decoded frame; medians.  Both children load
:mod:`bench.connect_probe`, so the suite prints each step's median start and duration
side by side (which poll found the answer, ICE, DTLS, SCTP), plus "offer posted -> answer
in hand" for each client, and ours adds the core's ``connection_timings``.

**Reproduce.**  As root (the namespace needs ``ip netns``): ``bash
scripts/official_runtime.sh`` (both runtime venvs, a few minutes; 3.10.0 needs a Python >=
3.12, found on PATH or under pyenv), the 0.8.0 venv (``python3 -m venv .venv-official &&
.venv-official/bin/pip install reactor-sdk==0.8.0``), then ``python -m bench --only
official_runtime_connect`` (``--quick``: 3 processes a side instead of 10).  Without a
runtime venv the figure is one row saying so; ``tests/test_bench_smoke.py`` needs none.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from .common import (
    OFFICIAL_PYTHON,
    REPO,
    ChildFailed,
    Row,
    abba_order,
    child_env,
    emit_result,
    judge,
    median,
    run_child,
    stop_process,
)

sys.path.insert(0, str(REPO))  # the namespace helper lives with the interop tests
from tests.interop.netns import Namespace, namespace, unavailable_reason

NAME = "official_runtime_connect"
TITLE = "18. connect -> READY against the official runtime, ours vs reactor-sdk 0.8.0"
FIGURE = "18 official runtime"
PORT = 8080
URL = f"http://localhost:{PORT}"
MODEL_DIR = REPO / "tests" / "interop" / "official_runtime_model"
MODEL = "ramp"
FIRST_FRAME_LIMIT = 3.0
GOAL = 0.4


@attrs.frozen
class Runtime:
    """One official runtime: its venv, how it is started and the env that keeps it off
    STUN."""

    label: str
    python: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]

    def argv(self) -> list[str]:
        return [str(REPO / self.python), *self.args]

    def present(self) -> bool:
        return (REPO / self.python).exists()


RUNTIMES = (
    Runtime(label="reactor-runtime 3.10.0", python=".venv-rt3/bin/python",
            args=("-m", "reactor_runtime.serve"),
            env=(("HOST", "127.0.0.1"), ("PORT", str(PORT)),
                 ("STUN_SERVERS", "stuns:127.0.0.1:9"))),
    Runtime(label="reactor-runtime 2.10.1", python=".venv-rt/bin/python",
            args=("-m", "reactor_runtime.serve", "run", "--path", str(MODEL_DIR),
                  "--host", "127.0.0.1", "--port", str(PORT)),
            env=(("TURN_SERVERS", "bench;unused;turn:127.0.0.1:9?transport=tls"),)),
)


# ---- children (run inside the namespace) ----------------------------------------------------


def runtime_state(url: str) -> str | None:
    """The runtime's ``/health`` state, or None while it does not answer."""
    import json

    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
            body = json.loads(reply.read() or b"null")
    except (OSError, ValueError):
        return None
    return str(body.get("state", "")) if isinstance(body, dict) else ""


def wait_idle(url: str, within: float = 60.0) -> bool:
    """Until the runtime answers and has no session (the last trial's one closed)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (runtime_state(url) or "").lower() in ("ready", "available"):
            return True
        time.sleep(0.05)
    return False


async def connect_once(url: str, hosts: Sequence[str]) -> dict[str, Any]:
    from reactor_anyio import Reactor

    from . import connect_probe

    first_frame: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def on_frame(frame: Any) -> None:
        if not first_frame.done():
            first_frame.set_result(time.monotonic())

    reactor = Reactor(model_name=MODEL, local=True, api_url=url,
                      ice_host_addresses=tuple(hosts))
    reactor.set_frame_callback(on_frame)
    try:
        started = time.monotonic()
        await reactor.connect()
        ready = time.monotonic()
        stats = await reactor.get_stats()
        try:
            frame_at: float | None = await asyncio.wait_for(first_frame, FIRST_FRAME_LIMIT)
        except TimeoutError:
            frame_at = None
        steps = connect_probe.events(started)
        await reactor.disconnect()
    finally:
        await reactor.aclose()
    timings = stats.connection_timings if stats is not None else None
    return {"ready_ms": (ready - started) * 1000,
            "first_frame_ms": None if frame_at is None else (frame_at - started) * 1000,
            "steps": steps,
            "core_steps": dict(timings.steps) if timings is not None else {}}


def child_main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.official_runtime_connect --host-address A``: one connect of our
    client, step by step (``--wait-idle``: only wait for an idle runtime)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=URL)
    parser.add_argument("--host-address", action="append", default=[])
    parser.add_argument("--wait-idle", action="store_true")
    opts = parser.parse_args(argv)
    if opts.wait_idle:
        emit_result({"idle": wait_idle(opts.url)})
        return 0
    from . import connect_probe
    from .connect_ready import http_label

    connect_probe.install()
    started = time.monotonic()
    import reactor_anyio  # noqa: F401 - timed: what a user's first import costs
    from reactor_anyio.http import HttpClient

    import_ms = (time.monotonic() - started) * 1000
    connect_probe.wrap_http(HttpClient, "request",
                            lambda self, request, **_: http_label(request.method, request.url))
    result = asyncio.run(connect_once(opts.url, opts.host_address))
    emit_result({"ready_ms": [result["ready_ms"]], "import_ms": import_ms,
                 "connects": [result]})
    return 0


# ---- parent ---------------------------------------------------------------------------------


@contextmanager
def official_runtime(ns: Namespace, runtime: Runtime) -> Iterator[None]:
    """The runtime on 127.0.0.1:8080 inside ``ns``, stopped on exit."""
    env = {**child_env(), **dict(runtime.env)}
    proc = subprocess.Popen([*ns.exec_prefix(), *runtime.argv()], cwd=MODEL_DIR, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not in_namespace(ns, ["--wait-idle"]).get("idle"):
            raise ChildFailed(f"{runtime.label} did not come up (exit {proc.poll()})")
        yield
    finally:
        stop_process(proc, 15)


def in_namespace(ns: Namespace, argv: Sequence[str], *, python: str | None = None,
                 timeout: float = 90) -> dict[str, Any]:
    """``python argv`` inside ``ns`` (default: our module's child), its result line."""
    if python is None:
        argv = [str(REPO / ".venv" / "bin" / "python"), "-m", f"bench.{NAME}", *argv]
    else:
        argv = [python, *argv]
    return run_child(["netns", "exec", ns.name, *argv], timeout=timeout, python="ip")


def ours_trial(ns: Namespace) -> dict[str, Any]:
    return in_namespace(ns, ["--host-address", ns.client_address])


def official_trial(ns: Namespace) -> dict[str, Any]:
    return in_namespace(ns, [str(REPO / "bench" / "official_runtime_sdk08.py"),
                             "--host-address", ns.client_address],
                        python=str(OFFICIAL_PYTHON))


def answer_lines(trials: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Where the answer landed: offer posted -> answer in hand, and the polls it took."""
    names = {"ours": "ours", "baseline": "reactor-sdk 0.8.0"}
    lines = []
    for side, results in trials.items():
        waits, polls = [], []
        for trial in results:
            steps = trial["connects"][0]["steps"]
            posted = [s + d for label, s, d in steps
                      if label.startswith("HTTP POST") and label.endswith("/sdp_params")]
            gets = [(s, d) for label, s, d in steps
                    if label.startswith("HTTP GET") and label.endswith("/sdp_params")]
            if posted and gets:
                waits.append(gets[-1][0] + gets[-1][1] - posted[0])
                polls.append(float(len(gets)))
        if waits:
            lines.append(f"  {names[side]:18} offer posted -> answer in hand {median(waits):6.1f}"
                         f" ms median, {median(polls):.0f} polls")
    return lines


def measure(ns: Namespace, runtime: Runtime, trials: int) -> list[Row]:
    from .connect_ready import core_table, step_table

    results: dict[str, list[dict[str, Any]]] = {"ours": [], "baseline": []}
    failures: list[str] = []
    trial_of = {"ours": ours_trial, "baseline": official_trial}
    with official_runtime(ns, runtime):
        try:
            ours_trial(ns)  # warm-up, discarded: the runtime's first peer loads its stack
        except ChildFailed as exc:
            failures.append(f"warm-up: {str(exc).splitlines()[-1]}")
        for side in abba_order(trials):
            try:
                in_namespace(ns, ["--wait-idle"])
                results[side].append(trial_of[side](ns))
            except (ChildFailed, subprocess.SubprocessError) as exc:
                failures.append(f"{side}: {str(exc).splitlines()[-1]}")
    print("\n".join([f"against {runtime.label}: connect -> READY -> first frame, step by step:",
                     *step_table(results, 0), *answer_lines(results),
                     *core_table(results["ours"])]), flush=True)
    ready = {side: [float(r["ready_ms"][0]) for r in results[side]] for side in results}
    firsts = {side: [float(c["first_frame_ms"]) - float(c["ready_ms"]) for r in results[side]
                     for c in r["connects"][:1] if c.get("first_frame_ms") is not None]
              for side in results}
    note = "; ".join(f"{name} min-max {min(v):.0f}-{max(v):.0f} ms" for name, v in
                     (("ours", ready["ours"]), ("0.8.0", ready["baseline"])) if v)
    note += f"; {trials} processes each, in a network namespace"
    if failures:
        note += f"; {len(failures)} failed trial(s), first: {failures[0]}"
    row = Row(figure=FIGURE, metric=f"connect -> READY vs {runtime.label}", unit="ms",
              ours=median(ready["ours"]), baseline=median(ready["baseline"]),
              baseline_name="reactor-sdk 0.8.0", goal=f"<= {GOAL}x", note=note)
    frame = Row(figure=FIGURE, metric=f"READY -> first decoded frame vs {runtime.label}",
                unit="ms", ours=median(firsts["ours"]), baseline=median(firsts["baseline"]),
                baseline_name="reactor-sdk 0.8.0", goal="<= 1.0x")
    return [judge(row, row.ratio <= GOAL), judge(frame, frame.ratio <= 1.0)]


def unavailable() -> str | None:
    if not any(runtime.present() for runtime in RUNTIMES):
        return ("opt-in: no official runtime venv (.venv-rt3 or .venv-rt); "
                "bash scripts/official_runtime.sh builds them")
    if not OFFICIAL_PYTHON.exists():
        return ("reactor-sdk 0.8.0 missing: python3 -m venv .venv-official && "
                ".venv-official/bin/pip install reactor-sdk==0.8.0")
    reason = unavailable_reason()
    if reason is not None:
        return f"needs a network namespace: {reason}"
    return None


def run(quick: bool = False) -> list[Row]:
    why = unavailable()
    if why is not None:
        return [Row(figure=FIGURE, metric="connect -> READY", unit="ms", ours=math.nan,
                    note=why)]
    trials = 3 if quick else 10
    rows: list[Row] = []
    with namespace("ort") as ns:
        for runtime in RUNTIMES:
            if runtime.present():
                try:
                    rows += measure(ns, runtime, trials)
                except ChildFailed as exc:
                    rows.append(Row(figure=FIGURE, metric=f"connect -> READY vs "
                                    f"{runtime.label}", unit="ms", ours=math.nan,
                                    note=str(exc).splitlines()[-1]))
    return rows


if __name__ == "__main__":
    if os.environ.get("BENCH_FIGURE_MAIN"):
        for row in run(quick="--quick" in sys.argv):
            print(row)
        sys.exit(0)
    sys.exit(child_main())
