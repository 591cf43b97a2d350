"""The client role of the Reactor protocol as a sans-IO state machine."""

from .actions import (
    ApplyAnswer,
    AttachTrack,
    CancelHttp,
    ClientAction,
    ClosePeer,
    CreatePeer,
    DetachTrack,
    SendChannel,
    SendHttp,
)
from .config import ClientConfig, Deadlines, PollSchedule, RetryPolicy
from .events import (
    CapabilitiesReceived,
    ClientEvent,
    ErrorOccurred,
    MessageReceived,
    NotificationFailed,
    OperationCompleted,
    OperationKind,
    ReactorStatus,
    RuntimeMessageReceived,
    SchemaReceived,
    SessionExpirationChanged,
    SessionIdChanged,
    StatusChanged,
)
from .machine import ClientMachine
from .phases import TRANSITIONS, Phase, Trigger
from .timings import ConnectionTimings, StepTime

__all__ = [
    "TRANSITIONS",
    "ApplyAnswer",
    "AttachTrack",
    "CancelHttp",
    "CapabilitiesReceived",
    "ClientAction",
    "ClientConfig",
    "ClientEvent",
    "ClientMachine",
    "ClosePeer",
    "ConnectionTimings",
    "CreatePeer",
    "Deadlines",
    "DetachTrack",
    "ErrorOccurred",
    "MessageReceived",
    "NotificationFailed",
    "OperationCompleted",
    "OperationKind",
    "Phase",
    "PollSchedule",
    "ReactorStatus",
    "RetryPolicy",
    "RuntimeMessageReceived",
    "SchemaReceived",
    "SendChannel",
    "SendHttp",
    "SessionExpirationChanged",
    "SessionIdChanged",
    "StatusChanged",
    "StepTime",
    "Trigger",
]
