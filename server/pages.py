"""The web app's pages, each with its own title and link-preview tags in the HTML itself.

A link pasted into a chat is previewed by a crawler that runs no script, so what it shows
must be in the page the server sends: ``<title>``, ``description``, Open Graph
(``og:title``, ``og:description``, ``og:image`` as an absolute URL with its width and
height, ``og:url``, ``og:type``) and Twitter's ``summary_large_image``. The server puts
them into the head of the web build's ``index.html`` in place of its ``<title>``; the body
is untouched, so the app hydrates the same page, and nothing inline is added (the page's
Content-Security-Policy allows no inline script). Every value is escaped for an HTML
attribute: a post titled ``"><script>…`` stays text.

- ``/p/{id}``: the post's title, description (or its first prompt), author, and its card
  (``/cards/p/{id}/{digest}.jpg``: the image and the title, see ``sync/cards.py``). A
  hidden, unpublished or unknown post is a 404 page with no card and nothing of the post.
- ``/u/{handle}``: the person's names and a card of their latest posts.
- ``/gallery``, ``/``, ``/recover`` and a canvas (``/r/{room}``): Arbor's generic card. A
  canvas's token is in the link's fragment, never sent to a server, so its page says
  nothing of the canvas (and does not even repeat its id).

Base URL for absolute URLs: ``ARBOR_PUBLIC_URL`` (``Settings.base_url``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import html
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sync.blobs import BlobError, BlobErrorKind, BlobStore, parse_image_key
from sync.cards import (
    CARD_DIGEST,
    CARD_HEIGHT,
    CARD_MIME,
    CARD_VERSION,
    CARD_WIDTH,
    PROFILE_CARD_POSTS,
    post_card_digest,
    post_card_key,
    profile_card_digest,
    profile_card_key,
    render_post_card,
    render_profile_card,
)
from sync.errors import StoreError
from sync.gallery import Person, Post
from sync.renditions import DISPLAY_THUMB

from .api.gallery import POST_ID
from .api.identity import Refusal, endpoint, gallery_of, services_of
from .api.images import IMMUTABLE

if TYPE_CHECKING:
    from .app import Services

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]
Draw = Callable[[], Awaitable[bytes]]

SITE_CARD: Final = f"/cards/arbor-{CARD_VERSION}.jpg"
DESCRIPTION_MAX: Final = 200
_TITLE: Final = re.compile(r"<title>.*?</title>", re.IGNORECASE | re.DOTALL)
_HEAD_END: Final = re.compile(r"</head>", re.IGNORECASE)
_CARD_FILE: Final = re.compile(r"([0-9a-f]{64})\.jpg")
_HANDLE: Final = re.compile(r"[A-Za-z0-9_]{1,30}")
HOME_DESCRIPTION: Final = ("A multiplayer canvas for growing image ideas: start from a prompt, "
                           "branch it into text and images with others, and publish what grows.")
GALLERY_DESCRIPTION: Final = ("Images people grew on Arbor, each with the prompts that led to "
                              "it. Like them, follow their makers, remix any into a canvas of "
                              "your own.")


@dataclasses.dataclass(frozen=True, slots=True)
class Meta:
    """What one page says about itself. ``path``: its canonical path; ``image``: the path
    of its card (None: no card, as on a 404 page)."""

    title: str
    description: str
    path: str
    image: str | None
    image_alt: str = "Arbor"
    kind: str = "website"
    robots: str | None = None
    status: int = 200
    extra: tuple[tuple[str, str], ...] = ()  # more (property, content) pairs
    headline: str = ""  # og:title, twitter:title (default: the title); og:site_name says Arbor


def _clip(text: str, limit: int = DESCRIPTION_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def head_tags(meta: Meta, base: str) -> str:
    """The head elements for ``meta``: every value escaped, every URL absolute."""
    e = html.escape  # quote=True: safe inside "..." attributes and as text
    url = base + meta.path
    description = _clip(meta.description)
    tags = [f"<title>{e(meta.title)}</title>",
            f'<meta name="description" content="{e(description)}">',
            f'<link rel="canonical" href="{e(url)}">']
    if meta.robots:
        tags.append(f'<meta name="robots" content="{e(meta.robots)}">')
    headline = meta.headline or meta.title
    props = [("og:site_name", "Arbor"), ("og:type", meta.kind), ("og:title", headline),
             ("og:description", description), ("og:url", url)]
    if meta.image is not None:
        image = base + meta.image
        props += [("og:image", image), ("og:image:type", CARD_MIME),
                  ("og:image:width", str(CARD_WIDTH)), ("og:image:height", str(CARD_HEIGHT)),
                  ("og:image:alt", meta.image_alt)]
        if image.startswith("https://"):
            props.append(("og:image:secure_url", image))
    props += list(meta.extra)
    tags += [f'<meta property="{e(p)}" content="{e(v)}">' for p, v in props]
    names = [("twitter:card", "summary_large_image" if meta.image else "summary"),
             ("twitter:title", headline), ("twitter:description", description)]
    if meta.image is not None:
        names += [("twitter:image", base + meta.image), ("twitter:image:alt", meta.image_alt)]
    tags += [f'<meta name="{e(n)}" content="{e(v)}">' for n, v in names]
    return "\n    ".join(tags)


class Shell:
    """The build's ``index.html``, read again only when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._text = ""

    def text(self) -> str:
        st = self.path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._text, self._stamp = self.path.read_text(encoding="utf-8"), stamp
        return self._text

    def render(self, tags: str) -> str:
        """The page with ``tags`` in place of its ``<title>`` (or at the end of its head)."""
        page = self.text()
        if _TITLE.search(page):
            return _TITLE.sub(lambda _: tags, page, count=1)
        if _HEAD_END.search(page):
            return _HEAD_END.sub(lambda _: f"{tags}\n  </head>", page, count=1)
        return tags + "\n" + page


