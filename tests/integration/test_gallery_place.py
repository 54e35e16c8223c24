"""The gallery as a place (issue 23), on the real server: "top" of a day, a week or all
time with keyset pages that keep their period, the count of posts newer than the feed's
newest (the "3 new posts" notice), and profiles with an editable name and bio.

A post is made "old" by moving its creation time back in the database: set-up standing in
for days of waiting, not a mock. The run's database is shared by the tests of this run, so
listings are checked for the posts a test made, in their order, not for exact pages.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pycrdt import Map

from sync.settings import Settings
from tests.conftest import run_server
from tests.integration.test_gallery import PROXY, Gallery, gallery_with, handle
from tests.integration.test_link_previews import PUBLIC, Site, build, crawl, parse
from tests.yclient import YClient, eventually


@pytest.fixture
async def gallery(settings: Settings) -> AsyncIterator[Gallery]:
    """The server behind a trusted proxy: each browser has an address of its own."""
    async with gallery_with(settings) as running:
        yield running


@pytest.fixture
async def site(settings: Settings, tmp_path: Path) -> AsyncIterator[Gallery]:
    """The server with a web build and a public URL, as link previews are read."""
    s = settings.replace(trusted_proxies=PROXY, public_url=PUBLIC)
    async with run_server(s, web_dist=build(tmp_path)) as srv, \
            contextlib.AsyncExitStack() as stack:
        yield Site(srv, stack)


async def backdate(g: Gallery, post_id: str, days: float) -> None:
    await g.server.services.store.pool.execute(
        "UPDATE posts SET created_at = created_at - make_interval(secs => $2) WHERE id = $1",
        post_id, days * 86400.0)


async def like_with(g: Gallery, post_id: str, people: int) -> None:
    for _ in range(people):
        fan = await g.person()
        assert (await fan.post(f"/api/posts/{post_id}/like")).status_code == 200


async def walk(http: httpx.AsyncClient, **params: Any) -> list[str]:
    """Every post id of a listing, one post per page, following the cursors."""
    out: list[str] = []
    cursor = None
    while True:
        r = await http.get("/api/posts", params={**params, "limit": 1,
                                                 **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        out += [p["id"] for p in r.json()["posts"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return out


async def periods_gallery(g: Gallery) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """Three posts: fresh (1 like), three days old (2 likes), a month old (3 likes)."""
    author = await g.person()
    room, ids = await g.canvas(author)
    posts = {}
    for name, days, likes in (("fresh", 0, 1), ("days", 3, 2), ("month", 30, 3)):
        r = await g.publish(author, room, ids["image"], title=name)
        assert r.status_code == 201, r.text
        posts[name] = r.json()["id"]
        if days:
            await backdate(g, posts[name], days)
        await like_with(g, posts[name], likes)
    return author, posts


def mine(listing: list[str], posts: dict[str, str]) -> list[str]:
    names = {v: k for k, v in posts.items()}
    return [names[i] for i in listing if i in names]


async def test_top_ranks_the_posts_of_a_day_a_week_or_all_time(gallery: Gallery) -> None:
    me, posts = await periods_gallery(gallery)
    for period, expected in (("day", ["fresh"]), ("week", ["days", "fresh"]),
                             ("all", ["month", "days", "fresh"])):
        r = await me.get("/api/posts", params={"sort": "top", "period": period, "limit": 100})
        assert r.status_code == 200, r.text
        assert mine([p["id"] for p in r.json()["posts"]], posts) == expected, period
    # Without a period, top is the week, as it was before periods.
    r = await me.get("/api/posts", params={"sort": "top", "limit": 100})
    assert mine([p["id"] for p in r.json()["posts"]], posts) == ["days", "fresh"]


async def test_top_pages_of_each_period_neither_repeat_nor_skip(gallery: Gallery) -> None:
    me, _ = await periods_gallery(gallery)
    for period in ("day", "week", "all"):
        one_by_one = await walk(me, sort="top", period=period)
        whole = (await me.get("/api/posts", params={"sort": "top", "period": period,
                                                   "limit": 100})).json()["posts"]
        assert one_by_one == [p["id"] for p in whole], period
        assert len(set(one_by_one)) == len(one_by_one)


async def test_a_top_cursor_continues_only_its_own_period(gallery: Gallery) -> None:
    me, _ = await periods_gallery(gallery)
    cursors = {}
    for period in ("day", "week", "all"):
        r = await me.get("/api/posts", params={"sort": "top", "period": period, "limit": 1})
        cursors[period] = r.json()["next_cursor"]
    cursors = {k: v for k, v in cursors.items() if v}
    assert {"week", "all"} <= set(cursors)
    for period, cursor in cursors.items():
        for other in {"day", "week", "all"} - {period}:
            r = await me.get("/api/posts", params={"sort": "top", "period": other,
                                                   "cursor": cursor})
            assert r.status_code == 400, (period, other)
            assert r.json()["type"].endswith("#bad_cursor"), (period, other)
        r = await me.get("/api/posts", params={"sort": "new", "cursor": cursor})
        assert r.status_code == 400


async def test_a_period_that_is_not_one_is_refused(gallery: Gallery) -> None:
    anon = await gallery.browser()
    for params in ({"sort": "top", "period": "month"}, {"sort": "top", "period": ""},
                   {"sort": "new", "period": "day"}):
        r = await anon.get("/api/posts", params=params)
        assert r.status_code == 400, params


async def test_newer_counts_the_posts_published_after_the_newest_seen(
        gallery: Gallery) -> None:
    author, reader = await gallery.person(), await gallery.browser()
    room, ids = await gallery.canvas(author)
    first = (await gallery.publish(author, room, ids["image"], title="first")).json()["id"]

    async def newer() -> dict[str, Any]:
        r = await reader.get("/api/posts/newer", params={"than": first})
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        return dict(r.json())

    assert await newer() == {"count": 0, "more": False}
    later = [(await gallery.publish(author, room, ids["image"], title=f"later {n}")).json()["id"]
             for n in range(3)]
    assert await newer() == {"count": 3, "more": False}
    assert (await author.delete(f"/api/posts/{later[-1]}")).status_code == 204
    assert await newer() == {"count": 2, "more": False}
    # The newest post counts none after it.
    r = await reader.get("/api/posts/newer", params={"than": later[1]})
    assert r.json() == {"count": 0, "more": False}


async def test_newer_in_the_following_feed_counts_only_people_followed(
        gallery: Gallery) -> None:
    followed_name = handle()
    followed, stranger, reader = (await gallery.person(followed_name), await gallery.person(),
                                  await gallery.person())
    assert (await reader.post(f"/api/people/{followed_name}/follow")).status_code == 200
    first = (await gallery.post(followed))["id"]
    await gallery.post(stranger, seed=1)
    await gallery.post(followed, seed=2)
    r = await reader.get("/api/posts/newer", params={"than": first, "feed": "following"})
    assert r.status_code == 200 and r.json() == {"count": 1, "more": False}
    everyone = await reader.get("/api/posts/newer", params={"than": first})
    assert everyone.json()["count"] >= 2
    anon = await gallery.browser()
    r = await anon.get("/api/posts/newer", params={"than": first, "feed": "following"})
    assert r.status_code == 401
    r = await reader.get("/api/posts/newer", params={"than": first, "feed": "friends"})
    assert r.status_code == 400


async def test_newer_than_no_post_is_refused(gallery: Gallery) -> None:
    anon = await gallery.browser()
    r = await anon.get("/api/posts/newer", params={"than": "doesnotexist1"})
    assert r.status_code == 404 and r.json()["type"].endswith("#post_not_found")
    for bad in ("", "x", "../../etc/passwd", "a" * 40):
        r = await anon.get("/api/posts/newer", params={"than": bad})
        assert r.status_code == 400, bad
    assert (await anon.get("/api/posts/newer")).status_code == 400


async def test_profile_edit_shows_the_new_name_and_bio(gallery: Gallery) -> None:
    name = handle()
    me, other = await gallery.person(name), await gallery.browser()
    assert (await other.get(f"/api/people/{name}")).json()["bio"] == ""
    r = await me.patch("/api/identity", json={"display_name": "  Alice   Liddell ",
                                              "bio": "  I grow foxes.\nAnd  snow.  "})
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Alice Liddell"
    assert r.json()["bio"] == "I grow foxes.\nAnd snow."
    assert r.json()["handle"] == name
    profile = (await other.get(f"/api/people/{name}")).json()
    assert (profile["display_name"], profile["bio"]) == \
        ("Alice Liddell", "I grow foxes.\nAnd snow.")
    got = (await me.get("/api/identity")).json()
    assert got["bio"] == "I grow foxes.\nAnd snow."
    # One field at a time: the other stays.
    assert (await me.patch("/api/identity", json={"bio": ""})).json()["display_name"] \
        == "Alice Liddell"
    profile = (await other.get(f"/api/people/{name}")).json()
    assert (profile["display_name"], profile["bio"]) == ("Alice Liddell", "")
    # A name of only spaces is the handle again.
    assert (await me.patch("/api/identity", json={"display_name": "   "})).json()[
        "display_name"] == name
    # The post page and listings name the author by the new name.
    post = await gallery.post(me)
    await me.patch("/api/identity", json={"display_name": "Alice"})
    assert (await other.get(f"/api/posts/{post['id']}")).json()["author"]["display_name"] \
        == "Alice"


async def test_profile_edit_without_identity_is_refused(gallery: Gallery) -> None:
    anon = await gallery.browser()
    r = await anon.patch("/api/identity", json={"bio": "hello"})
    assert r.status_code == 401 and r.json()["type"].endswith("#identity_required")


async def test_profile_edit_without_csrf_header_is_refused(gallery: Gallery) -> None:
    name = handle()
    me = await gallery.person(name)
    r = await me.patch("/api/identity", json={"bio": "hello"}, headers={"X-Arbor-CSRF": ""})
    assert r.status_code == 403
    assert (await me.get(f"/api/people/{name}")).json()["bio"] == ""


async def test_a_profile_link_previews_with_the_bio(site: Gallery) -> None:
    name = handle()
    me = await site.person(name)
    before = parse((await crawl(site, f"/u/{name}")).text).one("og:description")
    r = await me.patch("/api/identity", json={"bio": "Foxes <b>&</b>\nsnow."})
    assert r.status_code == 200, r.text
    page = await crawl(site, f"/u/{name}")
    about = parse(page.text).one("og:description")
    assert about == f"Foxes <b>&</b> snow. · {before}"
    assert "<b>" not in page.text


async def grown_by(g: Gallery, http: httpx.AsyncClient, authors: dict[str, str],
                   present: dict[str, Any]) -> dict[str, Any]:
    """A canvas whose blocks (by role: prompt, expanded, image) were made by ``authors``
    (user ids), published while the people of ``present`` (user id -> presence name)
    are connected; the post."""
    room, ids = await g.canvas(http)
    url = f"{g.server.ws_url}/sync/{room['room']}?token={room['edit_token']}"
    clients = [await YClient.connect(url) for _ in present]
    try:
        blocks = clients[0].doc.get("blocks", type=Map)
        with clients[0].doc.transaction():
            for role, author in authors.items():
                blocks[ids[role]]["author"] = author
        for client, (user, name) in zip(clients, present.items(), strict=True):
            await client.set_awareness({"user": {"id": user, "name": name}})

        async def everyone_seen() -> bool:
            async with g.server.services.rooms.session(room["room"]) as live:
                states = list(live.awareness.states().values())
                authored = all(live.doc.get("blocks", type=Map)[ids[r]].get("author") == a
                               for r, a in authors.items())
            return authored and len(states) >= len(present)

        await eventually(everyone_seen, message="the authors and their presence")
        r = await g.publish(http, room, ids["image"])
        assert r.status_code == 201, r.text
        return dict(r.json())
    finally:
        for client in clients:
            await client.close()


async def test_a_post_credits_the_authors_of_its_lineage_by_their_names(
        gallery: Gallery) -> None:
    me = await gallery.person()
    post = await grown_by(gallery, me, {"prompt": "user-bob", "expanded": "user-gone",
                                        "image": "user-alice"},
                          {"user-alice": "Alice", "user-bob": "Bob"})
    # The image's author first, then the rest root first; one not connected is counted.
    assert post["credits"] == {"names": ["Alice", "Bob"], "others": 1}
    reader = await gallery.browser()
    assert (await reader.get(f"/api/posts/{post['id']}")).json()["credits"] == post["credits"]
    listed = (await reader.get("/api/posts", params={"limit": 100})).json()["posts"]
    assert next(p for p in listed if p["id"] == post["id"])["credits"] == post["credits"]
