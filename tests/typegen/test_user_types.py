"""Types hold for users: mypy --strict accepts a correct HeliosModel script and reports a
wrong parameter name, a wrong type, a value outside a Literal and a mistyped handler."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

HEADER = """\
import anyio

from reactor_anyio import HeliosModel
from reactor_anyio.sdk.helios import EventMessage, PromptSwitchedEvent, StateMessage
"""

SCRIPTS = {
    "correct_script": """
        async def main() -> None:
            async with HeliosModel(local=True) as helios:
                frames: list[int] = []

                @helios.on_state
                def on_state(state: StateMessage) -> None:
                    frames.append(state.current_frame)

                @helios.on_event
                async def on_event(event: EventMessage) -> None:
                    match event:
                        case PromptSwitchedEvent(new_prompt=prompt):
                            print(prompt.upper())
                        case _:
                            print(event.event)

                await helios.connect()
                await helios.set_seed(seed=42)
                await helios.schedule_prompt(prompt="A forest", chunk=0)
                await helios.set_image(image_b64="...", transition="blend")
                await helios.start()

        anyio.run(main)
        """,
    "wrong_name": """
        async def main(helios: HeliosModel) -> None:
            await helios.set_prompt(promt="A forest")
        """,
    "wrong_type": """
        async def main(helios: HeliosModel) -> None:
            await helios.set_seed(seed="42")
        """,
    "outside_literal": """
        async def main(helios: HeliosModel) -> None:
            await helios.set_image(image_b64="...", transition="fade")
        """,
    "wrong_handler": """
        def attach(helios: HeliosModel) -> None:
            @helios.on_state
            def on_state(state: int) -> None:
                print(state)
        """,
}

EXPECTED = {
    "wrong_name": [r'Unexpected keyword argument "promt" for "set_prompt" of "HeliosModel"'],
    "wrong_type": [r'Argument "seed" to "set_seed" of "HeliosModel" has incompatible type '
                   r'"str"; expected "int"'],
    "outside_literal": [r'Argument "transition" to "set_image" of "HeliosModel" has '
                        r"incompatible type \"Literal\['fade'\]\"; expected "
                        r"\"Literal\['cut', 'blend'\]\""],
    "wrong_handler": [r'Argument 1 to "on_state" of "HeliosModel" has incompatible type '
                      r'"Callable\[\[int\], None\]"; expected "Callable\[\[StateMessage\], '
                      r'Never\]"|Callable\[\[StateMessage\]'],
}


def test_mypy_strict_on_user_scripts(tmp_path: Path) -> None:
    for name, body in SCRIPTS.items():
        (tmp_path / f"{name}.py").write_text(HEADER + textwrap.dedent(body))
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "mypy"), "--strict", "--no-incremental",
         "--config-file", str(ROOT / "pyproject.toml"), *(f"{n}.py" for n in SCRIPTS)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False, env=env)
    errors: dict[str, list[str]] = {}
    for line in proc.stdout.splitlines():
        match = re.match(r"^(\w+)\.py:\d+: error: (.*)$", line)
        if match:
            errors.setdefault(match.group(1), []).append(match.group(2))
    assert "correct_script" not in errors, proc.stdout
    assert set(errors) == set(EXPECTED), proc.stdout
    for name, patterns in EXPECTED.items():
        assert len(errors[name]) == len(patterns), errors[name]
        for pattern, message in zip(patterns, errors[name], strict=True):
            assert re.search(pattern, message), (pattern, message)
