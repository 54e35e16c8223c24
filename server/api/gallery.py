"""The public gallery: publish an image with its lineage, browse, like, follow, report,
remix into a new canvas.

Publishing copies every image the post shows (the image and those of its lineage) from
``rooms/{room}/`` to ``posts/{post}/``, so later edits or deletions in the canvas change
nothing; remixing copies them back into the new canvas's own ``rooms/{room}/`` keys.
Cookie-authenticated writes pass :func:`.identity.check_csrf`. Lists are keyset-paginated
(``next_cursor``), never by offset.

A published image is public, and its URL names its content: ``/images/{key}``, where the
key is ``posts/{post}/{sha256}[_{size}].webp`` (or ``ARBOR_PUBLIC_IMAGE_BASE_URL/{key}``,
a public bucket or a CDN in front of it). Such a URL never changes meaning, so it is served
with ``Cache-Control: public, max-age=31536000, immutable``: a browser shows a page of the
gallery seen before without asking for a single image again, and a CDN may keep it. A post
hidden by reports (or unpublished) is refused by the server from then on; what a CDN or a
public bucket already holds must be purged there.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from sync.blobs import (
    BlobError,
    BlobErrorKind,
    BlobStore,
    ForeignImageError,
    ImageKey,
    Scope,
    key_belongs_to,
    owned_image,
    parse_image_key,
)
from sync.blobs.errors import FOREIGN_IMAGE_DETAIL
from sync.canvas_index import index_for
from sync.credits import credits_of, presence_names
from sync.gallery import (
    MAX_DESCRIPTION,
    MAX_REASON,
    MAX_TITLE,
    NEWER_CAP,
    Cursor,
    NewPost,
    Page,
    Person,
    Post,
    new_post_id,
    top_sort,
)
from sync.images import OUTPUT_MIME, THUMB_SIZES
from sync.lineage import Step, add_lineage, lineage_of
from sync.renditions import DISPLAY_THUMB, block_image

from ..capabilities import Role, hash_token, new_room_id, new_token
from .identity import (
    Refusal,
    action_buckets,
    avatar_url,
    check_csrf,
    client_address,
    current_person,
    endpoint,
    gallery_of,
    limit,
    require_person,
    services_of,
)
from .images import IMMUTABLE
from .images import _serve as serve_blob
from .rooms import _base, _links, authorize, initial_document, json_body
from .uploads import BLOCK_ID, blob_problem

if TYPE_CHECKING:
    from ..app import Services

log = logging.getLogger(__name__)

POST_ID: Final = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
SIZES: Final = ("full", *(str(s) for s in THUMB_SIZES))
DEFAULT_LIMIT: Final = 24
MAX_LIMIT: Final = 100
MAX_REMIX_TITLE: Final = 200
IMAGES_PATH: Final = "/images"  # + "/" + a post's image key: see public_image
NOT_SHARED: Final = "private, no-store"  # a hidden post's image, shown to its author


# ------------------------------------------------------------------------ JSON shapes


def _author(person: Person) -> dict[str, str | None]:
    return {"handle": person.handle, "display_name": person.display_name,
            "avatar_url": avatar_url(person)}


def image_base(request: Request) -> str:
    """Where published images are read from: ``ARBOR_PUBLIC_IMAGE_BASE_URL``, else here."""
    return services_of(request).settings.public_image_base_url or IMAGES_PATH


def image_urls(images: str, image: ImageKey) -> dict[str, str]:
    """The content-addressed URLs of an image's renditions (full, 1024 and 256 px)."""
    return {"url": f"{images}/{image.sized(None).key}",
            "thumb_url": f"{images}/{image.sized(DISPLAY_THUMB).key}",
            "small_url": f"{images}/{image.sized(min(THUMB_SIZES)).key}"}


def _step_json(post: Post, step: Step, images: str) -> dict[str, Any]:
    out = step.to_json()
    if step.image is not None:
        out["image"] = {"key": step.image.get("key"), "width": step.image.get("width"),
                        "height": step.image.get("height"), "mime": step.image.get("mime")}
        parsed = parse_image_key(step.image.get("key"))
        if parsed is not None and parsed.scope is Scope.POST and parsed.owner == post.id:
            out["image"].update(image_urls(images, parsed))
    return out


