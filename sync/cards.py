"""Link-preview cards: the 1200 x 630 picture a chat app or a social network shows for a
link to a post (``/p/{id}``), a profile (``/u/{handle}``) or anything else of Arbor.

- A post's card is drawn from the post's own 1024 px rendition (the output of the image
  pipeline, ``sync/images.py``, copied to ``posts/{post}/`` when it was published) and its
  title and author. A profile's card is a grid of that person's latest (up to 4) listed
  posts, with their name. Everything else (the home page, the gallery, a canvas link) gets
  one generic Arbor card, which shows nothing of any canvas: a canvas's token is in the
  link's fragment, which no crawler sends, so there is nothing private it could show.
- A card is named by what it is drawn from (:func:`post_card_digest`,
  :func:`profile_card_digest`): a new title, display name or latest post is a new name,
  so every stored card is immutable and its URL can be cached for a year. It is stored
  once, under its owner's prefix (``posts/{post}/card-{digest}.jpg``, removed with the
  post's images on unpublish; ``people/{person}/card-{digest}.jpg``), by whichever
  process is asked for it first (:class:`CardStore` also makes concurrent requests in one
  process wait for one drawing rather than draw it twice).
- Cards are JPEG, not WebP like the renditions: the crawlers of several networks that
  read ``og:image`` still take only JPEG, PNG or GIF, and JPEG is the smallest of those
  for pictures.
- Drawing is CPU-bound (a blur over 1200 x 630, a JPEG encode: tens of milliseconds);
  callers run it in a thread.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import io
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Final

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from .blobs import BlobError, BlobErrorKind, BlobStore

log = logging.getLogger(__name__)

CARD_WIDTH: Final = 1200
CARD_HEIGHT: Final = 630
CARD_MIME: Final = "image/jpeg"
# Part of every digest: bump it when the drawing changes, so every card gets a new name.
CARD_VERSION: Final = 1
CARD_DIGEST: Final = re.compile(r"^[0-9a-f]{64}$")
PROFILE_CARD_POSTS: Final = 4
_QUALITY: Final = 85
_MARGIN: Final = 40
_TEXT_X: Final = 640
_TEXT_WIDTH: Final = CARD_WIDTH - _TEXT_X - 48
_BACKGROUND: Final = (16, 24, 40)
_TILE: Final = (29, 41, 57)
_WHITE: Final = (255, 255, 255)
_GREY: Final = (208, 213, 221)
_LEAF: Final = (18, 183, 106)
_TRUNK: Final = (2, 122, 72)
_FONT_DIRS: Final = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
                     Path("/usr/share/fonts/TTF"))
_CACHE_BYTES: Final = 8 * 1024 * 1024

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


# --------------------------------------------------------------------------- names


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps([CARD_VERSION, *parts]).encode()).hexdigest()


def post_card_digest(post_id: str, image_key: str, title: str, author_name: str,
                     handle: str) -> str:
    """The name of a post's card: changes whenever what the card shows changes."""
    return _digest("post", post_id, image_key, title, author_name, handle)


def profile_card_digest(person_id: str, handle: str, display_name: str,
                        image_keys: Sequence[str]) -> str:
    """The name of a profile's card: its person, their names and latest posts' images."""
    return _digest("profile", person_id, handle, display_name, list(image_keys))


def post_card_key(post_id: str, digest: str) -> str:
    """``posts/{post}/card-{digest}.jpg``: next to the post's own image copies."""
    return f"posts/{post_id}/card-{digest}.jpg"


def profile_card_key(person_id: str, digest: str) -> str:
    """``people/{person}/card-{digest}.jpg``."""
    return f"people/{person_id}/card-{digest}.jpg"


# --------------------------------------------------------------------------- drawing


@functools.cache
def _font(size: int, bold: bool = False) -> Font:
    """DejaVu Sans where the system has it (wide script coverage), else Pillow's own."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in _FONT_DIRS:
        path = folder / name
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def _open_rendition(data: bytes | None) -> Image.Image | None:
    """One of our own WebP renditions, decoded as RGB; None if absent or unreadable
    (the card is then drawn without it rather than not at all)."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data), formats=["WEBP"]) as im:
            im.load()
            return im.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        log.warning("a card is drawn without an image that cannot be read: %s", exc)
        return None


def _wrap(text: str, font: Font, width: int, max_lines: int) -> list[str]:
    """``text`` in lines no wider than ``width``, at most ``max_lines`` (the last one
    ends in an ellipsis if the text goes on). Long words are cut anywhere."""
    words = " ".join(text.split()).split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while font.getlength(current) > width:  # a word wider than the column
            cut = max(1, next(i for i in range(len(current), 0, -1)
                              if font.getlength(current[:i]) <= width))
            lines.append(current[:cut])
            current = current[cut:]
    if current:
        lines.append(current)
    if len(lines) <= max_lines:
        return lines
    last = lines[max_lines - 1]
    while last and font.getlength(last + "…") > width:
        last = last[:-1]
    return [*lines[:max_lines - 1], last.rstrip() + "…"]


