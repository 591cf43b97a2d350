from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Ping(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RequestSchema(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelSchema(_message.Message):
    __slots__ = ("openapi",)
    OPENAPI_FIELD_NUMBER: _ClassVar[int]
    openapi: _struct_pb2.Struct
    def __init__(self, openapi: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class FileUploaded(_message.Message):
    __slots__ = ("upload_id", "name", "mime_type", "size")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    name: str
    mime_type: str
    size: int
    def __init__(self, upload_id: _Optional[str] = ..., name: _Optional[str] = ..., mime_type: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class RequestClip(_message.Message):
    __slots__ = ("duration_seconds",)
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    duration_seconds: float
    def __init__(self, duration_seconds: _Optional[float] = ...) -> None: ...

class RequestRecording(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClipReady(_message.Message):
    __slots__ = ("session_id", "kind", "start_marker", "end_marker", "now_marker", "predicted_ready_at_ms", "playlist_url")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    START_MARKER_FIELD_NUMBER: _ClassVar[int]
    END_MARKER_FIELD_NUMBER: _ClassVar[int]
    NOW_MARKER_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_READY_AT_MS_FIELD_NUMBER: _ClassVar[int]
    PLAYLIST_URL_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    kind: str
    start_marker: float
    end_marker: float
    now_marker: float
    predicted_ready_at_ms: int
    playlist_url: str
    def __init__(self, session_id: _Optional[str] = ..., kind: _Optional[str] = ..., start_marker: _Optional[float] = ..., end_marker: _Optional[float] = ..., now_marker: _Optional[float] = ..., predicted_ready_at_ms: _Optional[int] = ..., playlist_url: _Optional[str] = ...) -> None: ...

class ClipFailed(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class Moderation(_message.Message):
    __slots__ = ("action", "input_kind", "command", "categories", "message")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    INPUT_KIND_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    action: str
    input_kind: str
    command: str
    categories: _containers.RepeatedScalarFieldContainer[str]
    message: str
    def __init__(self, action: _Optional[str] = ..., input_kind: _Optional[str] = ..., command: _Optional[str] = ..., categories: _Optional[_Iterable[str]] = ..., message: _Optional[str] = ...) -> None: ...

class SessionEnded(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...