def _post_image_urls(post: Post, images: str) -> dict[str, str]:
    parsed = parse_image_key(post.image_key)
    return {} if parsed is None else image_urls(images, parsed)


def post_json(post: Post, viewer: Person | None, images: str = IMAGES_PATH) -> dict[str, Any]:
    """A post as listings show it (``images``: see :func:`image_base`)."""
    return {
        "id": post.id,
        "title": post.title,
        "description": post.description,
        "author": _author(post.author),
        "created_at": post.created_at.isoformat(),
        "like_count": post.like_count,
        "liked_by_me": post.liked_by_me,
        "include_prompts": post.include_prompts,
        "image": {"key": post.image_key, "width": post.width, "height": post.height,
                  "mime": post.mime, **_post_image_urls(post, images)},
        "remixed_from_id": post.parent_post_id,
        "is_author": viewer is not None and viewer.id == post.author.id,
        "credits": {"names": list(post.credit_names), "others": post.credit_others},
        "model": post.model,
    }


def page_json(page: Page, viewer: Person | None, images: str = IMAGES_PATH) -> dict[str, Any]:
    return {"posts": [post_json(p, viewer, images) for p in page.posts],
            "next_cursor": page.next.encode() if page.next else None}


def _page_args(request: Request, sort: str) -> tuple[int, Cursor | None]:
    raw_limit = request.query_params.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise ValueError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    raw_cursor = request.query_params.get("cursor")
    return int(raw_limit), Cursor.decode(raw_cursor, sort) if raw_cursor else None


async def _visible_post(request: Request, viewer: Person | None) -> Post:
    """The post named in the path, as ``viewer`` may see it (hidden: only its author)."""
    post_id = request.path_params["post"]
    post = await gallery_of(request).get_post(post_id, viewer.id if viewer else None) \
        if POST_ID.match(post_id) else None
    if (post is None or post.deleted
            or (post.hidden and (viewer is None or viewer.id != post.author.id))):
        raise Refusal(404, "no such post", "post_not_found")
    return post


# ------------------------------------------------------------------------ blob copies


async def _copy_renditions(blobs: BlobStore, src: ImageKey, dst: ImageKey) -> None:
    """Copy the image ``src`` names (main rendition and thumbnails) to ``dst``'s owner."""

    async def one(size: int | None) -> None:
        data = await blobs.get(src.sized(size).key)
        await blobs.put(dst.sized(size).key, data, OUTPUT_MIME)

    await asyncio.gather(one(None), *(one(s) for s in THUMB_SIZES))


def _image_map(dst: ImageKey, image: dict[str, Any]) -> dict[str, Any]:
    return block_image({"key": dst.sized(None).key,
                        "width": image.get("width") or 0, "height": image.get("height") or 0,
                        "mime": OUTPUT_MIME, "thumbKey": dst.sized(DISPLAY_THUMB).key})


async def _copy_lineage_images(blobs: BlobStore, steps: list[Step], *,
                               src: tuple[Scope, str], dst: tuple[Scope, str]) -> list[Step]:
    """``steps`` with every image copied from owner ``src`` to owner ``dst``. A step's
    image key was written by a peer: one that is not ``src``'s own (checked before the
    store is asked), or whose bytes are gone, is dropped from its step, the two alike."""
    out: list[Step] = []
    copied: dict[str, bool] = {}
    for step in steps:
        image = step.image
        try:
            source = owned_image(*src, image.get("key") if image else None)
        except ForeignImageError:
            out.append(step.with_image(None))
            continue
        assert image is not None
        target = ImageKey(dst[0], dst[1], source.digest)
        if source.digest not in copied:
            try:
                await _copy_renditions(blobs, source, target)
                copied[source.digest] = True
            except BlobError as exc:
                if exc.kind is not BlobErrorKind.OBJECT_MISSING:
                    raise
                copied[source.digest] = False
        out.append(step.with_image(_image_map(target, image) if copied[source.digest]
                                   else None))
    return out


# ------------------------------------------------------------------------ lineage, publish


