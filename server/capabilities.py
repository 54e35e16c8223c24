"""Share links are capabilities: whoever holds a token has its role in its room.

Tokens are 192 random bits, stored only as SHA-256 hashes and compared in constant time.
Rotating a room's links replaces both hashes; every process then closes the sockets that
opened with an old token.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets

from sync.errors import CapabilityError, CapabilityReason
from sync.store import RoomRecord

ROOM_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class Role(enum.Enum):
    EDIT = "edit"
    VIEW = "view"


def new_room_id() -> str:
    return secrets.token_urlsafe(12)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def role_for(room: RoomRecord, token: str | None) -> Role:
    """The role ``token`` grants in ``room``; raises CapabilityError otherwise."""
    if not token:
        raise CapabilityError(CapabilityReason.MISSING, "a share-link token is required")
    digest = hash_token(token)
    # Both comparisons always run, so timing says nothing about which one matched.
    is_edit = hmac.compare_digest(digest, room.edit_token_hash)
    is_view = hmac.compare_digest(digest, room.view_token_hash)
    if is_edit:
        return Role.EDIT
    if is_view:
        return Role.VIEW
    raise CapabilityError(CapabilityReason.INVALID,
                          "this link is not valid for this canvas (it may have been rotated)")


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
