"""Reclaiming memory after a wave of unloads: one full collection (and malloc_trim) once
enough rooms have gone and the wave is over; never for a few stray unloads, never while
rooms are loading or unloading, and not more often than the interval."""

from __future__ import annotations

import gc
import time
import weakref

from sync.memory import Reclaimer, tune_c_allocator


class Cyclic:
    def __init__(self) -> None:
        self.me = self  # garbage only a full collection frees, like a closed websocket's


def garbage() -> weakref.ref[Cyclic]:
    gc.collect()
    gc.disable()  # no automatic collection may free it in between
    return weakref.ref(Cyclic())


def test_a_wave_of_unloads_is_followed_by_one_collection():
    r = Reclaimer(after_unloads=3, quiet=0.0, min_interval=0.0)
    try:
        ref = garbage()
        for _ in range(3):
            r.unloaded()
        assert r.maybe_reclaim(busy=False)
        assert ref() is None  # the cycle was collected
        assert r.pending == 0 and r.runs == 1
        assert not r.maybe_reclaim(busy=False)  # nothing new since
    finally:
        gc.enable()


def test_too_few_unloads_or_busy_rooms_or_a_recent_run_wait():
    # Tried: two unloads when three are needed; a wave still going on (an unload just
    # now); rooms loading or unloading; a second wave within the minimum interval.
    r = Reclaimer(after_unloads=3, quiet=0.0, min_interval=3600.0)
    try:
        ref = garbage()
        r.unloaded()
        r.unloaded()
        assert not r.maybe_reclaim(busy=False)
        r.unloaded()
        assert not r.maybe_reclaim(busy=True)
        assert ref() is not None  # nothing ran
        assert r.maybe_reclaim(busy=False)
        for _ in range(3):
            r.unloaded()
        assert not r.maybe_reclaim(busy=False)  # within the interval
    finally:
        gc.enable()
    waiting = Reclaimer(after_unloads=1, quiet=60.0, min_interval=0.0)
    waiting.unloaded()
    assert not waiting.maybe_reclaim(busy=False)  # the last unload was just now
    waiting._last_unload = time.monotonic() - 61
    assert waiting.maybe_reclaim(busy=False)


def test_the_c_allocator_takes_the_top_pad_setting():
    # glibc's mallopt accepts M_TOP_PAD (this machine and the Docker image run glibc);
    # a wrong parameter number or signature would be refused (0) or crash here.
    import platform

    import pytest

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert tune_c_allocator(16 << 20) is True
    assert tune_c_allocator(128 << 10) is True  # back to glibc's default
