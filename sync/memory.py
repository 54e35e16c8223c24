"""Giving memory back after a wave of rooms closes.

Measured with ``bench/sync_load.py`` (e), 500 rooms opened and closed: what they had used
stayed with the process. Part of it was garbage in reference cycles, which only a full
collection frees, and full passes are rare (``gc.freeze`` at start keeps them short, not
frequent); a closed websocket's protocol now cuts its own cycles (``server/wsproto.py``),
but anything else cyclic still waits. The rest was freed memory kept in the C
allocator's free lists.

So once enough rooms have unloaded and the unloading has stopped, the room manager's
housekeeping runs one full collection and asks glibc to return its free pages
(``malloc_trim``). Both stop the event loop for a moment (milliseconds: the objects that
live as long as the process are frozen), so it runs at most every ``min_interval``
seconds, never while rooms are loading or unloading, and not for a few stray unloads.

Over many waves, what stayed was small objects that outlive a wave, each alone on a page
it kept resident: names held by CPython's type cache, the event loop's free lists (see
``LoopFreelists``) and the fan-out's last batch. A walk of glibc's heap from outside the
process after each round, matching each live chunk to a Python type, found them.

While rooms load, the collector's own full passes grew with the heap: CPython runs one
whenever a quarter more objects have lived long enough since the last, and each visits
every object not frozen. A wave of 2,000 room joins (bench (e) with ``--e-rooms 2000``)
stopped the process seven times in five seconds, for 50 to 270 ms each, and none of those
passes found any garbage. ``FullPassGuard`` freezes what the joins built, so the passes
visit only what came after.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import contextvars
import ctypes
import gc
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def _find_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or ``None`` on a C library without it (musl, macOS)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_malloc_trim = _find_malloc_trim()

M_TOP_PAD = -2  # mallopt's parameter number (malloc.h)


def tune_c_allocator(top_pad: int = 16 << 20) -> bool:
    """Under ``PYTHONMALLOC=malloc`` (see ``server/cli.py``), have glibc keep ``top_pad``
    bytes at the top of its heap when it grows or trims it by itself. Every Python object
    then lives in that heap, and with the default (128 KiB) a large message built and
    freed (a 20,000-update room's full state, 263 KB) made the heap shrink and grow again,
    page faults included: that full sync took 11-12 ms instead of 6.5 (bench (d)). The
    explicit ``malloc_trim(0)`` after a wave of unloads still returns all of it. ``False``
    where the C library has no ``mallopt``."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_TOP_PAD, top_pad))


# The event loop's own free lists, which a full collection does not empty: uvloop keeps
# up to 250 freed ``Handle`` and ``TimerHandle`` objects each for reuse (Cython
# ``@freelist``), CPython's ``_asyncio`` up to 255 ``FutureIter`` objects (one per
# ``await`` of a future).
UVLOOP_FREELIST = 250
FUTURE_ITER_FREELIST = 255


def _noop() -> None:
    pass


class LoopFreelists:
    """Keeps the event loop's free lists from pinning pages after a wave.

    Measured with bench (e) and a walk of glibc's heap after each collect-and-trim: of
    the ~1,900 resident pages with under 1 KB in use (7.5 MB), ~700 were kept by one or
    two objects sitting in these free lists. After a wave they hold the objects freed
    last, spread over all the heap the wave used.

    So this holds a reserve of each kind, made when the process starts and the heap is
    compact, and ``swap`` exchanges it for the free lists' contents: it takes every
    object out of the free lists (``drained``), then, once the loop has let go of the
    cancelled handles, drops the reserve (its objects fill the emptied free lists), drops
    ``drained`` (the lists are full, so those go back to malloc and their pages can be
    trimmed), and takes the reserve back out of the free lists, leaving them empty."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.uvloop = type(loop).__module__.startswith("uvloop")
        self.reserve = self._take()

    def _take(self) -> list[list[Any]]:
        """As many objects of each kind as its free list holds at most (the free list's
        own first, then new ones), the handles cancelled (the loop drops them on its next
        turn)."""
        held: list[list[Any]] = []
        if self.uvloop:
            ctx = contextvars.copy_context()  # one for all (by default each copies its own)
            soon = [self.loop.call_soon(_noop, context=ctx) for _ in range(UVLOOP_FREELIST)]
            later = [self.loop.call_later(3600, _noop, context=ctx)
                     for _ in range(UVLOOP_FREELIST)]
            for h in (*soon, *later):
                h.cancel()
            held += [soon, later]
        fut = self.loop.create_future()
        held.append([fut.__await__() for _ in range(FUTURE_ITER_FREELIST)])
        fut.cancel()
        return held

    def swap(self, then: Callable[[], None]) -> None:
        """Exchange the reserve for what the free lists hold, then call ``then``."""
        drained = [self._take()]

        def finish() -> None:
            self.reserve = []  # into the emptied free lists
            drained.clear()  # the free lists are full: back to malloc
            self.reserve = self._take()  # the reserve again, out of the free lists
            then()

        self.loop.call_later(0.1, finish)  # the loop has dropped the cancelled handles


# Full-pass durations counted for /metrics (seconds, upper bounds of the buckets).
PAUSE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class FullPassGuard:
    """Keeps the collector's full passes short while rooms load.

    Every ``freeze_every_joins`` joins, and after any full pass that stopped the process
    for ``slow_ms`` or more, the young generations are collected and then everything left
    is frozen (``gc.freeze``): the rooms and connections are alive, and full passes skip
    frozen objects. A frozen object that dies is still freed at once by its reference
    count; only one in a reference cycle would wait (closing 2,000 rooms left none), so the
    ``Reclaimer``'s collection after a wave of unloads, when rooms close, takes in the
    frozen objects too, at most every ``thaw_every`` seconds (``thaw_due``). With
    ``slow_ms`` 0 it only counts the passes (for /metrics). Installed by ``arbor serve``
    only: a test process keeps the collector as it is. A slow pass's freeze waits for the
    next join or housekeeping round (``tick``), on the event loop.

    Measured with bench (e): while 2,000 rooms joined, 6-7 full passes of 50-270 ms
    (0.9-1.2 s in all) without it; with it none (500 rooms: one of about 60 ms before)."""

    def __init__(self, slow_ms: float, thaw_every: float = 600.0,
                 freeze_every_joins: int = 100) -> None:
        self.slow_ms = slow_ms  # 0: count the passes, never freeze
        self.freeze_every_joins = freeze_every_joins
        self._joins = 0
        self.thaw_every = thaw_every
        self.last_thaw = time.monotonic()
        self._froze = False  # since the last thaw
        self.passes = 0
        self.seconds = 0.0
        self.buckets = [0] * (len(PAUSE_BUCKETS) + 1)  # the last: longer than all
        self.freezes = 0
        self._started = 0.0
        self._due = False  # a freeze is scheduled
        self._slow = False  # a slow full pass ran since the last freeze

    def install(self) -> None:
        global _guard
        gc.callbacks.append(self._on_gc)
        _guard = self

    def uninstall(self) -> None:
        global _guard
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        if _guard is self:
            _guard = None

    def thaw_due(self) -> bool:
        """Whether the reclaimer's collection after a wave of unloads should take in the
        frozen objects too: if anything was frozen since the last such collection, and
        that was ``thaw_every`` seconds ago or more. It visits the whole heap, start-up
        included (about 70 ms after a wave of 2,000 rooms closed, which left no cycle),
        where the unfrozen part alone takes a few ms. Nothing here counts the frozen
        objects: ``gc.get_freeze_count()`` walks all of them (10-20 ms with 200,000)."""
        return self._froze and time.monotonic() - self.last_thaw >= self.thaw_every

    def thawed(self) -> None:
        """The reclaimer collected with the frozen objects and froze what was left."""
        self.last_thaw = time.monotonic()
        self._froze = False

    def joined(self) -> None:
        """A connection joined a room (on the event loop). Each leaves a hundred or more
        objects that live as long as it does; every ``freeze_every_joins`` of them they
        are frozen before a full pass has to visit them: in a wave of joins the first pass
        would otherwise visit them all (one pass of about 60 ms at 500 rooms)."""
        self._joins += 1
        if (self._joins >= self.freeze_every_joins or self._slow) and self.slow_ms \
                and not self._due:
            self._joins = 0
            self._due = True
            asyncio.get_running_loop().call_soon(self._freeze)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        self.passes += 1
        self.seconds += took
        self.buckets[bisect.bisect_left(PAUSE_BUCKETS, took)] += 1  # bounds are inclusive
        if self.slow_ms and took * 1000 >= self.slow_ms:
            # Not frozen here, inside the collector and whatever code it interrupted (any
            # thread): at the next join or housekeeping round, on the event loop.
            self._slow = True

    def tick(self) -> None:
        """Called on the event loop every few seconds: freeze after a slow full pass."""
        if self._slow and not self._due:
            self._freeze()

    def _freeze(self) -> None:
        self._due = False
        self._slow = False
        self._joins = 0
        gc.collect(1)  # the young generations first: a cycle among them is garbage, not kept
        gc.freeze()
        self._froze = True
        self.freezes += 1


_guard: FullPassGuard | None = None


def active_guard() -> FullPassGuard | None:
    """The process's ``FullPassGuard``, if ``arbor serve`` installed one."""
    return _guard


def _trim() -> None:
    if _malloc_trim is not None:
        _malloc_trim(0)


class Reclaimer:
    def __init__(self, *, after_unloads: int = 50, quiet: float = 1.0,
                 min_interval: float = 10.0) -> None:
        self.after_unloads = after_unloads
        self.quiet = quiet  # seconds without an unload: the wave is over
        self.min_interval = min_interval
        self.pending = 0  # unloads since the last reclaim
        self.runs = 0
        self._last_unload = 0.0
        self._last_run = float("-inf")
        self.freelists: LoopFreelists | None = None  # set by ``start``
        self._swapping = False

    def unloaded(self) -> None:
        self.pending += 1
        self._last_unload = time.monotonic()

    def maybe_reclaim(self, *, busy: bool) -> bool:
        """Collect and trim if a wave of unloads is over (the frozen objects too when
        ``FullPassGuard.thaw_due``); ``True`` if it ran."""
        now = time.monotonic()
        if (busy or self.pending < self.after_unloads or now - self._last_unload < self.quiet
                or now - self._last_run < self.min_interval):
            return False
        guard = _guard
        thawed = guard is not None and guard.thaw_due()
        started = time.perf_counter()
        # CPython 3.11's attribute cache keeps a reference to the name of each lookup it
        # caches, and a name built for one call (a C extension's ``"dst"``) is a new string
        # each time: every websocket handshake (its Date header asks ``tzinfo.dst``) left
        # one behind, anywhere in the heap, up to the cache's 4,096 slots.
        sys._clear_type_cache()
        if thawed:
            gc.unfreeze()  # a cycle among frozen objects is freed only by a pass over them
        freed = gc.collect()
        if guard is not None and thawed:
            gc.freeze()  # what is left is alive: the collector's own passes skip it again
            guard.thawed()
        if self.freelists is None or self._swapping:
            _trim()
        else:
            self._swapping = True
            self.freelists.swap(then=self._swapped)
        log.info("reclaimed memory after %d rooms unloaded: %d objects collected in %.1f ms%s",
                 self.pending, freed, (time.perf_counter() - started) * 1000,
                 " (frozen objects included)" if thawed else "")
        self.pending = 0
        self._last_run = now
        self.runs += 1
        return True

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make the free lists' reserve (see ``LoopFreelists``): call once the process
        is up and before rooms load, while the heap is compact."""
        self.freelists = LoopFreelists(loop)

    def _swapped(self) -> None:
        self._swapping = False
        _trim()