# --------------------------------------------------------------------------- meta


def _site(path: str, title: str = "Arbor", description: str = HOME_DESCRIPTION,
          robots: str | None = None) -> Meta:
    return Meta(title, description, path, SITE_CARD, robots=robots)


NOT_FOUND: Final = Meta("Not found · Arbor", "There is nothing at this address.", "/", None,
                        robots="noindex", status=404)


def _first_prompt(post: Post) -> str:
    if not post.include_prompts:
        return ""
    return next((s.text for s in post.lineage if s.kind == "text" and s.text.strip()), "")


def post_meta(post: Post) -> Meta:
    name = post.author.display_name or post.author.handle
    prompt = _first_prompt(post)
    description = (post.description
                   or (f"Grown on Arbor by {name} from the prompt “{_clip(prompt, 150)}”"
                       if prompt else f"An image by {name} (@{post.author.handle}), grown "
                                      "on Arbor."))
    digest = post_card_digest(post.id, post.image_key, post.title, name, post.author.handle)
    return Meta(f"{post.title} · Arbor", description, f"/p/{post.id}",
                f"/cards/p/{post.id}/{digest}.jpg", image_alt=post.title, kind="article",
                extra=(("article:author", f"@{post.author.handle}"),), headline=post.title)


def profile_meta(person: Person, latest: list[Post], followers: int) -> Meta:
    name = person.display_name or person.handle
    digest = profile_card_digest(person.id, person.handle, name, [p.image_key for p in latest])
    people = "1 follower" if followers == 1 else f"{followers} followers"
    about = f"Images {name} grew on Arbor, with the prompts that led to them. {people}."
    if person.bio:  # their own words first (a bio is at most 280 characters)
        about = f"{' '.join(person.bio.split())} · {about}"
    return Meta(f"{name} (@{person.handle}) · Arbor", about,
                f"/u/{person.handle}", f"/cards/u/{person.handle}/{digest}.jpg",
                image_alt=f"The latest images of {name}", kind="profile",
                extra=(("profile:username", person.handle),),
                headline=f"{name} (@{person.handle})")


async def _latest(request: Request, person: Person) -> list[Post]:
    page = await gallery_of(request).list_by_author(person.id, limit=PROFILE_CARD_POSTS,
                                                    viewer_id=None)
    return page.posts


async def _post_page_meta(request: Request) -> Meta:
    post_id = request.path_params["post"]
    post = await gallery_of(request).get_post(post_id) if POST_ID.fullmatch(post_id) else None
    if post is None or not post.listed:
        return NOT_FOUND
    return post_meta(post)


async def _profile_page_meta(request: Request) -> Meta:
    handle = request.path_params["handle"]
    gallery = gallery_of(request)
    person = await gallery.person_by_handle(handle) if _HANDLE.fullmatch(handle) else None
    if person is None:
        return NOT_FOUND
    latest = await _latest(request, person)
    counts = await gallery.follow_counts(person.id, None)
    return profile_meta(person, latest, counts.followers)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(request: Request, etag: str) -> bool:
    wanted = request.headers.get("if-none-match", "")
    return etag in {t.strip().removeprefix("W/") for t in wanted.split(",")}


def page_routes(index: Path) -> list[Route]:
    """The app's pages (``server/app.py``'s ``APP_PATHS``), served from ``index``."""
    shell = Shell(index)

    def page(meta: Meta | Callable[[Request], Awaitable[Meta]]) -> Endpoint:
        async def serve(request: Request) -> Response:
            try:
                chosen = meta if isinstance(meta, Meta) else await meta(request)
            except StoreError as exc:  # the app shows its own error once it asks
                log.warning("page %s served without its own tags: %s", request.url.path, exc)
                chosen = _site(request.url.path)
            base = services_of(request).settings.base_url
            body = shell.render(head_tags(chosen, base)).encode()
            etag = _etag(body)
            headers = {"Cache-Control": "no-cache", "ETag": etag}
            if chosen.status == 200 and _matches(request, etag):
                # Typed as a page: a browser merges a 304's headers into its cached page, and
                # without it the page got the API's Content-Security-Policy (default-src
                # 'none') and loaded no script: a blank page on the second visit.
                return Response(status_code=304, headers=headers, media_type="text/html")
            return Response(body, status_code=chosen.status, media_type="text/html",
                            headers=headers)

        return serve

    return [
        Route("/", page(_site("/"))),
        Route("/r/{room}", page(_site("/", "A canvas on Arbor",
                                      "Someone shared a canvas with you on Arbor: open the "
                                      "link to grow its images together.", robots="noindex"))),
        Route("/gallery", page(_site("/gallery", "Gallery · Arbor", GALLERY_DESCRIPTION))),
        Route("/p/{post}", page(_post_page_meta)),
        Route("/u/{handle}", page(_profile_page_meta)),
        Route("/recover", page(_site("/recover", "Recover your handle · Arbor",
                                     robots="noindex"))),
    ]