@endpoint
async def room_lineage(request: Request) -> Response:
    """``GET /api/rooms/{room}/lineage/{block}`` (view): the steps that led to a block."""
    services = services_of(request)
    room_id, block_id = request.path_params["room"], request.path_params["block"]
    await authorize(request, room_id, Role.VIEW)
    if not BLOCK_ID.match(block_id):
        raise Refusal(404, "no such block in this canvas", "block_not_found")
    await limit(request, services.room_load_buckets(request, room_id), "canvas loads")
    async with services.rooms.session(room_id) as room:
        index = await index_for(room)
        steps = lineage_of(room.doc, block_id, incoming=index.incoming)
    return JSONResponse({"room": room_id, "block_id": block_id,
                         "lineage": [s.to_json() for s in steps]})


def _publish_fields(body: dict[str, Any]) -> tuple[str, str, str, bool]:
    block_id, title = body.get("block_id"), body.get("title")
    description, include = body.get("description", ""), body.get("include_prompts", True)
    if not isinstance(block_id, str) or not BLOCK_ID.match(block_id):
        raise ValueError("block_id must be the id of an image block")
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > MAX_TITLE:
        raise ValueError(f"title must be 1 to {MAX_TITLE} characters")
    if description is None:
        description = ""
    if not isinstance(description, str) or len(description.strip()) > MAX_DESCRIPTION:
        raise ValueError(f"description must be at most {MAX_DESCRIPTION} characters")
    if not isinstance(include, bool):
        raise ValueError("include_prompts must be true or false")
    return block_id, title.strip(), description.strip(), include


@endpoint
async def publish(request: Request) -> Response:
    """``POST /api/rooms/{room}/publish`` (edit link + identity) {block_id, title,
    description?, include_prompts} -> 201 the post."""
    services = services_of(request)
    room_id = request.path_params["room"]
    check_csrf(request)
    await authorize(request, room_id, Role.EDIT)
    person = await require_person(request)
    block_id, title, description, include = _publish_fields(await json_body(request))
    await limit(request, [*action_buckets(request, "publishes", person),
                          *services.room_load_buckets(request, room_id)], "posts")
    return await publish_block(request, room_id, person, block_id, title=title,
                               description=description, include=include)


async def publish_block(request: Request, room_id: str, person: Person, block_id: str, *,
                        title: str, description: str, include: bool,
                        model: str = "") -> Response:
    """Publish image block ``block_id`` of canvas ``room_id`` (the caller has checked the
    edit link, the identity, CSRF and the rate limits) -> 201 the post. One path for a
    canvas's image and for art posted from elsewhere (``server/api/own_art.py``)."""
    services = services_of(request)
    async with services.rooms.session(room_id) as room:
        index = await index_for(room)
        steps = lineage_of(room.doc, block_id, incoming=index.incoming)
        # Who grew it, by the names their presence shows now (sync/credits.py).
        credits = credits_of(room.doc, steps,
                             presence_names(room.awareness.states().values()))
    target = steps[-1]
    if target.kind != "image" or target.image is None:
        raise Refusal(400, "only an image block with a finished image can be published",
                      "not_an_image")
    if not key_belongs_to(room_id, target.image.get("key")):
        raise Refusal(400, FOREIGN_IMAGE_DETAIL, "not_an_image")
    if not include:
        steps = [Step(target.block_id, target.kind, target.tool, "", target.image, ())]
    post_id = new_post_id()
    prefix = f"posts/{post_id}"
    gallery = gallery_of(request)
    try:
        steps = await _copy_lineage_images(services.blobs, steps, src=(Scope.ROOM, room_id),
                                           dst=(Scope.POST, post_id))
        image = steps[-1].image
        if image is None:
            raise Refusal(409, "this image is no longer stored; generate it again",
                          "image_missing")
        await gallery.create_post(NewPost(
            id=post_id, author_id=person.id, room_id=room_id, block_id=block_id, title=title,
            description=description, include_prompts=include, lineage=steps,
            image_key=image["key"], width=int(image["width"]), height=int(image["height"]),
            mime=str(image["mime"]), parent_post_id=await gallery.remix_source(room_id),
            credit_names=credits.names, credit_others=credits.others, model=model))
    except BaseException:
        await asyncio.shield(_forget_blobs(services, prefix))
        raise
    post = await gallery.get_post(post_id, person.id)
    assert post is not None
    parent = await gallery.get_post(post.parent_post_id) if post.parent_post_id else None
    return JSONResponse(_full_post_json(post, person, parent, image_base(request)),
                        status_code=201)


