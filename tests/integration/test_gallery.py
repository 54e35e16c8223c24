"""The public gallery on the real server (PostgreSQL, Redis, blobs on disk): identity,
publish with lineage, browse with keyset pages, likes, follows, reports, remix, and the
requests it must refuse."""

from __future__ import annotations

import asyncio
import contextlib
import io
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image
from pycrdt import Map, Text

from sync.settings import Settings
from tests.conftest import RunningServer, run_server
from tests.yclient import YClient, eventually

CSRF = {"X-Arbor-CSRF": "1"}


def png_bytes(w: int = 320, h: int = 240, seed: int = 0) -> bytes:
    im = Image.effect_noise((w, h), 40 + seed).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def handle() -> str:
    return "t_" + secrets.token_hex(6)


def new_address() -> str:
    """A client address of its own (a /64 of the documentation range), as a trusted proxy
    would name it in X-Forwarded-For."""
    return f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"


PROXY: frozenset[str] = frozenset({"127.0.0.1"})  # the tests' clients stand behind it


class Gallery:
    """The server, and one cookie jar (browser) per person."""

    def __init__(self, server: RunningServer, stack: contextlib.AsyncExitStack) -> None:
        self.server = server
        self.stack = stack

    async def browser(self, address: str | None = None) -> httpx.AsyncClient:
        """A client that behaves like an Arbor page: same Origin, the CSRF header; and, as
        the server trusts 127.0.0.1 as its proxy, its own client ``address`` (default: a
        new one, so each browser is a different household)."""
        return await self.stack.enter_async_context(httpx.AsyncClient(
            base_url=self.server.base_url, timeout=15,
            headers={"Origin": self.server.base_url, **CSRF,
                     "X-Forwarded-For": address or new_address()}))

    async def person(self, name: str | None = None,
                     address: str | None = None) -> httpx.AsyncClient:
        http = await self.browser(address)
        r = await http.post("/api/identity", json={"handle": name or handle()})
        assert r.status_code == 201, r.text
        return http

    async def room(self, http: httpx.AsyncClient) -> dict[str, str]:
        r = await http.post("/api/rooms", json={"title": "Gallery"})
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def canvas(self, http: httpx.AsyncClient, room: dict[str, str] | None = None,
                     seed: int = 0) -> tuple[dict[str, str], dict[str, str]]:
        """A canvas growing prompt -> expanded prompt -> image (with a stored image);
        returns the room's links and the block ids by role."""
        room = room or await self.room(http)
        ids = {"prompt": "p" + secrets.token_hex(8), "expanded": "e" + secrets.token_hex(8),
               "image": "i" + secrets.token_hex(8), "other": "o" + secrets.token_hex(8)}
        client = await YClient.connect(
            f"{self.server.ws_url}/sync/{room['room']}?token={room['edit_token']}")
        try:
            doc = client.doc
            blocks, edges = doc.get("blocks", type=Map), doc.get("edges", type=Map)
            with doc.transaction():
                for n, (role, kind, text, tool) in enumerate((
                        ("prompt", "text", "a fox", None),
                        ("expanded", "text", "a red fox asleep in fresh snow", "expand"),
                        ("image", "image", "a red fox asleep in fresh snow", "image"),
                        ("other", "text", "an unrelated idea", None))):
                    block = Map({"kind": kind, "x": 320.0 * n, "y": 0.0, "w": 260.0,
                                 "h": 280.0, "status": "done"})
                    blocks[ids[role]] = block
                    block["text"] = Text(text)
                    if tool:
                        block["tool"] = tool
                edges["e1"] = Map({"source": ids["prompt"], "target": ids["expanded"],
                                   "tool": "expand"})
                edges["e2"] = Map({"source": ids["expanded"], "target": ids["image"],
                                   "tool": "image"})
            await self._upload(http, room, ids["image"], png_bytes(seed=seed))
            await eventually(lambda: client.blocks()[ids["image"]].get("image"),
                             message="the image in the block")
        finally:
            await client.close()
        return room, ids

    async def _upload(self, http: httpx.AsyncClient, room: dict[str, str], block: str,
                      data: bytes) -> None:
        auth = {"Authorization": f"Bearer {room['edit_token']}"}
        r = await http.post(f"/api/rooms/{room['room']}/uploads", headers=auth, json={
            "filename": "fox.png", "content_type": "image/png", "size": len(data),
            "block_id": block})
        assert r.status_code == 201, r.text
        target = r.json()
        put = await http.request(target["method"], target["url"], content=data,
                                 headers=target["headers"])
        assert put.status_code == 200, put.text
        done = await http.post(
            f"/api/rooms/{room['room']}/uploads/{target['upload_id']}/complete", headers=auth)
        assert done.status_code == 200 and done.json()["block_updated"], done.text

    async def publish(self, http: httpx.AsyncClient, room: dict[str, str], block: str, *,
                      token: str | None = None, **body: Any) -> httpx.Response:
        body = {"block_id": block, "title": "Sleeping fox", "include_prompts": True, **body}
        return await http.post(
            f"/api/rooms/{room['room']}/publish", json=body,
            headers={"Authorization": f"Bearer {token or room['edit_token']}"})

    async def post(self, http: httpx.AsyncClient, seed: int = 0, **body: Any) -> dict[str, Any]:
        room, ids = await self.canvas(http, seed=seed)
        r = await self.publish(http, room, ids["image"], **body)
        assert r.status_code == 201, r.text
        return dict(r.json())


