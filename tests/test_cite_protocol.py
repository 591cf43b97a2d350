"""``scripts/cite_protocol.py``: citations of the external protocol notes become local ones."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
OLD = "PROTOCOL" + ".md"  # split so that the script's --check never flags this file
SHARED = ".." + "/shared"
ARCH = "ARCHITECTURE" + ".md"
NOWHERE = "docs/protocol" + " §6.9"  # a citation of a section that does not exist


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cite_protocol",
                                                  ROOT / "scripts" / "cite_protocol.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cite = _load()


@pytest.mark.parametrize(("ref", "where"), [
    ("§0", ("00-sources.md", "s0")),
    ("§6.7", ("06-data-channels.md", "s6-7")),
    ("§6.8", ("06-8-wire-v1.md", "s6-8")),
    ("§6.8.12", ("06-8-wire-v1.md", "s6-8-12")),
    ("§2-§5", ("02-authentication.md", "s2")),
    ("§6.2-6.5", ("06-data-channels.md", "s6-2")),
    ("§15.9", ("15-stepped.md", "s15-9")),
    ("C", ("appendices.md", "c")),
    ("C.3", ("appendices.md", "c-3")),
    ("Appendix A", ("appendices.md", "a")),
    ("F1", ("13-fragilities.md", "f1")),
    ("F21-F22", ("13-fragilities.md", "f21")),
])
def test_locate(ref: str, where: tuple[str, str]) -> None:
    assert cite.locate(ref) == where


def test_every_section_and_fragility_has_an_anchor() -> None:
    anchors = cite.known_anchors(ROOT)
    for number in range(1, 33):
        assert f"f{number}" in anchors["13-fragilities.md"]
    for page in cite.PAGES.values():
        assert page in anchors, page
    with pytest.raises(ValueError, match="no section 16"):
        cite.locate("§16")
    with pytest.raises(ValueError, match="not a protocol reference"):
        cite.locate("chapter 3")


def test_code_citations_are_rewritten_once() -> None:
    text = (f'"""Route table ({OLD} §2-§3, §5, §9).\n\n'
            f"1000 is never used ({OLD} §5.2, F20), see {SHARED}/{OLD} C.3.\n"
            f'"""\n# rules: {SHARED}/{ARCH}\n')
    once = cite.rewrite_code(text)
    assert once == ('"""Route table (docs/protocol §2-§3, §5, §9).\n\n'
                    "1000 is never used (docs/protocol §5.2, F20), see docs/protocol C.3.\n"
                    '"""\n# rules: docs/design/core-modules.md\n')
    assert cite.rewrite_code(once) == once


def test_a_line_that_would_get_too_long_drops_the_prefix() -> None:
    line = "    " + "x" * 76 + f" ({OLD} §9) ok\n"
    assert len(line.rstrip()) <= 100
    new = cite.rewrite_code_line(line)
    assert new.endswith("x (§9) ok\n") and len(new.rstrip()) <= 100


def test_markdown_citations_become_relative_links(tmp_path: Path) -> None:
    (tmp_path / "docs" / "protocol").mkdir(parents=True)
    page = tmp_path / "fuzz" / "README.md"
    text = (f"capabilities JSON ({OLD} §7.1-7.2), notes (`{OLD}` §13), "
            f"and `{SHARED}/{OLD}`; design in `{SHARED}/{ARCH}`.\n")
    new = cite.rewrite_markdown(text, page, tmp_path)
    assert new == (
        "capabilities JSON ([§7.1-7.2](../docs/protocol/07-capabilities.md#s7-1)), notes "
        "([§13](../docs/protocol/13-fragilities.md#s13)), and "
        "[the protocol reference](../docs/protocol/index.md); design in "
        "[the core's rules](../docs/design/core-modules.md).\n")
    assert cite.rewrite_markdown(new, page, tmp_path) == new
    docs_page = tmp_path / "docs" / "migrating.md"
    assert cite.rewrite_markdown(f"({OLD} F4, F11)", docs_page, tmp_path) == \
        "([F4](protocol/13-fragilities.md#f4), [F11](protocol/13-fragilities.md#f11))"


def test_check_and_run_on_a_small_tree(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "docs" / "protocol"
    protocol.mkdir(parents=True)
    (protocol / "06-data-channels.md").write_text("## 6.7 Paused {#s6-7}\n", encoding="utf-8")
    code = tmp_path / "pkg" / "mod.py"
    code.parent.mkdir()
    code.write_text(f'"""Auto-resume ({OLD} §6.7)."""\n', encoding="utf-8")
    args = ["pkg", "--root", str(tmp_path)]
    assert cite.main([*args, "--check"]) == 1
    assert "external citation left" in capsys.readouterr().out
    assert cite.main([*args, "--dry-run"]) == 0
    assert OLD in code.read_text(encoding="utf-8")
    assert cite.main(args) == 0
    assert code.read_text(encoding="utf-8") == '"""Auto-resume (docs/protocol §6.7)."""\n'
    assert cite.main([*args, "--check"]) == 0
    code.write_text(f'"""See {NOWHERE}."""\n', encoding="utf-8")
    assert cite.main([*args, "--check"]) == 1
    assert "§6.9 is not a section" in capsys.readouterr().out


def test_where(capsys: pytest.CaptureFixture[str]) -> None:
    assert cite.main(["--where", "§6.8.4"]) == 0
    assert capsys.readouterr().out.strip() == "docs/protocol/06-8-wire-v1.md#s6-8-4"
    assert cite.main(["--where", "nonsense"]) == 2


def test_docs_and_readme_cite_only_the_local_reference() -> None:
    found = cite.problems(["README.md", "docs"], ROOT)
    assert found == []
    for page in (ROOT / "docs" / "protocol").glob("*.md"):
        assert not re.search(r"PROTOCOL\.md|shared/", page.read_text(encoding="utf-8")), page
