"""A build stopped part way never leaves a wrong site, nor its temporary folder for good.

SIGTERM (a CI job cancelled, a service stopped) stops `gongshi build` as Ctrl+C does: it
removes its temporary folder and the published site stays as it was. A build killed outright
(SIGKILL, out of memory, power lost) cannot clean up: the next build of the site removes what
it left. And a build killed while it publishes leaves the site and the build manifest in a
state the next build brings to exactly what a clean build makes (generator/output.py).
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, clean_build, tree_bytes
from generator import cli, output as output_module
from generator.build import build

sys.path.insert(0, str(REPO / "bench"))
from corpus import generate  # noqa: E402

TODAY = dt.date(2026, 11, 22)


def leftovers(root: Path) -> list[str]:
    """Temporary folders beside the output `root/build`: a build's, or an old site being removed."""
    return sorted(p.name for p in root.iterdir() if p.name.startswith((".build.building-", ".build.old-")))


def start_build(root: Path, cache: Path, ignoring: tuple[int, ...] = ()) -> subprocess.Popen:
    """`gongshi build` of `root`, started with the signals `ignoring` ignored (as nohup does)
    and the others as a shell starts it, whatever the tests run under (a `nohup make test`
    passes SIGHUP on ignored)."""
    env = {**os.environ, "GONGSHI_CACHE": str(cache), "PYTHONPATH": str(REPO)}

    def dispositions() -> None:
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN if signum in ignoring else signal.SIG_DFL)

    return subprocess.Popen([sys.executable, "-m", "generator", "build", "--root", str(root), "--today", TODAY.isoformat()],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=dispositions)


def wait_until_building(root: Path, process: subprocess.Popen, files: int = 0) -> None:
    """Until the build has made its temporary folder, and `files` files in it."""
    deadline = time.monotonic() + 120
    while True:
        folders = [root / name for name in leftovers(root) if name.startswith(".build.building-")]
        if folders and (not files or sum(1 for p in folders[0].rglob("*.html")) >= files):
            return
        assert process.poll() is None, f"the build ended before it could be stopped: {process.communicate()}"
        assert time.monotonic() < deadline, "the build never started writing"
        time.sleep(0.005)


def wait_until_gone(root: Path, seconds: float = 60) -> None:
    """The old folders are removed by a detached process: give it time."""
    deadline = time.monotonic() + seconds
    while leftovers(root) and time.monotonic() < deadline:
        time.sleep(0.05)


def built_site(tmp_path: Path, monkeypatch, seed: int) -> tuple[Path, Path]:
    """A 300-notice site built into root/build, its cache in tmp/cache: (root, cache)."""
    root = generate(tmp_path / "site", notices=300, villages=10, seed=seed)
    cache = tmp_path / "cache"
    monkeypatch.setenv("GONGSHI_CACHE", str(cache))
    build(root, root / "build", TODAY)
    return root, cache


def rebuild_under_way(root: Path, cache: Path, pages: int = 0, ignoring: tuple[int, ...] = ()) -> subprocess.Popen:
    """After a config change (every page is made again), `gongshi build` once it has written
    `pages` pages of the new site, held there (SIGSTOP) while the test sends its signal:
    `resume` lets it go on. A build is quick, and a busy machine may leave the test no time
    between seeing the build under way and signalling it: a build that got to publish
    first is started again, after another change."""
    config = root / "site_config.yaml"
    for attempt in range(5):
        config.write_text(config.read_text(encoding="utf-8").replace("title: ", "title: 新", 1), encoding="utf-8")
        process = start_build(root, cache, ignoring)
        wait_until_building(root, process, pages)
        os.kill(process.pid, signal.SIGSTOP)
        while process.poll() is None and _state(process.pid) not in "Tt":
            time.sleep(0.001)
        if process.poll() is None and any(name.startswith(".build.building-") for name in leftovers(root)):
            return process  # stopped before publishing: the temporary folder is still there
        os.kill(process.pid, signal.SIGCONT)
        process.communicate(timeout=120)
        wait_until_gone(root)
    raise AssertionError("each build published before it could be stopped")


