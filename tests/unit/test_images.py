"""The image pipeline: every bad file is refused with a sentence a person understands
and nothing returned; good files come out oriented, stripped, WebP, with thumbnails."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import pytest
from PIL import ExifTags, Image, ImageDraw

from sync.images import (
    THUMB_SIZES,
    ImageRejectedError,
    ImageRejection,
    ProcessedImage,
    image_key,
    process_image,
    sniff,
)

MAX_BYTES = 20 << 20
MAX_PIXELS = 40_000_000


def run(data: bytes, *, max_bytes: int = MAX_BYTES,
        max_pixels: int = MAX_PIXELS) -> ProcessedImage:
    return process_image(data, max_bytes=max_bytes, max_pixels=max_pixels)


def encode(im: Image.Image, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def refused(data: bytes, kind: ImageRejection, **kw: int) -> ImageRejectedError:
    with pytest.raises(ImageRejectedError) as info:
        run(data, **kw)
    assert info.value.kind is kind, info.value
    assert info.value.detail.endswith("."), "a whole sentence for a person"
    return info.value


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` in its header and holds a few bytes of
    pixel data: what a decompression bomb or a forged header looks like."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def photo(w: int = 640, h: int = 480) -> Image.Image:
    """Photo-like: smooth colour gradients plus sensor noise (thousands of colours)."""
    gradient = Image.linear_gradient("L").resize((w, h))
    noise = Image.effect_noise((w, h), 40)
    return Image.merge("RGB", (gradient, noise, gradient.rotate(90).resize((w, h))))


def rgb(im: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    pixel = im.convert("RGB").getpixel((x, y))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def riff_chunks(webp: bytes) -> list[bytes]:
    assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
    out, i = [], 12
    while i + 8 <= len(webp):
        kind, size = webp[i:i + 4], struct.unpack("<I", webp[i + 4:i + 8])[0]
        out.append(kind)
        i += 8 + size + (size & 1)
    return out


# --- bad input ---------------------------------------------------------------------------

def test_text_file_named_png_is_not_an_image():
    err = refused(b"hello, I am plain text pretending to be image.png\n",
                  ImageRejection.NOT_AN_IMAGE)
    assert "not an image" in err.detail


def test_empty_file_is_refused():
    err = refused(b"", ImageRejection.EMPTY)
    assert "empty" in err.detail


def test_truncated_png_is_refused():
    data = encode(photo(), "PNG")
    err = refused(data[: len(data) // 2], ImageRejection.TRUNCATED)
    assert "damaged or incomplete" in err.detail


def test_png_cut_inside_its_header_is_refused():
    refused(encode(photo(), "PNG")[:20], ImageRejection.TRUNCATED)


def test_decompression_bomb_is_refused_from_its_header():
    data = png_header_only(10_000, 10_000)  # 100 megapixels in ~100 bytes
    assert len(data) < 200
    err = refused(data, ImageRejection.TOO_MANY_PIXELS)
    assert "10000 x 10000" in err.detail and "40 megapixels" in err.detail


def test_bomb_beyond_pillows_own_guard_is_refused():
    refused(png_header_only(65_535, 65_535), ImageRejection.TOO_MANY_PIXELS)


def test_huge_dimension_header_is_refused_even_with_few_pixels():
    err = refused(png_header_only(20_000, 10), ImageRejection.TOO_MANY_PIXELS)
    assert "20000 pixels on its longest side" in err.detail


def test_file_larger_than_the_limit_is_refused():
    err = refused(encode(photo(), "PNG"), ImageRejection.TOO_LARGE, max_bytes=10_000)
    assert "the limit is" in err.detail


def test_bmp_is_refused_naming_the_type():
    err = refused(encode(photo(64, 64), "BMP"), ImageRejection.UNSUPPORTED_TYPE)
    assert err.detail.startswith("BMP images are not supported")
    assert err.detected == "BMP"


def test_svg_is_refused_naming_the_type():
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>'
    assert refused(svg, ImageRejection.UNSUPPORTED_TYPE).detected == "SVG"


def test_jpeg_magic_followed_by_garbage_is_refused():
    refused(b"\xff\xd8\xff" + b"\x00garbage" * 50, ImageRejection.TRUNCATED)


# --- good input --------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "AVIF"])
def test_each_accepted_format_is_detected_from_its_bytes(fmt):
    data = encode(photo(320, 200), fmt)
    assert sniff(data) == fmt
    out = run(data)
    assert out.source_format == fmt
    assert (out.width, out.height) == (320, 200)
    assert out.mime == "image/webp"
    with Image.open(io.BytesIO(out.main)) as im:
        assert im.format == "WEBP" and im.size == (320, 200)


def test_animated_gif_keeps_only_its_first_frame():
    frames = [Image.new("RGB", (60, 40), colour) for colour in ("red", "lime", "blue")]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100,
                  loop=0)
    with Image.open(io.BytesIO(data)) as check:
        assert getattr(check, "n_frames", 1) == 3
    out = run(data)
    with Image.open(io.BytesIO(out.main)) as im:
        assert getattr(im, "n_frames", 1) == 1
        r, g, b = rgb(im, 30, 20)
        assert r > 200 and g < 50 and b < 50


def test_exif_orientation_is_applied_and_gps_is_stripped():
    im = Image.new("RGB", (80, 40), "blue")
    ImageDraw.Draw(im).rectangle((0, 0, 39, 39), fill="red")  # left half red
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # display rotated 90 degrees clockwise
    exif[ExifTags.Base.Make] = "Camera Co"
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)}
    data = encode(im, "JPEG", exif=exif, quality=95)
    with Image.open(io.BytesIO(data)) as check:  # the input really carries a position
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)[2] == (52.0, 31.0, 12.0)

    out = run(data)
    assert (out.width, out.height) == (40, 80)
    with Image.open(io.BytesIO(out.main)) as result:
        assert not result.getexif()
        assert "exif" not in result.info and "xmp" not in result.info
        top, bottom = rgb(result, 20, 10), rgb(result, 20, 70)
    assert top[0] > 180 and top[2] < 80, f"the red half should be on top, got {top}"
    assert bottom[2] > 180 and bottom[0] < 80
    assert b"EXIF" not in riff_chunks(out.main) and b"XMP " not in riff_chunks(out.main)
    assert b"Camera Co" not in out.main


def test_icc_profile_is_converted_and_dropped():
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = run(encode(photo(64, 64), "PNG", icc_profile=srgb))
    assert b"ICCP" not in riff_chunks(out.main)


def test_thumbnails_are_256_and_1024_on_the_longest_side():
    out = run(encode(photo(2000, 1000), "JPEG"))
    assert set(out.thumbs) == set(THUMB_SIZES)
    sizes = {}
    for size, data in out.thumbs.items():
        with Image.open(io.BytesIO(data)) as im:
            sizes[size] = im.size
    assert sizes == {1024: (1024, 512), 256: (256, 128)}


def test_small_images_are_never_upscaled():
    out = run(encode(photo(300, 150), "PNG"))
    for size, data in out.thumbs.items():
        with Image.open(io.BytesIO(data)) as im:
            assert im.size == ((256, 128) if size == 256 else (300, 150))
    assert out.thumbs[1024] == out.main


def test_transparency_is_kept_losslessly():
    im = Image.new("RGBA", (200, 120), (0, 0, 0, 0))
    draw = ImageDraw.Draw(im)
    for x in range(200):  # a soft-edged cut-out: a colour ramp with an alpha ramp
        draw.line((x, 20, x, 100), fill=(x, 255 - x, 128, min(255, x * 2)))
    out = run(encode(im, "PNG"))
    assert out.lossless
    with Image.open(io.BytesIO(out.main)) as result:
        assert result.mode == "RGBA"
        # Identical wherever a pixel shows (under alpha 0 the colour does not matter).
        assert result.convert("RGBa").tobytes() == im.convert("RGBa").tobytes()


def test_opaque_alpha_channel_is_dropped():
    out = run(encode(photo(100, 100).convert("RGBA"), "PNG"))
    with Image.open(io.BytesIO(out.main)) as result:
        assert result.mode == "RGB"


def test_line_art_is_lossless_and_photos_are_lossy():
    art = Image.new("RGB", (400, 300), "white")
    draw = ImageDraw.Draw(art)
    for i in range(0, 400, 20):
        draw.line((i, 0, 400 - i, 300), fill="black", width=3)
    drawn = run(encode(art, "PNG"))
    assert drawn.lossless
    with Image.open(io.BytesIO(drawn.main)) as result:
        assert result.convert("RGB").tobytes() == art.tobytes()
    assert not run(encode(photo(), "PNG")).lossless


def test_keys_are_content_addressed():
    data = encode(photo(200, 100), "PNG")
    a, b = run(data), run(data)
    assert a.content_hash == b.content_hash and len(a.content_hash) == 64
    assert image_key("room1234", a.content_hash) == f"rooms/room1234/{a.content_hash}.webp"
    assert image_key("room1234", a.content_hash, 256).endswith(f"{a.content_hash}_256.webp")


def test_photo_with_an_alpha_channel_goes_lossy_with_its_alpha_exact():
    w, h = 512, 384
    smooth = Image.merge("RGB", (Image.linear_gradient("L").resize((w, h)),
                                 Image.radial_gradient("L").resize((w, h)),
                                 Image.linear_gradient("L").rotate(90).resize((w, h))))
    grain = Image.effect_noise((w, h), 20).convert("RGB")
    im = Image.blend(smooth, grain, 0.1).convert("RGBA")  # a photo: smooth tones, fine grain
    mask = Image.new("L", im.size, 0)
    ImageDraw.Draw(mask).ellipse((40, 30, 470, 350), fill=255)
    im.putalpha(mask)
    out = run(encode(im, "PNG"))
    assert not out.lossless, "a lossless photo would be many times larger"
    with Image.open(io.BytesIO(out.main)) as result:
        assert result.mode == "RGBA"
        assert result.getchannel("A").tobytes() == mask.tobytes()
