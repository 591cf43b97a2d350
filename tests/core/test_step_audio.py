"""The core's rules for audio in a step (§15.4): the runtime's check of a planned request
against each input track's declared format, and the client's buffer keeping one sample rate
per track (the request carries one ``rate`` per track)."""

from __future__ import annotations

import pytest

from reactor_proto.client.audio import AudioFormatError
from reactor_proto.client.stepping import StepInputs, build_request, raw_frame
from reactor_proto.runtime.audio import AudioFormat
from reactor_proto.runtime.step_plan import (
    StepFrame,
    StepMedia,
    StepRefusal,
    check_step_audio,
    plan_media,
)
from reactor_proto.wire_v1 import FrameEncoding, RequestStep, TrackFrames, TrackKind

MONO = {"mic": AudioFormat(sample_rate=48_000, channels=1)}
STEREO = {"mic": AudioFormat(sample_rate=16_000, channels=2)}


def audio(*shapes: tuple[int, int], rate: float = 0.0, kind: str = "audio") -> StepMedia:
    frames = tuple(StepFrame(entry=f"media_input[0].frames[{i}]", encoding=FrameEncoding.RAW,
                             shape=shape, data=b"\0" * (2 * shape[0] * shape[1]))
                   for i, shape in enumerate(shapes))
    return StepMedia(track="mic", kind=kind, frames=frames, entry="media_input[0]", rate=rate)


def test_fitting_audio_passes() -> None:
    assert check_step_audio([audio((1, 480), (2, 480), rate=48_000)], formats=MONO,
                            max_seconds=1.0) is None
    assert check_step_audio([audio((2, 16_000))], formats=STEREO, max_seconds=1.0) is None
    # tracks without a declared format, and video, are not this check's business
    assert check_step_audio([audio((3, 5), kind="video")], formats=MONO,
                            max_seconds=1.0) is None
    assert check_step_audio([audio((3, 5))], formats={}, max_seconds=1.0) is None


@pytest.mark.parametrize(("media", "formats", "entry", "text"), [
    (audio((1, 480), rate=16_000), MONO, "media_input[0]", "16000 Hz"),
    (audio((1, 480), (3, 480)), MONO, "media_input[0].frames[1]", "3 channels"),
    (audio((1, 480)), STEREO, "media_input[0].frames[0]", "takes 2"),
    (audio((1, 30_000), (1, 18_001)), MONO, "media_input[0]", "48001 samples"),
])
def test_refusals_name_the_part(media: StepMedia, formats: dict[str, AudioFormat],
                                entry: str, text: str) -> None:
    refused = check_step_audio([media], formats=formats, max_seconds=1.0)
    assert isinstance(refused, StepRefusal)
    assert refused.entry == entry and text in refused.error


def test_plan_keeps_the_tracks_entry_and_rate() -> None:
    request = RequestStep(media_input=(TrackFrames(
        track="mic", kind=TrackKind.AUDIO, rate=48_000.0,
        frames=(raw_frame(b"\0\0" * 4, (2, 2), dtype="int16"),)),))
    media = plan_media(request, inputs={"mic": "audio"}, max_frames=4)
    assert not isinstance(media, StepRefusal)
    assert (media[0].entry, media[0].rate) == ("media_input[0]", 48_000.0)


def test_client_buffer_keeps_one_rate_per_track_and_the_request_carries_it() -> None:
    inputs = StepInputs()
    frame = raw_frame(b"\0\0" * 480, (1, 480), dtype="int16")
    inputs.push("mic", frame, rate=16_000)
    inputs.push("mic", frame, rate=16_000)
    inputs.push("webcam", raw_frame(b"\0" * 12, (2, 2, 3)))
    with pytest.raises(AudioFormatError) as error:
        inputs.push("mic", frame, rate=48_000)
    assert error.value.field == "sample_rate" and len(inputs) == 3
    request = build_request(None, None, inputs.peek(), inputs.rates())
    mic, webcam = request.media_input
    assert (mic.kind, mic.rate, len(mic.frames)) == (TrackKind.AUDIO, 16_000.0, 2)
    assert (webcam.kind, webcam.rate) == (TrackKind.UNSPECIFIED, 0.0)
    inputs.clear()
    inputs.push("mic", frame, rate=48_000)  # a new step, a new rate
    assert inputs.rates() == {"mic": 48_000}
