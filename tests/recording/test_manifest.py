"""The /clips playlist: what the runtime builds parses back; the parser refuses what a
download could not follow; URLs resolve as §10 says."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.recording import build_playlist, parse_playlist, resolve_chunk_url, resolve_url
from reactor_proto.recording.errors import RecordingError, RecordingErrorCode
from reactor_proto.recording.manifest import MAX_PLAYLIST_BYTES, playlist_path

RID = "0b0e7c2a-1d0e-4c57-9d5f-7a1f3b2c4d5e"


def test_the_playlist_has_the_shape_of_section_10() -> None:
    text = build_playlist(RID, [(3, 4.0), (4, 1.25)], chunk_seconds=4)
    lines = text.splitlines()
    assert lines[:3] == ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:4"]
    assert f'#EXT-X-MAP:URI="/clips/chunks/{RID}/init.mp4"' in lines
    assert lines[-1] == "#EXT-X-ENDLIST"
    assert f"/clips/chunks/{RID}/chunk_00003.m4s" in lines
    playlist = parse_playlist(text.encode())
    assert [s.duration for s in playlist.segments] == [4.0, 1.25]
    assert playlist.duration == 5.25
    assert playlist.uris[0].endswith("/init.mp4")
    assert playlist.target_duration == 4


def test_a_long_chunk_raises_the_target_duration() -> None:
    assert "#EXT-X-TARGETDURATION:5" in build_playlist(RID, [(0, 4.2)], chunk_seconds=4)
    assert "https://h/clips/chunks" in build_playlist(RID, [(0, 1)], chunk_seconds=4,
                                                      base="https://h")


@given(st.lists(st.tuples(st.integers(0, 99_999), st.floats(0.001, 60)), min_size=1,
                max_size=20))
def test_build_then_parse_round_trips(chunks: list[tuple[int, float]]) -> None:
    playlist = parse_playlist(build_playlist(RID, chunks, chunk_seconds=4))
    assert len(playlist.segments) == len(chunks)
    for segment, (index, duration) in zip(playlist.segments, chunks, strict=True):
        assert segment.uri.endswith(f"chunk_{index:05d}.m4s")
        assert abs(segment.duration - duration) <= 0.0005
        assert playlist.target_duration >= segment.duration - 0.0005


GOOD = build_playlist(RID, [(0, 4.0)], chunk_seconds=4)


@pytest.mark.parametrize("body", [
    b"", b"\xff\xfe", "#EXTM3\n", GOOD.replace("#EXT-X-ENDLIST\n", ""),
    GOOD.replace("#EXT-X-MAP", "#EXT-X-NOPE"), GOOD.replace("#EXTINF:4.000,", "#EXTINF:x,"),
    GOOD.replace("#EXTINF:4.000,\n", ""), GOOD + "chunk_00009.m4s\n",
    GOOD.replace("#EXT-X-TARGETDURATION:4", "#EXT-X-TARGETDURATION:-4"),
    "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"i\"\n#EXT-X-ENDLIST\n",
    GOOD.replace("#EXTINF:4.000,", "#EXTINF:4.000,\n#EXTINF:4.000,"),
    GOOD.replace('#EXT-X-MAP:URI="', '#EXT-X-MAP:URI="a"\n#EXT-X-MAP:URI="'),
    b"#EXTM3U\n" + b"#" * MAX_PLAYLIST_BYTES,
])
def test_invalid_playlists_are_typed(body: str | bytes) -> None:
    with pytest.raises(RecordingError) as info:
        parse_playlist(body)
    assert info.value.code == RecordingErrorCode.INVALID_PLAYLIST


def test_parser_tolerates_bom_blank_lines_comments_and_crlf() -> None:
    body = "\ufeff" + GOOD.replace("\n", "\r\n\r\n").replace("#EXT-X-VERSION:7",
                                                             "# a comment\r\n#EXT-X-VERSION:7")
    assert len(parse_playlist(body).segments) == 1


def test_playlist_path_has_three_decimals() -> None:
    assert playlist_path(RID, 12, 42.00049) == f"/clips?session_id={RID}&start=12.000&end=42.000"


def test_urls_resolve_against_the_api_base() -> None:
    assert resolve_url("http://127.0.0.1:8080", "/clips?a=1") == "http://127.0.0.1:8080/clips?a=1"
    assert resolve_url("https://api.example/v1/", "/clips?a=1") == (
        "https://api.example/v1/clips?a=1")
    # an absolute URL keeps path and query, takes the base's scheme and address
    assert resolve_url("http://127.0.0.1:9000", "http://0.0.0.0:8080/clips?a=1") == (
        "http://127.0.0.1:9000/clips?a=1")
    assert resolve_url("http://h", "clips") == "http://h/clips"
    playlist = "http://127.0.0.1:8080/clips?session_id=x"
    assert resolve_chunk_url(playlist, "/clips/chunks/x/init.mp4") == (
        "http://127.0.0.1:8080/clips/chunks/x/init.mp4")
    assert resolve_chunk_url(playlist, "https://bucket.s3/x?sig=1") == "https://bucket.s3/x?sig=1"


def test_a_missing_target_duration_is_tolerated() -> None:
    playlist = parse_playlist(GOOD.replace("#EXT-X-TARGETDURATION:4\n", ""))
    assert playlist.target_duration == 4
