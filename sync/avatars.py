"""A person's avatar: any image the pipeline accepts, made into one small square WebP.

The bytes go through :func:`sync.images.process_image` first (type from the magic number,
pixel bound before decoding, metadata dropped, sRGB), exactly as a canvas upload does;
only the clean 1024 px rendition it returns is opened again here, centre-cropped to a
square of :data:`AVATAR_SIZE` px and encoded once. Its key names its content
(``people/{person}/avatar-{sha256}.webp``, :func:`sync.blobs.layout.avatar_key`), so it is
served public and immutable and a new avatar is a new URL.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from typing import Final

from PIL import Image, ImageOps

from .images import LOSSY_QUALITY, process_image

AVATAR_SIZE: Final = 256


@dataclasses.dataclass(frozen=True, slots=True)
class Avatar:
    data: bytes
    digest: str


def make_avatar(data: bytes, *, max_bytes: int, max_pixels: int) -> Avatar:
    """The avatar made from untrusted ``data`` (CPU-bound: run it in a thread); raises
    :class:`~sync.images.ImageRejectedError` as any upload would."""
    processed = process_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    with Image.open(io.BytesIO(processed.thumbs[1024]), formats=["WEBP"]) as im:
        im.load()
        square = ImageOps.fit(im, (AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if processed.lossless:
        square.save(buf, "WEBP", lossless=True, quality=80, method=4)
    else:
        square.save(buf, "WEBP", quality=LOSSY_QUALITY, alpha_quality=100, method=4)
    out = buf.getvalue()
    return Avatar(out, hashlib.sha256(out).hexdigest())
