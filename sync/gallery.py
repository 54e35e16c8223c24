"""The public gallery in PostgreSQL (migration 0004): people and their credentials, posts,
likes, follows, reports, and remixed canvases.

- A person has a handle and no password. The browser keeps a long random *identity
  secret*; only its SHA-256 is stored, as a ``credentials`` row of kind ``secret`` (OAuth
  or e-mail sign-in become other kinds of row later).
- Listings use keyset pagination: a :class:`Cursor` holds the sort key of the last row
  shown, and the next page starts strictly after it, so posts published meanwhile never
  shift a page (there is no OFFSET anywhere).
- A like (or report) and the post's counter change in one transaction that first locks
  the post's row, and the primary key makes a repeat a no-op, so counts stay exact under
  concurrent requests.
- Handles cost nothing but a rate-limited request, so a handle is not a person: likes and
  reports also record a keyed hash of the address they came from (and a person, the one
  their handle was claimed at), and count addresses, not handles (see :meth:`GalleryStore.like`
  and :meth:`GalleryStore.report`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, Literal

import asyncpg

from . import jsontext
from .errors import ArborError, InputError, StoreError, StoreReason
from .lineage import Step
from .store import queries
from .store.postgres import CONNECTION_ERRORS

HANDLE: Final = re.compile(r"^[a-z0-9_]{3,30}$")
RESERVED_HANDLES: Final = frozenset({
    "about", "abuse", "account", "admin", "administrator", "api", "arbor", "assets", "blog",
    "feed", "following", "gallery", "healthz", "help", "identity", "login", "logout",
    "metrics", "mod", "moderator", "new", "null", "official", "p", "people", "posts",
    "privacy", "r", "recover", "root", "security", "settings", "signin", "signup", "staff",
    "static", "support", "sync", "system", "terms", "top", "u", "undefined", "www",
})
MAX_DISPLAY_NAME: Final = 50
MAX_TITLE: Final = 120
MAX_DESCRIPTION: Final = 2000
MAX_REASON: Final = 500
MAX_BIO: Final = 280
NEWER_CAP: Final = 99  # the "new posts" notice counts this far ("99+")
# "Top" ranks the posts of a period by likes; the period's length (None: all time).
PERIODS: Final[dict[str, dt.timedelta | None]] = {
    "day": dt.timedelta(days=1), "week": dt.timedelta(days=7), "all": None}
# The sort a cursor was handed out for: a top cursor names its period, so one page's
# cursor never continues another period's listing ("top" is the week, as before periods).
TOP_SORTS: Final = {"day": "top_day", "week": "top", "all": "top_all"}
MIN_REPORT_ADDRESSES: Final = 2  # reports from one address never hide a post

Sort = Literal["new", "top"]
Period = Literal["day", "week", "all"]


class HandleError(ArborError):
    """A handle that cannot be claimed; ``reason`` is malformed, reserved or taken."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


INT32_MAX: Final = (1 << 31) - 1  # PostgreSQL ``integer`` (like_count)


class CursorError(ArborError):
    def __init__(self) -> None:
        super().__init__("cursor is not one this server handed out")


@dataclasses.dataclass(frozen=True, slots=True)
class Person:
    id: str
    handle: str
    display_name: str
    created_at: dt.datetime
    bio: str = ""
    avatar_key: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class FollowCounts:
    followers: int
    following: int
    followed_by_me: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Post:
    id: str
    author: Person
    room_id: str
    block_id: str
    title: str
    description: str
    include_prompts: bool
    lineage: list[Step]
    image_key: str
    width: int
    height: int
    mime: str
    parent_post_id: str | None
    like_count: int
    report_count: int
    hidden: bool
    deleted: bool
    created_at: dt.datetime
    liked_by_me: bool
    credit_names: tuple[str, ...] = ()  # see sync/credits.py
    credit_others: int = 0
    model: str = ""  # the model that made an image posted from elsewhere, as written

    @property
    def listed(self) -> bool:
        return not (self.hidden or self.deleted)


