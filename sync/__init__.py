"""Arbor's shared-state layer: documents, sync protocol, rooms, fan-out, storage.

Knows nothing of HTTP. ``server`` and ``worker`` build on it; it imports neither.
"""

from __future__ import annotations

from .errors import (
    ArborError,
    CapabilityError,
    ConfigError,
    DocumentTooLargeError,
    ProtocolError,
    RoomLoadError,
    RoomNotFoundError,
    StoreError,
)
from .fanout import Fanout
from .room import Peer, Room
from .rooms import RoomManager
from .settings import Secret, Settings

__all__ = [
    "ArborError",
    "CapabilityError",
    "ConfigError",
    "DocumentTooLargeError",
    "Fanout",
    "Peer",
    "ProtocolError",
    "Room",
    "RoomLoadError",
    "RoomManager",
    "RoomNotFoundError",
    "Secret",
    "Settings",
    "StoreError",
]
