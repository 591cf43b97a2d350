"""``reactor demo``: the whole stack on one machine, with something to look at.

Starts the local runtime in-process on a free loopback port with the synthetic ``helios``
model, connects with :class:`~reactor_anyio.Reactor`, sets a seed, schedules three prompts
at chunks 0, 2 and 4, starts generation and records.  Writes ``DIR/demo.mp4`` and
``DIR/contact_sheet.png`` (sampled frames labelled with their time and prompt), shows a live
status line, and ends with a summary.  Before it disconnects it also asks the runtime for
the last ``CLIP_SECONDS`` seconds it recorded and saves them as ``DIR/clip.mp4``
(:mod:`reactor_anyio.demo_clip`, with the client's public ``request_clip``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import anyio
import attrs
import av
import numpy as np
import numpy.typing as npt

from .client.reactor import Reactor
from .demo_clip import save_clip
from .models.font import draw_text
from .runtime import LocalRuntime

PROMPTS: tuple[tuple[int, str], ...] = (
    (0, "A peaceful forest at dawn"),
    (2, "A deer walking through the misty forest"),
    (4, "Sunlight breaking through the canopy"),
)
SEED = 42
SHEET_COLUMNS = 4
SHEET_ROWS = 3
THUMB_WIDTH = 320
#: the clip the demo saves, through the protocol (§10)
CLIP_SECONDS = 4.0

Frame = npt.NDArray[np.uint8]


@attrs.define
class Recording:
    """What the demo saw, with receive times relative to ``connect()``."""

    frames: list[tuple[float, Frame]] = attrs.field(factory=list)
    prompts: list[tuple[float, str]] = attrs.field(factory=list)
    messages: int = 0
    first_frame: float | None = None

    def prompt_at(self, when: float) -> str:
        current = ""
        for at, prompt in self.prompts:
            if at <= when:
                current = prompt
        return current


@attrs.frozen(kw_only=True)
class Summary:
    ready_ms: float
    first_frame_ms: float | None
    frames: int
    fps: float
    dropped: int
    messages: int
    video: Path
    contact_sheet: Path
    clip: Path | None = None
    clip_seconds: float = 0.0

    def lines(self) -> list[str]:
        first = f"{self.first_frame_ms:.0f} ms" if self.first_frame_ms is not None else "none"
        return [
            f"time to READY        {self.ready_ms:8.1f} ms",
            f"first frame after    {first:>11}",
            f"frames received      {self.frames:8d}  ({self.fps:.1f} fps)",
            f"frames dropped       {self.dropped:8d}",
            f"messages received    {self.messages:8d}",
            f"video                {self.video}",
            f"contact sheet        {self.contact_sheet}",
            f"clip                 {self.clip or 'none'}"
            + (f"  ({self.clip_seconds:.1f} s, recorded by the runtime)" if self.clip else ""),
        ]


async def run_demo(out: Path, seconds: float, *, stream: TextIO = sys.stdout,
                   width: int = 640, height: int = 360, fps: float = 24.0,
                   open_page: bool = False) -> Summary:
    await anyio.Path(out).mkdir(parents=True, exist_ok=True)
    recording = Recording()
    started = time.monotonic()
    options = {"width": width, "height": height, "fps": fps}
    async with LocalRuntime("helios", model_options=options) as runtime, \
            Reactor(model_name="helios", local=True, api_url=runtime.url) as reactor:
        # the playground page joins the running session (reactor_anyio.playground)
        stream.write(f"playground: {runtime.url}/ (live while the demo runs)\n")
        if open_page:
            webbrowser.open(f"{runtime.url}/")

        def on_frame(frame: Frame) -> None:
            now = time.monotonic() - started
            if recording.first_frame is None:
                recording.first_frame = now
            recording.frames.append((now, frame))

        def on_message(message: Any) -> None:
            recording.messages += 1
            data = message.get("data") if isinstance(message, dict) else None
            if isinstance(data, dict) and data.get("event") == "prompt_switched":
                recording.prompts.append((time.monotonic() - started,
                                          str(data.get("new_prompt", ""))))

        reactor.set_frame_callback(on_frame)
        reactor.on("message", on_message)
        await reactor.connect()
        ready_ms = (time.monotonic() - started) * 1000
        await reactor.send_command("set_seed", {"seed": SEED})
        for chunk, prompt in PROMPTS:
            await reactor.send_command("schedule_prompt", {"prompt": prompt, "chunk": chunk})
        recording.prompts.append((time.monotonic() - started, PROMPTS[0][1]))
        await reactor.send_command("start", {})
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await anyio.sleep(0.25)
            elapsed = max(time.monotonic() - started - ready_ms / 1000, 1e-6)
            stream.write(f"\r{reactor.get_status().value:<9} {len(recording.frames):5d} frames "
                         f"{len(recording.frames) / elapsed:5.1f} fps  "
                         f"{recording.messages:4d} messages")
            stream.flush()
        stats = await reactor.get_stats()
        dropped = stats.frames_dropped if stats is not None else 0
        clip_path: Path | None = out / "clip.mp4"
        clip_seconds = 0.0
        try:
            clip = await save_clip(reactor, runtime.url, min(CLIP_SECONDS, seconds),
                                   out / "clip.mp4")
            clip_seconds = clip.duration_seconds
        except Exception as exc:  # the demo's other outputs still count
            stream.write(f"\nclip not saved: {exc}")
            clip_path = None
        await reactor.disconnect()
    stream.write("\n")
    received = len(recording.frames)
    span = (recording.frames[-1][0] - recording.frames[0][0]) if received > 1 else 0.0
    video = write_video(out / "demo.mp4", recording.frames, fps)
    sheet = write_contact_sheet(out / "contact_sheet.png", recording)
    return Summary(
        ready_ms=ready_ms,
        first_frame_ms=None if recording.first_frame is None else
        recording.first_frame * 1000 - ready_ms,
        frames=received, fps=(received - 1) / span if span > 0 else 0.0, dropped=dropped,
        messages=recording.messages, video=video, contact_sheet=sheet, clip=clip_path,
        clip_seconds=clip_seconds)


def write_video(path: Path, frames: Sequence[tuple[float, Frame]], fps: float) -> Path:
    """H.264 in MP4 with PyAV; frames keep their receive-time spacing."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        if frames:
            stream.height, stream.width = frames[0][1].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for _, frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_contact_sheet(path: Path, recording: Recording) -> Path:
    """A grid of evenly sampled frames, each labelled with its time and the prompt."""
    count = SHEET_COLUMNS * SHEET_ROWS
    frames = recording.frames
    if frames:
        picks = [frames[round(i * (len(frames) - 1) / max(count - 1, 1))] for i in range(count)]
        src_h, src_w = picks[0][1].shape[:2]
    else:
        picks, src_h, src_w = [], 360, 640
    step = max(1, src_w // THUMB_WIDTH)
    thumb_h, thumb_w = -(-src_h // step), -(-src_w // step)
    label_h, pad = 22, 6
    sheet = np.full((SHEET_ROWS * (thumb_h + label_h + pad) + pad,
                     SHEET_COLUMNS * (thumb_w + pad) + pad, 3), 24, np.uint8)
    for index, (when, frame) in enumerate(picks):
        row, col = divmod(index, SHEET_COLUMNS)
        y = pad + row * (thumb_h + label_h + pad)
        x = pad + col * (thumb_w + pad)
        sheet[y:y + thumb_h, x:x + thumb_w] = frame[::step, ::step]
        draw_text(sheet, f"T+{when:5.2f}S", x, y + thumb_h + 3, color=(255, 220, 120))
        prompt = recording.prompt_at(when)[: thumb_w // 6 - 1]
        draw_text(sheet, prompt, x, y + thumb_h + 12, color=(220, 220, 220))
    with av.open(str(path), mode="w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.height, stream.width = sheet.shape[:2]
        stream.pix_fmt = "rgb24"
        for packet in stream.encode(av.VideoFrame.from_ndarray(sheet, format="rgb24")):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def add_demo_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run the synthetic Helios demo end to end")
    parser.add_argument("--out", type=Path, default=Path("demo-out"),
                        help="output folder (default: demo-out)")
    parser.add_argument("--seconds", type=float, default=12.0,
                        help="how long to record (default: 12)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--copy-sheet", type=Path, default=None, metavar="PATH",
                        help="also copy the contact sheet here (the docs embed one)")
    parser.add_argument("--open", action="store_true", dest="open_page",
                        help="open the playground page in a browser (raise --seconds to look)")
    parser.add_argument("--model", choices=("helios", "tone"), default="helios",
                        help="helios (video, the default) or tone (video and audio: "
                             "reactor_anyio.demo_tone)")


def run_demo_command(args: argparse.Namespace) -> int:
    if args.model == "tone":
        from .demo_tone import run_tone_demo

        tone = anyio.run(lambda: run_tone_demo(args.out, args.seconds))
        print("\n".join(tone.lines()))
        return 0 if tone.frames > 0 and tone.audio_seconds > 0 else 1
    summary = anyio.run(lambda: run_demo(args.out, args.seconds, width=args.width,
                                         height=args.height, fps=args.fps,
                                         open_page=args.open_page))
    print("\n".join(summary.lines()))
    if args.copy_sheet is not None:
        args.copy_sheet.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(summary.contact_sheet, args.copy_sheet)
    return 0 if summary.frames > 0 else 1