@dataclasses.dataclass(frozen=True, slots=True)
class NewPost:
    id: str
    author_id: str
    room_id: str
    block_id: str
    title: str
    description: str
    include_prompts: bool
    lineage: list[Step]
    image_key: str
    width: int
    height: int
    mime: str
    parent_post_id: str | None
    credit_names: tuple[str, ...] = ()
    credit_others: int = 0
    model: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Cursor:
    """The sort key of the last row of a page: (likes,) created_at, id; and for "top" of
    a day or a week, where that period started when the first page was read.

    The period's start travels with the cursor so that every page of one listing ranks
    the same posts: were it computed again at each page, a post that aged out of the
    window meanwhile would shift the rest, and (keyset on likes) nothing would notice."""

    sort: str
    created_at: dt.datetime
    id: str
    likes: int | None = None
    window_start: dt.datetime | None = None

    def encode(self) -> str:
        raw = [self.sort, self.created_at.isoformat(), self.id]
        if self.likes is not None:
            raw.append(str(self.likes))
        if self.window_start is not None:
            raw.append(self.window_start.isoformat())
        return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str, sort: str) -> Cursor:
        try:
            # The cursor comes back from the client: read through the bounded reader, its
            # strings storable, its like count within PostgreSQL's integer (a larger one
            # failed the query: a 503 "storage is unavailable").
            raw = jsontext.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)),
                                 what="the cursor", max_bytes=1024, storable=True)
            if not (isinstance(raw, list) and raw and raw[0] == sort
                    and all(isinstance(x, str) for x in raw)):
                raise CursorError
            top = sort.startswith("top")
            # new: 3 fields; top of all time: 4; top of a day: 5 (the period's start);
            # top of a week: 5, or 4 if handed out before periods had a start.
            lengths = {"new": (3,), "top_all": (4,), "top_day": (5,), "top": (4, 5)}
            if len(raw) not in lengths.get(sort, ()):
                raise CursorError
            likes = int(raw[3]) if top else None
            if likes is not None and not 0 <= likes <= INT32_MAX:
                raise CursorError
            created = _aware(raw[1])
            window = _aware(raw[4]) if len(raw) == 5 else None
            return cls(sort, created, raw[2], likes, window)
        except (ValueError, binascii.Error, IndexError, UnicodeDecodeError, InputError):
            raise CursorError from None

    @classmethod
    def after(cls, post: Post, sort: str, window_start: dt.datetime | None = None) -> Cursor:
        return cls(sort, post.created_at, post.id,
                   post.like_count if sort.startswith("top") else None, window_start)


