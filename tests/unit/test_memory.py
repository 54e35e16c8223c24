"""Reclaiming memory after a wave of unloads: one full collection (and malloc_trim) once
enough rooms have gone and the wave is over; never for a few stray unloads, never while
rooms are loading or unloading, and not more often than the interval."""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import weakref

import pytest

from sync.memory import UVLOOP_FREELIST, LoopFreelists, Reclaimer, tune_c_allocator


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


def _noop() -> None:
    return None


async def _swap_after_a_wave(loop: asyncio.AbstractEventLoop) -> None:
    fl = LoopFreelists(loop)
    reserve = {id(o) for kind in fl.reserve[:2] for o in kind}
    await asyncio.sleep(0.01)  # the reserve's cancelled handles leave the loop's queues
    # A wave: 300 callbacks and 300 timers made and done with. uvloop keeps 250 of each
    # in its free lists, where they would stay, scattered over the heap.
    wave = [loop.call_soon(_noop) for _ in range(300)]
    wave += [loop.call_later(60, _noop) for _ in range(300)]
    for h in wave:
        h.cancel()
    await asyncio.sleep(0.01)
    del wave
    gc.collect()
    before = sys.getallocatedblocks()
    swapped = asyncio.Event()
    fl.swap(then=swapped.set)
    await asyncio.wait_for(swapped.wait(), 5)
    gc.collect()
    freed = before - sys.getallocatedblocks()
    # The 500 objects the free lists held went back to the allocator...
    assert freed >= 2 * UVLOOP_FREELIST - 50, freed
    # ...and the reserve made at the start is the reserve again (not new objects).
    again = {id(o) for kind in fl.reserve[:2] for o in kind}
    assert len(reserve & again) >= 2 * UVLOOP_FREELIST - 10


def test_the_loops_free_lists_give_back_what_a_wave_left_in_them():
    uvloop = pytest.importorskip("uvloop")
    if sys.getallocatedblocks() == 0:
        pytest.skip("counts blocks of Python's own allocator (not under PYTHONMALLOC=malloc)")
    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(_swap_after_a_wave(loop))
    finally:
        loop.close()


def test_a_reclaim_swaps_the_free_lists_then_trims():
    # Started on a loop, a reclaim leaves the trim to the swap's end (the loop must first
    # let go of the handles it took); a second wave before that end only trims.
    async def case() -> None:
        r = Reclaimer(after_unloads=1, quiet=0.0, min_interval=0.0)
        r.start(asyncio.get_running_loop())
        assert r.freelists is not None
        first = r.freelists.reserve
        r.unloaded()
        assert r.maybe_reclaim(busy=False)
        assert r._swapping
        r.unloaded()
        assert r.maybe_reclaim(busy=False)  # collected and trimmed, no second swap
        await asyncio.sleep(0.3)
        assert not r._swapping and r.freelists.reserve is not first

    asyncio.run(case())


class _Zone:
    def dst(self) -> None:
        return None


def test_a_reclaim_lets_go_of_names_the_type_cache_kept():
    # Tried: a method looked up by a name built at run time, as C extensions do (each
    # websocket handshake's Date header asks its timezone for ``dst``). CPython 3.11's
    # attribute cache keeps every such name alive, wherever it was allocated.
    name = "".join(["d", "s", "t"])  # a new string, not the interned "dst"
    refs = sys.getrefcount(name)
    getattr(_Zone(), name)
    if sys.getrefcount(name) == refs:
        pytest.skip("this Python's type cache keeps no reference to the names it caches")
    r = Reclaimer(after_unloads=1, quiet=0.0, min_interval=0.0)
    r.unloaded()
    assert r.maybe_reclaim(busy=False)
    assert sys.getrefcount(name) == refs
