"""Errors raised by the shared-state layer.

    ArborError
    ├── ConfigError            a setting is missing or malformed
    ├── ProtocolError          a peer sent something that is not the y-websocket protocol
    ├── CapabilityError        a share-link token is missing, wrong, or lacks the right
    ├── DocumentTooLargeError  an update would grow a room past its size cap
    ├── DocumentTooDeepError   a document nests values deeper than the server walks
    ├── InputError             JSON or text from outside is malformed, too deep or too large
    ├── RoomNotFoundError      no such room
    └── StoreError             PostgreSQL could not be read or written
        └── RoomLoadError      a room's stored state could not be loaded

Data lives in attributes; ``server/app.py`` alone turns these into HTTP problems and
websocket close codes.
"""

from __future__ import annotations

from enum import StrEnum


class ArborError(Exception):
    """Base of every error this project raises on purpose."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r})"


class ConfigError(ArborError):
    def __init__(self, variable: str, detail: str) -> None:
        super().__init__(f"{variable}: {detail}")
        self.variable = variable


class ProtocolReason(StrEnum):
    TEXT_FRAME = "text_frame"
    EMPTY = "empty_message"
    TRUNCATED = "truncated_message"
    UNKNOWN_TYPE = "unknown_message_type"
    BAD_UPDATE = "bad_update"
    BAD_AWARENESS = "bad_awareness"
    TOO_LARGE = "message_too_large"
    MISSING_DEPENDENCIES = "missing_dependencies"
    CLIENT_TOO_OLD = "client_too_old"
    SERVER_TOO_OLD = "server_too_old"


class ProtocolError(ArborError):
    def __init__(self, reason: ProtocolReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class CapabilityReason(StrEnum):
    MISSING = "missing_token"
    INVALID = "invalid_token"
    WRONG_ROOM = "wrong_room"
    READ_ONLY = "read_only"
    ORIGIN = "origin_not_allowed"


class CapabilityError(ArborError):
    def __init__(self, reason: CapabilityReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class DocumentTooLargeError(ArborError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the canvas is full ({size} bytes, the limit is {limit})")
        self.size = size
        self.limit = limit


class DocumentTooDeepError(ArborError):
    """A document (a room's, or a checkpoint's) nests maps and arrays deeper than the server
    walks: a peer can write such a thing, and following it would exhaust the stack."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the canvas nests values more than {limit} levels deep")
        self.limit = limit


class InputReason(StrEnum):
    NOT_JSON = "not_json"
    TOO_DEEP = "too_deep"
    TOO_LARGE = "too_large"
    BAD_TEXT = "bad_text"  # a NUL or a lone surrogate: PostgreSQL text cannot hold it


class InputError(ArborError):
    """Input from outside (a request body, an address, an awareness state) that is malformed,
    nested too deeply, too large, or holds text that cannot be stored."""

    def __init__(self, reason: InputReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class RoomNotFoundError(ArborError):
    def __init__(self, room: str) -> None:
        super().__init__("no such room")
        self.room = room


class StoreReason(StrEnum):
    CONNECTION = "connection"
    QUERY = "query"
    CORRUPT = "corrupt"


class StoreError(ArborError):
    def __init__(self, reason: StoreReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class RoomLoadError(StoreError):
    def __init__(self, room: str, reason: StoreReason, detail: str) -> None:
        super().__init__(reason, detail)
        self.room = room
