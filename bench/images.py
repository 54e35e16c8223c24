"""Benchmark of the image pipeline: how long from uploaded bytes to stored thumbnails,
and how many bytes conversion saves, per kind of image.

    .venv/bin/python bench/images.py [--repeat N] [--size WxH]

For each kind (photo-like gradients with noise, line art, a cut-out with transparency,
a flat UI screenshot, an animated GIF) and each source format, the timed path is what
``POST .../uploads/{id}/complete`` does: read the raw upload from a DiskBlobStore in a
temporary folder, ``process_image``, store the main rendition and thumbnails, delete the
raw object. It prints the median time and the size ratios; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync.blobs import DiskBlobStore
from sync.images import image_key, process_image

MAX_BYTES = 64 << 20
MAX_PIXELS = 100_000_000


def photo(w: int, h: int) -> Image.Image:
    """Smooth gradients, a few soft shapes and sensor-like noise: compresses like a photo."""
    base = Image.merge("RGB", (
        Image.linear_gradient("L").resize((w, h)),
        Image.radial_gradient("L").resize((w, h)),
        Image.linear_gradient("L").rotate(90).resize((w, h)),
    ))
    draw = ImageDraw.Draw(base)
    for i in range(12):
        x, y = (i * 97) % w, (i * 61) % h
        draw.ellipse((x, y, x + w // 5, y + h // 5), fill=((i * 40) % 256, 120, 200 - i * 10))
    base = base.filter(ImageFilter.GaussianBlur(max(1, w // 200)))
    noise = Image.effect_noise((w, h), 18).convert("RGB")
    return Image.blend(base, noise, 0.12)


def line_art(w: int, h: int) -> Image.Image:
    im = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(im)
    for i in range(0, w, max(8, w // 60)):
        draw.line((i, 0, w - i, h), fill="black", width=2)
    for i in range(10):
        draw.rectangle((i * w // 12, i * h // 14, i * w // 12 + w // 10, i * h // 14 + h // 10),
                       outline=(200, 30, 30), width=3)
    return im


def cutout(w: int, h: int) -> Image.Image:
    """A photo-like subject on a transparent background with a soft edge."""
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).ellipse((w // 8, h // 8, w * 7 // 8, h * 7 // 8), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(2, w // 100)))
    im = photo(w, h).convert("RGBA")
    im.putalpha(mask)
    return im


def screenshot(w: int, h: int) -> Image.Image:
    """Flat UI: panels, text-like runs, a few colours plus anti-aliased edges."""
    im = Image.new("RGB", (w, h), (246, 247, 249))
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, w, h // 12), fill=(32, 36, 48))
    for row in range(h // 12 + 10, h - 20, 22):
        for col in range(20, w - 200, 260):
            draw.rounded_rectangle((col, row, col + 230, row + 14), 4, fill=(210, 214, 222))
            draw.text((col + 6, row + 1), "lorem ipsum dolor", fill=(40, 40, 40))
    return im


def gif_frames(w: int, h: int) -> list[Image.Image]:
    return [line_art(w, h).rotate(angle) for angle in (0, 10, 20, 30)]


KINDS: dict[str, Callable[[int, int], Image.Image]] = {
    "photo": photo,
    "line art": line_art,
    "transparency": cutout,
    "screenshot": screenshot,
}
FORMATS = {"photo": ("JPEG", "PNG"), "line art": ("PNG",), "transparency": ("PNG",),
           "screenshot": ("PNG",)}


def encode(im: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        im.convert("RGB").save(buf, "JPEG", quality=90)
    else:
        im.save(buf, fmt)
    return buf.getvalue()


def samples(w: int, h: int) -> list[tuple[str, str, bytes]]:
    out = [(kind, fmt, encode(make(w, h), fmt)) for kind, make in KINDS.items()
           for fmt in FORMATS[kind]]
    frames = gif_frames(w // 2, h // 2)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=80)
    out.append(("animated", "GIF", buf.getvalue()))
    return out


async def upload_to_thumbnail(store: DiskBlobStore, data: bytes,
                              mime: str) -> tuple[float, int, dict[int, int]]:
    """Seconds from stored raw upload to stored renditions; main and thumbnail sizes."""
    raw = f"uploads/bench/{secrets.token_hex(8)}"
    await store.put(raw, data, mime)
    start = time.perf_counter()
    blob = await store.get(raw)
    processed = await asyncio.to_thread(process_image, blob, max_bytes=MAX_BYTES,
                                        max_pixels=MAX_PIXELS)
    await asyncio.gather(
        store.put(image_key("bench", processed.content_hash), processed.main, processed.mime),
        *(store.put(image_key("bench", processed.content_hash, s), t, processed.mime)
          for s, t in processed.thumbs.items()))
    await store.delete(raw)
    elapsed = time.perf_counter() - start
    return elapsed, len(processed.main), {s: len(t) for s, t in processed.thumbs.items()}


async def main(repeat: int, width: int, height: int) -> None:
    with tempfile.TemporaryDirectory(prefix="arbor-bench-") as tmp:
        store = DiskBlobStore(Path(tmp), secrets.token_bytes(32))
        print(f"{width}x{height} px, median of {repeat} runs\n")
        print(f"{'kind':<13}{'source':<7}{'in KB':>9}{'main KB':>9}{'main/in':>9}"
              f"{'1024/in':>9}{'256/in':>8}{'ms':>8}{'MB/s':>8}")
        for kind, fmt, data in samples(width, height):
            runs = [await upload_to_thumbnail(store, data, f"image/{fmt.lower()}")
                    for _ in range(repeat)]
            ms = statistics.median(r[0] for r in runs) * 1000
            _, main_bytes, thumbs = runs[0]
            print(f"{kind:<13}{fmt:<7}{len(data) / 1024:>9.1f}{main_bytes / 1024:>9.1f}"
                  f"{main_bytes / len(data):>9.3f}{thumbs[1024] / len(data):>9.3f}"
                  f"{thumbs[256] / len(data):>8.3f}{ms:>8.1f}"
                  f"{len(data) / 1e6 / (ms / 1000):>8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", default="2048x1536", help="WxH of the generated images")
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    asyncio.run(main(args.repeat, w, h))
