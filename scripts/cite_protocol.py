#!/usr/bin/env python3
"""Point protocol citations at the repository's own reference, ``docs/protocol/``.

Comments, docstrings and pages used to cite an external file, ``PROTOCOL.md`` (sometimes as
``../shared/PROTOCOL.md``), that users of this repository do not have.  ``docs/protocol/``
now holds the reference, with the same section numbers (§0-§15, §6.8.x, appendices A-C) and
the same fragility numbers (F1-F32), so the rewrite is mechanical:

* in Python files (and other non-Markdown text) ``PROTOCOL.md §6.7`` becomes
  ``docs/protocol §6.7``; when that would push the line past the 100-column limit, the
  prefix is dropped instead (``§6.7``: bare section numbers refer to the same reference);
* in Markdown files every citation becomes a relative link to the page and anchor of its
  first section: ``PROTOCOL.md §7.1-7.2`` -> ``[§7.1-7.2](<rel>/07-capabilities.md#s7-1)``;
* ``../shared/ARCHITECTURE.md`` (the design rules) becomes ``docs/design/core-modules.md``.

Running it twice changes nothing.  Usage::

    python scripts/cite_protocol.py              # rewrite the default trees in place
    python scripts/cite_protocol.py --dry-run    # show what would change
    python scripts/cite_protocol.py --check      # exit 1 while a citation is left, or a
                                                 # "docs/protocol §X" names no section
    python scripts/cite_protocol.py --where §6.8.4   # -> docs/protocol/06-8-wire-v1.md#s6-8-4
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL_DIR = "docs/protocol"
DEFAULT_TARGETS = ("README.md", "docs", "reactor_proto", "reactor_anyio",
                   "reactor_trio_compat", "tests", "fuzz", "bench")
SKIP_DIRS = {".venv", ".git", "__pycache__", "corpus", "site", ".mypy_cache",
             ".ruff_cache", ".pytest_cache", ".hypothesis"}
TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".yml", ".yaml", ".cfg", ".ini", ".sh",
                 ".rst"}
LINE_LIMIT = 100

#: Top-level section -> page of docs/protocol/.
PAGES = {
    "0": "00-sources.md", "1": "01-lifecycle.md", "2": "02-authentication.md",
    "3": "03-coordinator-api.md", "4": "04-local-runtime.md", "5": "05-signalling.md",
    "6": "06-data-channels.md", "7": "07-capabilities.md", "8": "08-reconnection.md",
    "9": "09-uploads.md", "10": "10-recording.md", "11": "11-errors.md",
    "12": "12-helios.md", "13": "13-fragilities.md", "14": "14-api-surface.md",
    "15": "15-stepped.md",
}
WIRE_V1_PAGE = "06-8-wire-v1.md"
APPENDIX_PAGE = "appendices.md"
INDEX_PAGE = "index.md"
ARCHITECTURE_TARGET = "docs/design/core-modules.md"

# One reference: §6.7, § 6.2-6.5, §2-§5, C.3, Appendix C.3, Appendix B, F24, F21-F22.
_SECTION = r"§\s?\d+(?:\.\d+)*(?:\s?[-\u2013]\s?§?\d+(?:\.\d+)*)?"
_APPENDIX = r"(?:Appendix\s+[A-C](?:\.\d)?|\b[A-C]\.\d\b|\b[A-C]\b(?=[),;.]|$))"
_FRAGILITY = r"\bF\d{1,2}(?:\s?[-\u2013]\s?F\d{1,2})?\b"
_REF = rf"(?:{_SECTION}|{_APPENDIX}|{_FRAGILITY})"
_REFS = rf"{_REF}(?:\s?,\s?{_REF})*"
#: The cited file, with its optional directory and Markdown code quotes.
_FILE = r"`?(?:(?:\.\./|/work/)shared/|\.\./\.\./shared/)?PROTOCOL\.md`?"
CITATION = re.compile(rf"{_FILE}(?P<gap>[ \t]*)(?P<refs>{_REFS})?")
ARCHITECTURE = re.compile(r"`?(?:(?:\.\./|/work/)shared/)ARCHITECTURE\.md`?")
LEFTOVER = re.compile(r"PROTOCOL\.md|\.\./shared\b|/work/shared\b")
#: A rewritten code citation: "docs/protocol §6.7", "docs/protocol C.3".
CODE_CITATION = re.compile(rf"docs/protocol\s(?P<refs>{_REFS})")
ONE_REF = re.compile(_REF)
ANCHOR = re.compile(r"\{#([a-z0-9-]+)\}")


# ---- where a reference lives ---------------------------------------------------------------


def locate(ref: str) -> tuple[str, str]:
    """(page, anchor) of one reference; the anchor is "" for a whole page.

    >>> locate("§6.8.4")
    ('06-8-wire-v1.md', 's6-8-4')
    >>> locate("§2-§5")
    ('02-authentication.md', 's2')
    >>> locate("Appendix C.3")
    ('appendices.md', 'c-3')
    >>> locate("F21-F22")
    ('13-fragilities.md', 'f21')
    """
    ref = ref.strip()
    fragility = re.match(r"F(\d+)", ref)
    if fragility:
        return PAGES["13"], f"f{int(fragility.group(1))}"
    appendix = re.match(r"(?:Appendix\s+)?([A-C])(?:\.(\d))?$", ref)
    if appendix:
        letter, number = appendix.group(1).lower(), appendix.group(2)
        return APPENDIX_PAGE, f"{letter}-{number}" if number else letter
    section = re.match(r"§\s?(\d+(?:\.\d+)*)", ref)
    if not section:
        raise ValueError(f"not a protocol reference: {ref!r}")
    parts = section.group(1).split(".")
    if parts[0] not in PAGES:
        raise ValueError(f"no section {parts[0]} in the protocol reference: {ref!r}")
    page = WIRE_V1_PAGE if parts[:2] == ["6", "8"] else PAGES[parts[0]]
    return page, "s" + "-".join(parts)


def _link_target(ref: str, page_dir: str) -> str:
    page, anchor = locate(ref)
    return f"{page_dir}/{page}" + (f"#{anchor}" if anchor else "")


def _relative_protocol_dir(path: Path, root: Path) -> str:
    return Path(os.path.relpath(root / PROTOCOL_DIR, path.parent)).as_posix()


# ---- rewriting -----------------------------------------------------------------------------


def rewrite_markdown(text: str, path: Path, root: Path = ROOT) -> str:
    page_dir = _relative_protocol_dir(path, root)

    def cite(match: re.Match[str]) -> str:
        refs = match.group("refs")
        if not refs:
            return f"[the protocol reference]({page_dir}/{INDEX_PAGE})" + match.group("gap")
        pieces = []
        for one in ONE_REF.finditer(refs):
            pieces.append(f"[{one.group(0)}]({_link_target(one.group(0), page_dir)})")
        return ", ".join(pieces)

    def architecture(match: re.Match[str]) -> str:
        target = os.path.relpath(root / ARCHITECTURE_TARGET, path.parent)
        return f"[the core's rules]({Path(target).as_posix()})"

    return ARCHITECTURE.sub(architecture, CITATION.sub(cite, text))


def rewrite_code_line(line: str, limit: int = LINE_LIMIT) -> str:
    """One line of code or comment: ``PROTOCOL.md §X`` -> ``docs/protocol §X`` (or ``§X``
    when the longer form would break the line limit)."""

    def cite(match: re.Match[str]) -> str:
        refs = match.group("refs")
        return f"docs/protocol{match.group('gap')}{refs}" if refs else "docs/protocol"

    def short(match: re.Match[str]) -> str:
        refs = match.group("refs")
        return refs if refs else "docs/protocol"

    line = ARCHITECTURE.sub(ARCHITECTURE_TARGET, line)
    long = CITATION.sub(cite, line)
    if len(long.rstrip("\n")) <= limit or len(long) <= len(line):
        return long
    return CITATION.sub(short, line)


def rewrite_code(text: str) -> str:
    return "".join(rewrite_code_line(line) for line in text.splitlines(keepends=True))


def rewrite(text: str, path: Path, root: Path = ROOT) -> str:
    if path.suffix == ".md":
        return rewrite_markdown(text, path, root)
    return rewrite_code(text)


# ---- walking the tree ----------------------------------------------------------------------


def iter_files(targets: Iterable[str], root: Path = ROOT) -> Iterator[Path]:
    for target in targets:
        path = root / target
        if path.is_file():
            yield path
            continue
        if not path.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                candidate = Path(dirpath) / name
                if candidate.suffix in TEXT_SUFFIXES:
                    yield candidate


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def known_anchors(root: Path = ROOT) -> dict[str, set[str]]:
    """Page name -> the explicit ``{#id}`` anchors it defines."""
    found: dict[str, set[str]] = {}
    for page in sorted((root / PROTOCOL_DIR).glob("*.md")):
        found[page.name] = set(ANCHOR.findall(page.read_text(encoding="utf-8")))
    return found


def problems(targets: Iterable[str], root: Path = ROOT) -> list[str]:
    """Every citation of the external file left, and every ``docs/protocol §X`` that names
    no section of the reference."""
    anchors = known_anchors(root)
    found = []
    for path in iter_files(targets, root):
        text = _read(path)
        if text is None:
            continue
        shown = path.relative_to(root).as_posix()
        for number, line in enumerate(text.splitlines(), 1):
            if LEFTOVER.search(line):
                found.append(f"{shown}:{number}: external citation left: {line.strip()}")
            for match in CODE_CITATION.finditer(line):
                for one in ONE_REF.finditer(match.group("refs")):
                    try:
                        page, anchor = locate(one.group(0))
                    except ValueError as exc:
                        found.append(f"{shown}:{number}: {exc}")
                        continue
                    if anchor and anchor not in anchors.get(page, set()):
                        found.append(f"{shown}:{number}: {one.group(0)} is not a section "
                                     f"of {PROTOCOL_DIR}/{page}")
    return found


def run(targets: Iterable[str], *, dry_run: bool, root: Path = ROOT) -> int:
    """Rewrite ``targets``; returns the number of files changed (or that would be)."""
    changed = 0
    for path in iter_files(targets, root):
        text = _read(path)
        if text is None:
            continue
        new = rewrite(text, path, root)
        if new == text:
            continue
        changed += 1
        shown = path.relative_to(root).as_posix()
        for old_line, new_line in zip(text.splitlines(), new.splitlines(), strict=False):
            if old_line != new_line:
                print(f"{shown}:\n  - {old_line.strip()}\n  + {new_line.strip()}")
        if not dry_run:
            path.write_text(new, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=list(DEFAULT_TARGETS),
                        help="files or directories, relative to the repository root")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 while a citation needs work")
    parser.add_argument("--dry-run", action="store_true", help="show changes, write nothing")
    parser.add_argument("--where", metavar="REF",
                        help="print the page and anchor of one reference (§6.7, C.3, F24)")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.where:
        try:
            page, anchor = locate(args.where)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"{PROTOCOL_DIR}/{page}" + (f"#{anchor}" if anchor else ""))
        return 0
    if args.check:
        found = problems(args.paths, args.root)
        for line in found:
            print(line)
        print(f"{len(found)} citation(s) to fix" if found else "citations: all local")
        return 1 if found else 0
    changed = run(args.paths, dry_run=args.dry_run, root=args.root)
    print(f"{changed} file(s) {'would change' if args.dry_run else 'changed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
