"""Real aiortc client and server peers negotiating over loopback in one process."""

from __future__ import annotations

import asyncio
import re
import threading
import time

import numpy as np
import pytest

from reactor_anyio.webrtc import (
    ClientPeer,
    IceConfig,
    MappedTrack,
    NdarrayVideoTrack,
    ServerPeer,
    TrackSpec,
)
from reactor_proto.errors import (
    DecodeError,
    InvalidStateError,
    LocalProtocolError,
    MessageTooLargeError,
    TransportError,
)

from .conftest import Pair, channels_open, negotiate, wait_until

pytestmark = pytest.mark.anyio

CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ (\S+)", re.MULTILINE)


def candidate_addresses(sdp: str) -> set[tuple[str, str]]:
    return set(CANDIDATE.findall(sdp))


async def test_offer_shape_and_loopback_only_candidates(pair: Pair) -> None:
    assert pair.mids == {"webcam": "0", "main_video": "1"}
    sections = pair.offer.split("m=")[1:]
    assert [s.split(" ", 1)[0] for s in sections] == ["video", "video", "application"]
    assert "a=sendonly" in sections[0]
    assert "a=recvonly" in sections[1]
    assert "a=group:BUNDLE 0 1 2" in pair.offer
    # only host candidates, only on 127.0.0.1, in both descriptions (no STUN: no srflx)
    assert candidate_addresses(pair.offer) == {("127.0.0.1", "host")}
    assert candidate_addresses(pair.answer) == {("127.0.0.1", "host")}
    # aiortc's own advertisement; the runtime core rewrites it to its configured size
    # (reactor_proto.sdp.ensure_max_message_size in RuntimeMachine.answer_created)
    assert "a=max-message-size:262144" in pair.answer
    answer_sections = pair.answer.split("m=")[1:]
    assert "a=recvonly" in answer_sections[0]
    assert "a=sendonly" in answer_sections[1]


async def test_default_codec_order_prefers_h264_then_vp8() -> None:
    client = ClientPeer([TrackSpec(name="main_video")], ice=IceConfig.loopback())
    try:
        offer, _ = await client.create_offer()
        codecs = re.findall(r"a=rtpmap:\d+ (\w+)/90000", offer)
        assert codecs[0] == "H264"
        assert codecs.index("VP8") > max(i for i, c in enumerate(codecs) if c == "H264")
    finally:
        await client.close()


async def test_exclusive_codecs_offer_only_those() -> None:
    client = ClientPeer([TrackSpec(name="main_video")], ice=IceConfig.loopback(),
                        video_codecs=("video/VP8",), exclusive_codecs=True)
    try:
        offer, _ = await client.create_offer()
        assert set(re.findall(r"a=rtpmap:\d+ (\w+)/90000", offer)) == {"VP8", "rtx"}
    finally:
        await client.close()


async def test_channels_open_in_order_and_messages_flow_both_ways(pair: Pair) -> None:
    opened = [(e[0], e[2]) for e in pair.events if e[1] == "open"]
    assert [label for side, label in opened if side == "client"] == ["control", "data"]
    assert {label for side, label in opened if side == "server"} == {"control", "data"}
    assert ("client", "state", "connected") in pair.events
    assert ("server", "track", "webcam", "video") in pair.events
    assert ("client", "track", "main_video", "video") in pair.events
    pair.client.send("data", '{"scope":"application"}')
    pair.client.send("control", b"\x00binary")
    pair.server.send("data", "from-server")
    expected = [("server", "message", "data", '{"scope":"application"}'),
                ("server", "message", "control", b"\x00binary"),
                ("client", "message", "data", "from-server")]
    await wait_until(lambda: all(e in pair.events for e in expected))


