"""mkdocs hook: embed the demo's contact sheet only once the demo has written it.

``docs/index.md`` carries the marker ``<!-- contact-sheet -->``.  When
``docs/assets/contact_sheet.png`` exists the marker becomes the image; until then it becomes
a note saying how to produce it, because ``mkdocs build --strict`` fails on a broken image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MARKER = "<!-- contact-sheet -->"
SHEET = Path(__file__).resolve().parent / "assets" / "contact_sheet.png"

IMAGE = "![Contact sheet written by the demo: sampled frames with their time and prompt]" \
        "(assets/contact_sheet.png)"
NOTE = ("!!! note \"Contact sheet not generated yet\"\n"
        "    The demo writes `docs/assets/contact_sheet.png`: sampled frames, each labelled\n"
        "    with its receive time and the prompt in effect. Run `bash scripts/demo.sh` and\n"
        "    rebuild the docs to see it here.")


def contact_sheet_markdown(sheet: Path = SHEET) -> str:
    return IMAGE if sheet.exists() else NOTE


def on_page_markdown(markdown: str, **_: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, contact_sheet_markdown())
