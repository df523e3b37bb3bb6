"""Small helpers for the hot paths of a large rebuild and for the build cache's files."""
from __future__ import annotations

import gc
import os
import pickle
from contextlib import contextmanager, suppress
from pathlib import Path


_frozen = 0  # how many `frozen_heap` blocks this process is in (a forked one: its parent's)


@contextmanager
def gc_paused(keep: bool = False):
    """Unpickling a cache of hundreds of thousands of objects triggers the cyclic garbage
    collector over and over although nothing can be freed yet; pausing it halves the time.

    `keep`: what was loaded lives until the build ends (the parse cache, the search index's
    state). Inside `frozen_heap` it is then left out of garbage collection at once, like the
    model: else the collector's next passes walk all of it again (0.3 s after the parse cache
    of 10,000 notices)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if keep and _frozen:  # inside `frozen_heap`, which froze what came before
            gc.freeze()  # (gc.get_freeze_count() would walk the millions frozen: 0.04 s)
        if was_enabled:
            gc.enable()


@contextmanager
def frozen_heap():
    """Objects made so far (a large site's records, then its model: millions) are left out of
    garbage collection until the block ends: the collector's full passes stop walking them
    again and again while the model is built and pages are rendered (half the model's time,
    a tenth of a rebuild's), and forked workers do not copy the pages of memory it would
    touch. Yields a function that freezes what was made since, too."""
    global _frozen
    gc.freeze()
    _frozen += 1
    try:
        yield gc.freeze
    finally:
        _frozen -= 1
        gc.unfreeze()


def save_pickle(path: Path, data) -> None:
    """Write a build-cache file atomically (a temporary file per process, then a rename), so a
    reader never sees half a file; a cache that cannot be written only costs time."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as out:
            pickle.dump(data, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        with suppress(OSError):
            tmp.unlink()  # a disk that filled up keeps no half-written file


def sqlite_damaged(exc: BaseException) -> bool:
    """Whether SQLite found a cache's file damaged or not a database (not merely busy or
    unwritable): the file is then removed and made again."""
    import sqlite3

    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
