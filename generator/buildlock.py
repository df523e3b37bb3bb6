"""One build of a site at a time, and cache saves that outlive the command.

Two builds sharing a build cache at once (the commit hook's and `gongshi serve`'s, a clerk's
`gongshi build` during either) would read and write the same caches and take the same
standby folder (output.py). So a build holds an exclusive lock on `build.lock` in the build
cache from its start to its end, and the second build waits for the first.

The processes a build forks inherit the lock (an flock belongs to the open file, which a
fork shares). `gongshi build` uses that to return as soon as the new site is published: the
features' processes save their caches afterwards (background.py), still holding the lock,
and the next build starts only when they are done, so no build ever reads a cache that is
half saved or older than the site it brings up to date.

Without `fcntl` (Windows) or a writable cache there is no lock, as there is no fork.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

# A build waits this long without a word: the previous build's caches being saved take well
# under a second. Longer means another build is running, and the user is told.
QUIET_WAIT = 1.0
_POLL = 0.01

_held: set[int] = set()  # this process's lock files (closed by forked processes that must not keep them)


class BuildLock:
    def __init__(self, cache_dir: Path):
        self.path = Path(cache_dir) / "build.lock"
        self.fd: int | None = None

    def acquire(self, waiting=lambda: None) -> None:
        """Take the lock, waiting as long as another build (or its cache saving) holds it;
        `waiting()` is called once if that takes longer than QUIET_WAIT."""
        try:
            import fcntl
        except ImportError:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            return  # no cache can be written: nothing to protect
        deadline = time.monotonic() + QUIET_WAIT
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() < deadline:
                        time.sleep(_POLL)
                        continue
                    waiting()
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    break
        except OSError:  # a file system without locks
            os.close(fd)
            return
        self.fd = fd
        _held.add(fd)

    @property
    def held(self) -> bool:
        return self.fd is not None

    def release(self) -> None:
        """This process lets go. Forked processes still running (saving caches) keep the lock
        until they exit: the file is closed, never unlocked, which would free it for them too."""
        if self.fd is not None:
            _held.discard(self.fd)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "BuildLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def let_go_in_child() -> None:
    """In a forked process that outlives the build but must not delay the next one (the
    remover of an old site): close the inherited lock files."""
    for fd in list(_held):
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()
