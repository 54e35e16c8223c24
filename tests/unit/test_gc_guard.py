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
        guard.attach(asyncio.get_running_loop())
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
    async def main() -> FullPassGuard:
        guard = installed(slow_ms=1e-6)  # any pass is slow
        guard.attach(asyncio.get_running_loop())
        gc.collect()
        await asyncio.sleep(0)
        return guard

    guard = asyncio.run(main())
    assert guard.passes >= 1 and guard.seconds > 0
    assert sum(guard.buckets) == guard.passes
    assert guard.freezes == 1 and gc.get_freeze_count() > guard.base


def test_with_slow_ms_zero_the_passes_are_counted_and_nothing_is_frozen(collector):
    async def main() -> FullPassGuard:
        guard = installed(slow_ms=0.0, freeze_every_joins=1)
        guard.attach(asyncio.get_running_loop())
        base = gc.get_freeze_count()
        gc.collect()
        guard.joined()
        await asyncio.sleep(0)
        assert gc.get_freeze_count() == base
        return guard

    guard = asyncio.run(main())
    assert guard.passes == 1 and guard.freezes == 0


def frozen_cycle() -> weakref.ref[Cyclic]:
    """A cycle that was alive when frozen and became garbage afterwards."""
    obj = Cyclic()
    ref = weakref.ref(obj)
    gc.freeze()
    del obj
    gc.collect()
    assert ref() is not None  # a full pass skips it
    return ref


def test_the_reclaimer_frees_a_cycle_that_was_frozen_once_a_thaw_is_due(collector):
    guard = installed(slow_ms=10.0, thaw_every=0.0, thaw_growth=1.0)
    r = Reclaimer(after_unloads=1, quiet=0.0, min_interval=0.0)
    ref = frozen_cycle()
    r.unloaded()
    assert r.maybe_reclaim(busy=False)
    assert ref() is None
    assert gc.get_freeze_count() > 0, "what the collection kept is frozen again"
    assert guard.low > guard.base, "the low-water mark was not reset by the thaw"


def test_the_reclaimer_thaws_on_its_own_when_due_without_a_wave(collector):
    installed(slow_ms=10.0, thaw_every=0.0, thaw_growth=1.0)
    r = Reclaimer(after_unloads=50, quiet=0.0, min_interval=0.0)
    ref = frozen_cycle()
    assert not r.maybe_reclaim(busy=True), "ran while rooms were loading"
    assert r.maybe_reclaim(busy=False)  # no unload at all
    assert ref() is None


def test_before_the_thaw_interval_the_reclaimer_leaves_the_frozen_objects(collector):
    # Tried: a wave of unloads within thaw_every of the last thaw; the cheap collection
    # of the unfrozen objects runs, the frozen cycle waits for a later one.
    installed(slow_ms=10.0, thaw_every=3600.0, thaw_growth=1.0)
    r = Reclaimer(after_unloads=1, quiet=0.0, min_interval=0.0)
    ref = frozen_cycle()
    r.unloaded()
    assert r.maybe_reclaim(busy=False)
    assert ref() is not None
    assert not r.maybe_reclaim(busy=False), "thawed with no wave and no thaw due"


def test_no_thaw_until_the_frozen_objects_grow_by_a_quarter_or_while_people_join(collector):
    # Tried: a frozen cycle among as many frozen objects as before (no growth); then a
    # quarter more frozen objects but a join just now; then the same once it is quiet.
    guard = installed(slow_ms=10.0, thaw_every=0.0, quiet=3600.0)
    keep = [[i] for i in range(4000)]
    gc.freeze()
    guard.thawed()  # the low-water mark: these 4,000 and whatever the process had
    ref = frozen_cycle()
    assert not guard.thaw_due(), "thawed for one more frozen object"
    more = [[i] for i in range(guard.low // 4 + 10)]
    gc.freeze()
    assert gc.get_freeze_count() > guard.low * 1.25
    asyncio.run(_join(guard))
    assert not guard.thaw_due(), "thawed right after a join"
    guard.quiet = 0.0
    assert guard.thaw_due()
    r = Reclaimer(after_unloads=50, quiet=0.0, min_interval=0.0)
    assert r.maybe_reclaim(busy=False)
    assert ref() is None
    assert keep and more


async def _join(guard: FullPassGuard) -> None:
    guard.joined()