def _aware(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise CursorError
    return when


def top_sort(period: str) -> str:
    """The cursor sort of "top" over ``period`` (day, week or all); ValueError otherwise."""
    if period not in TOP_SORTS:
        raise ValueError("period must be day, week or all")
    return TOP_SORTS[period]


@dataclasses.dataclass(frozen=True, slots=True)
class Page:
    posts: list[Post]
    next: Cursor | None


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_post_id() -> str:
    return secrets.token_urlsafe(9)


def check_handle(raw: object) -> str:
    """The normalised (lower-case) handle, or HandleError."""
    if not isinstance(raw, str):
        raise HandleError("malformed", "handle must be a string")
    handle = raw.strip().lower()
    if not HANDLE.match(handle):
        raise HandleError("malformed", "a handle is 3 to 30 characters: a-z, 0-9 and _")
    if handle in RESERVED_HANDLES:
        raise HandleError("reserved", f"the handle {handle!r} is reserved")
    return handle


def _person(row: Any) -> Person:
    return Person(row["id"], row["handle"], row["display_name"], row["created_at"],
                  row["bio"], row["avatar_key"])


def _post(row: Any) -> Post:
    lineage = row["lineage"]
    steps = json.loads(lineage) if isinstance(lineage, str) else lineage
    author = Person(row["author_id"], row["author_handle"], row["author_display_name"],
                    row["created_at"], avatar_key=row["author_avatar_key"])
    return Post(row["id"], author, row["room_id"], row["block_id"], row["title"],
                row["description"], row["include_prompts"],
                [Step.from_json(s) for s in steps], row["image_key"], row["image_width"],
                row["image_height"], row["image_mime"], row["parent_post_id"],
                row["like_count"], row["report_count"], row["hidden"], row["deleted"],
                row["created_at"], bool(row["liked_by_me"]),
                tuple(row["credit_names"] or ()), int(row["credit_others"] or 0),
                row["model"])


class GalleryStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            async with self.pool.acquire() as conn:
                yield conn
        except CONNECTION_ERRORS as exc:
            raise StoreError(StoreReason.CONNECTION, f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.UniqueViolationError:
            raise
        except asyncpg.PostgresError as exc:
            raise StoreError(StoreReason.QUERY, f"PostgreSQL error: {exc}") from exc

    # --- people -------------------------------------------------------------------------

    async def create_person(self, handle: str, display_name: str, secret_hash: bytes,
                            created_from: bytes | None = None) -> Person:
        """A new person holding the secret whose hash is given; HandleError if taken.
        ``created_from``: the keyed hash of the address the handle was claimed at."""
        try:
            async with self._conn() as c, c.transaction():
                row = await c.fetchrow(queries["create_person"], uuid.uuid4().hex, handle,
                                       display_name, created_from)
                await c.execute(queries["create_secret_credential"], row["id"], secret_hash)
        except asyncpg.UniqueViolationError:
            raise HandleError("taken", f"the handle {handle!r} is taken") from None
        return _person(row)

    async def person_by_secret(self, secret_hash: bytes) -> Person | None:
        async with self._conn() as c:
            row = await c.fetchrow(queries["person_by_secret"], secret_hash)
            if row is not None:
                await c.execute(queries["touch_credential"], row["credential_id"])
        return None if row is None else _person(row)

    async def person_by_handle(self, handle: str) -> Person | None:
        async with self._conn() as c:
            row = await c.fetchrow(queries["person_by_handle"], handle)
        return None if row is None else _person(row)

    async def update_profile(self, person_id: str, *, display_name: str | None,
                             bio: str | None) -> Person:
        """Change what is given (None: keep it); the person as stored after."""
        async with self._conn() as c:
            row = await c.fetchrow(queries["update_profile"], person_id, display_name, bio)
        return _person(row)

    async def set_avatar(self, person_id: str, key: str | None) -> tuple[Person, str | None]:
        """Make ``key`` the person's avatar (None: none); the person as stored after, and
        the key it replaced (for its blob to be deleted)."""
        async with self._conn() as c:
            row = await c.fetchrow(queries["set_avatar"], person_id, key)
        return _person(row), row["previous_avatar_key"]

    async def follow_counts(self, person_id: str, viewer_id: str | None) -> FollowCounts:
        async with self._conn() as c:
            row = await c.fetchrow(queries["person_follow_counts"], person_id, viewer_id)
        return FollowCounts(int(row["followers"]), int(row["following"]),
                            bool(row["followed_by_me"]))

    async def follow(self, follower_id: str, followee_id: str) -> None:
        async with self._conn() as c:
            await c.execute(queries["follow"], follower_id, followee_id)

    async def unfollow(self, follower_id: str, followee_id: str) -> None:
        async with self._conn() as c:
            await c.execute(queries["unfollow"], follower_id, followee_id)

    # --- posts --------------------------------------------------------------------------

    async def create_post(self, post: NewPost) -> None:
        lineage = json.dumps([s.to_json() for s in post.lineage])
        async with self._conn() as c:
            await c.execute(queries["insert_post"], post.id, post.author_id, post.room_id,
                            post.block_id, post.title, post.description, post.include_prompts,
                            lineage, post.image_key, post.width, post.height, post.mime,
                            post.parent_post_id, list(post.credit_names), post.credit_others,
                            post.model)

    async def get_post(self, post_id: str, viewer_id: str | None = None) -> Post | None:
        async with self._conn() as c:
            row = await c.fetchrow(queries["get_post"], post_id, viewer_id)
        return None if row is None else _post(row)

    async def list_posts(self, sort: Sort, *, limit: int, viewer_id: str | None,
                         cursor: Cursor | None = None, period: Period = "week") -> Page:
        """Newest first, or (``top``) by likes among the posts of ``period``; a top
        cursor keeps the period's start of its first page (see :class:`Cursor`)."""
        if sort == "top":
            span = PERIODS[period]
            start = cursor.window_start if cursor and cursor.window_start else (
                None if span is None else dt.datetime.now(dt.UTC) - span)
            args: Sequence[Any] = (cursor.likes, cursor.created_at, cursor.id) if cursor \
                else (None, None, None)
            return await self._page("list_posts_top", TOP_SORTS[period], limit, viewer_id,
                                    *args, start, window_start=start)
        return await self._page("list_posts_new", sort, limit, viewer_id,
                                *_keyset(cursor))

    async def count_newer(self, post_id: str, follower_id: str | None = None) -> int | None:
        """How many listed posts came after ``post_id`` (at most :data:`NEWER_CAP` + 1,
        so a count above the cap reads "more"), of the people ``follower_id`` follows if
        given; None if there is no such post."""
        async with self._conn() as c:
            value: int | None = await c.fetchval(queries["count_newer_posts"], post_id,
                                                 NEWER_CAP + 1, follower_id)
        return value

    async def list_by_author(self, author_id: str, *, limit: int, viewer_id: str | None,
                             cursor: Cursor | None = None) -> Page:
        return await self._page("list_posts_by_author", "new", limit, viewer_id,
                                *_keyset(cursor), author_id)

    async def list_following(self, viewer_id: str, *, limit: int,
                             cursor: Cursor | None = None) -> Page:
        return await self._page("list_posts_following", "new", limit, viewer_id,
                                *_keyset(cursor))

    async def _page(self, query: str, sort: str, limit: int, viewer_id: str | None,
                    *args: Any, window_start: dt.datetime | None = None) -> Page:
        async with self._conn() as c:
            rows = await c.fetch(queries[query], limit + 1, viewer_id, *args)
        posts = [_post(r) for r in rows[:limit]]
        more = len(rows) > limit and posts
        return Page(posts, Cursor.after(posts[-1], sort, window_start) if more else None)

    async def unpublish(self, post_id: str, author_id: str) -> bool:
        async with self._conn() as c:
            return await c.fetchval(queries["unpublish_post"], post_id, author_id) is not None

    async def like(self, post_id: str, person_id: str, address: bytes) -> int:
        """Record that ``person_id`` likes the post (from the address whose keyed hash is
        ``address``); the post's ``like_count`` after it.

        Each person has their own like (``liked_by_me``, unlike), but ``like_count``, which
        the listings show and "top" ranks by, counts the *addresses* the likes came from:
        likes from several handles at one address count once. Handles are minted for free,
        addresses are not, so a script behind one address moves a post by one, whatever
        the number of handles it holds; the price is that a household or an office behind
        one address also counts once. An IPv6 address counts by its /64. Likes recorded
        before addresses were (migration 0007) count once each."""
        async with self._conn() as c, c.transaction():
            await c.execute(queries["lock_post"], post_id)
            count: int = await c.fetchval(queries["like_post"], post_id, person_id, address)
        return count

    async def unlike(self, post_id: str, person_id: str) -> int:
        """Remove the person's like; ``like_count`` drops only if it was the last like of
        the post from that address (see :meth:`like`)."""
        async with self._conn() as c, c.transaction():
            await c.execute(queries["lock_post"], post_id)
            count: int = await c.fetchval(queries["unlike_post"], post_id, person_id)
        return count

    async def report(self, post_id: str, person_id: str, reason: str, address: bytes, *,
                     hide_at: int, min_age: float) -> bool:
        """Record one report per person (from the address whose keyed hash is
        ``address``); whether the post is now hidden, pending review.

        Reports are weighed so that nobody can hide a post with handles minted for the
        purpose. A report counts only if its handle was at least ``min_age`` seconds old
        when it was made (a burst of fresh handles has no say; aged handles cost time, and
        handle claims are rate-limited per address). Among those, the post hides when they
        came from ``hide_at`` different addresses *and* their handles were claimed at
        ``hide_at`` different addresses (so handles minted at one address and sent out
        through others count once). Reports from one address count once, and ``hide_at``
        is never below 2: one address never hides a post. Every report is kept, counted or
        not, for the review (``report_count``, ``arbor review``)."""
        threshold = max(MIN_REPORT_ADDRESSES, hide_at)
        async with self._conn() as c, c.transaction():
            await c.execute(queries["lock_post"], post_id)
            await c.execute(queries["report_post"], post_id, person_id, reason, address)
            row = await c.fetchrow(queries["weigh_post_reports"], post_id, threshold,
                                   float(min_age))
        return row is not None and bool(row["hidden"])

    # --- remixes ------------------------------------------------------------------------

    # --- moderation (the `arbor review` command) ---------------------------------------

    async def hidden_posts(self) -> list[dict[str, Any]]:
        """Posts hidden by reports, waiting for a person to review them."""
        async with self._conn() as c:
            rows = await c.fetch(queries["list_hidden_posts"])
        return [dict(r) for r in rows]

    async def reinstate(self, post_id: str) -> bool:
        """Reviewed and fine: listed again, its reports cleared."""
        async with self._conn() as c, c.transaction():
            await c.execute(queries["clear_post_reports"], post_id)
            return await c.fetchval(queries["reinstate_post"], post_id) is not None

    async def remove(self, post_id: str) -> bool:
        """Reviewed and removed: gone from every listing, as if unpublished."""
        async with self._conn() as c:
            return await c.fetchval(queries["remove_post"], post_id) is not None

    async def record_remix(self, room_id: str, post_id: str) -> None:
        async with self._conn() as c:
            await c.execute(queries["record_remix"], room_id, post_id)

    async def remix_source(self, room_id: str) -> str | None:
        async with self._conn() as c:
            value: str | None = await c.fetchval(queries["remix_source"], room_id)
        return value


def _keyset(cursor: Cursor | None) -> tuple[dt.datetime | None, str | None]:
    return (cursor.created_at, cursor.id) if cursor else (None, None)


__all__ = [
    "MAX_BIO",
    "MAX_DESCRIPTION",
    "MAX_DISPLAY_NAME",
    "MAX_REASON",
    "MAX_TITLE",
    "RESERVED_HANDLES",
    "Cursor",
    "CursorError",
    "FollowCounts",
    "GalleryStore",
    "HandleError",
    "NewPost",
    "Page",
    "Person",
    "Post",
    "check_handle",
    "hash_secret",
    "new_post_id",
    "new_secret",
    "top_sort",
]