async def test_output_frames_arrive_as_rgb_and_pause_stops_them(pair: Pair) -> None:
    got: list[np.ndarray] = []
    pair.client.set_frame_callback("main_video", got.append)
    frame = np.zeros((360, 640, 3), np.uint8)
    frame[:, :, 0] = 200
    pair.server.push_frame("main_video", frame)
    # starts paused: nothing is sent until resumed
    assert pair.server.output_paused("main_video")
    await asyncio.sleep(0.3)
    assert got == []
    pair.server.set_output_paused("main_video", False)
    await wait_until(lambda: len(got) >= 30)
    assert all(a.shape == (360, 640, 3) and a.dtype == np.uint8 for a in got)
    assert abs(int(got[-1][180, 320, 0]) - 200) < 20  # red survives the codec
    pair.server.set_output_paused("main_video", True)
    await asyncio.sleep(0.2)  # frames in flight land
    count = len(got)
    await asyncio.sleep(0.4)
    assert len(got) <= count + 1
    pair.server.set_output_paused("main_video", False)
    await wait_until(lambda: len(got) >= count + 10)
    stats = await pair.client.stats()
    assert stats.tracks["main_video"].frames_received >= 40
    assert stats.packets_received > 0
    assert stats.bytes_received > 0
    assert stats.jitter is not None


async def test_frame_callback_set_before_the_offer() -> None:
    client = ClientPeer([TrackSpec(name="main_video")], ice=IceConfig.loopback(),
                        video_codecs=("video/VP8",))
    got: list[np.ndarray] = []
    client.set_frame_callback("main_video", got.append)  # before create_offer (F26)
    offer, mids = await client.create_offer()
    server = ServerPeer([MappedTrack(mid=mids["main_video"], name="main_video")],
                        ice=IceConfig.loopback())
    await client.apply_answer(await server.accept(offer))
    server.push_frame("main_video", np.zeros((64, 64, 3), np.uint8))
    server.set_output_paused("main_video", False)
    try:
        await wait_until(lambda: len(got) >= 3)
    finally:
        await client.close()
        await server.close()


async def test_frame_callback_set_after_the_track_arrived_and_pull_mailbox(pair: Pair) -> None:
    pair.server.push_frame("main_video", np.zeros((120, 160, 3), np.uint8))
    pair.server.set_output_paused("main_video", False)
    mailbox = pair.client.frames("main_video")
    first = await asyncio.wait_for(mailbox.get(), 5)
    assert first.shape == (120, 160, 3)
    got: list[tuple[int, ...]] = []
    pair.client.set_frame_callback("main_video", lambda a: got.append(a.shape))
    await wait_until(lambda: len(got) >= 5)
    pair.client.set_frame_callback("main_video", None)
    await asyncio.sleep(0.1)
    count = len(got)
    await asyncio.sleep(0.2)
    assert len(got) == count


async def test_publish_from_client_and_input_enable(pair: Pair) -> None:
    source = NdarrayVideoTrack(fps=30)
    source.push(np.full((240, 320, 3), 90, np.uint8))
    pair.client.attach_track("webcam", source)
    got: list[np.ndarray] = []
    pair.server.set_frame_callback("webcam", got.append)
    await wait_until(lambda: len(got) >= 10)
    assert got[-1].shape == (240, 320, 3)
    pair.server.set_input_enabled("webcam", False)
    await asyncio.sleep(0.2)
    count = len(got)
    await asyncio.sleep(0.3)
    assert len(got) == count
    pair.server.set_input_enabled("webcam", True)
    await wait_until(lambda: len(got) >= count + 5)
    pair.client.attach_track("webcam", None)
    source.stop()
    stats = await pair.client.stats()
    assert stats.rtt is None or stats.rtt >= 0


async def test_slow_consumer_drops_oldest_frames(pair: Pair) -> None:
    pair.server.push_frame("main_video", np.zeros((120, 160, 3), np.uint8))
    pair.server.set_output_paused("main_video", False)

    mailbox = pair.client.frames("main_video")
    read = 0
    while mailbox.dropped < 3:  # a consumer far slower than 30 fps
        await asyncio.wait_for(mailbox.get(), 5)
        read += 1
        await asyncio.sleep(0.15)
    assert read >= 1
    assert len(mailbox) <= mailbox.capacity
    stats = await pair.client.stats()
    assert stats.tracks["main_video"].frames_dropped == mailbox.dropped


async def test_max_message_size_enforced(pair: Pair) -> None:
    assert pair.client.max_message_size == 262_144
    pair.client.send("data", "x" * 262_144)
    with pytest.raises(MessageTooLargeError, match="262145 bytes"):
        pair.client.send("data", "x" * 262_145)
    with pytest.raises(MessageTooLargeError):
        pair.server.send("data", b"y" * 300_000)
    # multi-byte characters are counted as UTF-8 bytes
    with pytest.raises(MessageTooLargeError):
        pair.client.send("data", "é" * 131_073)