# --------------------------------------------------------------------------- cards


def _card_response(request: Request, data: bytes, etag: str) -> Response:
    headers = {"Cache-Control": IMMUTABLE, "ETag": f'"{etag}"'}
    if _matches(request, f'"{etag}"'):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=CARD_MIME, headers=headers)


async def site_card(request: Request) -> Response:
    """``GET /cards/arbor-{version}.jpg``: the generic card."""
    data = await services_of(request).cards.site()
    return _card_response(request, data, f"arbor-{CARD_VERSION}")


async def _rendition(blobs: BlobStore, image_key: str) -> bytes | None:
    """A post's 1024 px rendition (what its page shows), or None if it is gone."""
    parsed = parse_image_key(image_key)
    if parsed is None:
        return None
    try:
        return await blobs.get(parsed.sized(DISPLAY_THUMB).key)
    except BlobError as exc:
        if exc.kind is not BlobErrorKind.OBJECT_MISSING:
            raise
        return None


def _requested_digest(request: Request) -> str:
    match = _CARD_FILE.fullmatch(request.path_params["name"])
    if match is None or not CARD_DIGEST.match(match[1]):
        raise Refusal(404, "no such card", "not_found")
    return match[1]


async def _serve_card(request: Request, services: Services, wanted: str, current: str,
                      key: str, draw: Draw, current_url: str) -> Response:
    """The card ``wanted`` if it is the current one (drawn if need be) or an older one
    still stored; else a redirect to the current one (a page fetched before a change)."""
    if wanted == current:
        data = await services.cards.get(services.blobs, key, draw)
    else:
        data = await services.cards.get(services.blobs, key, None)
    if data is None:
        return RedirectResponse(current_url, status_code=302,
                                headers={"Cache-Control": "no-cache"})
    return _card_response(request, data, wanted)


@endpoint
async def post_card(request: Request) -> Response:
    """``GET /cards/p/{post}/{digest}.jpg``: the post's card; 404 once it is hidden or
    unpublished."""
    services = services_of(request)
    wanted = _requested_digest(request)
    post_id = request.path_params["post"]
    post = await gallery_of(request).get_post(post_id) if POST_ID.fullmatch(post_id) else None
    if post is None or not post.listed:
        raise Refusal(404, "no such post", "post_not_found")
    listed = post
    name = listed.author.display_name or listed.author.handle
    current = post_card_digest(listed.id, listed.image_key, listed.title, name,
                               listed.author.handle)

    async def draw() -> bytes:
        image = await _rendition(services.blobs, listed.image_key)
        return await asyncio.to_thread(render_post_card, image, listed.title, name)

    return await _serve_card(request, services, wanted, current,
                             post_card_key(listed.id, wanted), draw,
                             f"/cards/p/{listed.id}/{current}.jpg")


@endpoint
async def profile_card(request: Request) -> Response:
    """``GET /cards/u/{handle}/{digest}.jpg``: a grid of the person's latest posts."""
    services = services_of(request)
    wanted = _requested_digest(request)
    handle = request.path_params["handle"]
    found = await gallery_of(request).person_by_handle(handle) \
        if _HANDLE.fullmatch(handle) else None
    if found is None:
        raise Refusal(404, "no such person", "person_not_found")
    person = found
    latest = await _latest(request, person)
    name = person.display_name or person.handle
    current = profile_card_digest(person.id, person.handle, name,
                                  [p.image_key for p in latest])
    key = profile_card_key(person.id, wanted)

    async def draw() -> bytes:
        images = await asyncio.gather(*(_rendition(services.blobs, p.image_key)
                                        for p in latest))
        data = await asyncio.to_thread(render_profile_card, images, name, person.handle)
        # Older cards of this person are never asked for by a current page: drop them.
        for old in await services.blobs.list_prefix(f"people/{person.id}/"):
            if old != key:
                await services.blobs.delete(old)
                services.cards.forget(old)
        return data

    return await _serve_card(request, services, wanted, current, key, draw,
                             f"/cards/u/{person.handle}/{current}.jpg")


def card_routes() -> list[Route]:
    return [
        Route(SITE_CARD, site_card, methods=["GET"]),
        Route("/cards/p/{post}/{name}", post_card, methods=["GET"]),
        Route("/cards/u/{handle}/{name}", profile_card, methods=["GET"]),
    ]


__all__ = ["SITE_CARD", "Meta", "Shell", "card_routes", "head_tags", "page_routes"]