def _fit_title(text: str, sizes: Sequence[int], width: int,
               max_lines: int) -> tuple[Font, list[str]]:
    """The largest size at which ``text`` fits in ``max_lines``, else the smallest, cut."""
    for size in sizes:
        font = _font(size, bold=True)
        lines = _wrap(text, font, width, max_lines + 1)
        if len(lines) <= max_lines:
            return font, lines
    font = _font(sizes[-1], bold=True)
    return font, _wrap(text, font, width, max_lines)


def _draw_lines(draw: ImageDraw.ImageDraw, lines: Sequence[str], font: Font,
                xy: tuple[int, int], fill: tuple[int, int, int], gap: float = 1.2) -> int:
    """Draw ``lines`` from ``xy`` down; returns the y below the last one."""
    x, y = xy
    step = int(getattr(font, "size", 20) * gap)
    for line in lines:
        draw.text((x, y), line, font=font, fill=fill)
        y += step
    return y


def _rounded(im: Image.Image, radius: int) -> Image.Image:
    mask = Image.new("L", im.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, im.width - 1, im.height - 1), radius, fill=255)
    out = Image.new("RGBA", im.size)
    out.paste(im, (0, 0), mask)
    return out


def _logo(draw: ImageDraw.ImageDraw, x: int, y: int, scale: float) -> None:
    """Arbor's mark (the favicon's tree): a green crown on a trunk."""
    r = 7 * scale
    cx, cy = x + 12 * scale, y + 9 * scale
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_LEAF)
    draw.rectangle((x + 11 * scale, y + 14 * scale, x + 13 * scale, y + 23 * scale), fill=_TRUNK)


def _footer(draw: ImageDraw.ImageDraw, x: int) -> None:
    y = CARD_HEIGHT - _MARGIN - 44
    _logo(draw, x, y - 2, 2.0)
    draw.text((x + 56, y), "Arbor", font=_font(36, bold=True), fill=_WHITE)


def _encode(card: Image.Image) -> bytes:
    buf = io.BytesIO()
    card.convert("RGB").save(buf, "JPEG", quality=_QUALITY, optimize=True, progressive=True)
    return buf.getvalue()