async def test_send_misuse(pair: Pair) -> None:
    with pytest.raises(LocalProtocolError, match="'video'"):
        pair.client.send("video", "x")
    with pytest.raises(LocalProtocolError, match="int"):
        pair.client.send("data", 5)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="sendonly"):
        pair.client.attach_track("main_video", None)
    with pytest.raises(LocalProtocolError, match="audio"):
        pair.client.attach_track("webcam", _AudioTrack())
    with pytest.raises(LocalProtocolError, match="nope"):
        pair.client.set_frame_callback("nope", None)
    with pytest.raises(LocalProtocolError, match="nope"):
        pair.server.set_output_paused("nope", True)
    with pytest.raises(InvalidStateError):
        await pair.client.create_offer()
    with pytest.raises(InvalidStateError):
        await pair.client.apply_answer(pair.answer)
    with pytest.raises(InvalidStateError):
        await pair.server.accept(pair.offer)


class _AudioTrack(NdarrayVideoTrack):
    kind = "audio"


async def test_send_before_open_and_after_close() -> None:
    client = ClientPeer([TrackSpec(name="main_video")], ice=IceConfig.loopback())
    with pytest.raises(InvalidStateError, match="not open"):
        client.send("data", "x")
    with pytest.raises(InvalidStateError, match="create_offer"):
        await client.apply_answer("v=0")
    await client.create_offer()
    with pytest.raises(InvalidStateError, match="not open"):
        client.send("control", "x")
    await client.close()
    await client.close()  # idempotent
    assert client.closed
    assert client.connection_state == "closed"
    with pytest.raises(InvalidStateError, match="closed"):
        client.send("data", "x")


async def test_wrong_loop_is_refused(pair: Pair) -> None:
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            pair.client.send("data", "x")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert len(errors) == 1
    assert isinstance(errors[0], InvalidStateError)


def test_peer_needs_a_running_loop() -> None:
    with pytest.raises(InvalidStateError, match="running asyncio loop"):
        ClientPeer([TrackSpec(name="main_video")])


async def test_bad_tracks_and_mappings_are_rejected() -> None:
    with pytest.raises(LocalProtocolError, match=r"tracks\[1\]\.name"):
        ClientPeer([TrackSpec(name="a"), TrackSpec(name="a")])
    with pytest.raises(LocalProtocolError, match=r"tracks\[0\]\.kind"):
        ClientPeer([TrackSpec(name="a", kind="data")])
    with pytest.raises(LocalProtocolError, match=r"track_mapping\[0\]\.direction"):
        ServerPeer([MappedTrack(mid="0", name="a", direction="sendrecv")])
    with pytest.raises(DecodeError, match="duplicate mids"):
        ServerPeer([MappedTrack(mid="0", name="a"), MappedTrack(mid="0", name="b")])
    with pytest.raises(LocalProtocolError, match="outputs"):
        ServerPeer([MappedTrack(mid="0", name="a")], outputs={"b": NdarrayVideoTrack()})


async def test_server_rejects_garbage_offer_and_unknown_mid() -> None:
    client = ClientPeer([TrackSpec(name="main_video")], ice=IceConfig.loopback())
    offer, _ = await client.create_offer()
    server = ServerPeer([MappedTrack(mid="0", name="main_video")], ice=IceConfig.loopback())
    broken = "\r\n".join(line for line in offer.split("\r\n")
                          if not line.startswith("a=ice-ufrag"))
    with pytest.raises(DecodeError) as info:
        await server.accept(broken)
    assert info.value.field == "sdp_offer"
    await server.close()
    server = ServerPeer([MappedTrack(mid="7", name="main_video")], ice=IceConfig.loopback())
    with pytest.raises(DecodeError) as info:
        await server.accept(offer)
    assert info.value.field == "track_mapping[0].mid"
    await server.close()
    await client.close()