def _state(pid: int) -> str:
    """The process's state letter in /proc (T: stopped); "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def resume(process: subprocess.Popen) -> None:
    """Let a build held by `rebuild_under_way` go on: a signal sent meanwhile is handled now."""
    os.kill(process.pid, signal.SIGCONT)


@pytest.mark.parametrize("pages", [0, 100])  # as soon as it starts writing; once pages are written
def test_sigterm_stops_a_build_like_ctrl_c(tmp_path, monkeypatch, pages):
    root, cache = built_site(tmp_path, monkeypatch, seed=11)
    process = rebuild_under_way(root, cache, pages)
    published = tree_bytes(root / "build")  # (what the held build is to replace)
    process.send_signal(signal.SIGTERM)
    resume(process)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, (out, err)
    assert "Traceback" not in err
    assert leftovers(root) == []  # its temporary folder removed, by itself
    assert not list((cache / "builds").glob("*.building"))
    assert tree_bytes(root / "build") == published  # the site as it was
    build(root, root / "build", TODAY)  # and the next build is as good as a clean one
    assert tree_bytes(root / "build") == clean_build(root, tmp_path, TODAY, monkeypatch)


@pytest.mark.parametrize("ignored", [False, True])
def test_a_hangup_stops_a_build_unless_it_was_started_with_nohup(tmp_path, monkeypatch, ignored):
    root, cache = built_site(tmp_path, monkeypatch, seed=13)
    process = rebuild_under_way(root, cache, ignoring=(signal.SIGHUP,) if ignored else ())
    published = tree_bytes(root / "build")
    process.send_signal(signal.SIGHUP)
    resume(process)
    out, err = process.communicate(timeout=120)
    assert process.returncode == (0 if ignored else 128 + signal.SIGHUP), (out, err)
    wait_until_gone(root)
    assert leftovers(root) == []
    if ignored:  # built and published as if nothing had happened
        assert tree_bytes(root / "build") == clean_build(root, tmp_path, TODAY, monkeypatch)
    else:
        assert tree_bytes(root / "build") == published


def test_the_next_build_removes_what_a_killed_build_left(tmp_path, monkeypatch):
    root, cache = built_site(tmp_path, monkeypatch, seed=12)
    process = rebuild_under_way(root, cache)
    os.killpg(process.pid, signal.SIGKILL)  # the build and every process it forked
    process.communicate(timeout=60)
    left = leftovers(root)
    assert left and left[0].startswith(".build.building-")  # nothing could clean up
    assert list((cache / "builds").glob("*.building"))
    build(root, root / "build", TODAY)
    wait_until_gone(root)
    assert leftovers(root) == []
    assert not list((cache / "builds").glob("*.building"))
    assert tree_bytes(root / "build") == clean_build(root, tmp_path, TODAY, monkeypatch)


def _in_child(job) -> int:
    """Run `job()` in a forked process; its exit status (a SystemExit's code counts)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            job()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _replace_doing(action, at: int):
    """While a site is published (Output.commit), the `at`-th os.replace does `action` first."""
    real_replace, real_commit = os.replace, output_module.Output.commit
    calls = 0

    def replace(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == at:
            action()
        return real_replace(*args, **kwargs)

    def commit(self, *args, **kwargs):
        os.replace = replace
        try:
            return real_commit(self, *args, **kwargs)
        finally:
            os.replace = real_replace

    output_module.Output.commit = commit


def built_then_edited(tmp_path: Path, monkeypatch, seed: int) -> tuple[Path, Path, Path, str]:
    """A small site built into tmp/out, then a notice's title edited: (root, out, the notice,
    its text before)."""
    root = generate(tmp_path / "site", notices=12, villages=2, seed=seed)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    build(root, out, TODAY)
    notice = sorted((root / "content" / "notices").rglob("*.yaml"))[0]
    original = notice.read_text(encoding="utf-8")
    notice.write_text(original.replace("title: ", "title: 更正", 1), encoding="utf-8")
    return root, out, notice, original


@pytest.mark.parametrize("killed_at", range(1, 7))  # each step of publishing, and none (6)
def test_a_build_killed_while_publishing_leaves_nothing_wrong(tmp_path, monkeypatch, killed_at):
    root, out, notice, original = built_then_edited(tmp_path, monkeypatch, seed=7)

    def killed_build():
        _replace_doing(lambda: os._exit(9), killed_at)
        build(root, out, TODAY)

    assert _in_child(killed_build) == (9 if killed_at <= 5 else 0)
    # The edit undone: the site must be the first one again, not "up to date" with the
    # edited pages, nor made from a manifest of another folder.
    notice.write_text(original, encoding="utf-8")
    build(root, out, TODAY)
    assert tree_bytes(out) == clean_build(root, tmp_path, TODAY, monkeypatch)


def test_a_signal_while_the_site_is_swapped_waits_until_it_is_done(tmp_path, monkeypatch):
    root, out, _, _ = built_then_edited(tmp_path, monkeypatch, seed=8)

    def stopped_build():
        cli.stop_like_ctrl_c()
        _replace_doing(lambda: os.kill(os.getpid(), signal.SIGTERM), 3)  # between the two folders' moves
        build(root, out, TODAY)

    assert _in_child(stopped_build) == 128 + signal.SIGTERM
    assert tree_bytes(out) == clean_build(root, tmp_path, TODAY, monkeypatch)  # the edited site, whole
    assert not any(p.name.startswith(".out.building-") for p in tmp_path.iterdir())
