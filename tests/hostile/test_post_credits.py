"""Attacks on a post's credits ("grown by Alice with Bob"), whose names come from the
presence (awareness) states of the people connected to the canvas when it is published:
text any peer with the link writes. Over the real websocket and HTTP, real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sync.settings import Settings
from tests.integration.test_gallery import Gallery, gallery_with
from tests.integration.test_gallery_place import grown_by


@pytest.fixture
async def gallery(settings: Settings) -> AsyncIterator[Gallery]:
    async with gallery_with(settings) as running:
        yield running


async def test_credits_clean_a_presence_name_of_nul_controls_and_length(
        gallery: Gallery) -> None:
    """A peer's presence name holding a NUL (PostgreSQL text cannot), a right-to-left
    override, an escape sequence, line breaks and 5,000 characters: the post is published
    and credits the name cleaned to one line of at most 50 characters."""
    me = await gallery.person()
    evil = "\u202eEve\u0000\x1b[31m\n\t" + "x" * 5000
    post = await grown_by(gallery, me, {"image": "user-eve", "prompt": "user-ann"},
                          {"user-eve": evil, "user-ann": "\u0000\u200b "})
    names = post["credits"]["names"]
    assert names == [("Eve[31m " + "x" * 50)[:50]]
    assert post["credits"]["others"] == 1  # a name with nothing left is no name

