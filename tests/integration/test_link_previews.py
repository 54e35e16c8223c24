"""Link previews: each page of the app is fetched as a crawler fetches it (plain HTTP, no
script run) and must carry its own title, description, Open Graph and Twitter tags, every
value escaped; the cards they point at are 1200 x 630, drawn once and cached; hidden and
unpublished posts, and canvases, give nothing away."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image
from pycrdt import Map, Text

from sync.cards import CardStore
from sync.settings import Settings
from tests.conftest import run_server
from tests.integration.test_gallery import PROXY, Gallery, handle
from tests.yclient import YClient

PUBLIC = "http://arbor.test"
ATTACK = '"><script>alert(1)</script>'
IMMUTABLE = "public, max-age=31536000, immutable"
SCRIPT = "/assets/index-5ca1ab1e.js"


class Head(HTMLParser):
    """What a crawler reads: the title, every meta tag, links and script tags."""

    def __init__(self) -> None:
        super().__init__()
        self.titles: list[str] = []
        self.meta: dict[str, list[str]] = {}
        self.links: dict[str, str] = {}
        self.scripts: list[dict[str, str | None]] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "title":
            self._in_title = True
            self.titles.append("")
        elif tag == "meta" and (a.get("property") or a.get("name")):
            key = str(a.get("property") or a.get("name"))
            self.meta.setdefault(key, []).append(str(a.get("content")))
        elif tag == "link" and a.get("rel"):
            self.links[str(a["rel"])] = str(a.get("href"))
        elif tag == "script":
            self.scripts.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.titles[-1] += data

    def one(self, key: str) -> str:
        values = self.meta.get(key, [])
        assert len(values) == 1, (key, values)
        return values[0]


def parse(page: str) -> Head:
    head = Head()
    head.feed(page)
    return head


def build(tmp_path: Path) -> Path:
    """A web build as Vite makes it: a title in the head, the bundle, an empty root."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(
        '<!doctype html>\n<html lang="en">\n  <head>\n    <meta charset="UTF-8" />\n'
        '    <meta name="referrer" content="no-referrer" />\n    <title>Arbor</title>\n'
        f'    <script type="module" crossorigin src="{SCRIPT}"></script>\n  </head>\n'
        '  <body>\n    <div id="root"></div>\n  </body>\n</html>\n')
    (dist / "assets" / "index-5ca1ab1e.js").write_text("console.log('arbor')\n")
    return dist


