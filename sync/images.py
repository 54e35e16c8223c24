"""One image pipeline for every image that enters a room: a person's upload (checked by
the server) and a generated image (stored by a worker).

:func:`process_image` takes untrusted bytes and returns a clean WebP rendition plus
thumbnails, or raises :class:`ImageRejectedError` with a sentence a person understands.

- The type comes from the bytes (magic numbers), never from a file name or a declared
  Content-Type; the decoder is then restricted to that one format.
- Dimensions are read from the header and checked against ``max_pixels`` (and WebP's
  16383 px side limit) before a single pixel is decoded, so a 50-byte PNG that declares
  100000 x 100000 px is refused without allocating 40 GB. Pillow's own
  ``MAX_IMAGE_PIXELS`` bomb check stays on as a second line.
- Animated GIF and WebP keep their first frame only.
- EXIF orientation is applied to the pixels, then every piece of metadata is dropped:
  EXIF (camera, GPS position, time), XMP, comments. An embedded ICC profile is used to
  convert the pixels to sRGB, then dropped too, so every output is plain sRGB.

Encoding: WebP for every rendition, lossless or lossy decided once per image, so that
every thumbnail looks like (and costs like) its image:

1. At most 256 distinct colours (line art, diagrams, logos, pixel art, flat UI):
   **lossless**. Lossless WebP stores such images as a palette and is usually smaller
   than lossy, and lossy coding would put ringing and colour smears (4:2:0 chroma) on
   exactly the hard edges these images are made of.
2. Otherwise, if any pixel is not fully opaque (cut-outs, stickers, soft shadows):
   **lossless**, because lossy WebP's chroma subsampling bleeds colour into the
   semi-transparent edges that show when the image is composited on the canvas. The one
   exception is a photograph with an alpha channel, where lossless is often ten times
   larger: both encodings of the 256 px rendition are tried (a few milliseconds) and if
   lossless comes out more than 3x lossy, the image goes lossy (its alpha plane is still
   coded losslessly, ``alpha_quality=100``, so the cut-out edge stays exact).
3. Everything else is photographic: **lossy, quality 82**, which is visually close to
   the source and 25-35 % smaller than a JPEG of the same quality.

Thumbnails are 256 and 1024 px on the longest side and never upscaled: an image smaller
than a thumbnail size gets a rendition at its own size under that name, so the keys
``{hash}_256.webp`` and ``{hash}_1024.webp`` always exist next to ``{hash}.webp``.
Keys are content-addressed (the SHA-256 of the main rendition): the same image stored
twice in one room is one object, and every stored object is immutable.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import struct
from enum import StrEnum
from typing import Final

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError, features

from .blobs.layout import room_image_key
from .errors import ArborError

log = logging.getLogger(__name__)

THUMB_SIZES: Final = (256, 1024)
WEBP_MAX_SIDE: Final = 16383
LOSSY_QUALITY: Final = 82
PALETTE_COLOURS: Final = 256
ALPHA_LOSSLESS_MAX_RATIO: Final = 3.0
OUTPUT_MIME: Final = "image/webp"
ACCEPTED_TYPES: Final = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/avif")
_ACCEPTED_WORDS = "PNG, JPEG, WebP, GIF or AVIF"

_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
                  struct.error, IndexError)
_BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)


class ImageRejection(StrEnum):
    EMPTY = "empty"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_TYPE = "unsupported_type"
    TOO_LARGE = "too_large"
    TOO_MANY_PIXELS = "too_many_pixels"
    TRUNCATED = "truncated"


class ImageRejectedError(ArborError):
    """The bytes are not an image we accept; ``kind`` says why, ``detail`` says it to a
    person, ``detected`` names the format found (if any)."""

    def __init__(self, kind: ImageRejection, message: str, *,
                 detected: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.detected = detected

    def __repr__(self) -> str:
        return f"ImageRejectedError({self.kind.value}, {self.detail!r})"


@dataclasses.dataclass(frozen=True, slots=True)
class ProcessedImage:
    main: bytes
    mime: str
    width: int
    height: int
    thumbs: dict[int, bytes]
    content_hash: str
    lossless: bool
    source_format: str  # what the bytes really were: PNG, JPEG, WEBP, GIF, AVIF


def image_key(room: str, content_hash: str, size: int | None = None) -> str:
    """``rooms/{room}/{hash}.webp``, or ``rooms/{room}/{hash}_{size}.webp`` for a thumbnail
    (the layout, and who may read what, is ``sync/blobs/layout.py``)."""
    return room_image_key(room, content_hash, size)


def sniff(data: bytes) -> str | None:
    """The Pillow format name of ``data`` from its magic number, if we accept it."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if _ftyp_brands(data) & {b"avif", b"avis"}:
        return "AVIF"
    return None


