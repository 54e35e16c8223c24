"""The lineage of a block: the ancestors that led to it along the canvas ``edges``, root
first, and the reverse (a lineage written back into a fresh canvas, for a remix).

A step names its block, kind, the tool that made it, its text (a prompt, or an image's
prompt), its image (the block's ``image`` map) and its parents (the blocks its incoming
edges come from). Blocks with several inputs (``combine``) make the lineage a small graph;
the steps are in topological order, so a reader can show it as one vertical story.
Cycles (a person may draw an edge backwards) are cut where they close.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from pycrdt import Doc, Map, Text

from . import doc_schema as schema
from .errors import ArborError

MAX_STEPS: Final = 64  # the nearest ancestors beyond this are left out
MAX_TEXT: Final = 20_000  # characters of one step's text kept in a lineage

BLOCK_WIDTH: Final = 260.0
TEXT_HEIGHT: Final = 150.0
GAP: Final = 60.0


class BlockNotFoundError(ArborError):
    def __init__(self, block_id: str) -> None:
        super().__init__("no such block in this canvas")
        self.block_id = block_id


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    block_id: str
    kind: str
    tool: str | None
    text: str
    image: dict[str, Any] | None
    parents: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"block_id": self.block_id, "kind": self.kind, "tool": self.tool,
                "text": self.text, "image": self.image, "parents": list(self.parents)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        image = data.get("image")
        return cls(str(data["block_id"]), str(data["kind"]), data.get("tool"),
                   str(data.get("text") or ""), dict(image) if isinstance(image, dict) else None,
                   tuple(str(p) for p in data.get("parents") or ()))

    def with_image(self, image: dict[str, Any] | None) -> Step:
        return dataclasses.replace(self, image=image)

    def without_text(self) -> Step:
        return dataclasses.replace(self, text="")


def _incoming(doc: Doc[Any]) -> dict[str, list[tuple[str, str | None]]]:
    edges = doc.get(schema.EDGES, type=Map)
    into: dict[str, list[tuple[str, str | None]]] = {}
    for edge_id in sorted(edges.keys()):
        edge = edges[edge_id]
        if not isinstance(edge, Map):
            continue
        source, target, tool = edge.get("source"), edge.get("target"), edge.get("tool")
        if isinstance(source, str) and isinstance(target, str) and source != target:
            into.setdefault(target, []).append((source, tool if isinstance(tool, str) else None))
    return into


MAX_SIDE: Final = 65_535  # pixels: no image Arbor stores is larger


def _storable(text: str) -> str:
    """``text`` as PostgreSQL's jsonb takes it: a lineage is written from document values a
    peer chose, and a NUL or a lone surrogate in one made publishing fail with a 5xx."""
    if text.isascii():
        return text.replace("\x00", "")
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _side(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or not 1 <= value <= MAX_SIDE:
        return None
    return int(value)


def _image(value: Any) -> dict[str, Any] | None:
    """A block's image as a lineage keeps it; ``None`` unless it names a key and its sides
    are whole pixels within :data:`MAX_SIDE` (they are stored as int4 with a post)."""
    if not isinstance(value, dict) or not isinstance(value.get("key"), str):
        return None
    width, height = _side(value.get("width")), _side(value.get("height"))
    if width is None or height is None:
        return None
    out = {name: value.get(name) for name in schema.IMAGE_FIELDS}
    out.update(width=width, height=height)
    for name in ("key", "mime", "thumbKey"):
        field = out.get(name)
        out[name] = _storable(field) if isinstance(field, str) else None
    return out


def _created(block: Map[Any]) -> float:
    value = block.get("createdAt")
    return float(value) if isinstance(value, (int, float)) else 0.0


Incoming = Callable[[str], list[tuple[str, str | None]]]


def _parents_from(blocks: Map[Any], incoming: Incoming
                  ) -> Callable[[str], list[tuple[str, str | None]]]:
    """A block's parents that are blocks (source and tool), oldest first, each block's
    asked for once."""
    known: dict[str, list[tuple[str, str | None]]] = {}

    def parents(bid: str) -> list[tuple[str, str | None]]:
        found = known.get(bid)
        if found is None:
            found = sorted(((s, t) for s, t in incoming(bid)
                            if s != bid and isinstance(blocks.get(s), Map)),
                           key=lambda st: (_created(blocks[st[0]]), st[0]))
            known[bid] = found
        return found

    return parents


def lineage_of(doc: Doc[Any], block_id: str, max_steps: int = MAX_STEPS, *,
               incoming: Incoming | None = None) -> list[Step]:
    """The steps leading to ``block_id`` (itself last), root first.

    ``incoming`` gives the source and tool of each edge into a block, in the order of the
    edges' ids (a room's :class:`~sync.canvas_index.CanvasIndex` answers from what it
    holds, so a lineage reads only the edges into its own steps); without it every edge
    of ``doc`` is read once."""
    blocks = doc.get(schema.BLOCKS, type=Map)
    if not isinstance(blocks.get(block_id), Map):
        raise BlockNotFoundError(block_id)
    if incoming is None:
        into = _incoming(doc)
        incoming = lambda bid: into.get(bid, [])  # noqa: E731
    parents = _parents_from(blocks, incoming)

    # The nearest ancestors first (breadth-first), at most max_steps of them.
    keep: set[str] = {block_id}
    queue = deque([block_id])
    while queue and len(keep) < max_steps:
        for source, _ in parents(queue.popleft()):
            if source not in keep and len(keep) < max_steps:
                keep.add(source)
                queue.append(source)

    # Then a depth-first post-order over those: every parent before its children.
    order: list[str] = []
    seen: set[str] = set()
    stack: list[tuple[str, bool]] = [(block_id, False)]
    while stack:
        bid, expanded = stack.pop()
        if expanded:
            order.append(bid)
            continue
        if bid in seen:
            continue
        seen.add(bid)
        stack.append((bid, True))
        for source, _ in reversed(parents(bid)):
            if source in keep and source not in seen:
                stack.append((source, False))

    steps = []
    for bid in order:
        block = blocks[bid]
        kind = block.get("kind")
        text = block.get("text")
        into_tools = [t for s, t in parents(bid) if s in keep and t]
        own_tool = block.get("tool")
        tool = into_tools[0] if into_tools else (own_tool if isinstance(own_tool, str)
                                                  else None)
        steps.append(Step(
            block_id=_storable(bid),
            kind=_storable(kind) if isinstance(kind, str) else "text",
            tool=_storable(tool) if tool is not None else None,
            text=_storable((str(text) if isinstance(text, Text) else "")[:MAX_TEXT]),
            image=_image(block.get("image")),
            parents=tuple(_storable(s) for s, _ in parents(bid) if s in keep and s in seen),
        ))
    return steps


def add_lineage(doc: Doc[Any], steps: list[Step], author: str = "") -> dict[str, str]:
    """Write ``steps`` into ``doc`` as new blocks (one column, root at the top) joined by
    edges. Call inside a transaction. Returns old block id -> new block id."""
    blocks = doc.get(schema.BLOCKS, type=Map)
    edges = doc.get(schema.EDGES, type=Map)
    ids: dict[str, str] = {}
    y = 0.0
    now = float(int(time.time() * 1000))
    for step in steps:
        new_id = secrets.token_hex(16)
        ids[step.block_id] = new_id
        height = TEXT_HEIGHT
        image = step.image
        if step.kind == "image" and image is not None:
            w, h = float(image.get("width") or 1), float(image.get("height") or 1)
            height = round(BLOCK_WIDTH * h / max(w, 1.0)) + 20.0
        fields: dict[str, Any] = {
            "kind": step.kind if step.kind in schema.BLOCK_KINDS else "text",
            "x": 0.0, "y": y, "w": BLOCK_WIDTH, "h": height, "status": "idle" if image is None
            else "done", "author": author, "createdAt": now,
        }
        if step.tool:
            fields["tool"] = step.tool
        block = Map(fields)
        blocks[new_id] = block
        block["text"] = Text(step.text)
        if image is not None:
            block["image"] = image
        y += height + GAP
        for parent in step.parents:
            if parent in ids:
                edge = {"source": ids[parent], "target": new_id}
                if step.tool:
                    edge["tool"] = step.tool
                edges[secrets.token_hex(8)] = Map(edge)
    return ids