class ToServer(httpx.AsyncBaseTransport):
    """Sends what is addressed to PUBLIC (upload URLs are built on it) to the test server."""

    def __init__(self, base_url: str) -> None:
        self.target = httpx.URL(base_url)
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == urlsplit(PUBLIC).hostname:
            request.url = request.url.copy_with(host=self.target.host, port=self.target.port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class Site(Gallery):
    async def browser(self, address: str | None = None) -> httpx.AsyncClient:
        http = await super().browser(address)
        http._transport = ToServer(self.server.base_url)
        return http


@pytest.fixture
async def site(settings: Settings, tmp_path: Path) -> AsyncIterator[Gallery]:
    """The server with a web build, behind a trusted proxy, with a public URL of its own."""
    s = settings.replace(trusted_proxies=PROXY, public_url=PUBLIC, report_min_handle_age_hours=0.0)
    async with run_server(s, web_dist=build(tmp_path)) as srv, \
            contextlib.AsyncExitStack() as stack:
        yield Site(srv, stack)


async def crawl(g: Gallery, path: str) -> httpx.Response:
    """A crawler's GET: no cookie, no script, redirects not followed."""
    async with httpx.AsyncClient(base_url=g.server.base_url, timeout=15) as bot:
        return await bot.get(path, headers={"User-Agent": "facebookexternalhit/1.1"})


def local(url: str) -> str:
    """The path of an absolute URL on PUBLIC (which is this test server)."""
    assert url.startswith(PUBLIC + "/"), url
    return urlsplit(url).path


def card_size(data: bytes) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as im:
        return str(im.format), im.size


def assert_page_shell(page: httpx.Response, head: Head) -> None:
    """The app still hydrates the same page: its bundle, its root, and no inline script."""
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<div id="root"></div>' in page.text
    assert head.scripts == [{"type": "module", "crossorigin": None, "src": SCRIPT}]
    assert len(head.titles) == 1


def assert_card_tags(head: Head, *, title: str, headline: str, url: str, kind: str) -> str:
    assert head.titles == [title]
    assert head.one("og:title") == headline and head.one("og:site_name") == "Arbor"
    assert head.one("twitter:title") == headline
    assert head.one("og:url") == url and head.links["canonical"] == url
    assert head.one("og:type") == kind
    assert head.one("og:description") == head.one("description")
    assert head.one("twitter:card") == "summary_large_image"
    assert head.one("og:image:width") == "1200" and head.one("og:image:height") == "630"
    image = head.one("og:image")
    assert head.one("twitter:image") == image
    return image


# ------------------------------------------------------------------------------- posts


async def test_post_page_carries_its_own_escaped_preview_tags(site: Gallery) -> None:
    """Attack: a post titled ``"><script>alert(1)</script>`` (and a description full of
    markup) would break out of a meta attribute into the page if a value went in
    unescaped. Every tag holds the exact text; no script element but the bundle's."""
    me = await site.person(name := handle())
    post = await site.post(me, title=ATTACK, description="<b>bold</b> & \"quoted\" 'too'")
    page = await crawl(site, f"/p/{post['id']}")
    assert page.status_code == 200, page.text
    head = parse(page.text)
    assert_page_shell(page, head)
    assert "<script>alert(1)" not in page.text and "<b>bold" not in page.text
    image = assert_card_tags(head, title=f"{ATTACK} · Arbor", headline=ATTACK,
                             url=f"{PUBLIC}/p/{post['id']}", kind="article")
    assert head.one("description") == "<b>bold</b> & \"quoted\" 'too'"
    assert head.one("og:image:alt") == ATTACK
    assert head.one("article:author") == f"@{name}"
    assert re.fullmatch(rf"{PUBLIC}/cards/p/{post['id']}/[0-9a-f]{{64}}\.jpg", image), image


async def test_post_card_is_1200_by_630_drawn_once_and_cached(site: Gallery) -> None:
    me = await site.person()
    post = await site.post(me, title="Sleeping fox")
    head = parse((await crawl(site, f"/p/{post['id']}")).text)
    path = local(head.one("og:image"))
    services = site.server.services
    first = await crawl(site, path)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/jpeg"
    assert first.headers["cache-control"] == IMMUTABLE
    assert card_size(first.content) == ("JPEG", (1200, 630))
    # Stored once, under the post's own prefix, content-addressed.
    digest = path.rsplit("/", 1)[1].removesuffix(".jpg")
    stored = await services.blobs.list_prefix(f"posts/{post['id']}/")
    assert f"posts/{post['id']}/card-{digest}.jpg" in stored
    assert services.cards.drawn == 1
    again = await crawl(site, path)
    assert again.content == first.content and services.cards.drawn == 1
    async with httpx.AsyncClient(base_url=site.server.base_url) as http:
        not_modified = await http.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert not_modified.status_code == 304
    # Another process (a fresh cache) reads it from the store and draws nothing.
    services.cards = CardStore()
    other = await crawl(site, path)
    assert other.content == first.content and services.cards.drawn == 0


async def test_a_page_fetched_again_is_revalidated_with_its_etag(site: Gallery) -> None:
    me = await site.person()
    post = await site.post(me)
    page = await crawl(site, f"/p/{post['id']}")
    async with httpx.AsyncClient(base_url=site.server.base_url) as http:
        again = await http.get(f"/p/{post['id']}", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == "no-cache"


async def test_hidden_and_unpublished_posts_get_a_404_page_and_no_card(site: Gallery) -> None:
    """Attack: read a hidden (reported) or unpublished post's title and image through its
    page's preview or its card URL. Both are gone: a 404 page naming nothing of the post,
    and a 404 for the card."""
    author = await site.person()
    hidden, gone = (await site.post(author, title="Hide me now", seed=1),
                    await site.post(author, title="Take me down", seed=2))
    cards = {}
    for post in (hidden, gone):
        head = parse((await crawl(site, f"/p/{post['id']}")).text)
        cards[post["id"]] = local(head.one("og:image"))
    for _ in range(3):
        reporter = await site.person()
        r = await reporter.post(f"/api/posts/{hidden['id']}/report", json={"reason": "spam"})
        assert r.status_code == 200
    assert (await author.delete(f"/api/posts/{gone['id']}")).status_code == 204
    for post in (hidden, gone):
        page = await crawl(site, f"/p/{post['id']}")
        assert page.status_code == 404
        head = parse(page.text)
        assert_page_shell(page, head)
        assert head.titles == ["Not found · Arbor"]
        assert "og:image" not in head.meta and "twitter:image" not in head.meta
        assert head.one("robots") == "noindex"
        assert post["title"] not in page.text and post["id"] not in page.text
        assert (await crawl(site, cards[post["id"]])).status_code == 404


async def test_unknown_post_and_person_pages_are_404_without_a_card(site: Gallery) -> None:
    for path in ("/p/doesnotexist1", "/p/x", "/u/nobody_here_x", "/u/" + "a" * 31):
        page = await crawl(site, path)
        assert page.status_code == 404, path
        head = parse(page.text)
        assert "og:image" not in head.meta and head.one("twitter:card") == "summary"
    assert (await crawl(site, "/cards/p/doesnotexist1/" + "0" * 64 + ".jpg")).status_code == 404
    assert (await crawl(site, "/cards/u/nobody_here_x/" + "0" * 64 + ".jpg")).status_code == 404


async def test_a_card_name_that_is_not_a_digest_is_404(site: Gallery) -> None:
    """Attack: make the card route read or write a blob key of the caller's choosing."""
    me = await site.person()
    post = await site.post(me)
    for name in ("..%2F..%2Fsecret.jpg", "x.jpg", "0" * 64 + ".webp", "0" * 63 + ".jpg",
                 "0" * 64 + ".jpg%0A"):
        r = await crawl(site, f"/cards/p/{post['id']}/{name}")
        assert r.status_code == 404, name
    stored = await site.server.services.blobs.list_prefix(f"posts/{post['id']}/")
    assert not [k for k in stored if "card" in k]


# ------------------------------------------------------------------------------ people


async def test_profile_page_and_card_show_their_latest_posts(site: Gallery) -> None:
    name = handle()
    me = await site.browser()
    r = await me.post("/api/identity", json={"handle": name, "display_name": 'Ada "<i>" L'})
    assert r.status_code == 201, r.text
    for seed in range(2):
        await site.post(me, seed=seed)
    page = await crawl(site, f"/u/{name}")
    assert page.status_code == 200
    head = parse(page.text)
    assert_page_shell(page, head)
    image = assert_card_tags(head, title=f'Ada "<i>" L (@{name}) · Arbor',
                             headline=f'Ada "<i>" L (@{name})', url=f"{PUBLIC}/u/{name}",
                             kind="profile")
    assert "<i>" not in page.text
    assert head.one("profile:username") == name
    card = await crawl(site, local(image))
    assert card.status_code == 200 and card.headers["cache-control"] == IMMUTABLE
    assert card_size(card.content) == ("JPEG", (1200, 630))
    # A new post is a new card; a page fetched before it is sent on to the new one.
    await site.post(me, seed=3)
    newer = parse((await crawl(site, f"/u/{name}")).text).one("og:image")
    assert newer != image
    fresh = await crawl(site, local(newer))
    assert fresh.status_code == 200 and fresh.content != card.content
    stale = await crawl(site, local(image))
    assert stale.status_code == 302 and stale.headers["location"] == local(newer)
    person = await site.server.services.store.pool.fetchval(
        "SELECT id FROM people WHERE handle = $1", name)
    assert await site.server.services.blobs.list_prefix(f"people/{person}/") == [
        f"people/{person}/card-{local(newer).rsplit('/', 1)[1].removesuffix('.jpg')}.jpg"]


# ------------------------------------------------------------------ gallery, canvas, home


@pytest.mark.parametrize(("path", "title", "url"), [
    ("/gallery", "Gallery · Arbor", f"{PUBLIC}/gallery"),
    ("/", "Arbor", f"{PUBLIC}/"),
])
async def test_gallery_and_home_pages_have_the_arbor_card(site: Gallery, path: str, title: str,
                                                          url: str) -> None:
    page = await crawl(site, path)
    assert page.status_code == 200
    head = parse(page.text)
    assert_page_shell(page, head)
    image = assert_card_tags(head, title=title, headline=title, url=url, kind="website")
    assert image == f"{PUBLIC}/cards/arbor-1.jpg"
    card = await crawl(site, local(image))
    assert card.status_code == 200 and card.headers["cache-control"] == IMMUTABLE
    assert card_size(card.content) == ("JPEG", (1200, 630))


async def test_a_canvas_link_preview_says_nothing_of_the_canvas(site: Gallery) -> None:
    """Attack: paste a canvas's share link where a crawler previews it, hoping the card
    shows its title or its blocks. The token is in the fragment (never sent); even with it
    in the query, the page is the generic Arbor card and does not repeat the room's id."""
    http = await site.browser()
    room = await site.room(http)
    client = await YClient.connect(
        f"{site.server.ws_url}/sync/{room['room']}?token={room['edit_token']}")
    try:
        with client.doc.transaction():
            client.doc.get("meta", type=Map)["title"] = "Secret plans"
            block = Map({"kind": "text", "x": 0.0, "y": 0.0, "w": 200.0, "h": 100.0})
            client.doc.get("blocks", type=Map)["b1"] = block
            block["text"] = Text("the launch date is friday")
    finally:
        await client.close()
    for path in (f"/r/{room['room']}", f"/r/{room['room']}?token={room['edit_token']}"):
        page = await crawl(site, path)
        assert page.status_code == 200
        head = parse(page.text)
        assert_page_shell(page, head)
        assert head.one("og:image") == f"{PUBLIC}/cards/arbor-1.jpg"
        assert head.one("og:url") == f"{PUBLIC}/"
        assert head.one("robots") == "noindex"
        for secret in ("Secret plans", "friday", room["room"], room["edit_token"]):
            assert secret not in page.text, secret


async def test_pages_are_served_when_the_database_is_away(settings: Settings,
                                                          tmp_path: Path) -> None:
    """The page is the app: with PostgreSQL unreachable a post page still loads (with the
    generic tags), so the app can say what is wrong."""
    async with run_server(settings.replace(public_url=PUBLIC), web_dist=build(tmp_path)) as srv:
        pool: Any = srv.services.store.pool
        await pool.close()
        async with httpx.AsyncClient(base_url=srv.base_url) as bot:
            page = await bot.get("/p/abcdefgh1234")
        assert page.status_code == 200
        assert parse(page.text).one("og:image") == f"{PUBLIC}/cards/arbor-1.jpg"
