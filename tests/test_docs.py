"""The documentation is tested like code.

* Every fenced ``python`` block in ``docs/**/*.md`` is executed.  A block opts out only with a
  visible marker in its info string: ```` ```python title="not run: <why>" ````.
* Blocks that use ``Reactor(..., local=True)`` run against a real local runtime started here
  on a free loopback port, with ``reactor_proto.client.config.LOCAL_API_URL`` pointed at it, so
  the samples read exactly as a user writes them.  The model is the one the sample names.
* Every block runs in its own thread with a time limit, in a temporary working directory.
* ``docs/protocol/diagrams.md`` must match the machines' transition tables, and
  ``mkdocs build --strict`` must pass (skipped only when mkdocs is not installed).
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SAMPLE_TIMEOUT = 60.0
OPT_OUT = "not run:"
# Pages other engineers write; the build substitutes a stub while one is missing.
OTHERS_PAGES = ("faults.md", "benchmarks.md")
PACKAGES = ("reactor_proto", "reactor_anyio", "reactor_trio_compat")

_FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_MODEL = re.compile(r"""model_name\s*=\s*["'](\w+)["']""")


@attrs.frozen(kw_only=True)
class Sample:
    page: str
    line: int
    info: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def opted_out(self) -> bool:
        return OPT_OUT in self.info

    @property
    def needs_local_runtime(self) -> bool:
        return "Reactor(" in self.code and "local=True" in self.code

    @property
    def model(self) -> str:
        match = _MODEL.search(self.code)
        return match.group(1) if match else "helios"


def collect_samples(docs: Path = DOCS) -> list[Sample]:
    samples = []
    for path in sorted(docs.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            samples.append(Sample(page=path.relative_to(docs).as_posix(), line=line,
                                  info=match.group(1).strip(), code=match.group(2)))
    return samples


SAMPLES = collect_samples()


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- running samples -----------------------------------------------------------------------


def run_with_timeout(code: str, filename: str, timeout: float) -> None:
    """Execute ``code`` as ``__main__`` in a thread; re-raise its exception, fail on timeout."""
    compiled = compile(code, filename, "exec")
    outcome: list[BaseException] = []

    def target() -> None:
        try:
            exec(compiled, {"__name__": "__main__", "__file__": filename})
        except BaseException as exc:  # reported in the test's thread
            outcome.append(exc)

    thread = threading.Thread(target=target, name=f"docs-sample {filename}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"{filename}: still running after {timeout:g} s")
    if outcome:
        raise outcome[0]


@contextlib.contextmanager
def local_runtime(model: str) -> Iterator[str]:
    """A local runtime serving ``model`` on a free loopback port, on its own thread."""
    import anyio.from_thread

    from reactor_anyio.runtime import LocalRuntime

    with anyio.from_thread.start_blocking_portal(backend="asyncio") as portal, \
            portal.wrap_async_context_manager(LocalRuntime(model)) as runtime:
        yield str(runtime.url)


def test_samples_were_found() -> None:
    pages = {s.page for s in SAMPLES}
    assert {"index.md", "sansio.md", "guide/connecting.md", "models.md"} <= pages
    runnable = [s for s in SAMPLES if not s.opted_out]
    # Opting out is the exception: most samples must run.
    assert len(runnable) >= 3 * (len(SAMPLES) - len(runnable))


def test_collect_samples_reads_fences_and_markers(tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text(
        "# t\n\n```python\nprint(1)\n```\n\n```python title=\"not run: key\"\nx\n```\n"
        "```bash\nls\n```\n", encoding="utf-8")
    found = collect_samples(tmp_path)
    assert [(s.line, s.code, s.opted_out) for s in found] == [
        (3, "print(1)\n", False), (7, "x\n", True)]


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.id for s in SAMPLES])
def test_sample_runs(sample: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if sample.opted_out:
        pytest.skip(f"{sample.id}: {sample.info}")
    monkeypatch.chdir(tmp_path)
    filename = f"docs/{sample.id}"
    if not sample.needs_local_runtime:
        run_with_timeout(sample.code, filename, SAMPLE_TIMEOUT)
        return
    import reactor_proto.client.config

    with local_runtime(sample.model) as url:
        monkeypatch.setattr(reactor_proto.client.config, "LOCAL_API_URL", url)
        run_with_timeout(sample.code, filename, SAMPLE_TIMEOUT)


# ---- generated diagrams ------------------------------------------------------------------


def test_diagrams_are_current() -> None:
    result = subprocess.run([sys.executable, str(DOCS / "gen_diagrams.py"), "--check"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_diagram_check_detects_a_stale_file(tmp_path: Path) -> None:
    gen = _load("gen_diagrams", DOCS / "gen_diagrams.py")
    out = tmp_path / "diagrams.md"
    assert gen.main(["--check", "--output", str(out)]) == 1      # missing
    assert gen.main(["--output", str(out)]) == 0
    assert gen.main(["--check", "--output", str(out)]) == 0
    out.write_text(out.read_text(encoding="utf-8").replace("READY", "RAEDY"), encoding="utf-8")
    assert gen.main(["--check", "--output", str(out)]) == 1


def test_diagrams_follow_the_tables() -> None:
    from reactor_proto.client.phases import TRANSITIONS as CLIENT
    from reactor_proto.coordinator import TRANSITIONS as COORDINATOR
    from reactor_proto.runtime import TRANSITIONS as RUNTIME

    gen = _load("gen_diagrams", DOCS / "gen_diagrams.py")
    text = gen.render()
    for (src, trigger), dst in CLIENT.items():
        edge = f"    {src.name} --> {dst.name} : "
        line = next(li for li in text.splitlines() if li.startswith(edge))
        assert trigger.value in line.split(" : ", 1)[1].split(" / ")
    table_edges = [(s.name, t.value, d.name) for (s, t), d in RUNTIME.items()]
    table_edges += [(s.name, t.value, d.name) for (s, t), d in COORDINATOR.items()]
    for state, label, target in table_edges:
        assert any(li.startswith(f"    {state} --> {target} : ")
                   and label in li.split(" : ", 1)[1].split(" / ")
                   for li in text.splitlines())
    merged = gen.merge_edges([("A", "x", "B"), ("A", "w", "B"), ("B", "", "A")])
    assert merged == [("A", "w / x", "B"), ("B", "", "A")]


# ---- the contact-sheet hook ----------------------------------------------------------------


def test_contact_sheet_hook(tmp_path: Path) -> None:
    hooks = _load("docs_hooks", DOCS / "hooks.py")
    sheet = tmp_path / "contact_sheet.png"
    assert "Contact sheet not generated yet" in hooks.contact_sheet_markdown(sheet)
    sheet.write_bytes(b"\x89PNG")
    assert hooks.contact_sheet_markdown(sheet).startswith("![")
    assert hooks.on_page_markdown("no marker") == "no marker"
    page = hooks.on_page_markdown(f"a\n{hooks.MARKER}\nb")
    assert hooks.MARKER not in page and page.startswith("a\n") and page.endswith("\nb")


# ---- the site builds -------------------------------------------------------------------------


def _build_tree(tmp_path: Path) -> Path:
    """The config to build: the real one, or a copy with stubs for missing pages."""
    missing = [page for page in OTHERS_PAGES if not (DOCS / page).exists()]
    if not missing:
        return ROOT / "mkdocs.yml"
    tree = tmp_path / "tree"
    shutil.copytree(DOCS, tree / "docs")
    shutil.copy2(ROOT / "mkdocs.yml", tree / "mkdocs.yml")
    for package in PACKAGES:
        (tree / package).symlink_to(ROOT / package, target_is_directory=True)
    for page in missing:
        (tree / "docs" / page).write_text(f"# {page}\n\nNot written yet.\n", encoding="utf-8")
    return tree / "mkdocs.yml"


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed")
    config = _build_tree(tmp_path)
    env: dict[str, Any] = {"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(config),
         "-d", str(tmp_path / "site")],
        cwd=config.parent, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "protocol" / "diagrams" / "index.html").exists()
