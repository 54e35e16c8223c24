"""The full-pass guard (``sync/memory.py``): what the joins built is frozen so the
collector's full passes skip it; young cycles are collected first, never frozen; the
reclaimer's collection takes in the frozen objects at most every ``thaw_every`` seconds,
so a cycle that hid there is freed in the end. Each test restores the collector."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from sync.memory import FullPassGuard, Reclaimer, active_guard


class Cyclic:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collector() -> Iterator[None]:
    gc.collect()
    gc.disable()  # no automatic pass may run in between
    try:
        yield
    finally:
        guard = active_guard()
        if guard is not None:
            guard.uninstall()
        gc.unfreeze()
        gc.enable()
        gc.collect()


def installed(**kw) -> FullPassGuard:
    guard = FullPassGuard(**kw)
    guard.install()
    return guard


def test_every_so_many_joins_the_live_objects_are_frozen_and_young_cycles_collected(collector):
    async def main() -> tuple[int, int, weakref.ref[Cyclic], list[list[int]]]:
        guard = installed(slow_ms=10.0, freeze_every_joins=3)
        before = gc.get_freeze_count()
        live = [[i] for i in range(5000)]  # a room's and its connections' objects
        cycle = weakref.ref(Cyclic())  # garbage a full pass would find
        guard.joined()
        guard.joined()
        await asyncio.sleep(0)
        assert gc.get_freeze_count() == before, "froze before the third join"
        guard.joined()
        await asyncio.sleep(0)  # the freeze runs on the loop
        return before, guard.freezes, cycle, live

    before, freezes, cycle, live = asyncio.run(main())
    assert freezes == 1
    assert gc.get_freeze_count() >= before + len(live)
    assert cycle() is None, "a young cycle was frozen instead of collected"


def test_a_slow_full_pass_has_what_it_kept_frozen_and_is_counted(collector):
    guard = installed(slow_ms=1e-6)  # any pass is slow
    gc.collect()
    assert guard.freezes == 0, "froze inside the collector"
    guard.tick()  # the housekeeping round, on the event loop
    assert guard.passes >= 1 and guard.seconds > 0
    assert sum(guard.buckets) == guard.passes
    assert guard.freezes == 1 and gc.get_freeze_count() > 0 and guard._froze


def test_with_slow_ms_zero_the_passes_are_counted_and_nothing_is_frozen(collector):
    async def main() -> FullPassGuard:
        guard = installed(slow_ms=0.0, freeze_every_joins=1)
        base = gc.get_freeze_count()
        gc.collect()
        guard.joined()
        guard.tick()
        await asyncio.sleep(0)
        assert gc.get_freeze_count() == base
        return guard

    guard = asyncio.run(main())
    assert guard.passes == 1 and guard.freezes == 0


def frozen_cycle(guard: FullPassGuard) -> weakref.ref[Cyclic]:
    """A cycle that was alive when the guard froze it and became garbage afterwards."""
    obj = Cyclic()
    ref = weakref.ref(obj)
    guard._freeze()
    del obj
    gc.collect()
    assert ref() is not None  # a full pass skips it
    return ref


def test_the_reclaimer_frees_a_cycle_that_was_frozen_once_a_thaw_is_due(collector):
    guard = installed(slow_ms=10.0, thaw_every=0.0)
    r = Reclaimer(after_unloads=1, quiet=0.0, min_interval=0.0)
    ref = frozen_cycle(guard)
    assert guard.thaw_due()
    r.unloaded()
    assert r.maybe_reclaim(busy=False)
    assert ref() is None
    assert gc.get_freeze_count() > 0, "what the collection kept is frozen again"
    assert not guard.thaw_due(), "due again with nothing frozen since"


def test_no_thaw_without_a_wave_of_unloads_or_within_the_interval(collector):
    # Tried: a thaw due but no unload; a wave within thaw_every of the last thaw (the
    # cheap collection of the unfrozen objects runs, the frozen cycle waits); nothing
    # frozen since the last thaw.
    guard = installed(slow_ms=10.0, thaw_every=0.0)
    r = Reclaimer(after_unloads=1, quiet=0.0, min_interval=0.0)
    ref = frozen_cycle(guard)
    assert not r.maybe_reclaim(busy=False), "ran without an unload"
    guard.thaw_every = 3600.0
    r.unloaded()
    assert r.maybe_reclaim(busy=False)
    assert ref() is not None
    guard.thaw_every = 0.0
    guard.thawed()
    assert not guard.thaw_due(), "due with nothing frozen since the last thaw"
