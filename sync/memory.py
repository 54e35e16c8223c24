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
"""

from __future__ import annotations

import ctypes
import gc
import logging
import time
from collections.abc import Callable

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
        freed = gc.collect()
        if _malloc_trim is not None:
            _malloc_trim(0)
        log.info("reclaimed memory after %d rooms unloaded: %d objects collected in %.1f ms",
                 self.pending, freed, (time.perf_counter() - started) * 1000)
        self.pending = 0
        self._last_run = now
        self.runs += 1
        return True
