"""Figure 9: the official clients against our runtime, v1 beside v0.

* **ours** column: the unmodified ``reactor-sdk==1.13.0`` (native libwebrtc, v1 wire) in
  ``.venv-sdk113``, driven by ``tests/interop/sdk113_client_script.py bench``;
* **baseline**: the unmodified ``reactor-sdk==0.8.0`` (aiortc, v0 wire) in ``.venv-official``,
  driven by ``bench/official_frames.py``.

Both connect to ``reactor serve --model tests.interop.v1_models:ReplyEcho`` (the echo model
plus commands that answer).  libwebrtc never gathers ICE candidates on loopback, so the
figure runs in a private network namespace (a veth pair inside it, nothing routed out; made
with ``ip netns``, so root is needed): one runtime on the veth address for 1.13.0 and one on
127.0.0.1:8080 inside the namespace for 0.8.0, which knows no other local address.  Each
trial is a fresh client process, alternating (ABBA); every figure is the median over trials.

Goals (issue 23): READY and first frame no slower than 0.8.0 against our runtime, at least
24 fps, a command's reply in under 10 ms (0.8.0 speaks v0, where commands get no reply).
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from .common import (
    OFFICIAL_PYTHON,
    REACTOR_CLI,
    REPO,
    ChildFailed,
    Row,
    abba_order,
    child_env,
    judge,
    median,
    run_child,
    stop_process,
)

sys.path.insert(0, str(REPO))  # the namespace helper lives with the interop tests
from tests.interop.netns import Namespace, namespace, unavailable_reason

NAME = "sdk_v1"
TITLE = "9. reactor-sdk 1.13.0 (v1) vs 0.8.0 (v0), both against our runtime"
MODEL = "tests.interop.v1_models:ReplyEcho"
SDK113_PYTHON = REPO / ".venv-sdk113" / "bin" / "python"
SDK113_SCRIPT = REPO / "tests" / "interop" / "sdk113_client_script.py"
PORT = 8080
FIGURE = "9 sdk v1 vs v0"


@contextmanager
def serve_in(ns: Namespace, host: str, *, model: str = MODEL,
             extra: Sequence[str] = ()) -> Iterator[None]:
    argv = [*ns.exec_prefix(), str(REACTOR_CLI), "serve", "--model", model, "--host", host,
            "--port", str(PORT), "--ice-host-address", host, *extra]
    proc = subprocess.Popen(argv, cwd=REPO, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise ChildFailed(f"reactor serve did not start: {line!r}")
        yield
    finally:
        stop_process(proc, 10)


def sdk113_trial(ns: Namespace) -> dict[str, float]:
    """One 1.13.0 process; its script prints a plain JSON line, wrapped here."""
    proc = subprocess.run([*ns.exec_prefix(), str(SDK113_PYTHON), str(SDK113_SCRIPT), "bench",
                           f"http://{ns.server_address}:{PORT}"], cwd=REPO, env=child_env(),
                          capture_output=True, text=True, timeout=90, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-10:])
        raise ChildFailed(f"1.13.0 bench exited {proc.returncode}:\n{tail}")
    import json

    result: dict[str, float] = json.loads(lines[-1])
    return result


def official_trial(ns: Namespace) -> dict[str, float]:
    result = run_child(["netns", "exec", ns.name, str(OFFICIAL_PYTHON),
                        str(REPO / "bench" / "official_frames.py"), "--model",
                        MODEL], timeout=90, python="ip")
    return {key: float(value) for key, value in result.items()}


def unavailable() -> str | None:
    reason = unavailable_reason()
    if reason is not None:
        return f"needs a network namespace: {reason}"
    if not SDK113_PYTHON.exists():
        return ("reactor-sdk 1.13.0 missing: python3 -m venv .venv-sdk113 && "
                ".venv-sdk113/bin/pip install reactor-sdk==1.13.0 numpy")
    if not OFFICIAL_PYTHON.exists():
        return ("reactor-sdk 0.8.0 missing: python3 -m venv .venv-official && "
                ".venv-official/bin/pip install reactor-sdk==0.8.0")
    return None


def run(quick: bool = False) -> list[Row]:
    why = unavailable()
    if why is not None:
        return [Row(figure=FIGURE, metric="connect -> READY", unit="ms", ours=math.nan,
                    note=why)]
    trials = 2 if quick else 6
    samples: dict[str, list[dict[str, float]]] = {"ours": [], "baseline": []}
    failures: list[str] = []
    with namespace("bench") as ns, serve_in(ns, ns.server_address), serve_in(ns, "127.0.0.1"):
        for side in abba_order(trials):
            try:
                samples[side].append(sdk113_trial(ns) if side == "ours"
                                     else official_trial(ns))
            except (ChildFailed, subprocess.SubprocessError) as exc:
                failures.append(f"{side}: {str(exc).splitlines()[-1]}")

    def med(side: str, key: str) -> float:
        return median(s[key] for s in samples[side] if key in s)

    note = f"{trials} processes each; in a network namespace"
    if failures:
        note += f"; {len(failures)} failed trial(s), first: {failures[0]}"
    baseline = "reactor-sdk 0.8.0 (v0)"
    rows = [
        judge(Row(figure=FIGURE, metric="connect -> READY", unit="ms",
                  ours=med("ours", "ready_ms"), baseline=med("baseline", "ready_ms"),
                  baseline_name=baseline, goal="<= 1.0x", note=note),
              med("ours", "ready_ms") <= med("baseline", "ready_ms")),
        judge(Row(figure=FIGURE, metric="connect -> first frame", unit="ms",
                  ours=med("ours", "first_frame_ms"),
                  baseline=med("baseline", "first_frame_ms"), baseline_name=baseline,
                  goal="<= 1.0x"),
              med("ours", "first_frame_ms") <= med("baseline", "first_frame_ms")),
        judge(Row(figure=FIGURE, metric="frames per second received", unit="fps",
                  ours=med("ours", "fps"), baseline=med("baseline", "fps"),
                  baseline_name=baseline, goal=">= 24 fps"),
              med("ours", "fps") >= 24),
        judge(Row(figure=FIGURE, metric="a command's correlated reply (median of 20)",
                  unit="ms", ours=med("ours", "reply_ms"), goal="< 10 ms",
                  note="v0 has no command replies"),
              med("ours", "reply_ms") < 10),
    ]
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
