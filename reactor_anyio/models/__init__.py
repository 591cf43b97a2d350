"""Models served by the local runtime: the programming interface and the built-in demos.

See :mod:`reactor_anyio.models.base` for the contract between a model and the runtime.
"""

from __future__ import annotations

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
