"""Throwaway handles must not buy a voice in the gallery.

A handle costs one request: ``POST /api/identity`` with a name, no password, no e-mail. The
attacker mints handles from one address (each with its own cookie jar, as a script does)
and uses them to hide someone's post with reports, or to lift a post with likes. Hiding
needs reports by handles that existed before the report (``ARBOR_REPORT_MIN_HANDLE_AGE_HOURS``),
sent from ``ARBOR_REPORTS_TO_HIDE`` different addresses by handles claimed at as many
different addresses; likes count once per address; and handles are claimed from their own
slow bucket (``ARBOR_RATE_HANDLES_*``).

The server trusts 127.0.0.1 as its proxy, so each client names its address in
X-Forwarded-For as the proxy would. A handle is made "old" by moving its creation time
back in the database: test set-up standing in for a day of waiting, not a mock.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from sync.gallery import GalleryStore
from sync.settings import Settings
from tests.integration.test_gallery import Gallery, gallery_with, handle, ids_of, new_address

DEFAULTS = Settings()


@pytest.fixture
def hostile_settings(settings: Settings) -> Settings:
    """The shipped limits for handles and reports (the shared test settings lift the
    handle limit, since other tests claim many handles from one address)."""
    return settings.replace(rate_handles_per_hour_ip=DEFAULTS.rate_handles_per_hour_ip,
                            rate_handles_burst_ip=DEFAULTS.rate_handles_burst_ip,
                            reports_to_hide=DEFAULTS.reports_to_hide,
                            report_min_handle_age_hours=DEFAULTS.report_min_handle_age_hours)


@pytest.fixture
async def g(hostile_settings: Settings) -> AsyncIterator[Gallery]:
    async with gallery_with(hostile_settings) as running:
        yield running


@contextlib.asynccontextmanager
async def many_handles_gallery(settings: Settings) -> AsyncIterator[Gallery]:
    """A server that lets one address claim many handles: to show that the like and
    report rules hold even for an attacker who got past the handle limit (over days)."""
    async with gallery_with(settings.replace(rate_handles_per_hour_ip=100_000.0,
                                             rate_handles_burst_ip=100_000)) as running:
        yield running


async def mint(g: Gallery, n: int, address: str) -> list[tuple[str, httpx.AsyncClient]]:
    """``n`` handles claimed from ``address``, each in its own cookie jar."""
    out = []
    for _ in range(n):
        name = handle()
        out.append((name, await g.person(name, address)))
    return out


async def age(g: Gallery, names: list[str], days: int = 30) -> None:
    """Set-up: these handles were claimed ``days`` ago."""
    await g.server.services.store.pool.execute(
        "UPDATE people SET created_at = created_at - make_interval(days => $2) "
        "WHERE handle = ANY($1::text[])", names, days)


async def report(http: httpx.AsyncClient, post_id: str, address: str | None = None) -> None:
    headers = {"X-Forwarded-For": address} if address else None
    r = await http.post(f"/api/posts/{post_id}/report", json={"reason": "spam"},
                        headers=headers)
    assert r.status_code == 200, r.text


async def assert_listed(g: Gallery, post_id: str) -> None:
    outsider = await g.browser()
    assert post_id in await ids_of(outsider, "/api/posts", limit=100)
    assert (await outsider.get(f"/api/posts/{post_id}")).status_code == 200
    assert await g.server.services.store.pool.fetchval(
        "SELECT hidden FROM posts WHERE id = $1", post_id) is False


# ------------------------------------------------------------------------------ reports


async def test_fresh_handles_from_one_address_cannot_hide_a_post(g: Gallery) -> None:
    """Attack: claim as many handles as one address may at once (the burst, 3 by default)
    and report a post with each, straight away."""
    author = await g.person()
    post = await g.post(author)
    attacker = new_address()
    for _, http in await mint(g, DEFAULTS.rate_handles_burst_ip, attacker):
        await report(http, post["id"])
    await assert_listed(g, post["id"])
    # Every report is kept for the review, counted or not.
    assert await g.server.services.store.pool.fetchval(
        "SELECT report_count FROM posts WHERE id = $1", post["id"]) == 3


async def test_old_handles_reporting_from_one_address_cannot_hide_a_post(g: Gallery) -> None:
    """Attack: handles claimed long ago, each at its own address (gathered over weeks, or
    bought), all report from the attacker's one address: reports from one address count
    once, and one address never hides a post."""
    author = await g.person()
    post = await g.post(author)
    puppets = [(await mint(g, 1, new_address()))[0] for _ in range(DEFAULTS.reports_to_hide)]
    await age(g, [name for name, _ in puppets])
    attacker = new_address()
    for _, http in puppets:
        await report(http, post["id"], attacker)
    await assert_listed(g, post["id"])


async def test_old_handles_claimed_at_one_address_cannot_hide_from_many_addresses(
        g: Gallery) -> None:
    """Attack: handles claimed long ago at one address report through different
    addresses (proxies, a phone's mobile data): they were minted by one source and count
    once."""
    author = await g.person()
    post = await g.post(author)
    puppets = await mint(g, DEFAULTS.rate_handles_burst_ip, new_address())
    await age(g, [name for name, _ in puppets])
    for _, http in puppets:
        await report(http, post["id"], address=new_address())
    await assert_listed(g, post["id"])


async def test_fresh_handles_at_many_addresses_cannot_hide_a_post(g: Gallery) -> None:
    """Attack: an attacker with several addresses claims one handle at each and reports
    at once: reports count only from handles older than the minimum age."""
    author = await g.person()
    post = await g.post(author)
    for _ in range(DEFAULTS.reports_to_hide + 2):
        address = new_address()
        [(_, http)] = await mint(g, 1, address)
        await report(http, post["id"], address)
    await assert_listed(g, post["id"])


async def test_established_people_at_different_addresses_still_hide_a_post(
        g: Gallery) -> None:
    """The feature still works: people whose handles are old, claimed and reporting at
    their own addresses, hide the post (one fewer does not), and it waits for review."""
    author = await g.person()
    post = await g.post(author)
    people = [(await mint(g, 1, address))[0] + (address,)
              for address in (new_address() for _ in range(DEFAULTS.reports_to_hide))]
    await age(g, [name for name, _, _ in people])
    for _, http, address in people[:-1]:
        await report(http, post["id"], address)
    await assert_listed(g, post["id"])
    _, last, address = people[-1]
    await report(last, post["id"], address)
    outsider = await g.browser()
    assert post["id"] not in await ids_of(outsider, "/api/posts", limit=100)
    assert (await outsider.get(f"/api/posts/{post['id']}")).status_code == 404
    assert (await author.get(f"/api/posts/{post['id']}")).json()["hidden"] is True
    waiting = await GalleryStore(g.server.services.store.pool).hidden_posts()
    assert post["id"] in [p["id"] for p in waiting]


# ------------------------------------------------------------------------------ handles


async def test_handles_minted_in_a_burst_hit_the_handle_limit(g: Gallery) -> None:
    """Attack: claim handles one after another from one address, as a script would.
    Past the burst, claims are refused with 429 and a Retry-After of minutes (the handle
    bucket refills at ARBOR_RATE_HANDLES_PER_HOUR_IP), no handle is created, and other
    addresses are unaffected."""
    attacker = new_address()
    await mint(g, DEFAULTS.rate_handles_burst_ip, attacker)
    refused_name = handle()
    script = await g.browser(attacker)
    refused = await script.post("/api/identity", json={"handle": refused_name})
    assert refused.status_code == 429, refused.text
    assert refused.json()["type"] == "about:blank#rate_limited"
    assert refused.json()["limit"] == "handles-ip"
    assert int(refused.headers["retry-after"]) >= 60
    assert "arbor_id" not in script.cookies
    assert (await (await g.browser()).get(f"/api/people/{refused_name}")).status_code == 404
    # Someone else, elsewhere, still gets a handle.
    await g.person()


# ------------------------------------------------------------------------------ likes


async def test_likes_from_many_handles_of_one_address_count_once(settings: Settings) -> None:
    """Attack: like a post from many handles at one address. Each handle's like is its
    own (liked, unliked), but the post's count moves by one."""
    async with many_handles_gallery(settings) as g:
        author = await g.person()
        post = await g.post(author)
        url = f"/api/posts/{post['id']}/like"
        puppets = await mint(g, 8, new_address())
        for _, http in puppets:
            assert (await http.post(url)).json() == {"like_count": 1, "liked_by_me": True}
        for _, http in puppets:
            got = (await http.get(f"/api/posts/{post['id']}")).json()
            assert got["like_count"] == 1 and got["liked_by_me"] is True
        fan = await g.person()  # someone else, at their own address
        assert (await fan.post(url)).json() == {"like_count": 2, "liked_by_me": True}
        # Unlikes: the address counts while any of its handles still likes the post.
        for _, http in puppets[:-1]:
            assert (await http.delete(url)).json() == {"like_count": 2, "liked_by_me": False}
        assert (await puppets[-1][1].delete(url)).json() == {"like_count": 1,
                                                              "liked_by_me": False}


async def test_likes_from_one_address_do_not_lift_a_post_in_top(settings: Settings) -> None:
    """Attack: lift one's own post to the top of "top this week" with likes from many
    handles at one address: it ranks below a post two people liked."""
    async with many_handles_gallery(settings) as g:
        author = await g.person()
        lifted = (await g.post(author, seed=1))["id"]
        liked = (await g.post(author, seed=2))["id"]
        for _, http in await mint(g, 8, new_address()):
            assert (await http.post(f"/api/posts/{lifted}/like")).status_code == 200
        for _ in range(2):
            fan = await g.person()
            assert (await fan.post(f"/api/posts/{liked}/like")).status_code == 200
        top = await ids_of(author, "/api/posts", sort="top", limit=100)
        assert top.index(liked) < top.index(lifted)