def _backdrop(image: Image.Image | None) -> Image.Image:
    """The card's background: the image itself, filled, blurred and darkened."""
    if image is None:
        return Image.new("RGB", (CARD_WIDTH, CARD_HEIGHT), _BACKGROUND)
    small = ImageOps.fit(image, (CARD_WIDTH // 4, CARD_HEIGHT // 4), Image.Resampling.BILINEAR)
    blurred = small.filter(ImageFilter.GaussianBlur(8)).resize(
        (CARD_WIDTH, CARD_HEIGHT), Image.Resampling.BILINEAR)
    return ImageEnhance.Brightness(blurred).enhance(0.32)


def render_post_card(image_data: bytes | None, title: str, author: str) -> bytes:
    """A post's card: its image whole on the left, title and author on the right."""
    image = _open_rendition(image_data)
    card = _backdrop(image)
    draw = ImageDraw.Draw(card)
    box = CARD_HEIGHT - 2 * _MARGIN
    if image is not None:
        shown = _rounded(ImageOps.contain(image, (box, box), Image.Resampling.LANCZOS), 18)
        card.paste(shown, (_MARGIN + (box - shown.width) // 2, _MARGIN + (box - shown.height) // 2),
                   shown)
    else:
        draw.rounded_rectangle((_MARGIN, _MARGIN, _MARGIN + box, _MARGIN + box), 18, fill=_TILE)
        _logo(draw, _MARGIN + box // 2 - 96, _MARGIN + box // 2 - 92, 8.0)
    font, lines = _fit_title(title, (60, 52, 44), _TEXT_WIDTH, 4)
    y = _draw_lines(draw, lines, font, (_TEXT_X, 64), _WHITE, gap=1.18)
    by = _wrap(f"by {author}", _font(30), _TEXT_WIDTH, 2)
    _draw_lines(draw, by, _font(30), (_TEXT_X, y + 18), _GREY)
    _footer(draw, _TEXT_X)
    return _encode(card)


def render_profile_card(images: Sequence[bytes | None], name: str, handle: str) -> bytes:
    """A profile's card: their latest posts in a 2 x 2 grid, their names beside it."""
    card = Image.new("RGB", (CARD_WIDTH, CARD_HEIGHT), _BACKGROUND)
    draw = ImageDraw.Draw(card)
    gap = 20
    tile = (CARD_HEIGHT - 2 * _MARGIN - gap) // 2
    decoded = [_open_rendition(d) for d in images[:PROFILE_CARD_POSTS]]
    for i in range(PROFILE_CARD_POSTS):
        x = _MARGIN + (i % 2) * (tile + gap)
        y = _MARGIN + (i // 2) * (tile + gap)
        image = decoded[i] if i < len(decoded) else None
        if image is None:
            draw.rounded_rectangle((x, y, x + tile, y + tile), 16, fill=_TILE)
            continue
        shown = _rounded(ImageOps.fit(image, (tile, tile), Image.Resampling.LANCZOS), 16)
        card.paste(shown, (x, y), shown)
    font, lines = _fit_title(name, (60, 52, 44), _TEXT_WIDTH, 3)
    y = _draw_lines(draw, lines, font, (_TEXT_X, 64), _WHITE, gap=1.18)
    at = _wrap(f"@{handle}", _font(32), _TEXT_WIDTH, 1)
    y = _draw_lines(draw, at, _font(32), (_TEXT_X, y + 12), _GREY)
    _draw_lines(draw, ["Images grown on Arbor"], _font(28), (_TEXT_X, y + 18), _GREY)
    _footer(draw, _TEXT_X)
    return _encode(card)


def render_site_card() -> bytes:
    """The generic Arbor card: the name, the mark and what Arbor is; nothing of anyone's."""
    card = Image.new("RGB", (CARD_WIDTH, CARD_HEIGHT), _BACKGROUND)
    draw = ImageDraw.Draw(card)
    for i, (cx, cy, r) in enumerate(((930, 150, 120), (1060, 330, 90), (860, 430, 150))):
        shade = (20 + 6 * i, 58 + 10 * i, 50 + 6 * i)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=shade)
    _logo(draw, 90, 120, 7.0)
    draw.text((290, 150), "Arbor", font=_font(110, bold=True), fill=_WHITE)
    tagline = _wrap("A multiplayer canvas for growing image ideas", _font(44), 660, 2)
    y = _draw_lines(draw, tagline, _font(44), (96, 330), _WHITE)
    _draw_lines(draw, ["Branch prompts into images, together."], _font(30), (96, y + 20), _GREY)
    return _encode(card)


# --------------------------------------------------------------------------- storage


class CardStore:
    """Each card is drawn once and kept: in the blob store (shared by every process) and,
    for the cards asked for most recently, in memory (a link shared in a busy chat is
    fetched by many crawlers at once). Concurrent requests for a card this process is
    drawing wait for that drawing."""

    def __init__(self, max_bytes: int = _CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._recent: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._size = 0
        self._drawing: dict[str, asyncio.Future[bytes | None]] = {}
        self._site: bytes | None = None
        self.drawn = 0  # how many cards this process drew (tests, metrics)

    async def site(self) -> bytes:
        """The generic Arbor card, drawn once per process (it is the same everywhere)."""
        if self._site is None:
            self._site = await asyncio.to_thread(render_site_card)
        return self._site

    async def get(self, blobs: BlobStore, key: str,
                  draw: Callable[[], Awaitable[bytes]] | None) -> bytes | None:
        """The card stored at ``key``; if there is none, ``draw()`` makes it and it is
        stored (None: there is none and ``draw`` is None)."""
        if (data := self._recent.get(key)) is not None:
            self._recent.move_to_end(key)
            return data
        pending = self._drawing.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._drawing[key] = future
        try:
            data = await self._load_or_draw(blobs, key, draw)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            del self._drawing[key]
        if data is not None:
            self._remember(key, data)
        future.set_result(data)
        return data

    async def _load_or_draw(self, blobs: BlobStore, key: str,
                            draw: Callable[[], Awaitable[bytes]] | None) -> bytes | None:
        try:
            return await blobs.get(key)
        except BlobError as exc:
            if exc.kind is not BlobErrorKind.OBJECT_MISSING:
                raise
        if draw is None:
            return None
        data = await draw()
        self.drawn += 1
        await blobs.put(key, data, CARD_MIME)
        return data

    def _remember(self, key: str, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        self._recent[key] = data
        self._size += len(data)
        while self._size > self.max_bytes:
            _, old = self._recent.popitem(last=False)
            self._size -= len(old)

    def forget(self, prefix: str) -> None:
        """Drop the remembered cards under ``prefix`` (their blobs were deleted)."""
        for key in [k for k in self._recent if k.startswith(prefix)]:
            self._size -= len(self._recent.pop(key))


__all__ = [
    "CARD_DIGEST",
    "CARD_HEIGHT",
    "CARD_MIME",
    "CARD_VERSION",
    "CARD_WIDTH",
    "PROFILE_CARD_POSTS",
    "CardStore",
    "post_card_digest",
    "post_card_key",
    "profile_card_digest",
    "profile_card_key",
    "render_post_card",
    "render_profile_card",
    "render_site_card",
]
