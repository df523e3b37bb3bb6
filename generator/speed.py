"""Small helpers for the hot paths of a large rebuild."""
from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def gc_paused():
    """Unpickling a cache of hundreds of thousands of objects triggers the cyclic garbage
    collector over and over although nothing can be freed yet; pausing it halves the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
