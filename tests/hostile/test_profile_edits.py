"""Attacks on profile edits (``PATCH /api/identity`` {display_name?, bio?}).

The bio and the name are text anyone can put on a public page. Each attack is sent over
real HTTP to the real server (PostgreSQL, Redis) and must be refused with a clear 4xx that
changes nothing: the profile reads the same afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sync.settings import Settings
from tests.integration.test_gallery import Gallery, gallery_with, handle


@pytest.fixture
async def gallery(settings: Settings) -> AsyncIterator[Gallery]:
    """The server behind a trusted proxy: each browser has an address of its own."""
    async with gallery_with(settings) as running:
        yield running


async def profile(g: Gallery, name: str) -> dict[str, str]:
    outsider = await g.browser()
    r = await outsider.get(f"/api/people/{name}")
    assert r.status_code == 200, r.text
    return {"display_name": r.json()["display_name"], "bio": r.json()["bio"]}


async def someone(g: Gallery) -> tuple[str, httpx.AsyncClient, dict[str, str]]:
    """A person with a name and a bio set, and how their profile reads."""
    name = handle()
    http = await g.person(name)
    r = await http.patch("/api/identity", json={"display_name": "Bob", "bio": "I draw."})
    assert r.status_code == 200, r.text
    return name, http, await profile(g, name)


async def test_profile_edit_refuses_an_over_long_bio(gallery: Gallery) -> None:
    """A bio of 281 characters (and one of a megabyte) after a bound of 280."""
    name, me, before = await someone(gallery)
    for bio in ("x" * 281, "y" * 1_000_000):
        r = await me.patch("/api/identity", json={"bio": bio})
        assert r.status_code in (400, 413), r.text
    assert await profile(gallery, name) == before
    assert (await me.patch("/api/identity", json={"bio": "z" * 280})).status_code == 200


async def test_profile_edit_refuses_a_nul_in_the_bio(gallery: Gallery) -> None:
    """A NUL (which PostgreSQL text cannot hold) and a lone surrogate in the bio."""
    name, me, before = await someone(gallery)
    for raw in (b'{"bio": "a\\u0000b"}', b'{"bio": "a\\ud800b"}',
                b'{"display_name": "a\\u0000b"}'):
        r = await me.patch("/api/identity", content=raw,
                           headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (raw, r.text)
    assert await profile(gallery, name) == before


async def test_profile_edit_refuses_control_and_format_characters(gallery: Gallery) -> None:
    """A right-to-left override that would reorder the page's text, an escape, a bell."""
    name, me, before = await someone(gallery)
    for bio in ("evil \u202egnp.exe", "\x1b[31mred", "ding\x07", "zero\u200bwidth"):
        r = await me.patch("/api/identity", json={"bio": bio})
        assert r.status_code == 400, (bio, r.text)
    r = await me.patch("/api/identity", json={"display_name": "A\u202eB"})
    assert r.status_code == 400
    assert await profile(gallery, name) == before


async def test_profile_edit_refuses_a_bio_that_is_not_text(gallery: Gallery) -> None:
    """A bio or name as a number, a list, an object, null (the name), or a body that is
    not an object."""
    name, me, before = await someone(gallery)
    for body in ({"bio": 5}, {"bio": ["a"]}, {"bio": {"a": 1}}, {"bio": None},
                 {"display_name": 7}, {"display_name": "n" * 51}, ["bio"], {}):
        r = await me.patch("/api/identity", json=body)
        assert r.status_code == 400, (body, r.text)
    assert await profile(gallery, name) == before


async def test_profile_edit_cannot_reach_someone_elses_profile(gallery: Gallery) -> None:
    """Writing a bio onto another person's profile: naming their handle or id in the
    body, PATCHing their profile's URL, or sending their handle as a cookie."""
    victim, _, before = await someone(gallery)
    attacker = await gallery.person()
    for body in ({"handle": victim, "bio": "pwned"}, {"id": victim, "bio": "pwned"},
                 {"person": victim, "display_name": "pwned"}):
        r = await attacker.patch("/api/identity", json=body)
        assert r.status_code == 400, (body, r.text)
    r = await attacker.patch(f"/api/people/{victim}", json={"bio": "pwned"})
    assert r.status_code == 405
    stranger = await gallery.browser()
    stranger.cookies.set("arbor_id", victim)
    r = await stranger.patch("/api/identity", json={"bio": "pwned"})
    assert r.status_code == 401
    assert await profile(gallery, victim) == before


async def test_profile_edit_from_another_site_is_refused(gallery: Gallery) -> None:
    """A page on another site sends the PATCH with the victim's cookie (CSRF)."""
    name, me, before = await someone(gallery)
    r = await me.patch("/api/identity", json={"bio": "pwned"},
                       headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert await profile(gallery, name) == before