@pytest.fixture
async def gallery(settings: Settings) -> AsyncIterator[Gallery]:
    # Any handle's report counts here; the age rule has its own attack tests
    # (tests/hostile/test_gallery_sybil.py).
    async with gallery_with(settings.replace(report_min_handle_age_hours=0.0)) as g:
        yield g


@contextlib.asynccontextmanager
async def gallery_with(settings: Settings) -> AsyncIterator[Gallery]:
    """A server behind a trusted proxy (127.0.0.1), so each browser has its own address."""
    async with run_server(settings.replace(trusted_proxies=PROXY)) as srv, \
            contextlib.AsyncExitStack() as stack:
        yield Gallery(srv, stack)


async def ids_of(http: httpx.AsyncClient, path: str, **params: Any) -> list[str]:
    r = await http.get(path, params=params)
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["posts"]]


# ----------------------------------------------------------------------------- identity


async def test_claim_handle_sets_a_private_cookie_and_recovers_on_another_device(
        gallery: Gallery) -> None:
    me = await gallery.browser()
    name = handle()
    r = await me.post("/api/identity", json={"handle": name.upper(), "display_name": " Fox  Fan "})
    assert r.status_code == 201, r.text
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("arbor_id=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; https requests get Secure
    secret = me.cookies["arbor_id"]
    assert len(secret) >= 40
    body = r.json()
    assert body["handle"] == name and body["display_name"] == "Fox Fan"
    assert body["recovery_url"] == f"{gallery.server.base_url}/recover#secret={secret}"
    # Only the hash is stored.
    pool = gallery.server.services.store.pool
    stored = await pool.fetchval(
        "SELECT count(*) FROM credentials c JOIN people p ON p.id = c.person_id "
        "WHERE p.handle = $1 AND c.kind = 'secret' AND c.secret_hash = sha256($2::bytea)",
        name, secret.encode())
    assert stored == 1
    assert await pool.fetchval("SELECT count(*) FROM credentials WHERE secret_hash = $1",
                               secret.encode()) == 0

    got = await me.get("/api/identity")
    assert got.status_code == 200 and got.json() == body

    other = await gallery.browser()
    assert (await other.get("/api/identity")).status_code == 401
    rec = await other.post("/api/identity/recover", json={"secret": secret})
    assert rec.status_code == 200, rec.text
    assert (await other.get("/api/identity")).json()["handle"] == name


async def test_claim_handle_over_https_sets_a_secure_cookie(settings: Settings) -> None:
    async with gallery_with(settings.replace(public_url="https://arbor.example")) as g:
        http = await g.browser()
        r = await http.post("/api/identity", json={"handle": handle()},
                            headers={"Origin": "https://arbor.example"})
        assert r.status_code == 201, r.text
        assert "Secure" in r.headers["set-cookie"]
        assert r.json()["recovery_url"].startswith("https://arbor.example/recover#secret=")


@pytest.mark.parametrize("bad", ["admin", "gallery", "support", "Root"])
async def test_claim_reserved_handle_is_refused(gallery: Gallery, bad: str) -> None:
    r = await (await gallery.browser()).post("/api/identity", json={"handle": bad})
    assert r.status_code == 409
    assert r.json()["type"] == "about:blank#handle_reserved"


async def test_claim_duplicate_handle_in_other_case_is_refused(gallery: Gallery) -> None:
    name = handle()
    await gallery.person(name)
    r = await (await gallery.browser()).post("/api/identity", json={"handle": name.upper()})
    assert r.status_code == 409
    assert r.json()["type"] == "about:blank#handle_taken"


@pytest.mark.parametrize("bad", ["ab", "x" * 31, "has space", "dash-ed", "émile", "", 42, None])
async def test_claim_malformed_handle_is_refused(gallery: Gallery, bad: Any) -> None:
    r = await (await gallery.browser()).post("/api/identity", json={"handle": bad})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"


async def test_second_claim_from_the_same_browser_is_refused(gallery: Gallery) -> None:
    me = await gallery.person()
    r = await me.post("/api/identity", json={"handle": handle()})
    assert r.status_code == 409 and r.json()["type"] == "about:blank#identity_exists"


async def test_forged_cookie_is_not_an_identity(gallery: Gallery) -> None:
    author = await gallery.person()
    post = await gallery.post(author)
    forger = await gallery.browser()
    forger.cookies.set("arbor_id", secrets.token_urlsafe(32))
    assert (await forger.get("/api/identity")).status_code == 401
    r = await forger.post(f"/api/posts/{post['id']}/like")
    assert r.status_code == 401 and r.json()["type"] == "about:blank#identity_required"
    assert (await forger.get(f"/api/posts/{post['id']}")).json()["like_count"] == 0


async def test_recover_with_unknown_secret_is_refused(gallery: Gallery) -> None:
    r = await (await gallery.browser()).post("/api/identity/recover",
                                             json={"secret": secrets.token_urlsafe(32)})
    assert r.status_code == 401


# ------------------------------------------------------------------------------ CSRF


async def test_cookie_write_without_csrf_header_is_refused(gallery: Gallery) -> None:
    me = await gallery.person()
    post = await gallery.post(me)
    r = await me.post(f"/api/posts/{post['id']}/like", headers={"X-Arbor-CSRF": ""})
    assert r.status_code == 403 and r.json()["type"] == "about:blank#csrf_header_missing"
    r = await me.delete(f"/api/posts/{post['id']}", headers={"X-Arbor-CSRF": "0"})
    assert r.status_code == 403
    assert (await me.get(f"/api/posts/{post['id']}")).json()["like_count"] == 0


async def test_cookie_write_from_foreign_origin_is_refused(gallery: Gallery) -> None:
    me = await gallery.person()
    post = await gallery.post(me)
    for headers in ({"Origin": "https://evil.example"},
                    {"Origin": "null"},
                    {"Origin": f"{gallery.server.base_url}.evil.example"}):
        r = await me.post(f"/api/posts/{post['id']}/like", headers=headers)
        assert r.status_code == 403, headers
        assert r.json()["type"] == "about:blank#origin_not_allowed"
    assert (await me.get(f"/api/posts/{post['id']}")).json()["like_count"] == 0


async def test_cookie_write_without_origin_uses_referer(gallery: Gallery) -> None:
    me = await gallery.person()
    post = await gallery.post(me)
    del me.headers["Origin"]
    bad = await me.post(f"/api/posts/{post['id']}/like",
                        headers={"Referer": "https://evil.example/p/x"})
    assert bad.status_code == 403
    none = await me.post(f"/api/posts/{post['id']}/like")
    assert none.status_code == 403
    good = await me.post(f"/api/posts/{post['id']}/like",
                         headers={"Referer": f"{gallery.server.base_url}/p/{post['id']}"})
    assert good.status_code == 200 and good.json()["like_count"] == 1


async def test_claim_handle_from_foreign_origin_is_refused(gallery: Gallery) -> None:
    http = await gallery.browser()
    r = await http.post("/api/identity", json={"handle": handle()},
                        headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert "set-cookie" not in r.headers


async def test_allowed_origin_setting_is_accepted(settings: Settings) -> None:
    async with gallery_with(settings.replace(allowed_origins=("https://app.example",))) as g:
        http = await g.browser()
        r = await http.post("/api/identity", json={"handle": handle()},
                            headers={"Origin": "https://app.example"})
        assert r.status_code == 201, r.text


# --------------------------------------------------------------------------- publish


async def test_publish_copies_the_image_and_lineage_out_of_the_canvas(
        gallery: Gallery) -> None:
    me = await gallery.person()
    room, ids = await gallery.canvas(me)
    view = {"Authorization": f"Bearer {room['view_token']}"}
    lin = await me.get(f"/api/rooms/{room['room']}/lineage/{ids['image']}", headers=view)
    assert lin.status_code == 200, lin.text
    steps = lin.json()["lineage"]
    assert [s["block_id"] for s in steps] == [ids["prompt"], ids["expanded"], ids["image"]]
    assert [s["kind"] for s in steps] == ["text", "text", "image"]
    assert [s["tool"] for s in steps] == [None, "expand", "image"]
    assert steps[0]["text"] == "a fox" and steps[0]["parents"] == []
    assert steps[2]["parents"] == [ids["expanded"]]
    assert steps[2]["image"]["key"].startswith(f"rooms/{room['room']}/")

    r = await gallery.publish(me, room, ids["image"], title="  Sleeping fox ",
                              description="Found in the snow.")
    assert r.status_code == 201, r.text
    post = r.json()
    assert post["title"] == "Sleeping fox" and post["description"] == "Found in the snow."
    assert post["like_count"] == 0 and post["liked_by_me"] is False and post["is_author"]
    assert post["image"]["key"] == f"posts/{post['id']}/" + \
        steps[2]["image"]["key"].rsplit("/", 1)[1]
    assert [s["text"] for s in post["lineage"]] == [s["text"] for s in steps]
    assert post["remixed_from"] is None

    # The canvas forgets the image: the post keeps it.
    blobs = gallery.server.services.blobs
    await blobs.delete_prefix(f"rooms/{room['room']}/")
    anon = await gallery.browser()
    for field, width in (("url", 320), ("thumb_url", 320), ("small_url", 256)):
        img = await anon.get(post["image"][field])
        assert img.status_code == 200, (field, img.text)
        assert img.headers["content-type"] == "image/webp"
        assert img.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert img.headers["etag"]
        with Image.open(io.BytesIO(img.content)) as im:
            assert im.size[0] == width
    again = await anon.get(post["image"]["url"],
                           headers={"If-None-Match": img.headers["etag"].replace("x", "y")})
    assert again.status_code == 200
    got = await anon.get(f"/api/posts/{post['id']}")
    assert got.status_code == 200
    assert got.json()["author"]["handle"] == (await me.get("/api/identity")).json()["handle"]
    assert got.json()["lineage"][2]["image"]["url"] == post["image"]["url"]
    step_img = await anon.get(got.json()["lineage"][2]["image"]["small_url"])
    assert step_img.status_code == 200


async def test_publish_without_prompts_hides_the_lineage(gallery: Gallery) -> None:
    me = await gallery.person()
    post = await gallery.post(me, include_prompts=False)
    got = (await (await gallery.browser()).get(f"/api/posts/{post['id']}")).json()
    assert got["include_prompts"] is False and got["lineage"] is None
    pool = gallery.server.services.store.pool
    lineage = await pool.fetchval("SELECT lineage::text FROM posts WHERE id = $1", post["id"])
    assert "fox" not in lineage  # the prompts are not kept at all


async def test_publish_with_view_token_is_refused(gallery: Gallery) -> None:
    me = await gallery.person()
    room, ids = await gallery.canvas(me)
    r = await gallery.publish(me, room, ids["image"], token=room["view_token"])
    assert r.status_code == 403 and r.json()["type"] == "about:blank#read_only"


async def test_publish_text_block_is_refused(gallery: Gallery) -> None:
    me = await gallery.person()
    room, ids = await gallery.canvas(me)
    r = await gallery.publish(me, room, ids["expanded"])
    assert r.status_code == 400 and r.json()["type"] == "about:blank#not_an_image"


async def test_publish_unknown_block_is_refused(gallery: Gallery) -> None:
    me = await gallery.person()
    room, _ = await gallery.canvas(me)
    r = await gallery.publish(me, room, "nosuchblock")
    assert r.status_code == 404


async def test_publish_too_long_title_is_refused(gallery: Gallery) -> None:
    me = await gallery.person()
    room, ids = await gallery.canvas(me)
    r = await gallery.publish(me, room, ids["image"], title="x" * 121)
    assert r.status_code == 400
    r = await gallery.publish(me, room, ids["image"], title="   ")
    assert r.status_code == 400
    r = await gallery.publish(me, room, ids["image"], description="d" * 2001)
    assert r.status_code == 400
    pool = gallery.server.services.store.pool
    assert await pool.fetchval("SELECT count(*) FROM posts WHERE room_id = $1",
                               room["room"]) == 0


async def test_publish_without_identity_is_refused(gallery: Gallery) -> None:
    me = await gallery.person()
    room, ids = await gallery.canvas(me)
    anon = await gallery.browser()
    r = await gallery.publish(anon, room, ids["image"])
    assert r.status_code == 401


async def test_publish_with_bad_link_is_refused(gallery: Gallery) -> None:
    me = await gallery.person()
    room, ids = await gallery.canvas(me)
    r = await gallery.publish(me, room, ids["image"], token="not-a-real-token")
    assert r.status_code == 401


# ---------------------------------------------------------------------------- browse


async def test_new_listing_pages_stay_stable_while_posts_arrive(gallery: Gallery) -> None:
    me = await gallery.person()
    room, ids = await gallery.canvas(me)
    published = []
    for n in range(5):
        r = await gallery.publish(me, room, ids["image"], title=f"fox {n}")
        assert r.status_code == 201
        published.append(r.json()["id"])
    newest_first = published[::-1]

    first = (await me.get("/api/posts", params={"limit": 2})).json()
    assert [p["id"] for p in first["posts"]] == newest_first[:2]
    # Two more posts arrive between pages: the next pages neither repeat nor skip.
    late = [(await gallery.publish(me, room, ids["image"], title=f"late {n}")).json()["id"]
            for n in range(2)]
    second = (await me.get("/api/posts", params={"limit": 2,
                                                 "cursor": first["next_cursor"]})).json()
    assert [p["id"] for p in second["posts"]] == newest_first[2:4]
    third = (await me.get("/api/posts", params={"limit": 2,
                                                "cursor": second["next_cursor"]})).json()
    assert [p["id"] for p in third["posts"][:1]] == newest_first[4:5]
    assert not set(late) & {p["id"] for p in second["posts"] + third["posts"]}
    # And from the top again the new ones come first.
    assert (await ids_of(me, "/api/posts", limit=2)) == late[::-1]


async def test_top_listing_orders_by_likes_with_keyset_pages(gallery: Gallery) -> None:
    author = await gallery.person()
    posts = [(await gallery.post(author, seed=n))["id"] for n in range(3)]
    fans = [await gallery.person() for _ in range(2)]
    for fan in fans:
        assert (await fan.post(f"/api/posts/{posts[0]}/like")).status_code == 200
    assert (await fans[0].post(f"/api/posts/{posts[1]}/like")).status_code == 200
    top = await ids_of(author, "/api/posts", sort="top", limit=100)
    assert top.index(posts[0]) < top.index(posts[1]) < top.index(posts[2])
    first = (await author.get("/api/posts", params={"sort": "top", "limit": 1})).json()
    second = (await author.get("/api/posts", params={"sort": "top", "limit": 1,
                                                     "cursor": first["next_cursor"]})).json()
    assert first["posts"][0]["id"] != second["posts"][0]["id"]
    assert first["posts"][0]["like_count"] >= second["posts"][0]["like_count"]


async def test_listing_with_forged_cursor_is_refused(gallery: Gallery) -> None:
    anon = await gallery.browser()
    for cursor in ("garbage", "W10", "WyJ0b3AiLCJ4IiwieSJd"):
        r = await anon.get("/api/posts", params={"cursor": cursor})
        assert r.status_code == 400, cursor
    new_cursor_in_top = await anon.get("/api/posts", params={
        "sort": "top", "cursor": "WyJuZXciLCIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwieCJd"})
    assert new_cursor_in_top.status_code == 400
    assert (await anon.get("/api/posts", params={"limit": "0"})).status_code == 400
    assert (await anon.get("/api/posts", params={"limit": "101"})).status_code == 400
    assert (await anon.get("/api/posts", params={"sort": "hot"})).status_code == 400


async def test_unknown_post_is_404(gallery: Gallery) -> None:
    me = await gallery.person()
    for path in ("/api/posts/doesnotexist1", "/api/posts/../../etc",
                 "/api/posts/doesnotexist1/images/full"):
        assert (await me.get(path)).status_code == 404, path
    assert (await me.post("/api/posts/doesnotexist1/like")).status_code == 404
    assert (await me.delete("/api/posts/doesnotexist1")).status_code == 404
    assert (await me.post("/api/posts/doesnotexist1/remix")).status_code == 404
    assert (await me.get("/api/people/nobody_here_x")).status_code == 404


async def test_post_image_of_unknown_size_or_block_is_404(gallery: Gallery) -> None:
    me = await gallery.person()
    post = await gallery.post(me)
    assert (await me.get(f"/api/posts/{post['id']}/images/512")).status_code == 404
    assert (await me.get(f"/api/posts/{post['id']}/images/full",
                         params={"block": "nope"})).status_code == 404


# ------------------------------------------------------------------------------ likes


async def test_like_is_idempotent_and_unlike_removes_it(gallery: Gallery) -> None:
    author, fan = await gallery.person(), await gallery.person()
    post = await gallery.post(author)
    url = f"/api/posts/{post['id']}/like"
    assert (await fan.post(url)).json() == {"like_count": 1, "liked_by_me": True}
    assert (await fan.post(url)).json() == {"like_count": 1, "liked_by_me": True}
    got = (await fan.get(f"/api/posts/{post['id']}")).json()
    assert got["like_count"] == 1 and got["liked_by_me"] is True
    assert (await author.get(f"/api/posts/{post['id']}")).json()["liked_by_me"] is False
    assert (await fan.delete(url)).json() == {"like_count": 0, "liked_by_me": False}
    assert (await fan.delete(url)).json() == {"like_count": 0, "liked_by_me": False}


async def test_concurrent_likes_from_one_person_count_once(settings: Settings) -> None:
    async with gallery_with(settings.replace(rate_likes_per_min=100_000.0)) as g:
        author, fan = await g.person(), await g.person()
        post = await g.post(author)
        url = f"/api/posts/{post['id']}/like"
        answers = await asyncio.gather(*(fan.post(url) for _ in range(20)))
        assert [a.status_code for a in answers] == [200] * 20
        assert (await fan.get(f"/api/posts/{post['id']}")).json()["like_count"] == 1


async def test_concurrent_likes_from_many_people_all_count(settings: Settings) -> None:
    async with gallery_with(settings.replace(rate_likes_per_min=100_000.0)) as g:
        author = await g.person()
        post = await g.post(author)
        fans = await asyncio.gather(*(g.person() for _ in range(15)))
        url = f"/api/posts/{post['id']}/like"
        answers = await asyncio.gather(*(f.post(url) for f in fans))
        assert [a.status_code for a in answers] == [200] * 15
        assert (await author.get(f"/api/posts/{post['id']}")).json()["like_count"] == 15
        # And concurrent unlikes with likes from the same people leave an exact count.
        await asyncio.gather(*(f.delete(url) for f in fans[:5]), *(f.post(url) for f in fans))
        pool = g.server.services.store.pool
        stored = await pool.fetchrow(
            "SELECT like_count, (SELECT count(*) FROM post_likes WHERE post_id = $1) AS n "
            "FROM posts WHERE id = $1", post["id"])
        assert stored["like_count"] == stored["n"]


async def test_likes_beyond_the_rate_are_refused(settings: Settings) -> None:
    async with gallery_with(settings.replace(rate_likes_per_min=2.0)) as g:
        author, fan = await g.person(), await g.person()
        post = await g.post(author)
        url = f"/api/posts/{post['id']}/like"
        codes = [(await fan.post(url)).status_code for _ in range(3)]
        assert codes[0] == 200 and 429 in codes
        refused = await fan.post(url)
        assert refused.status_code == 429 and "retry-after" in refused.headers


# ------------------------------------------------------------------ follows and people


async def test_follow_shows_their_posts_in_the_following_feed(gallery: Gallery) -> None:
    alice_name = handle()
    alice, bob, carol = await gallery.person(alice_name), await gallery.person(), \
        await gallery.person()
    mine = await gallery.post(alice)
    theirs = await gallery.post(carol)
    assert (await bob.get("/api/feed/following")).json()["posts"] == []
    r = await bob.post(f"/api/people/{alice_name.upper()}/follow")
    assert r.status_code == 200 and r.json() == {"following": True, "followers": 1}
    assert (await bob.post(f"/api/people/{alice_name}/follow")).json()["followers"] == 1
    feed = await ids_of(bob, "/api/feed/following")
    assert feed == [mine["id"]] and theirs["id"] not in feed

    profile = (await bob.get(f"/api/people/{alice_name}")).json()
    assert profile["handle"] == alice_name and profile["followers"] == 1
    assert profile["followed_by_me"] is True and profile["is_me"] is False
    assert [p["id"] for p in profile["posts"]] == [mine["id"]]
    own = (await alice.get(f"/api/people/{alice_name}")).json()
    assert own["is_me"] is True and own["followed_by_me"] is False

    r = await bob.delete(f"/api/people/{alice_name}/follow")
    assert r.json() == {"following": False, "followers": 0}
    assert (await bob.get("/api/feed/following")).json()["posts"] == []


async def test_following_feed_without_identity_is_refused(gallery: Gallery) -> None:
    assert (await (await gallery.browser()).get("/api/feed/following")).status_code == 401


async def test_follow_yourself_is_refused(gallery: Gallery) -> None:
    name = handle()
    me = await gallery.person(name)
    assert (await me.post(f"/api/people/{name}/follow")).status_code == 400


async def test_profile_posts_are_keyset_paginated(gallery: Gallery) -> None:
    name = handle()
    me = await gallery.person(name)
    room, ids = await gallery.canvas(me)
    made = [(await gallery.publish(me, room, ids["image"], title=f"n{n}")).json()["id"]
            for n in range(3)]
    first = (await me.get(f"/api/people/{name}", params={"limit": 2})).json()
    second = (await me.get(f"/api/people/{name}", params={
        "limit": 2, "cursor": first["next_cursor"]})).json()
    assert [p["id"] for p in first["posts"] + second["posts"]] == made[::-1]
    assert second["next_cursor"] is None


# ------------------------------------------------------------------ unpublish, reports


async def test_unpublish_removes_the_post_everywhere(gallery: Gallery) -> None:
    name = handle()
    me, fan = await gallery.person(name), await gallery.person()
    post = await gallery.post(me)
    await fan.post(f"/api/people/{name}/follow")
    assert post["id"] in await ids_of(fan, "/api/posts", limit=100)
    r = await me.delete(f"/api/posts/{post['id']}")
    assert r.status_code == 204
    assert post["id"] not in await ids_of(fan, "/api/posts", limit=100)
    assert post["id"] not in await ids_of(fan, "/api/posts", sort="top", limit=100)
    assert post["id"] not in await ids_of(fan, "/api/feed/following")
    assert post["id"] not in await ids_of(fan, f"/api/people/{name}")
    assert (await fan.get(f"/api/posts/{post['id']}")).status_code == 404
    assert (await fan.get(post["image"]["url"])).status_code == 404
    assert await gallery.server.services.blobs.list_prefix(f"posts/{post['id']}/") == []
    assert (await me.delete(f"/api/posts/{post['id']}")).status_code == 404


async def test_delete_someone_elses_post_is_refused(gallery: Gallery) -> None:
    author, other = await gallery.person(), await gallery.person()
    post = await gallery.post(author)
    r = await other.delete(f"/api/posts/{post['id']}")
    assert r.status_code == 403 and r.json()["type"] == "about:blank#not_the_author"
    assert (await other.get(f"/api/posts/{post['id']}")).status_code == 200


async def test_reports_from_three_people_hide_the_post(gallery: Gallery) -> None:
    author = await gallery.person()
    post = await gallery.post(author)
    url = f"/api/posts/{post['id']}/report"
    first = await gallery.person()
    for _ in range(3):  # one person reporting again counts once
        assert (await first.post(url, json={"reason": "spam"})).status_code == 200
    assert post["id"] in await ids_of(first, "/api/posts", limit=100)
    second = await gallery.person()
    assert (await second.post(url)).status_code == 200
    assert post["id"] in await ids_of(first, "/api/posts", limit=100)
    third = await gallery.person()
    assert (await third.post(url)).status_code == 200
    assert post["id"] not in await ids_of(first, "/api/posts", limit=100)
    assert post["id"] not in await ids_of(first, "/api/posts", sort="top", limit=100)
    assert (await first.get(f"/api/posts/{post['id']}")).status_code == 404
    mine = await author.get(f"/api/posts/{post['id']}")
    assert mine.status_code == 200 and mine.json()["hidden"] is True


async def test_hidden_post_is_reviewed_with_arbor_review(gallery: Gallery,
                                                        settings: Settings) -> None:
    import asyncio
    import os
    import sys

    author = await gallery.person()
    kept, removed = await gallery.post(author), await gallery.post(author)
    for post in (kept, removed):
        for _ in range(3):
            reporter = await gallery.person()
            r = await reporter.post(f"/api/posts/{post['id']}/report", json={"reason": "rude"})
            assert r.status_code == 200

    async def review(*args: str) -> tuple[int, str]:
        env = {**os.environ, "DATABASE_URL": settings.database_url.reveal()}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server.cli", "review", *args, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode()

    code, listing = await review("list")
    assert code == 0 and kept["id"] in listing and removed["id"] in listing
    assert "rude" in listing
    assert (await review("keep", kept["id"]))[0] == 0
    assert (await review("remove", removed["id"]))[0] == 0
    assert (await review("remove", "no-such-post"))[0] == 1
    listed = await ids_of(author, "/api/posts", limit=100)
    assert kept["id"] in listed and removed["id"] not in listed
    assert (await author.get(f"/api/posts/{removed['id']}")).status_code == 404
    # Reviewed: the reinstated post no longer waits for review.
    assert (await review("list"))[1].count(kept["id"]) == 0


async def test_report_own_post_is_refused(gallery: Gallery) -> None:
    me = await gallery.person()
    post = await gallery.post(me)
    assert (await me.post(f"/api/posts/{post['id']}/report")).status_code == 400


async def test_report_without_identity_is_refused(gallery: Gallery) -> None:
    me = await gallery.person()
    post = await gallery.post(me)
    r = await (await gallery.browser()).post(f"/api/posts/{post['id']}/report")
    assert r.status_code == 401


# ------------------------------------------------------------------------------ remix


async def test_remix_makes_a_canvas_holding_the_lineage(gallery: Gallery) -> None:
    author = await gallery.person()
    post = await gallery.post(author)
    anon = await gallery.browser()
    r = await anon.post(f"/api/posts/{post['id']}/remix")
    assert r.status_code == 201, r.text
    remix = r.json()
    assert set(remix) == {"room", "edit_token", "view_token", "edit_url", "view_url",
                          "post_id"}
    assert remix["post_id"] == post["id"]
    assert remix["edit_url"] == \
        f"{gallery.server.base_url}/r/{remix['room']}#token={remix['edit_token']}"

    client = await YClient.connect(
        f"{gallery.server.ws_url}/sync/{remix['room']}?token={remix['view_token']}")
    try:
        blocks = await eventually(lambda: len(client.blocks()) == 3 and client.blocks())
        edges = client.doc.get("edges", type=Map).to_py()
        meta = client.doc.get("meta", type=Map).to_py()
    finally:
        await client.close()
    assert meta["title"] == "Remix of Sleeping fox"
    by_text = {b["text"]: (bid, b) for bid, b in blocks.items() if b["kind"] == "text"}
    assert set(by_text) == {"a fox", "a red fox asleep in fresh snow"}
    (image_id, image_block), = [(k, b) for k, b in blocks.items() if b["kind"] == "image"]
    assert image_block["text"] == "a red fox asleep in fresh snow"
    pairs = {(e["source"], e["target"], e.get("tool")) for e in edges.values()}
    prompt_id = by_text["a fox"][0]
    expanded_id = by_text["a red fox asleep in fresh snow"][0]
    assert pairs == {(prompt_id, expanded_id, "expand"), (expanded_id, image_id, "image")}

    image = image_block["image"]
    assert image["key"].startswith(f"rooms/{remix['room']}/")
    assert image["thumbKey"].endswith("_1024.webp")
    assert (image["width"], image["height"]) == (320.0, 240.0)
    for key in (image["key"], image["thumbKey"]):
        served = await anon.get(f"/api/rooms/{remix['room']}/images/{key}",
                                params={"token": remix["view_token"]})
        assert served.status_code == 200 and served.headers["content-type"] == "image/webp"


async def test_post_published_from_a_remix_links_back(gallery: Gallery) -> None:
    author, remixer = await gallery.person(), await gallery.person()
    post = await gallery.post(author)
    remix = (await remixer.post(f"/api/posts/{post['id']}/remix")).json()
    client = await YClient.connect(
        f"{gallery.server.ws_url}/sync/{remix['room']}?token={remix['edit_token']}")
    try:
        blocks = await eventually(lambda: len(client.blocks()) == 3 and client.blocks())
    finally:
        await client.close()
    image_id = next(k for k, b in blocks.items() if b["kind"] == "image")
    r = await gallery.publish(remixer, remix, image_id, title="Fox, again")
    assert r.status_code == 201, r.text
    assert r.json()["remixed_from"]["id"] == post["id"]
    got = (await remixer.get(f"/api/posts/{r.json()['id']}")).json()
    assert got["remixed_from"]["id"] == post["id"]
    assert got["remixed_from"]["title"] == "Sleeping fox"
    assert got["remixed_from_id"] == post["id"]
    assert [s["text"] for s in got["lineage"]] == [
        "a fox", "a red fox asleep in fresh snow", "a red fox asleep in fresh snow"]


async def test_remix_of_a_post_without_prompts_holds_only_the_image(
        gallery: Gallery) -> None:
    author = await gallery.person()
    post = await gallery.post(author, include_prompts=False)
    remix = (await (await gallery.browser()).post(f"/api/posts/{post['id']}/remix")).json()
    client = await YClient.connect(
        f"{gallery.server.ws_url}/sync/{remix['room']}?token={remix['view_token']}")
    try:
        blocks = await eventually(lambda: client.blocks())
    finally:
        await client.close()
    assert [b["kind"] for b in blocks.values()] == ["image"]
    assert [b["text"] for b in blocks.values()] == [""]
