"""Reference-image decoding (a parser of remote input), resizing, and the bitmap font."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from reactor_anyio.models.font import (
    GLYPH_HEIGHT,
    draw_text,
    glyph_index,
    text_mask,
    text_size,
    wrap,
)
from reactor_anyio.models.images import (
    MAX_IMAGE_BYTES,
    ImageDecodeError,
    as_rgb,
    decode_image_b64,
    decode_image_bytes,
    image_size,
    resize_nearest,
)
from reactor_proto.errors import DecodeError


def encode(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


def sample(width: int = 6, height: int = 4) -> np.ndarray:
    return np.arange(height * width * 3, dtype=np.uint8).reshape(height, width, 3)


def test_png_decodes_whole_and_as_base64() -> None:
    pixels = sample()
    data = encode(pixels)
    assert image_size(data) == ("png", 6, 4)
    assert np.array_equal(decode_image_bytes(data), pixels)
    text = base64.b64encode(data).decode()
    assert np.array_equal(decode_image_b64(text), pixels)
    wrapped = "\n".join(text[i: i + 10] for i in range(0, len(text), 10))  # MIME line breaks
    assert np.array_equal(decode_image_b64(wrapped), pixels)
    assert np.array_equal(decode_image_b64("data:image/png;base64," + text), pixels)


def test_jpeg_decodes_to_close_pixels_and_rgba_png_drops_alpha() -> None:
    flat = np.full((16, 24, 3), (200, 40, 90), dtype=np.uint8)
    decoded = decode_image_bytes(encode(flat, "JPEG"))
    assert decoded.shape == (16, 24, 3)
    assert np.abs(decoded.astype(int) - flat).max() <= 6
    rgba = np.dstack([sample(), np.full((4, 6), 128, np.uint8)])
    assert np.array_equal(decode_image_bytes(encode(rgba)), sample())


def test_png_with_trailing_garbage_still_decodes() -> None:
    # After IEND nothing is read: trailing bytes are ignored, as browsers do.
    data = encode(sample()) + b"garbage after the IEND chunk"
    assert np.array_equal(decode_image_bytes(data), sample())


def test_every_truncation_is_rejected_or_decoded_never_a_crash() -> None:
    data = encode(sample(5, 3))
    fields = set()
    for cut in range(len(data)):
        try:
            decode_image_bytes(data[:cut])
        except ImageDecodeError as exc:
            fields.add(exc.field)
    assert fields == {"image"}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "not a PNG or JPEG"),
        (b"GIF89a", "not a PNG or JPEG"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDx", "no IHDR"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR" + (0).to_bytes(4, "big") * 2, "outside the limits"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR" + (9000).to_bytes(4, "big") * 2, "outside"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR" + (5000).to_bytes(4, "big") * 2, "outside"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR" + (2).to_bytes(4, "big") * 2 + b"junk",
         "cannot decode"),
        (b"\xff\xd8\xff\xd9", "no frame header"),
        (b"\xff\xd8\xff\xe0\x00\x01abcd", "segment length 1"),
        (b"\xff\xd8\xff\xe0\x00\x04ab\x00\x00\x00\x00", "marker expected"),
        (b"\xff\xd8\xff\xff\xd0\xff\x01\xff\xdaxxxx", "no frame header"),
        (b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x02\x00\x02junk", "cannot decode"),
        (b"\xff\xd8\xff\xc0\x00\x05\x08\x00\x02", "no frame header"),
    ],
)
def test_malformed_images_raise_decode_errors(data: bytes, fragment: str) -> None:
    with pytest.raises(ImageDecodeError) as info:
        decode_image_bytes(data, field="cmd.image")
    assert fragment in info.value.message
    assert info.value.message.startswith("cmd.image: ")
    assert isinstance(info.value, DecodeError)


def test_size_limits_are_checked_before_decoding() -> None:
    with pytest.raises(ImageDecodeError, match="exceeds the limit"):
        decode_image_bytes(b"\x89PNG" + b"\0" * MAX_IMAGE_BYTES)
    with pytest.raises(ImageDecodeError, match="characters exceeds"):
        decode_image_b64("A" * (MAX_IMAGE_BYTES * 2))
    with pytest.raises(ImageDecodeError, match="not valid base64"):
        decode_image_b64("abc")
    with pytest.raises(ImageDecodeError, match="not valid base64"):
        decode_image_b64("é")


def test_decoded_size_must_match_the_checked_header() -> None:
    # A first frame header claiming 16x16 passes the limits check, but the decoder uses
    # the real (later) one: the mismatch is refused rather than trusted.
    jpeg = encode(np.zeros((8, 8, 3), np.uint8), "JPEG")
    start = jpeg.index(b"\xff\xc0")
    length = int.from_bytes(jpeg[start + 2: start + 4], "big")
    fake = bytearray(jpeg[start: start + 2 + length])
    fake[5:9] = (16).to_bytes(2, "big") * 2
    lied = jpeg[:start] + bytes(fake) + jpeg[start:]
    assert image_size(lied) == ("mjpeg", 16, 16)
    with pytest.raises(ImageDecodeError, match="decoded size 8x8 differs"):
        decode_image_bytes(lied)


@settings(max_examples=40)
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12), st.just(3))))
def test_property_png_round_trip(pixels: np.ndarray) -> None:
    text = base64.b64encode(encode(pixels)).decode()
    assert np.array_equal(decode_image_b64(text), pixels)


@given(st.binary(max_size=64))
def test_property_random_bytes_decode_or_raise_the_documented_error(data: bytes) -> None:
    for candidate in (data, b"\x89PNG\r\n\x1a\n" + data, b"\xff\xd8\xff" + data):
        try:
            pixels = decode_image_bytes(candidate)
        except ImageDecodeError:
            continue
        assert pixels.dtype == np.uint8
        assert pixels.ndim == 3


def test_resize_nearest_and_mirror() -> None:
    src = sample(4, 2)
    big = resize_nearest(src, 4, 8)
    assert big.shape == (4, 8, 3)
    assert np.array_equal(big[::2, ::2], src)
    assert np.array_equal(resize_nearest(src, 2, 4, mirror=True), src[:, ::-1])
    same = resize_nearest(src, 2, 4)
    assert np.array_equal(same, src)
    assert same is not src
    assert np.array_equal(resize_nearest(big, 2, 4), src)


def test_as_rgb_normalises_common_layouts() -> None:
    grey = np.array([[0, 255]], dtype=np.uint8)
    assert as_rgb(grey).tolist() == [[[0, 0, 0], [255, 255, 255]]]  # type: ignore[union-attr]
    rgba = np.zeros((1, 1, 4), dtype=np.uint8)
    assert as_rgb(rgba).shape == (1, 1, 3)  # type: ignore[union-attr]
    floats = np.array([[[-5.0, 300.0, np.nan]]])
    assert as_rgb(floats).tolist() == [[[0, 255, 0]]]  # type: ignore[union-attr]
    assert as_rgb(np.zeros((1, 1, 2), np.uint8)) is None
    assert as_rgb(np.zeros((0, 3, 3), np.uint8)) is None
    assert as_rgb(np.zeros((2,), np.uint8)) is None
    assert as_rgb(np.zeros((1, 1, 3), bool)) is None
    assert as_rgb(np.zeros((1, 1, 3), complex)) is None


def test_font_masks_and_sizes() -> None:
    assert text_size("", 2) == (0, 0)
    assert text_mask("").shape == (0, 0)
    assert text_size("AB", 2) == (22, 14)
    mask = text_mask("AB", 2)
    assert mask.shape == (14, 22)
    assert mask.any()
    assert not mask.flags.writeable
    assert np.array_equal(text_mask("ab"), text_mask("AB"))  # lower case drawn as capitals
    assert glyph_index("é") == glyph_index("?") == glyph_index("~")
    assert glyph_index("ß") == glyph_index("?")  # upper() is two letters
    assert not text_mask(" ").any()
    i_mask = text_mask("I")
    assert i_mask.shape == (GLYPH_HEIGHT, 5)
    assert i_mask[:, 2].all()


def test_draw_text_clips_and_shades() -> None:
    frame = np.full((10, 10, 3), 200, dtype=np.uint8)
    width = draw_text(frame, "HI", -3, 5, color=(1, 2, 3), shade=True)
    assert width == 11
    assert (frame == [1, 2, 3]).all(axis=2).any()
    assert (frame[9, 8] == 100).all()  # shaded, no ink
    assert (frame[9, 9] == 200).all()  # outside the shaded box
    untouched = np.full((4, 4, 3), 7, dtype=np.uint8)
    draw_text(untouched, "X", 50, 50)
    assert (untouched == 7).all()


@pytest.mark.parametrize(
    ("text", "max_chars", "max_lines", "lines"),
    [
        ("a b c", 3, 3, ["a b", "c"]),
        ("", 5, 2, []),
        ("abcdefgh", 3, 5, ["abc", "def", "gh"]),
        ("one two three four", 7, 2, ["one two", "thre..."]),
        ("x " * 3, 10, 1, ["x x x"]),
    ],
)
def test_wrap(text: str, max_chars: int, max_lines: int, lines: list[str]) -> None:
    assert wrap(text, max_chars, max_lines) == lines