async def test_client_rejects_garbage_answer() -> None:
    client = ClientPeer([TrackSpec(name="main_video")], ice=IceConfig.loopback())
    await client.create_offer()
    with pytest.raises(TransportError, match="answer rejected"):
        await client.apply_answer("v=0\r\n")
    await client.close()


async def test_unexpected_channel_label_is_closed_and_callbacks_never_raise() -> None:
    pair = await negotiate()

    def explode(*_: object) -> None:
        raise RuntimeError("driver bug")

    pair.client.on_connection_state = explode
    pair.server.on_channel_message = explode
    try:
        await wait_until(lambda: channels_open(pair))
        pair.client.send("data", "boom")  # the server's callback raises: logged, not fatal
        await asyncio.sleep(0.1)
        pair.server.send("data", "still alive")
        await wait_until(
            lambda: ("client", "message", "data", "still alive") in pair.events)
    finally:
        await pair.client.close()
        await pair.server.close()


async def test_remote_close_surfaces_as_channel_close() -> None:
    pair = await negotiate()
    await wait_until(lambda: channels_open(pair))
    await pair.client.close()
    await wait_until(lambda: ("server", "close", "data") in pair.events)
    await pair.server.close()


async def test_audio_and_unmapped_tracks_are_drained() -> None:
    tracks = (TrackSpec(name="mic", kind="audio", direction="sendonly"),
              TrackSpec(name="voice", kind="audio", direction="recvonly"),
              TrackSpec(name="main_video", kind="video", direction="recvonly"))
    pair = await negotiate(tracks)
    try:
        await wait_until(lambda: channels_open(pair))
        sections = pair.answer.split("m=")[1:]
        assert "a=inactive" in sections[1]  # no audio source on the server yet
        assert ("server", "track", "mic", "audio") in pair.events
    finally:
        await pair.client.close()
        await pair.server.close()


async def test_close_leaves_no_thread_or_task_behind() -> None:
    before = {t.ident for t in threading.enumerate()}
    tasks_before = asyncio.all_tasks()
    pair = await negotiate()
    await wait_until(lambda: channels_open(pair))
    pair.server.push_frame("main_video", np.zeros((120, 160, 3), np.uint8))
    pair.server.set_output_paused("main_video", False)
    got: list[np.ndarray] = []
    pair.client.set_frame_callback("main_video", got.append)
    await wait_until(lambda: len(got) >= 3)
    assert any(t.name == "video-decoder" for t in threading.enumerate())
    await asyncio.gather(pair.client.close(), pair.client.close(), pair.server.close())

    def leftovers() -> list[str]:
        return [t.name for t in threading.enumerate()
                if t.ident not in before and not t.name.startswith("asyncio_")]

    await wait_until(lambda: not leftovers(), within=2)
    # aiortc leaves fire-and-forget tasks that finish within a few loop turns
    def new_tasks() -> set[asyncio.Task[object]]:
        return asyncio.all_tasks() - tasks_before

    await wait_until(lambda: not new_tasks(), within=2)


@pytest.mark.parametrize(("width", "height"), [(640, 360), (1280, 720)])
async def test_measure_receive_cpu_per_frame(width: int, height: int) -> None:
    """Prints (does not assert) process CPU per received frame; both peers are in this
    process, so the figure includes the server's encode as well as the client's decode and
    RGB conversion."""
    pair = await negotiate()
    try:
        await wait_until(lambda: channels_open(pair))
        rng = np.random.default_rng(1)
        pair.server.push_frame("main_video", rng.integers(0, 255, (height, width, 3), np.uint8))
        pair.server.set_output_paused("main_video", False)
        got: list[np.ndarray] = []
        pair.client.set_frame_callback("main_video", got.append)
        await wait_until(lambda: len(got) >= 5)
        start_cpu, start_frames, start = time.process_time(), len(got), time.monotonic()
        await asyncio.sleep(1.0)
        frames = len(got) - start_frames
        cpu = time.process_time() - start_cpu
        assert frames > 0
        assert got[-1].shape == (height, width, 3)
        print(f"\n{width}x{height}: {frames} frames in {time.monotonic() - start:.2f} s, "
              f"process CPU {cpu / frames * 1e3:.2f} ms/frame (encode+decode+convert)")
    finally:
        await pair.client.close()
        await pair.server.close()
