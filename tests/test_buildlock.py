"""One build per build cache at a time; caches saved after `gongshi build` returned (generator/buildlock.py)."""
from __future__ import annotations

import datetime as dt
import fcntl
import io
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, clean_build, tree_bytes
from generator import background, buildlock, output as output_module, search_export
from generator.build import build
from generator.i18n import Translator
from generator.progress import Progress

sys.path.insert(0, str(REPO / "bench"))
from corpus import generate  # noqa: E402

TODAY = dt.date(2026, 11, 22)


def lock_is_free(cache: Path) -> bool:
    """Whether another build could take the lock now (tried without waiting, then let go)."""
    fd = os.open(cache / "build.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def wait_for(path: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def test_a_build_waits_while_another_holds_the_lock_and_says_so(tmp_path, monkeypatch):
    root = generate(tmp_path / "site", notices=8, villages=2, seed=5)
    cache = tmp_path / "cache"
    monkeypatch.setenv("GONGSHI_CACHE", str(cache))
    monkeypatch.setattr(buildlock, "QUIET_WAIT", 0.05)
    other = buildlock.BuildLock(cache)  # another build, as far as the lock can tell
    other.acquire()
    said = io.StringIO()
    done: list = []
    thread = threading.Thread(target=lambda: done.append(build(root, tmp_path / "out", TODAY, Progress(Translator("en"), said))))
    thread.start()
    thread.join(1.0)
    assert thread.is_alive() and not done and not (tmp_path / "out").exists()
    assert f"Another build of this site is running (it holds {cache / 'build.lock'}); waiting for it to finish" in said.getvalue()
    other.release()
    thread.join(120)
    assert done and (tmp_path / "out" / "index.html").is_file()
    assert lock_is_free(cache)  # the build let go when it ended


@pytest.fixture
def forked(monkeypatch):
    """The small test sites take the path of a large one: features in their own processes."""
    monkeypatch.setattr(background, "MIN_PAGES", 1)
    monkeypatch.setenv("GONGSHI_JOBS", "2")


def test_a_detached_build_returns_before_the_search_cache_is_saved_and_the_next_build_waits_for_it(tmp_path, monkeypatch, forked):
    root = generate(tmp_path / "site", notices=40, villages=4, seed=6)
    cache = tmp_path / "cache"
    monkeypatch.setenv("GONGSHI_CACHE", str(cache))
    go = tmp_path / "go"
    real_save = search_export.ExportState.save

    def save_when_told(self, path) -> None:  # runs in the search feature's process
        wait_for(go)
        real_save(self, path)

    monkeypatch.setattr(search_export.ExportState, "save", save_when_told)
    out = tmp_path / "out"
    build(root, out, TODAY, detach=True)
    state = cache / "search" / "export.pickle"
    # Returned with the site published, the search feature's process still saving its cache
    # (it cannot before `go`) and holding the lock for it.
    assert (out / "index.html").is_file() and not state.exists()
    assert not lock_is_free(cache)
    go.touch()
    # The next build, after an edit, takes the lock once the cache is saved, and brings the
    # site up to date from it: the bytes of a clean build of the edited content.
    notice = sorted((root / "content" / "notices").rglob("*.yaml"))[5]
    notice.write_text(notice.read_text(encoding="utf-8").replace("title: ", "title: 更正 ", 1), encoding="utf-8")
    real_load = search_export.ExportState.load.__func__

    def load_and_tell(cls, path, version):  # runs in the search feature's process
        (tmp_path / "loaded").write_text(str(path.is_file()))
        return real_load(cls, path, version)

    monkeypatch.setattr(search_export.ExportState, "load", classmethod(load_and_tell))
    build(root, out, TODAY)
    assert (tmp_path / "loaded").read_text() == "True"  # the saved state was there to load
    assert lock_is_free(cache)  # waited for: nothing left holding the lock
    assert not background._detached
    with monkeypatch.context() as m:
        m.setenv("GONGSHI_JOBS", "1")
        assert tree_bytes(out) == clean_build(root, tmp_path / "clean", TODAY, m)


def test_the_remover_of_an_old_site_does_not_hold_the_lock(tmp_path, monkeypatch):
    root = generate(tmp_path / "site", notices=8, villages=2, seed=7)
    cache = tmp_path / "cache"
    monkeypatch.setenv("GONGSHI_CACHE", str(cache))
    out = tmp_path / "out"
    notices = sorted((root / "content" / "notices").rglob("*.yaml"))

    def edit(notice: Path) -> None:
        notice.write_text(notice.read_text(encoding="utf-8").replace("title: ", "title: 改 ", 1), encoding="utf-8")

    build(root, out, TODAY)
    edit(notices[0])
    build(root, out, TODAY)  # the first site is now the standby
    for manifest in (cache / "builds").glob("*.standby.manifest"):
        manifest.unlink()  # a standby the next build cannot use: removed after its swap
    monkeypatch.setattr(output_module, "BACKGROUND_REMOVAL_FILES", 1)  # by a detached process
    go, removing = tmp_path / "go", tmp_path / "removing"
    real_rmtree = shutil.rmtree

    def remove_when_told(folder, *args, **kwargs):
        if ".old-" in str(folder):  # in the detached remover
            removing.touch()
            wait_for(go)
        real_rmtree(folder, *args, **kwargs)

    monkeypatch.setattr(output_module.shutil, "rmtree", remove_when_told)
    edit(notices[1])
    build(root, out, TODAY)
    wait_for(removing)  # the remover is running, and waiting
    try:
        assert lock_is_free(cache)
    finally:
        go.touch()
    deadline = time.monotonic() + 60
    while [p for p in os.listdir(tmp_path) if ".old-" in p]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
