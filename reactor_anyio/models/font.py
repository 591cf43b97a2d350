"""A tiny embedded 5x7 bitmap font and a numpy text blitter (no font files, no PIL).

The font covers printable ASCII from space to underscore; lower-case letters are drawn as
capitals and every other character as ``?``.  Glyphs are drawn on a 6x8 cell (one column
and one row of spacing) and scaled by whole pixels.  Rendered strings are cached as boolean
masks, so drawing the same label every frame costs one masked assignment.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

GLYPH_WIDTH = 5
GLYPH_HEIGHT = 7
CELL_WIDTH = GLYPH_WIDTH + 1
CELL_HEIGHT = GLYPH_HEIGHT + 1

# Seven rows of five pixels per glyph, "#" = ink.
_GLYPH_ROWS: dict[str, str] = {
    " ": "..... ..... ..... ..... ..... ..... .....",
    "!": "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",
    '"': ".#.#. .#.#. ..... ..... ..... ..... .....",
    "#": ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",
    "$": "..#.. .#### #.#.. .###. ..#.# ####. ..#..",
    "%": "##... ##..# ...#. ..#.. .#... #..## ...##",
    "&": ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#",
    "'": "..#.. ..#.. ..... ..... ..... ..... .....",
    "(": "...#. ..#.. .#... .#... .#... ..#.. ...#.",
    ")": ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
    "*": "..... ..#.. #.#.# .###. #.#.# ..#.. .....",
    "+": "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
    ",": "..... ..... ..... ..... .##.. ..#.. .#...",
    "-": "..... ..... ..... ##### ..... ..... .....",
    ".": "..... ..... ..... ..... ..... .##.. .##..",
    "/": "..... ....# ...#. ..#.. .#... #.... .....",
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
    "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####",
    "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.",
    "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.",
    "9": ".###. #...# #...# .#### ....# ...#. .##..",
    ":": "..... .##.. .##.. ..... .##.. .##.. .....",
    ";": "..... .##.. .##.. ..... .##.. ..#.. .#...",
    "<": "...#. ..#.. .#... #.... .#... ..#.. ...#.",
    "=": "..... ..... ##### ..... ##### ..... .....",
    ">": ".#... ..#.. ...#. ....# ...#. ..#.. .#...",
    "?": ".###. #...# ....# ...#. ..#.. ..... ..#..",
    "@": ".###. #...# ....# .##.# #.#.# #.#.# .###.",
    "A": ".###. #...# #...# ##### #...# #...# #...#",
    "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.",
    "D": "###.. #..#. #...# #...# #...# #..#. ###..",
    "E": "##### #.... #.... ####. #.... #.... #####",
    "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####",
    "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.",
    "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
    "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.",
    "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.",
    "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    "[": ".###. .#... .#... .#... .#... .#... .###.",
    "\\": "..... #.... .#... ..#.. ...#. ....# .....",
    "]": ".###. ...#. ...#. ...#. ...#. ...#. .###.",
    "^": "..#.. .#.#. #...# ..... ..... ..... .....",
    "_": "..... ..... ..... ..... ..... ..... #####",
}

FIRST_CHAR = 32
_CELLS = np.zeros((len(_GLYPH_ROWS), CELL_HEIGHT, CELL_WIDTH), dtype=bool)
for _char, _rows in _GLYPH_ROWS.items():
    for _y, _row in enumerate(_rows.split()):
        _CELLS[ord(_char) - FIRST_CHAR, _y, :GLYPH_WIDTH] = [c == "#" for c in _row]
_FALLBACK = ord("?") - FIRST_CHAR

Color = tuple[int, int, int]
Mask = npt.NDArray[np.bool_]


def glyph_index(char: str) -> int:
    """Index of the glyph used to draw ``char`` (capitals for letters, ``?`` otherwise)."""
    code = ord(char.upper()) - FIRST_CHAR if len(char.upper()) == 1 else -1
    return code if 0 <= code < len(_CELLS) else _FALLBACK


def text_size(text: str, scale: int = 1) -> tuple[int, int]:
    """(width, height) in pixels of ``text`` drawn at ``scale`` (trailing spacing excluded)."""
    if not text:
        return 0, 0
    return (len(text) * CELL_WIDTH - 1) * scale, GLYPH_HEIGHT * scale


@functools.lru_cache(maxsize=512)
def text_mask(text: str, scale: int = 1) -> Mask:
    """Boolean ink mask of ``text``, shape ``(7 * scale, (6 * len - 1) * scale)``."""
    width, height = text_size(text, scale)
    if not text:
        return np.zeros((0, 0), dtype=bool)
    cells = _CELLS[[glyph_index(c) for c in text]]             # (n, 8, 6)
    strip = cells.transpose(1, 0, 2).reshape(CELL_HEIGHT, -1)  # (8, n * 6)
    strip = strip[:GLYPH_HEIGHT, : len(text) * CELL_WIDTH - 1]
    mask = strip.repeat(scale, axis=0).repeat(scale, axis=1)
    mask.setflags(write=False)  # shared through the cache
    assert mask.shape == (height, width)
    return mask


def draw_text(frame: npt.NDArray[np.uint8], text: str, x: int, y: int, *, scale: int = 1,
              color: Color = (255, 255, 255), shade: bool = False) -> int:
    """Draw ``text`` with its top-left corner at (x, y), clipped to the frame.

    ``shade`` halves the brightness of a box around the text first, so it stays readable
    on any background.  Returns the text width in pixels.
    """
    mask = text_mask(text, scale)
    height, width = mask.shape
    pad = scale if shade else 0
    frame_h, frame_w = frame.shape[:2]
    if shade:
        box = frame[max(y - pad, 0): max(y + height + pad, 0),
                    max(x - pad, 0): max(x + width + pad, 0)]
        np.right_shift(box, 1, out=box)
    top, left = max(y, 0), max(x, 0)
    bottom, right = min(y + height, frame_h), min(x + width, frame_w)
    if top < bottom and left < right:
        region = frame[top:bottom, left:right]
        region[mask[top - y: bottom - y, left - x: right - x]] = color
    return int(width)


def wrap(text: str, max_chars: int, max_lines: int) -> list[str]:
    """Greedy word wrap; an overlong word is cut; a truncated last line ends with ``...``."""
    lines: list[str] = []
    words = text.split()
    current = ""
    while words:
        word = words.pop(0)
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= max_chars:
            current = candidate
            continue
        if current:
            lines.append(current)
            words.insert(0, word)
            current = ""
        else:
            # The word alone is too long (else it would have fitted): cut it.
            lines.append(word[:max_chars])
            words.insert(0, word[max_chars:])
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(max_chars - 3, 0)] + "..."
    return lines