def _ftyp_brands(data: bytes) -> set[bytes]:
    if len(data) < 16 or data[4:8] != b"ftyp":
        return set()
    end = min(len(data), int.from_bytes(data[:4], "big"))
    brands = {data[8:12]}
    brands.update(data[i:i + 4] for i in range(16, end - 3, 4))
    return brands


def _megabytes(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB".replace(".0 MB", " MB")


def _refuse_unknown(data: bytes) -> ImageRejectedError:
    """The error for bytes that are none of the accepted formats."""
    name: str | None = None
    try:
        with Image.open(io.BytesIO(data)) as other:
            name = other.format
    except (*_DECODE_ERRORS, *_BOMB):
        name = None
    if name is None and _ftyp_brands(data) & {b"heic", b"heix", b"mif1", b"msf1"}:
        name = "HEIC"
    if name is None and b"<svg" in data[:2048].lower():
        name = "SVG"
    if name is not None:
        return ImageRejectedError(
            ImageRejection.UNSUPPORTED_TYPE,
            f"{name} images are not supported; use {_ACCEPTED_WORDS}.", detected=name)
    return ImageRejectedError(
        ImageRejection.NOT_AN_IMAGE,
        f"This file is not an image: its contents are not {_ACCEPTED_WORDS}, "
        "whatever its name says.")


def _check_dimensions(width: int, height: int, max_pixels: int, fmt: str) -> None:
    if width <= 0 or height <= 0:
        raise ImageRejectedError(ImageRejection.TRUNCATED,
                                 "The image file is damaged: it declares no pixels.",
                                 detected=fmt)
    if width * height > max_pixels:
        raise ImageRejectedError(
            ImageRejection.TOO_MANY_PIXELS,
            f"The image is {width} x {height} pixels; the limit is "
            f"{max_pixels / 1_000_000:g} megapixels. Make it smaller and try again.",
            detected=fmt)
    if max(width, height) > WEBP_MAX_SIDE:
        raise ImageRejectedError(
            ImageRejection.TOO_MANY_PIXELS,
            f"The image is {max(width, height)} pixels on its longest side; the limit is "
            f"{WEBP_MAX_SIDE}.", detected=fmt)


def _open(data: bytes, fmt: str, max_pixels: int) -> Image.Image:
    """The decoded first frame, after the header has been checked."""
    truncated = ImageRejectedError(
        ImageRejection.TRUNCATED,
        f"The {fmt} file is damaged or incomplete (perhaps it did not finish uploading).",
        detected=fmt)
    # First the header alone, through the format's own parser (no pixel is decoded, and
    # Pillow's bomb check does not run yet, so our limit and message come first).
    Image.init()
    factory = Image.OPEN[fmt][0]
    try:
        with factory(io.BytesIO(data), "") as header:
            width, height = header.size
    except _DECODE_ERRORS:
        raise truncated from None
    _check_dimensions(width, height, max_pixels, fmt)
    # Then the real open, with Pillow's MAX_IMAGE_PIXELS guard as a second line.
    try:
        im = Image.open(io.BytesIO(data), formats=[fmt])
    except _BOMB:
        raise ImageRejectedError(ImageRejection.TOO_MANY_PIXELS,
                                 "The image declares far too many pixels to be opened.",
                                 detected=fmt) from None
    except _DECODE_ERRORS:
        raise truncated from None
    try:
        _check_dimensions(im.width, im.height, max_pixels, fmt)
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        im.load()
    except ImageRejectedError:
        im.close()
        raise
    except _DECODE_ERRORS:
        im.close()
        raise truncated from None
    return im


def _to_srgb(im: Image.Image, mode: str) -> Image.Image:
    icc = im.info.get("icc_profile")
    if icc and im.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out = ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"),
                                            outputMode=mode)
            if out is not None:
                return out
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            # A broken profile: use the pixels as they are, as browsers do.
            log.info("ignoring an unusable ICC profile: %s", exc)
    if im.mode.startswith("I") or im.mode == "F":  # 16/32-bit greyscale
        im = im.convert("I").point(lambda v: v / 256).convert("L")
    return im.convert(mode)


