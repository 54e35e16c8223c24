"""Store a processed image (main rendition and thumbnails) and describe it for a block.

Shared by the server (uploads) and the workers (generated images), so both put the same
content-addressed keys into the blob store and the same ``image`` map into the document.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from .blobs import BlobStore
from .doc_schema import IMAGE_FIELDS
from .images import ProcessedImage, image_key

DISPLAY_THUMB: Final = 1024  # the rendition a canvas block shows (``thumbKey``)


async def store_renditions(blobs: BlobStore, room_id: str,
                           processed: ProcessedImage) -> dict[str, Any]:
    """Put every rendition of ``processed``; returns the block's ``image`` map."""
    digest = processed.content_hash
    await asyncio.gather(
        blobs.put(image_key(room_id, digest), processed.main, processed.mime),
        *(blobs.put(image_key(room_id, digest, size), data, processed.mime)
          for size, data in processed.thumbs.items()),
    )
    thumb = DISPLAY_THUMB if DISPLAY_THUMB in processed.thumbs else None
    return {
        "key": image_key(room_id, digest),
        "width": processed.width,
        "height": processed.height,
        "mime": processed.mime,
        "thumbKey": image_key(room_id, digest, thumb),
    }


def block_image(image: dict[str, Any]) -> dict[str, Any]:
    """The value stored in a block: numbers as floats (what JS numbers are)."""
    return {name: float(image[name]) if name in ("width", "height") else image[name]
            for name in IMAGE_FIELDS}