async def _forget_blobs(services: Services, prefix: str) -> None:
    try:
        await services.blobs.delete_prefix(prefix + "/")
    except BlobError as exc:
        log.warning("could not delete the images under %s: %s", prefix, exc)


# ------------------------------------------------------------------------ posts


def _full_post_json(post: Post, viewer: Person | None, parent: Post | None,
                    images: str = IMAGES_PATH) -> dict[str, Any]:
    out = post_json(post, viewer, images)
    out["lineage"] = [_step_json(post, s, images) for s in post.lineage] \
        if post.include_prompts else None
    out["remixed_from"] = None if parent is None or not parent.listed else {
        "id": parent.id, "title": parent.title, "author": _author(parent.author)}
    out["hidden"] = post.hidden
    return out


@endpoint
async def list_posts(request: Request) -> Response:
    """``GET /api/posts?sort=new|top&period=day|week|all&cursor=&limit=``: ``period``
    (top only; default week) is how far back "top" looks; a cursor continues only the
    sort and period it came from."""
    sort = request.query_params.get("sort", "new")
    if sort not in ("new", "top"):
        raise ValueError("sort must be new or top")
    period = request.query_params.get("period", "week")
    cursor_sort = top_sort(period) if sort == "top" else "new"
    if sort == "new" and "period" in request.query_params:
        raise ValueError("period applies to sort=top only")
    size, cursor = _page_args(request, cursor_sort)
    viewer = await current_person(request)
    page = await gallery_of(request).list_posts(
        "top" if sort == "top" else "new", limit=size, cursor=cursor,
        viewer_id=viewer.id if viewer else None,
        period="day" if period == "day" else "all" if period == "all" else "week")
    return JSONResponse(page_json(page, viewer, image_base(request)),
                        headers={"Cache-Control": "no-store"})


@endpoint
async def newer_posts(request: Request) -> Response:
    """``GET /api/posts/newer?than={post}[&feed=following]`` -> {count, more}: how many
    posts were published after that one (the newest a feed shows), for its "3 new posts"
    notice; ``feed=following`` (needs an identity) counts only posts of people you follow.
    Counts at most ``NEWER_CAP``; ``more`` says there are more than that. Cheap enough to
    poll (one index range scan of at most ``NEWER_CAP`` + 1 rows)."""
    than = request.query_params.get("than", "")
    if not POST_ID.match(than):
        raise ValueError("than must be the id of a post")
    feed = request.query_params.get("feed", "all")
    if feed not in ("all", "following"):
        raise ValueError("feed must be all or following")
    follower = (await require_person(request)).id if feed == "following" else None
    newer = await gallery_of(request).count_newer(than, follower)
    if newer is None:
        raise Refusal(404, "no such post", "post_not_found")
    return JSONResponse({"count": min(newer, NEWER_CAP), "more": newer > NEWER_CAP},
                        headers={"Cache-Control": "no-store"})


@endpoint
async def get_post(request: Request) -> Response:
    """``GET /api/posts/{post}``: the post, its author, lineage (if included), likes."""
    viewer = await current_person(request)
    post = await _visible_post(request, viewer)
    parent = (await gallery_of(request).get_post(post.parent_post_id)
              if post.parent_post_id else None)
    return JSONResponse(_full_post_json(post, viewer, parent, image_base(request)),
                        headers={"Cache-Control": "no-store"})


@endpoint
async def delete_post(request: Request) -> Response:
    """``DELETE /api/posts/{post}``: its author unpublishes it (403 for anyone else)."""
    check_csrf(request)
    person = await require_person(request)
    post = await _visible_post(request, person)
    if post.author.id != person.id:
        raise Refusal(403, "only its author can unpublish a post", "not_the_author")
    if await gallery_of(request).unpublish(post.id, person.id):
        await _forget_blobs(services_of(request), f"posts/{post.id}")
        services_of(request).cards.forget(f"posts/{post.id}/")
    return Response(status_code=204)


