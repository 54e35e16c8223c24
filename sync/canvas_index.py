"""Where a canvas's blocks are and which edges lead into each block: an index of one
room's document, kept in step with every change, so that placing a run's outputs and
walking a block's lineage look only at what is near, never at the whole canvas.

Why: placing outputs used to read every block of the canvas to find the free space
beside the inputs, on the event loop, once per job (1.35 s per job on a 50,000-block
canvas, during which no other room was served); a lineage read every edge.

The index plugs into a room as one more extension (its hooks do nothing: it learns of
changes from deep observers on ``blocks`` and ``edges``, which every change reaches,
whether from a peer, the API, the worker or another process through fan-out; they note
which blocks and edges changed, and those are read again before the next question). It
is built the first time something asks for it, once per room load, in slices of
:data:`BUILD_SLICE` entries with the event loop turning between them; after that a
question costs what is near its answer, plus what changed since the last one.

Blocks sit in a grid of :data:`CELL`-pixel squares (a block in every cell it covers; one
covering more than :data:`MAX_CELLS` cells is kept apart, in ``wide``, and looked at by
every question). :meth:`CanvasIndex.place` moves a group of new blocks down until none
covers a block already there, exactly as the search over every block did (steps of the
new block's height plus 20 px, at most :data:`MAX_STEPS`), but it jumps past each block it
meets instead of trying every step, and it looks at no more than :data:`MAX_EXAMINED`
blocks in all. When the steps or that budget run out (a canvas crowded, or piled up, right
below the inputs), the group goes just below the lowest block of the canvas: a place that
is always free, so new blocks never cover old ones.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import weakref
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from pycrdt import Map
from pycrdt._pycrdt import MapEvent as _RawMapEvent  # see CanvasIndex.__init__

from . import doc_schema as schema
from .stats import SyncStats

if TYPE_CHECKING:
    from .awareness import Changes
    from .room import Room

log = logging.getLogger(__name__)

Rect = tuple[float, float, float, float]  # x, y, w, h as the document has them

CELL: Final = 512.0
MAX_CELLS: Final = 64  # a block covering more cells than this goes to ``wide``
MAX_STEPS: Final = 200  # steps down a placement tries before the bottom of the canvas
MAX_EXAMINED: Final = 4096  # blocks one placement looks at before the bottom of the canvas
STEP_GAP: Final = 20.0
BUILD_SLICE: Final = 500  # entries read between two turns of the event loop (~10 ms)
DEFAULT_W: Final = 280.0  # a block's size when the document does not say
DEFAULT_H: Final = 200.0
# Coordinates are clamped to this: a block a peer put at 1e308 (or NaN) must not overflow
# the arithmetic; nothing is drawn that far out.
FAR: Final = 1e12

_RECT_KEYS: Final = frozenset({"x", "y", "w", "h"})
_EDGE_KEYS: Final = frozenset(schema.EDGE_FIELDS)


def _coord(value: object, default: float) -> float:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return default
    return min(max(float(value), -FAR), FAR)


def rect_of(block: object) -> Rect | None:
    """The rectangle a block covers (defaults for what it does not say), None for
    something that is not a block."""
    if not isinstance(block, Map):
        return None
    return (_coord(block.get("x"), 0.0), _coord(block.get("y"), 0.0),
            _coord(block.get("w"), DEFAULT_W), _coord(block.get("h"), DEFAULT_H))


def _overlaps(a: Rect, b: Rect) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def _cells(rect: Rect) -> tuple[int, int, int, int]:
    """First and last cell column, first and last cell row that ``rect`` touches."""
    x, y, w, h = rect
    x0, x1 = sorted((x, x + w))
    y0, y1 = sorted((y, y + h))
    return (math.floor(x0 / CELL), math.floor(x1 / CELL),
            math.floor(y0 / CELL), math.floor(y1 / CELL))


class _Grid:
    """Block rectangles by the grid cells they cover."""

    def __init__(self) -> None:
        self.rects: dict[str, Rect] = {}
        # Lists, not sets: a cell holds a few blocks, and at 50,000 blocks sets cost 10 MB.
        self.cells: dict[tuple[int, int], list[str]] = {}
        self.wide: set[str] = set()
        # Lower edge of the lowest block ever indexed (never raised again when that block
        # moves or goes): everything on the canvas is above it.
        self.bottom = -math.inf

    def put(self, key: str, rect: Rect | None) -> None:
        self.drop(key)
        if rect is None:
            return
        self.rects[key] = rect
        self.bottom = max(self.bottom, rect[1], rect[1] + rect[3])
        cx0, cx1, cy0, cy1 = _cells(rect)
        if (cx1 - cx0 + 1) * (cy1 - cy0 + 1) > MAX_CELLS:
            self.wide.add(key)
            return
        for cx in range(cx0, cx1 + 1):
            for cy in range(cy0, cy1 + 1):
                self.cells.setdefault((cx, cy), []).append(key)

    def drop(self, key: str) -> None:
        rect = self.rects.pop(key, None)
        if rect is None:
            return
        if key in self.wide:
            self.wide.discard(key)
            return
        cx0, cx1, cy0, cy1 = _cells(rect)
        for cx in range(cx0, cx1 + 1):
            for cy in range(cy0, cy1 + 1):
                cell = self.cells.get((cx, cy))
                if cell is not None and key in cell:
                    cell.remove(key)
                    if not cell:
                        del self.cells[(cx, cy)]

    def lowest_hit(self, rect: Rect, exclude: Collection[str],
                   budget: int) -> tuple[float | None, int]:
        """How far down the blocks ``rect`` would cover reach (their greatest ``y + h``;
        None: it covers none), and how many blocks were looked at: every one in the cells
        ``rect`` touches, so the figure depends on the canvas near ``rect`` only. More than
        ``budget`` means the search stopped there (answer None). ``rect`` is a new block's
        size, so it touches a handful of cells at most."""
        seen = 0
        lowest: float | None = None
        cx0, cx1, cy0, cy1 = _cells(rect)
        groups: list[Iterable[str]] = [self.cells.get((cx, cy), ())
                                       for cx in range(cx0, cx1 + 1)
                                       for cy in range(cy0, cy1 + 1)]
        groups.append(self.wide)
        for group in groups:
            for key in group:
                seen += 1
                if seen > budget:
                    return None, seen
                other = self.rects[key]
                if key not in exclude and _overlaps(rect, other):
                    reach = other[1] + other[3]
                    lowest = reach if lowest is None else max(lowest, reach)
        return lowest, seen


def _mark(events: list[Any], fields: frozenset[str], dirty: set[str]) -> None:
    """Note in ``dirty`` each entry of a root map (``blocks``, ``edges``) that a transaction
    added, replaced, deleted or changed in one of ``fields``. Changes deeper down (a
    block's text) say nothing about where it is: they are passed over unread."""
    for event in events:
        if type(event) is not _RawMapEvent:
            continue
        change: Any = event  # the native event's attributes are not in pycrdt's stubs
        path = change.path
        if not path:
            dirty.update(change.keys)
        elif len(path) == 1 and not fields.isdisjoint(change.keys):
            dirty.add(str(path[0]))


def _observer(ref: weakref.ReferenceType[CanvasIndex], which: str,
              fields: frozenset[str]) -> Callable[[list[Any]], None]:
    """A deep observer of the root map ``which``. It holds the index weakly: the document
    must not keep alive the index (and through it the document) once its room lets go."""

    def on_events(events: list[Any]) -> None:
        index = ref()
        if index is not None:
            index.observed(which, fields, events)

    return on_events


class CanvasIndex:
    """The grid of one room's blocks and its edges by target (see the module's doc).

    A room extension whose hooks do nothing; obtain it with :func:`index_for`.
    """

    def __init__(self, room: Room) -> None:
        self.room_id = room.id
        self.stats: SyncStats = room.stats
        self._blocks: Map[Any] = room.doc.get(schema.BLOCKS, type=Map)
        self._edges: Map[Any] = room.doc.get(schema.EDGES, type=Map)
        self.grid = _Grid()
        self.edges: dict[str, tuple[str, str, str | None]] = {}  # id -> source, target, tool
        self.into: dict[str, list[str]] = {}  # target -> ids of the edges into it
        self.built = False
        self._generation = 0  # bumped when an observer failed: the build starts over
        self._task: asyncio.Task[None] | None = None
        # Entries changed since the index last looked (read again before each question).
        self._dirty: dict[str, set[str]] = {schema.BLOCKS: set(), schema.EDGES: set()}
        # pycrdt's own ``observe_deep`` turns every event into Python first, a text edit's
        # delta and path included: 10 to 15 us more per update of a room with an index, on
        # the sync hot path. Subscribed below its wrapper, the observers read map events
        # only, and only their keys (about 1 us). Dropped with the index.
        ref = weakref.ref(self)
        self._subscriptions = (
            self._blocks.integrated.observe_deep(_observer(ref, schema.BLOCKS, _RECT_KEYS)),
            self._edges.integrated.observe_deep(_observer(ref, schema.EDGES, _EDGE_KEYS)))

    # --- room extension hooks: none needed ---------------------------------------------

    def on_update(self, room: Room, update: bytes, origin: object) -> None:
        return None

    def on_awareness(self, room: Room, changes: Changes) -> None:
        return None

    def before_write(self, room: Room, size: int) -> None:
        return None

    # --- building -----------------------------------------------------------------------

    async def ready(self) -> None:
        """Wait until the index holds the whole canvas (building it, the first time)."""
        if not self.built:
            if self._task is None:
                self._task = asyncio.get_running_loop().create_task(self._build())
            await asyncio.shield(self._task)
        self._catch_up()

    async def _build(self) -> None:
        try:
            while True:
                generation = self._generation
                await self._read_all(self._blocks, self._put_block)
                await self._read_all(self._edges, self._put_edge)
                if generation == self._generation:
                    break
            self.built = True
            self.stats.canvas_indexes_built += 1
            log.info("indexed canvas %s: %d blocks (%d wide), %d edges", self.room_id,
                     len(self.grid.rects), len(self.grid.wide), len(self.edges),
                     extra={"room": self.room_id})
        finally:
            self._task = None

    @staticmethod
    async def _read_all(root: Map[Any], put: Callable[[str, object], None]) -> None:
        """Index every entry of ``root``, a slice at a time. The observers keep what is
        already read current meanwhile; an entry read late is read as it is then."""
        keys = list(root.keys())
        for start in range(0, len(keys), BUILD_SLICE):
            for key in keys[start:start + BUILD_SLICE]:
                put(key, root.get(key))
            await asyncio.sleep(0)

    # --- keeping it current ----------------------------------------------------------

    def observed(self, which: str, fields: frozenset[str], events: list[Any]) -> None:
        """Note what changed (it is read when the next question comes). This runs inside
        whatever applied the change (a peer's update, a job's edit), so it never raises:
        an index that could not follow is rebuilt from the document when next asked."""
        try:
            _mark(events, fields, self._dirty[which])
        except Exception:
            log.exception("the canvas index of room %s lost track; it will be rebuilt",
                          self.room_id, extra={"room": self.room_id})
            self.grid = _Grid()
            self.edges.clear()
            self.into.clear()
            self.built = False
            self._generation += 1

    def _catch_up(self) -> None:
        """Read again every entry changed since the last question: work in proportion to
        the changes, each of which the room has already applied."""
        for root, put, which in ((self._blocks, self._put_block, schema.BLOCKS),
                                 (self._edges, self._put_edge, schema.EDGES)):
            dirty = self._dirty[which]
            while dirty:
                key = dirty.pop()
                put(key, root.get(key))

    def _put_block(self, key: str, block: object) -> None:
        self.grid.put(sys.intern(key), rect_of(block))

    def _put_edge(self, key: str, edge: object) -> None:
        old = self.edges.pop(key, None)
        if old is not None:
            ids = self.into.get(old[1])
            if ids is not None and key in ids:
                ids.remove(key)
                if not ids:
                    del self.into[old[1]]
        if not isinstance(edge, Map):
            return
        source, target, tool = edge.get("source"), edge.get("target"), edge.get("tool")
        if isinstance(source, str) and isinstance(target, str):
            # Interned: the same ids are keys of blocks and ends of edges many times over.
            source, target = sys.intern(source), sys.intern(target)
            self.edges[key] = (source, target, sys.intern(tool) if isinstance(tool, str)
                               else None)
            self.into.setdefault(target, []).append(key)

    # --- questions ----------------------------------------------------------------------

    def incoming(self, target: str) -> list[tuple[str, str | None]]:
        """Source and tool of every edge into ``target``, in the order of the edges' ids."""
        self._catch_up()
        ids = sorted(self.into.get(target, ()))
        self.stats.edges_examined += len(ids)
        return [(self.edges[i][0], self.edges[i][2]) for i in ids]

    def place(self, places: Sequence[tuple[float, float]], size: tuple[float, float],
              exclude: Collection[str] = ()) -> list[tuple[float, float]]:
        """``places`` (top-left corners of new blocks of ``size``), moved down together
        until none covers a block of the canvas (other than those in ``exclude``)."""
        self._catch_up()
        w, h = size
        step = h + STEP_GAP
        examined = 0
        k = 0
        found: float | None = None
        while k < MAX_STEPS and examined <= MAX_EXAMINED:
            dy = k * step
            hit: tuple[float, float] | None = None
            for px, py in places:
                reach, seen = self.grid.lowest_hit((px, py + dy, w, h), exclude,
                                                   MAX_EXAMINED - examined)
                examined += seen
                if reach is not None:
                    hit = reach, py
                    break
                if examined > MAX_EXAMINED:
                    break
            if examined > MAX_EXAMINED:
                break
            if hit is None:
                found = dy
                break
            reach, py = hit
            # The first step at which this place is below every block it met: at each step
            # before it, it still covers one of them, so skipping them skips no free place.
            k = max(k + 1, math.ceil((reach - py) / step))
        self.stats.layout_placements += 1
        self.stats.layout_blocks_examined += examined
        if found is None:
            top = min((py for _, py in places), default=0.0)
            found = max(0.0, self.grid.bottom + STEP_GAP - top)
        return [(px, py + found) for px, py in places]


async def index_for(room: Room) -> CanvasIndex:
    """The room's canvas index, built (once per room load) and current."""
    index = next((e for e in room.extensions if isinstance(e, CanvasIndex)), None)
    if index is None:
        index = CanvasIndex(room)
        room.extensions.append(index)
    await index.ready()
    return index


__all__ = ["CanvasIndex", "Rect", "index_for", "rect_of"]
