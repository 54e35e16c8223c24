"""A provider that needs no network: deterministic, labelled stand-ins for model output.

Used when no API key is configured, in development and in tests. Every text starts with
``[offline]`` (JSON answers carry it in ``summary``) and every image says OFFLINE on it, so
nobody mistakes them for a model's work. The same request always gives the same output;
images differ by seed.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import textwrap
import time
from collections.abc import AsyncIterator, Sequence
from typing import Final

from PIL import Image, ImageDraw, ImageFont

from .base import (
    GeneratedImage,
    ImageInput,
    ImageRequest,
    ModelInfo,
    TextRequest,
    TextStream,
    Usage,
)

log = logging.getLogger(__name__)

LABEL: Final = "[offline] "
TEXT_MODEL: Final = "offline:text"
IMAGE_MODEL: Final = "offline:image"

_ADJECTIVES: Final = ("luminous", "weathered", "quiet", "towering", "tiny", "ancient",
                      "glassy", "velvet", "storm-lit", "sun-bleached", "misty", "neon")
_SETTINGS: Final = ("at the edge of a salt flat", "inside a flooded cathedral",
                    "on a rooftop garden at dawn", "beneath a paper moon",
                    "in a greenhouse full of fog", "on a frozen harbour")
_LIGHT: Final = ("low golden light", "hard noon shadows", "soft overcast light",
                 "a single candle", "cold moonlight", "neon reflections")
_STYLES: Final = ("linocut print", "watercolour", "35mm photograph", "claymation still",
                  "ukiyo-e woodblock", "isometric pixel art")
_TWISTS: Final = ("everything is made of folded paper", "gravity points sideways",
                  "it is seen through a keyhole", "the scale is a thousand times smaller",
                  "it happens underwater", "it is a museum exhibit in the far future")
_COLOURS: Final = ("ochre", "teal", "coral", "ink blue", "sage", "rust", "ivory", "plum")


def _pick(options: Sequence[str], seed: bytes, i: int) -> str:
    """The option byte ``i`` of ``seed`` points at; consecutive ``i`` never repeat one."""
    base = seed[(i // len(options)) % len(seed)]
    return options[(base + i) % len(options)]


def _subject(prompt: str) -> tuple[str, str]:
    """The instruction (first paragraph) and the material it applies to (the rest)."""
    head, _, rest = prompt.strip().partition("\n\n")
    return head.strip(), rest.strip() or head.strip()


def offline_text(req: TextRequest) -> str:
    """The whole answer the offline model gives to ``req`` (deterministic)."""
    h = hashlib.sha256(req.prompt.encode() + b"".join(i.data for i in req.images)).digest()
    instruction, subject = _subject(req.prompt)
    low = instruction.lower()
    subject_line = " ".join(subject.split()) or "an empty canvas"
    if "json" in low and req.images:
        return json.dumps(_offline_json(req, h))
    if req.images and ("describe" in low or not instruction):
        return (f"{LABEL}A {_pick(_STYLES, h, 1)} of {_pick(_ADJECTIVES, h, 0)} shapes "
                f"{_pick(_SETTINGS, h, 2)}, lit by {_pick(_LIGHT, h, 3)}, in "
                f"{_pick(_COLOURS, h, 4)} and {_pick(_COLOURS, h, 5)}.")
    if "expand" in low:
        return (f"{LABEL}{subject_line}, {_pick(_ADJECTIVES, h, 0)} and detailed, "
                f"{_pick(_SETTINGS, h, 1)}, lit by {_pick(_LIGHT, h, 2)}, framed in a wide "
                f"shot with a shallow depth of field, palette of {_pick(_COLOURS, h, 3)} "
                f"and {_pick(_COLOURS, h, 4)}, rendered as a {_pick(_STYLES, h, 5)}.")
    if "twist" in low:
        return f"{LABEL}{subject_line}, except {_pick(_TWISTS, h, 0)}."
    if "reimagine" in low:
        return f"{LABEL}{subject_line}, reimagined as a {_pick(_STYLES, h, 0)}."
    if "merge" in low or "combine" in low:
        parts = [" ".join(p.split(". ", 1)[-1].split()) for p in subject.split("\n\n")
                 if p.strip()]
        return f"{LABEL}" + " meets ".join(parts or [subject_line]) + "."
    return (f"{LABEL}This is a stand-in answer; no model is configured. You asked: "
            f"{' '.join(req.prompt.split())}")


def _offline_json(req: TextRequest, h: bytes) -> dict[str, object]:
    """The shape ``image_to_json`` asks for (``IMAGE_JSON_KEYS``), filled with stand-ins."""
    shapes = f"{_pick(_ADJECTIVES, h, 0)} shapes"
    return {
        "summary": f"{LABEL}{shapes} ({len(req.images)} image(s) of "
                   f"{sum(len(i.data) for i in req.images)} bytes)",
        "medium": _pick(_STYLES, h, 1),
        "style": {"name": _pick(_STYLES, h, 1), "influences": [], "mood": "calm"},
        "subjects": [{"label": shapes, "category": "shape", "position": "centre, middle",
                      "size_in_frame": "large", "attributes": {
                          "colour": _pick(_COLOURS, h, 3), "material": None, "texture": None,
                          "condition": None},
                      "pose_or_action": None, "expression": None, "clothing": None,
                      "details": [], "text_on_it": None}],
        "text": [{"content": "OFFLINE", "where": "centre", "lettering": "sans-serif",
                  "legible": True}],
        "relations": [],
        "setting": {"place": _pick(_SETTINGS, h, 2), "time_of_day": None, "season": None,
                    "weather_or_atmosphere": None},
        "lighting": {"sources": _pick(_LIGHT, h, 2), "direction": None, "quality": "soft",
                     "colour_temperature": None, "shadows": None},
        "palette": {"dominant": [], "accents": [_pick(_COLOURS, h, i) for i in range(3, 6)],
                    "contrast": "medium", "saturation": "medium"},
        "composition": {"framing": "medium", "focal_point": shapes, "balance": "centred",
                        "leading_lines": None, "depth_layers": None},
        "camera": {"angle": "eye level", "lens": "normal", "depth_of_field": "deep",
                   "focus": "sharp", "motion_blur": None},
    }


def _chunks(text: str, words: int = 3) -> list[str]:
    parts = text.split(" ")
    return [" ".join(parts[i:i + words]) + (" " if i + words < len(parts) else "")
            for i in range(0, len(parts), words)]


class OfflineTextStream(TextStream):
    def __init__(self, req: TextRequest, delay: float) -> None:
        super().__init__()
        self._req = req
        self._delay = delay

    async def _produce(self) -> AsyncIterator[str]:
        start = time.monotonic()
        text = offline_text(self._req)
        for i, chunk in enumerate(_chunks(text)):
            if i and self._delay:
                await asyncio.sleep(self._delay)
            yield chunk
        self.usage = Usage(input_tokens=len(self._req.prompt.split()),
                           output_tokens=len(text.split()),
                           seconds=time.monotonic() - start)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError):  # Pillow built without FreeType: the small bitmap font
        return ImageFont.load_default()


def draw_image(prompt: str, seed: int, width: int, height: int,
               references: Sequence[ImageInput] = ()) -> bytes:
    """A PNG showing ``prompt`` on a background derived from prompt and seed."""
    h = hashlib.sha256(f"{seed}\x00{prompt}".encode()).digest()
    bg = (h[0] // 2 + 40, h[1] // 2 + 40, h[2] // 2 + 40)
    img = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(img)
    for i in range(6):  # a few seed-placed discs, so variations look different at a glance
        b = h[3 + i * 4: 7 + i * 4]
        r = (b[0] % 40 + 10) * min(width, height) // 200
        cx, cy = b[1] * width // 255, b[2] * height // 255
        tint = tuple(min(255, c + 30 + b[3] % 60) for c in bg)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(tint[0], tint[1], tint[2]))
    size = max(10, min(width, height) // 24)
    font = _font(size)
    margin = size
    draw.text((margin, margin), "OFFLINE", fill=(255, 255, 255), font=_font(size * 2))
    chars = max(10, int((width - 2 * margin) / (size * 0.55)))
    lines = textwrap.wrap(" ".join(prompt.split()) or "(empty prompt)", chars)
    note = f"seed {seed}" + (f" · {len(references)} reference image(s)" if references else "")
    y = margin + size * 3
    for line in [*lines[: max(1, (height - y) // (size + 4) - 2)], "", note]:
        draw.text((margin, y), line, fill=(255, 255, 255), font=font)
        y += size + 4
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=False)
    return out.getvalue()


class OfflineProvider:
    """Deterministic stand-ins. ``delay`` is the pause between streamed chunks (0 in tests)."""

    name = "offline"
    offline = True

    def __init__(self, delay: float = 0.03) -> None:
        self.delay = delay

    def models(self) -> list[ModelInfo]:
        return [
            ModelInfo(TEXT_MODEL, "Offline text (no model)", self.name,
                      frozenset({"text", "vision"}), offline=True),
            ModelInfo(IMAGE_MODEL, "Offline images (no model)", self.name,
                      frozenset({"image"}), offline=True),
        ]

    def stream_text(self, req: TextRequest) -> TextStream:
        return OfflineTextStream(req, self.delay)

    async def generate_image(self, req: ImageRequest) -> GeneratedImage:
        width, height = req.width_height
        start = time.monotonic()
        data = await asyncio.to_thread(draw_image, req.prompt, req.seed or 0, width, height,
                                       req.references)
        return GeneratedImage(data, "image/png",
                              Usage(input_tokens=len(req.prompt.split()), images=1,
                                    seconds=time.monotonic() - start))

    async def aclose(self) -> None:
        return None
