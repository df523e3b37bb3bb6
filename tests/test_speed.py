"""generator/speed.py: the garbage collector's pauses and freezes around large loads."""
from __future__ import annotations

import gc

from generator.speed import frozen_heap, gc_paused


def test_what_is_loaded_to_be_kept_is_frozen_inside_the_frozen_heap_only():
    """`gc_paused(keep=True)` leaves what was loaded out of garbage collection when the build
    froze its heap (the parse cache, the search index's state: they live until it ends), and
    only then; the collector runs again after each pause."""
    assert gc.isenabled()
    start = gc.get_freeze_count()
    with gc_paused(keep=True):
        assert not gc.isenabled()
        outside = [[number] for number in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() == start
    with frozen_heap():
        frozen = gc.get_freeze_count()
        with gc_paused():
            loose = [[number] for number in range(1000)]
        assert gc.get_freeze_count() == frozen
        with gc_paused(keep=True):
            kept = [[number] for number in range(1000)]
        assert gc.get_freeze_count() >= frozen + len(kept) + len(loose)
    assert gc.get_freeze_count() == start and gc.isenabled()
    with gc_paused(keep=True):  # out of the block again: nothing frozen
        after = [[number] for number in range(1000)]
    assert gc.get_freeze_count() == start
    assert len(outside) == len(after) == 1000