async def _serve_post_image(request: Request, post: Post, key: str) -> Response:
    """A post's image rendition ``key``: public and immutable while the post is listed
    (from ``ARBOR_PUBLIC_IMAGE_BASE_URL`` when set, else from the store through this
    server, never a presigned redirect), not to be kept anywhere once it is hidden."""
    services = services_of(request)
    cache = IMMUTABLE if post.listed else NOT_SHARED
    public = services.settings.public_image_base_url
    if public and post.listed:
        return RedirectResponse(f"{public}/{key}", status_code=301,
                                headers={"Cache-Control": IMMUTABLE})
    try:
        return await serve_blob(request, services, key, cache=cache, redirect=False)
    except BlobError as exc:
        return blob_problem(exc)


@endpoint
async def public_image(request: Request) -> Response:
    """``GET /images/posts/{post}/{digest}[_{size}].webp`` (public): a published image by
    its content-addressed key. Only while the post is listed (a hidden one: only to its
    author, and not cached); anything else under the path is 404 before the store is
    asked."""
    post_id, name = request.path_params["post"], request.path_params["name"]
    key = f"posts/{post_id}/{name}"
    parsed = parse_image_key(key)
    if (not POST_ID.match(post_id) or parsed is None or parsed.scope is not Scope.POST
            or parsed.owner != post_id):
        raise Refusal(404, "no such image", "not_found")
    post = await gallery_of(request).get_post(post_id)
    if post is not None and post.hidden and not post.deleted:
        viewer = await current_person(request)
        post = post if viewer is not None and viewer.id == post.author.id else None
    if post is None or post.deleted:
        raise Refusal(404, "no such image", "not_found")
    return await _serve_post_image(request, post, key)


@endpoint
async def post_image(request: Request) -> Response:
    """``GET /api/posts/{post}/images/{size}[?block=]`` (public): size ``full``, ``1024``
    or ``256``; ``block`` picks the image of a lineage step. Kept for links made before
    posts' images had content-addressed URLs (:func:`public_image`); served alike."""
    size = request.path_params["size"]
    if size not in SIZES:
        raise Refusal(404, "no such image size", "not_found")
    post = await _visible_post(request, await current_person(request))
    key = post.image_key
    block = request.query_params.get("block")
    if block is not None:
        step = next((s for s in post.lineage if s.block_id == block and s.image), None)
        if step is None or step.image is None:
            raise Refusal(404, "no such image in this post", "not_found")
        key = str(step.image.get("key"))
    try:
        image = owned_image(Scope.POST, post.id, key)
    except ForeignImageError:
        raise Refusal(404, "no such image in this post", "not_found") from None
    return await _serve_post_image(request, post,
                                   image.sized(None if size == "full" else int(size)).key)


async def _post_action(request: Request, what: str) -> tuple[Person, Post]:
    check_csrf(request)
    person = await require_person(request)
    post = await _visible_post(request, person)
    await limit(request, action_buckets(request, what, person), what)
    return person, post


@endpoint
async def like_post(request: Request) -> Response:
    """``POST /api/posts/{post}/like``: idempotent. ``like_count`` counts the addresses
    the likes came from (see :meth:`sync.gallery.GalleryStore.like`)."""
    person, post = await _post_action(request, "likes")
    count = await gallery_of(request).like(post.id, person.id, client_address(request))
    return JSONResponse({"like_count": count, "liked_by_me": True})


@endpoint
async def unlike_post(request: Request) -> Response:
    """``DELETE /api/posts/{post}/like``: idempotent."""
    person, post = await _post_action(request, "likes")
    count = await gallery_of(request).unlike(post.id, person.id)
    return JSONResponse({"like_count": count, "liked_by_me": False})


