"""Drive the official ``reactor-sdk==1.13.0`` in stepped sessions with audio against our
runtime; print a JSON summary as the last line of stdout.

Runs in the side venv (``.venv-sdk113``), inside the test's network namespace:
``python sdk113_step_audio_script.py <scenario> <api_url>``.  Scenarios:

* ``tone`` -- steps commanding 440 Hz then 1000 Hz; per step the audio track's rate, shape
  and dominant frequency;
* ``echo`` -- pushes 100 ms of a 1500 Hz sine on ``mic`` (two pushes), steps, and reports
  how far ``speaker`` is from what was pushed; then a step with ``media`` audio, one with
  audio pushed at 16 kHz (its length back) and a refused one (1.2 s, over the buffer).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import numpy as np
from reactor_sdk import Reactor, ReactorError, StepCommand

RATE = 48_000


def dominant_hz(samples: Any) -> float:
    data = np.asarray(samples, dtype=np.float64)
    spectrum = np.abs(np.fft.rfft(data * np.hanning(len(data))))
    return float(np.argmax(spectrum) * RATE / len(data))


def audio_of(result: Any, track: str) -> dict[str, Any]:
    out = result.track(track)
    frames = [f.array for f in out.frames]
    joined = np.concatenate([f[0] for f in frames]) if frames else np.zeros(0, np.int16)
    return {"kind": str(out.kind.value if hasattr(out.kind, "value") else out.kind),
            "rate": out.rate, "frames": len(frames),
            "shapes": [list(f.shape) for f in frames], "dtype": str(frames[0].dtype)
            if frames else None, "hz": dominant_hz(joined) if len(joined) else None,
            "samples": joined}


async def tone(url: str) -> dict[str, Any]:
    reactor = Reactor("tone", local=True, api_url=url, generation="stepped")
    await asyncio.wait_for(reactor.connect(), 20)
    steps = []
    for hz in (440.0, 1000.0):
        result = await reactor.step(commands=[StepCommand("set_frequency", {"hz": hz})])
        audio = audio_of(result, "main_audio")
        audio.pop("samples")
        steps.append({"step": result.step, "commanded": hz, **audio})
    await reactor.disconnect()
    return {"steps": steps}


async def echo(url: str) -> dict[str, Any]:
    reactor = Reactor("echo", local=True, api_url=url, generation="stepped")
    await asyncio.wait_for(reactor.connect(), 20)
    mic = await reactor.track("mic").publish()
    voice = (np.sin(2 * np.pi * 1500 * np.arange(RATE // 10) / RATE) * 8000).astype(np.int16)
    mic.push_frame(voice[:RATE // 20], sample_rate=RATE, num_channels=1)
    mic.push_frame(voice[RATE // 20:], sample_rate=RATE, num_channels=1)
    out: dict[str, Any] = {}
    result = await reactor.step()
    heard = audio_of(result, "speaker")
    samples = heard.pop("samples")
    out["pushed"] = {"step": result.step, **heard,
                     "max_diff": int(np.abs(samples.astype(np.int32)
                                            - voice[:len(samples)]).max())
                     if len(samples) == len(voice) else None,
                     "length": len(samples)}
    media = await reactor.step(media={"mic": [voice[None, :4800]]})
    heard = audio_of(media, "speaker")
    samples = heard.pop("samples")
    out["media"] = {"step": media.step, "length": len(samples), "equal": bool(
        len(samples) == 4800 and np.array_equal(samples, voice[:4800]))}
    mic.push_frame(voice, sample_rate=16_000, num_channels=1)
    low = await reactor.step()
    out["at_16k"] = {"step": low.step, "length": len(audio_of(low, "speaker")["samples"])}
    too_long = np.zeros(RATE + RATE // 5, np.int16)  # 1.2 s: more than the mic's buffer
    mic.push_frame(too_long, sample_rate=RATE, num_channels=1)
    try:
        await reactor.step()
        out["refused"] = None
    except ReactorError as exc:
        out["refused"] = {"code": str(exc.code), "type": type(exc).__name__,
                          "entry": getattr(exc, "entry", None)}
    await reactor.disconnect()
    return out


def main() -> None:
    scenario, url = sys.argv[1], sys.argv[2]
    summary = asyncio.run(tone(url) if scenario == "tone" else echo(url))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
