"""The runtime (model host) role of the Reactor protocol as a sans-IO machine.

See :mod:`reactor_proto.runtime.machine` for how an adapter drives it and
:mod:`reactor_proto.runtime.routes` for the HTTP statuses it answers.
"""

from .actions import (
    AddIceCandidates,
    ClosePeer,
    CloseTransport,
    CreateAnswer,
    PrepareClip,
    RuntimeAction,
    SendControl,
    SendData,
    SetInputFlow,
    SetOutputFlow,
    SwapPeer,
    TeardownSession,
)
from .config import RuntimeConfig
from .events import (
    ClientConnected,
    ClientDisconnected,
    CommandReceived,
    DisconnectReason,
    FileUploaded,
    InternalErrorOccurred,
    RuntimeEvent,
    SessionEnded,
    SessionStarted,
    SessionState,
    StartingInput,
    StateChanged,
    StepRequested,
    TrackPublished,
    TrackUnpublished,
)
from .machine import TRANSITIONS, RuntimeMachine, Trigger
from .step_plan import StepCall, StepFrame, StepMedia, StepPlan, StepRefusal
from .stepping import StartOptions, StepOutcome
from .uploads import UploadedFile
from .wire import INTERNAL_ERROR, INVALID_COMMAND, PUBLISH_REFUSED, UNRESOLVED_UPLOAD

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_COMMAND",
    "PUBLISH_REFUSED",
    "TRANSITIONS",
    "UNRESOLVED_UPLOAD",
    "AddIceCandidates",
    "ClientConnected",
    "ClientDisconnected",
    "ClosePeer",
    "CloseTransport",
    "CommandReceived",
    "CreateAnswer",
    "DisconnectReason",
    "FileUploaded",
    "InternalErrorOccurred",
    "PrepareClip",
    "RuntimeAction",
    "RuntimeConfig",
    "RuntimeEvent",
    "RuntimeMachine",
    "SendControl",
    "SendData",
    "SessionEnded",
    "SessionStarted",
    "SessionState",
    "SetInputFlow",
    "SetOutputFlow",
    "StartOptions",
    "StartingInput",
    "StateChanged",
    "StepCall",
    "StepFrame",
    "StepMedia",
    "StepOutcome",
    "StepPlan",
    "StepRefusal",
    "StepRequested",
    "SwapPeer",
    "TeardownSession",
    "TrackPublished",
    "TrackUnpublished",
    "Trigger",
    "UploadedFile",
]
