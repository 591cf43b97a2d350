"""Models served by the local runtime: the programming interface and the built-in demos.

See :mod:`reactor_anyio.models.base` for the contract between a model and the runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reactor_proto.lazy import lazy_attributes

if TYPE_CHECKING:
    from .base import (
        CommandError,
        CommandInfo,
        CommandReply,
        Frame,
        MessageType,
        Model,
        ModelContext,
        ModelOptionError,
        Pcm,
        RecordingContext,
        SentMessage,
        TrackSpec,
        command,
    )
    from .echo import Echo
    from .helios import Helios
    from .images import ImageDecodeError
    from .registry import BUILTIN_MODELS, ModelSpecError, resolve_model
    from .signature import Field, ModelDefinitionError, UploadedFile
    from .stepping import StepInput, StepOutput
    from .tone import Tone
else:  # imported on first use (PEP 562): see reactor_proto.lazy
    __getattr__, __dir__ = lazy_attributes(__name__, {
        "CommandError": ".base",
        "CommandInfo": ".base",
        "CommandReply": ".base",
        "Frame": ".base",
        "MessageType": ".base",
        "Model": ".base",
        "ModelContext": ".base",
        "ModelOptionError": ".base",
        "Pcm": ".base",
        "RecordingContext": ".base",
        "SentMessage": ".base",
        "TrackSpec": ".base",
        "command": ".base",
        "Echo": ".echo",
        "Helios": ".helios",
        "ImageDecodeError": ".images",
        "BUILTIN_MODELS": ".registry",
        "ModelSpecError": ".registry",
        "resolve_model": ".registry",
        "Field": ".signature",
        "ModelDefinitionError": ".signature",
        "UploadedFile": ".signature",
        "StepInput": ".stepping",
        "StepOutput": ".stepping",
        "Tone": ".tone",
    })

__all__ = [
    "BUILTIN_MODELS",
    "CommandError",
    "CommandInfo",
    "CommandReply",
    "Echo",
    "Field",
    "Frame",
    "Helios",
    "ImageDecodeError",
    "MessageType",
    "Model",
    "ModelContext",
    "ModelDefinitionError",
    "ModelOptionError",
    "ModelSpecError",
    "Pcm",
    "RecordingContext",
    "SentMessage",
    "StepInput",
    "StepOutput",
    "Tone",
    "TrackSpec",
    "UploadedFile",
    "command",
    "resolve_model",
]