@endpoint
async def report_post(request: Request) -> Response:
    """``POST /api/posts/{post}/report`` {reason?}: one report per person per post; the
    post hides once established handles at enough different addresses reported it (see
    :meth:`sync.gallery.GalleryStore.report`)."""
    person, post = await _post_action(request, "reports")
    body = await json_body(request)
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise ValueError(f"reason must be at most {MAX_REASON} characters")
    if post.author.id == person.id:
        raise Refusal(400, "you cannot report your own post; unpublish it instead",
                      "own_post")
    settings = services_of(request).settings
    await gallery_of(request).report(post.id, person.id, reason.strip(),
                                     client_address(request), hide_at=settings.reports_to_hide,
                                     min_age=settings.report_min_handle_age_hours * 3600)
    return JSONResponse({"reported": True})


@endpoint
async def remix_post(request: Request) -> Response:
    """``POST /api/posts/{post}/remix`` (no identity needed) -> 201 a new canvas holding
    the post's lineage: the links of ``POST /api/rooms`` plus ``post_id``."""
    services = services_of(request)
    post = await _visible_post(request, None)
    refused = await services.check_limits(
        services.rates.room_buckets(services.client_ip(request)), "new canvases")
    if refused is not None:
        return refused
    room_id, edit, view = new_room_id(), new_token(), new_token()
    title = f"Remix of {post.title}"[:MAX_REMIX_TITLE]
    await services.store.create_room(room_id, hash_token(edit), hash_token(view),
                                     initial_document(title))
    steps = await _copy_lineage_images(services.blobs, post.lineage, src=(Scope.POST, post.id),
                                       dst=(Scope.ROOM, room_id))
    async with services.rooms.session(room_id) as room:
        room.transact(lambda doc: add_lineage(doc, steps))
    await gallery_of(request).record_remix(room_id, post.id)
    return JSONResponse({**_links(_base(request, services), room_id, edit, view),
                         "post_id": post.id}, status_code=201)


# ------------------------------------------------------------------------ people


async def _person_named(request: Request) -> Person:
    handle = request.path_params["handle"]
    person = await gallery_of(request).person_by_handle(handle) if len(handle) <= 30 else None
    if person is None:
        raise Refusal(404, "no such person", "person_not_found")
    return person


@endpoint
async def get_person(request: Request) -> Response:
    """``GET /api/people/{handle}?cursor=&limit=``: profile, follower counts, posts."""
    person = await _person_named(request)
    viewer = await current_person(request)
    size, cursor = _page_args(request, "new")
    gallery = gallery_of(request)
    counts = await gallery.follow_counts(person.id, viewer.id if viewer else None)
    page = await gallery.list_by_author(person.id, limit=size, cursor=cursor,
                                        viewer_id=viewer.id if viewer else None)
    return JSONResponse({
        **_author(person),
        "bio": person.bio,
        "created_at": person.created_at.isoformat(),
        "followers": counts.followers,
        "following": counts.following,
        "followed_by_me": counts.followed_by_me,
        "is_me": viewer is not None and viewer.id == person.id,
        **page_json(page, viewer, image_base(request)),
    }, headers={"Cache-Control": "no-store"})


async def _follow_change(request: Request, follow: bool) -> Response:
    check_csrf(request)
    viewer = await require_person(request)
    person = await _person_named(request)
    if person.id == viewer.id:
        raise Refusal(400, "you cannot follow yourself", "self_follow")
    await limit(request, action_buckets(request, "follows", viewer), "follows")
    gallery = gallery_of(request)
    if follow:
        await gallery.follow(viewer.id, person.id)
    else:
        await gallery.unfollow(viewer.id, person.id)
    counts = await gallery.follow_counts(person.id, viewer.id)
    return JSONResponse({"following": counts.followed_by_me, "followers": counts.followers})


@endpoint
async def follow_person(request: Request) -> Response:
    """``POST /api/people/{handle}/follow``: idempotent."""
    return await _follow_change(request, True)


@endpoint
async def unfollow_person(request: Request) -> Response:
    """``DELETE /api/people/{handle}/follow``: idempotent."""
    return await _follow_change(request, False)


@endpoint
async def following_feed(request: Request) -> Response:
    """``GET /api/feed/following?cursor=&limit=``: newest posts of people you follow."""
    viewer = await require_person(request)
    size, cursor = _page_args(request, "new")
    page = await gallery_of(request).list_following(viewer.id, limit=size, cursor=cursor)
    return JSONResponse(page_json(page, viewer, image_base(request)),
                        headers={"Cache-Control": "no-store"})
