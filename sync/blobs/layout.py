"""Where each kind of object lives in the blob store, and whose it is.

    rooms/{room}/{sha256}.webp           a canvas's image (its main rendition)
    rooms/{room}/{sha256}_{size}.webp    that image's thumbnails (256 and 1024 px)
    posts/{post}/{sha256}[_{size}].webp  a published post's own copies (the gallery), public
    posts/{post}/card-{digest}.jpg       its link-preview card (``sync/cards.py``), never an image
    people/{person}/card-{digest}.jpg    a profile's link-preview card
    people/{person}/avatar-{sha256}.webp a person's avatar (256 px square), public
    uploads/{room}/{upload_id}           a raw upload: never served, never read by a tool

A key named in a canvas document (a block's ``image.key`` or ``thumbKey``) is written by
peers, so it is untrusted: anyone with an edit link can write another canvas's key into a
block of their own. Every reader of such a key (the image route, publishing, remixing,
the worker's tools) therefore asks :func:`owned_image` (or :func:`key_belongs_to`) whether
it names one of *this* canvas's (or post's) renditions, and refuses it otherwise before
the store is asked anything: whether a foreign key exists is never revealed, and its bytes
never reach a model or another canvas. This module is that one rule.
"""

from __future__ import annotations

import dataclasses
import re
from enum import StrEnum
from typing import Final

from .errors import ForeignImageError

ROOMS: Final = "rooms"
POSTS: Final = "posts"
UPLOADS: Final = "uploads"

_IMAGE: Final = re.compile(
    r"(?P<scope>rooms|posts)/(?P<owner>[A-Za-z0-9_-]{1,64})/(?P<digest>[0-9a-f]{64})"
    r"(?:_(?P<size>[0-9]{1,5}))?\.webp")
_AVATAR: Final = re.compile(
    r"people/(?P<owner>[A-Za-z0-9_-]{1,64})/avatar-(?P<digest>[0-9a-f]{64})\.webp")
_UPLOAD: Final = re.compile(r"uploads/(?P<room>[A-Za-z0-9_-]{1,64})/(?P<id>[0-9a-f]{32})")


class Scope(StrEnum):
    """Who owns an image: a canvas (room) or a published post."""

    ROOM = ROOMS
    POST = POSTS


@dataclasses.dataclass(frozen=True, slots=True)
class ImageKey:
    """A parsed rendition key: ``{scope}/{owner}/{digest}[_{size}].webp``."""

    scope: Scope
    owner: str
    digest: str
    size: int | None = None

    @property
    def key(self) -> str:
        suffix = "" if self.size is None else f"_{self.size}"
        return f"{self.scope.value}/{self.owner}/{self.digest}{suffix}.webp"

    def sized(self, size: int | None) -> ImageKey:
        """The same image's rendition of ``size`` px (None: the main one)."""
        return dataclasses.replace(self, size=size)


def room_image_key(room: str, digest: str, size: int | None = None) -> str:
    """``rooms/{room}/{digest}.webp``, or ``..._{size}.webp`` for a thumbnail."""
    return ImageKey(Scope.ROOM, room, digest, size).key


def post_image_key(post: str, digest: str, size: int | None = None) -> str:
    """``posts/{post}/{digest}.webp``, or ``..._{size}.webp`` for a thumbnail."""
    return ImageKey(Scope.POST, post, digest, size).key


def avatar_key(person: str, digest: str) -> str:
    """``people/{person}/avatar-{digest}.webp``: a person's avatar, named by its content."""
    key = f"people/{person}/avatar-{digest}.webp"
    if _AVATAR.fullmatch(key) is None:
        raise ValueError(f"not an avatar key: {key!r}")
    return key


def avatar_belongs_to(person: str, key: object) -> bool:
    """Whether ``key`` is an avatar of person ``person`` (the same rule as images: a key
    under another person's prefix, or anything malformed, is never theirs)."""
    if not isinstance(key, str):
        return False
    match = _AVATAR.fullmatch(key)  # fullmatch: ``$`` would let a trailing newline in
    return match is not None and match["owner"] == person


def upload_key(room: str, upload_id: str) -> str:
    """Where the browser sends the raw bytes of upload ``upload_id``."""
    return f"{UPLOADS}/{room}/{upload_id}"


def upload_of(key: str) -> tuple[str, str] | None:
    """``(room, upload_id)`` of a raw upload key, or None if ``key`` is not one."""
    match = _UPLOAD.fullmatch(key)  # fullmatch: ``$`` would let a trailing newline in
    return None if match is None else (match["room"], match["id"])


def parse_image_key(key: object) -> ImageKey | None:
    """The rendition ``key`` names, or None for anything else (not a string, a raw upload,
    a path with ``..``, another file name)."""
    if not isinstance(key, str):
        return None
    match = _IMAGE.fullmatch(key)
    if match is None:
        return None
    size = match["size"]
    return ImageKey(Scope(match["scope"]), match["owner"], match["digest"],
                    None if size is None else int(size))


def key_belongs_to(room_id: str, key: object) -> bool:
    """Whether ``key`` is a rendition of canvas ``room_id``'s own images."""
    parsed = parse_image_key(key)
    return parsed is not None and parsed.scope is Scope.ROOM and parsed.owner == room_id


def key_belongs_to_post(post_id: str, key: object) -> bool:
    """Whether ``key`` is a rendition of post ``post_id``'s own copies."""
    parsed = parse_image_key(key)
    return parsed is not None and parsed.scope is Scope.POST and parsed.owner == post_id


def owned_image(scope: Scope, owner: str, key: object) -> ImageKey:
    """The parsed ``key`` if it is one of ``owner``'s renditions, else ForeignImageError
    (the same error whatever the key is: another owner's, malformed, or nobody's)."""
    parsed = parse_image_key(key)
    if parsed is None or parsed.scope is not scope or parsed.owner != owner:
        raise ForeignImageError(key if isinstance(key, str) else repr(key)[:80])
    return parsed