def _normalise(im: Image.Image) -> Image.Image:
    """Oriented, sRGB, RGB or RGBA (RGBA only if some pixel is not opaque), no metadata."""
    oriented = ImageOps.exif_transpose(im)
    has_alpha = im.has_transparency_data
    out = _to_srgb(oriented, "RGBA" if has_alpha else "RGB")
    if out.mode == "RGBA":
        alpha_min, _ = out.getchannel("A").getextrema()
        if isinstance(alpha_min, (int, float)) and alpha_min >= 255:
            out = out.convert("RGB")
    out.info.clear()
    return out


def _webp(im: Image.Image, *, lossless: bool) -> bytes:
    buf = io.BytesIO()
    if lossless:
        im.save(buf, "WEBP", lossless=True, quality=80, method=4, exif=b"", xmp=b"")
    else:
        im.save(buf, "WEBP", quality=LOSSY_QUALITY, alpha_quality=100, method=4,
                exif=b"", xmp=b"")
    return buf.getvalue()


def choose_lossless(im: Image.Image, sample: Image.Image) -> bool:
    """Whether a normalised image is coded lossless (rule in the module docstring);
    ``sample`` is a small rendition of it, used to judge images with transparency."""
    if im.getcolors(PALETTE_COLOURS) is not None:
        return True
    if im.mode == "RGBA":
        lossless, lossy = _webp(sample, lossless=True), _webp(sample, lossless=False)
        return len(lossless) <= ALPHA_LOSSLESS_MAX_RATIO * len(lossy)
    return False


def _shrink(im: Image.Image, size: int) -> Image.Image:
    if max(im.size) <= size:
        return im
    out = im.copy()
    out.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return out


def process_image(data: bytes, *, max_bytes: int, max_pixels: int) -> ProcessedImage:
    """Check and convert untrusted image bytes (CPU-bound: run it in a thread)."""
    if not data:
        raise ImageRejectedError(ImageRejection.EMPTY, "The file is empty (0 bytes).")
    if len(data) > max_bytes:
        raise ImageRejectedError(
            ImageRejection.TOO_LARGE,
            f"The file is {_megabytes(len(data))}; the limit is {_megabytes(max_bytes)}.")
    fmt = sniff(data)
    if fmt is None:
        raise _refuse_unknown(data)
    if fmt == "AVIF" and not features.check("avif"):
        raise ImageRejectedError(ImageRejection.UNSUPPORTED_TYPE,
                                 "AVIF images are not supported on this server.",
                                 detected=fmt)
    with _open(data, fmt, max_pixels) as im:
        frame = _normalise(im)
    renditions: dict[int, Image.Image] = {}
    source = frame
    for size in sorted(THUMB_SIZES, reverse=True):  # 1024 from the full image, 256 from 1024
        source = renditions[size] = _shrink(source, size)
    lossless = choose_lossless(frame, renditions[min(THUMB_SIZES)])
    main = _webp(frame, lossless=lossless)
    thumbs = {size: main if im is frame else _webp(im, lossless=lossless)
              for size, im in renditions.items()}
    return ProcessedImage(main=main, mime=OUTPUT_MIME, width=frame.width, height=frame.height,
                          thumbs=thumbs, content_hash=hashlib.sha256(main).hexdigest(),
                          lossless=lossless, source_format=fmt)
