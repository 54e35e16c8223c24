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
"""

from __future__ import annotations

import asyncio
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
        """Collect and trim if a wave of unloads is over; ``True`` if it ran."""
        now = time.monotonic()
        if (busy or self.pending < self.after_unloads or now - self._last_unload < self.quiet
                or now - self._last_run < self.min_interval):
            return False
        started = time.perf_counter()
        # CPython 3.11's attribute cache keeps a reference to the name of each lookup it
        # caches, and a name built for one call (a C extension's ``"dst"``) is a new string
        # each time: every websocket handshake (its Date header asks ``tzinfo.dst``) left
        # one behind, anywhere in the heap, up to the cache's 4,096 slots.
        sys._clear_type_cache()
        freed = gc.collect()
        if self.freelists is None or self._swapping:
            _trim()
        else:
            self._swapping = True
            self.freelists.swap(then=self._swapped)
        log.info("reclaimed memory after %d rooms unloaded: %d objects collected in %.1f ms",
                 self.pending, freed, (time.perf_counter() - started) * 1000)
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
