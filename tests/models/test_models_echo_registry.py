"""The echo model (video to video) and model-spec resolution."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from reactor_anyio.models import (
    BUILTIN_MODELS,
    Echo,
    Helios,
    ModelOptionError,
    ModelSpecError,
    RecordingContext,
    resolve_model,
)
from reactor_anyio.models.echo import EFFECTS, apply_effect
from reactor_proto.errors import CommandValidationError, LocalProtocolError

OUT = "main_video"


def gradient_input(height: int = 90, width: int = 160) -> np.ndarray:
    """Left-to-right red ramp, top-to-bottom green ramp, constant blue."""
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    frame[:, :, 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    frame[:, :, 1] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    frame[:, :, 2] = 60
    return frame


@pytest.fixture
def ctx() -> RecordingContext:
    return RecordingContext()


def test_echo_tracks_and_schema_shape() -> None:
    assert [(t.name, t.kind) for t in Echo.inputs] == [("webcam", "video"), ("mic", "audio")]
    assert [(t.name, t.kind) for t in Echo.outputs] == [(OUT, "video"), ("speaker", "audio")]
    assert all(t.audio_format.sample_rate == 48_000 and t.audio_format.channels == 1
               for t in (*Echo.inputs, *Echo.outputs) if t.kind == "audio")
    (param,) = Echo.commands["set_effect"].params
    assert param.schema == {"type": "string", "enum": list(EFFECTS)}
    assert param.required


def test_no_input_card(ctx: RecordingContext) -> None:
    echo = Echo(ctx)
    frame = echo.produce_frame(OUT, 0.0)
    assert frame.shape == (360, 640, 3)
    assert frame.dtype == np.uint8
    assert (frame[0, 0] == 32).all()
    assert (frame == [255, 214, 10]).all(axis=2).any()  # the label is drawn
    ctx.set_input("webcam", np.zeros((4, 4, 2), np.uint8))  # not an image: still the card
    assert np.array_equal(echo.produce_frame(OUT, 0.0), frame)


def test_default_effect_inverts_and_resizes(ctx: RecordingContext) -> None:
    echo = Echo(ctx)
    source = gradient_input()
    ctx.set_input("webcam", source)
    frame = echo.produce_frame(OUT, 0.0)
    assert frame.shape == (360, 640, 3)
    expected = 255 - source.repeat(4, axis=0).repeat(4, axis=1)
    assert np.array_equal(frame[100:, :], expected[100:, :])  # below the label
    assert (frame == [255, 214, 10]).all(axis=2).any()


def test_set_effect_mirror_none_edges(ctx: RecordingContext) -> None:
    echo = Echo(ctx)
    source = gradient_input(360, 640)
    ctx.set_input("webcam", source)
    echo.dispatch("set_effect", {"effect": "mirror"})
    assert [(m.type, dict(m.data)) for m in ctx.sent()] == [("effect", {"effect": "mirror"})]
    mirrored = echo.produce_frame(OUT, 0.0)
    assert np.array_equal(mirrored[100:], source[100:, ::-1])
    echo.dispatch("set_effect", {"effect": "none"})
    assert np.array_equal(echo.produce_frame(OUT, 0.0)[100:], source[100:])
    echo.dispatch("set_effect", {"effect": "edges"})
    edges = echo.produce_frame(OUT, 0.0)
    assert np.array_equal(apply_effect(source.copy(), "mirror"), source[:, ::-1])
    flat = np.full((8, 8, 3), 90, np.uint8)
    assert not apply_effect(flat.copy(), "edges").any()  # no edges in a flat picture
    step = np.zeros((8, 8, 3), np.uint8)
    step[:, 4:] = 255
    assert apply_effect(step, "edges")[:, 4].min() == 255
    assert edges[200, 300, 0] == edges[200, 300, 1] == edges[200, 300, 2]
    with pytest.raises(CommandValidationError):
        echo.dispatch("set_effect", {"effect": "sepia"})


def test_input_layouts_are_normalised(ctx: RecordingContext) -> None:
    echo = Echo(ctx, width=64, height=32)
    ctx.set_input("webcam", np.full((16, 16), 10, dtype=np.uint8))  # greyscale
    frame = echo.produce_frame(OUT, 0.0)
    assert frame.shape == (32, 64, 3)
    assert (frame[31, 63] == 245).all()


def test_echo_lifecycle_and_options(ctx: RecordingContext) -> None:
    echo = Echo(ctx, fps=15)
    assert echo.frame_rate == 15.0
    echo.dispatch("set_effect", {"effect": "edges"})
    ctx.clear()
    echo.on_connected("c9", 1)
    assert [(m.to, dict(m.data)) for m in ctx.sent()] == [("c9", {"effect": "edges"})]
    echo.on_session_end()
    assert echo.effect == "invert"
    with pytest.raises(ModelOptionError, match="even"):
        Echo(ctx, height=33)
    with pytest.raises(LocalProtocolError, match="unknown output track 'webcam'"):
        echo.produce_frame("webcam", 0.0)


# ---- registry ----------------------------------------------------------------------------


def test_builtins_resolve() -> None:
    assert resolve_model("helios") is Helios
    assert resolve_model(" echo ") is Echo
    assert set(BUILTIN_MODELS) == {"helios", "echo", "tone"}
    assert resolve_model("reactor_anyio.models.helios:Helios") is Helios


def test_user_model_by_module_and_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "usermodels"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mine.py").write_text(textwrap.dedent(
        """
        from reactor_anyio.models import Model, command

        class Mine(Model):
            name = "mine"

            @command
            def go(self, speed: int = 1) -> None:
                '''Go'''

        class Holder:
            Inner = Mine

        class Nameless(Model):
            pass

        NOT_A_CLASS = 3
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        mine = resolve_model("usermodels.mine:Mine")
        assert mine.name == "mine"
        assert "go" in mine.commands
        assert resolve_model("usermodels.mine:Holder.Inner") is mine
        with pytest.raises(ModelSpecError, match="has no `name`"):
            resolve_model("usermodels.mine:Nameless")
        with pytest.raises(ModelSpecError, match="is not a subclass"):
            resolve_model("usermodels.mine:NOT_A_CLASS")
        with pytest.raises(ModelSpecError, match="has no attribute 'Missing'"):
            resolve_model("usermodels.mine:Missing")
    finally:
        for name in [m for m in sys.modules if m.startswith("usermodels")]:
            del sys.modules[name]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "not a built-in model (built-ins: echo, helios, tone)"),
        ("stable-diffusion", "not a built-in model"),
        (":Class", "expected 'package.module:Class'"),
        ("module:", "expected 'package.module:Class'"),
        ("a:b:c", "expected 'package.module:Class'"),
        ("bad-name.mod:X", "expected 'package.module:Class'"),
        ("no_such_module_xyz:Model", "cannot import 'no_such_module_xyz'"),
        ("reactor_anyio.models.base:Model", "is not a subclass"),
        ("reactor_anyio.models:TrackSpec", "is not a subclass"),
    ],
)
def test_bad_specs_are_named_in_the_error(spec: str, fragment: str) -> None:
    with pytest.raises(ModelSpecError) as info:
        resolve_model(spec)
    assert fragment in info.value.message
    assert repr(spec.strip()) in info.value.message
