"""Run the fuzz harnesses: ``python fuzz/run.py --runs N [--harness NAME]``.

Each ``fuzz/harness_<name>.py`` defines ``ACCEPTED`` (a tuple of the documented exception
types) and ``one_input(data: bytes)``.  The oracle: an input is accepted, or rejected with
one of ``ACCEPTED``; any other exception, a hang (libFuzzer ``-timeout``) or a crash is a
bug.  Harnesses run one per subprocess under atheris (coverage-guided) when it is installed,
and otherwise under a seeded mutation loop so the same command works everywhere.
Seed corpora live in ``fuzz/corpus/<name>/`` and are committed; new inputs that atheris finds
go to a scratch directory, not the committed corpus.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"


def harness_names() -> list[str]:
    return sorted(p.stem.removeprefix("harness_") for p in HERE.glob("harness_*.py"))


def load_harness(name: str) -> ModuleType:
    path = HERE / f"harness_{name}.py"
    spec = importlib.util.spec_from_file_location(f"fuzz_harness_{name}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no harness named {name!r} ({path})")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(HERE.parent))
    spec.loader.exec_module(module)
    return module


def checked(module: ModuleType) -> Callable[[bytes], None]:
    accepted: tuple[type[BaseException], ...] = module.ACCEPTED

    def run_one(data: bytes) -> None:
        with contextlib.suppress(accepted):
            module.one_input(data)

    return run_one


def seeds(name: str) -> list[bytes]:
    folder = CORPUS / name
    if not folder.is_dir():
        return [b""]
    return [p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()] or [b""]


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randint(0, len(buf))
        if op == 0 and buf:
            del buf[min(pos, len(buf) - 1)]
        elif op == 1:
            buf[pos:pos] = bytes([rng.randrange(256)])
        elif op == 2 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif op == 3:
            other = rng.choice(pool)
            start = rng.randint(0, len(other))
            buf[pos:pos] = other[start : start + rng.randint(1, 32)]
        elif op == 4:
            buf[pos:pos] = rng.choice([b"{", b"}", b"[", b"]", b'"', b",", b":", b"null",
                                       b"1e999", b"-1", b"\\u0000", b"\r\n", b"a=", b"m="])
        elif buf:
            cut = rng.randint(0, len(buf))
            buf = buf[:cut]
    return bytes(buf)


def child_main(name: str, runs: int) -> int:
    try:
        import atheris
    except ImportError:
        atheris = None
    if atheris is not None:
        # Coverage feedback for our own packages only: instrumenting everything is slow.
        with atheris.instrument_imports(include=["reactor_proto", "reactor_anyio"]):
            module = load_harness(name)
    else:
        module = load_harness(name)
    target = checked(module)
    pool = seeds(name)
    if atheris is None:
        rng = random.Random(f"{name}:{runs}")
        for data in pool:
            target(data)
        for _ in range(runs):
            target(mutate(rng, rng.choice(pool), pool))
        print(f"{name}: {runs} mutation runs, no crash (atheris not installed)")
        return 0
    scratch = tempfile.mkdtemp(prefix=f"fuzz-{name}-")
    args = [sys.argv[0], f"-runs={runs}", "-timeout=10", "-rss_limit_mb=2048",
            "-print_final_stats=1", scratch, str(CORPUS / name)]
    atheris.Setup(args, target)
    atheris.Fuzz()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--harness", choices=harness_names())
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        return child_main(opts.harness, opts.runs)
    names = [opts.harness] if opts.harness else harness_names()
    failed: list[str] = []
    for name in names:
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, __file__, "--child", "--harness", name, "--runs", str(opts.runs)],
            capture_output=True, text=True, check=False,
        )
        took = time.monotonic() - started
        execs = [ln for ln in proc.stderr.splitlines() if "stat::number_of_executed_units" in ln]
        summary = execs[-1].split(":")[-1].strip() if execs else str(opts.runs)
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        print(f"fuzz {name:<16} {status:<18} {summary:>10} execs {took:7.1f} s")
        if proc.returncode != 0:
            failed.append(name)
            sys.stdout.write(proc.stdout[-4000:])
            sys.stdout.write(proc.stderr[-8000:])
    print(f"fuzz: {len(names) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
