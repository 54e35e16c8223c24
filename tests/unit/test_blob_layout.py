"""The one rule for keys a document names (``sync/blobs/layout.py``)."""

from __future__ import annotations

import pytest

from sync.blobs import (
    ForeignImageError,
    Scope,
    key_belongs_to,
    key_belongs_to_post,
    owned_image,
    parse_image_key,
    post_image_key,
    room_image_key,
    upload_key,
    upload_of,
)
from sync.blobs.errors import FOREIGN_IMAGE_DETAIL

DIGEST = "ab" * 32
ROOM = "Room1234_-x"


def test_room_keys_round_trip() -> None:
    for size in (None, 256, 1024):
        key = room_image_key(ROOM, DIGEST, size)
        parsed = parse_image_key(key)
        assert parsed is not None and parsed.key == key
        assert (parsed.scope, parsed.owner, parsed.digest, parsed.size) == (
            Scope.ROOM, ROOM, DIGEST, size)
        assert key_belongs_to(ROOM, key)
        assert not key_belongs_to_post(ROOM, key)
    assert key_belongs_to_post("post1234", post_image_key("post1234", DIGEST))


@pytest.mark.parametrize("key", [
    room_image_key("Room1234_-xy", DIGEST),  # a room whose id starts like ours
    room_image_key("Room1234_-", DIGEST),  # ... or is a prefix of ours
    post_image_key(ROOM, DIGEST),  # a post that happens to share the id
    f"rooms/{ROOM}/../other123/{DIGEST}.webp",
    f"rooms/{ROOM}/{DIGEST}.png",
    f"rooms/{ROOM}/{DIGEST[:-1]}.webp",
    f"rooms/{ROOM}/{DIGEST.upper()}.webp",
    f"/rooms/{ROOM}/{DIGEST}.webp",
    f"rooms/{ROOM}/{DIGEST}.webp\n",
    upload_key(ROOM, "0" * 32),
    "", None, 42, {"key": room_image_key(ROOM, DIGEST)},
])
def test_anything_else_is_not_the_room_own(key: object) -> None:
    assert not key_belongs_to(ROOM, key)
    with pytest.raises(ForeignImageError) as info:
        owned_image(Scope.ROOM, ROOM, key)
    assert info.value.detail == FOREIGN_IMAGE_DETAIL


def test_upload_keys_name_their_room_and_id() -> None:
    assert upload_of(upload_key(ROOM, "f" * 32)) == (ROOM, "f" * 32)
    assert upload_of(f"uploads/{ROOM}/../x") is None
    assert upload_of(room_image_key(ROOM, DIGEST)) is None
