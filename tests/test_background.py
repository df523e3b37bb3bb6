"""Features written beside the page rendering, in a forked process (generator/background.py)."""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, clean_build, retitle, tree_bytes
from generator import background
from generator.build import build
from generator.errors import BuildError, ContentError, Problem
from generator.plugins import Plugin, default_plugins

sys.path.insert(0, str(REPO / "bench"))
from corpus import generate  # noqa: E402

TODAY = dt.date(2026, 11, 22)


@pytest.fixture
def forked(monkeypatch) -> list[str]:
    """Every background start, by plugin name ("search:ahead" for a process started before
    the content is loaded, background.Ahead; "search:cancelled" when it was not wanted after
    all); the small test sites take the forked path."""
    started: list[str] = []
    real = background.Beside.__init__
    real_ahead, real_cancel = background.Ahead.__init__, background.Ahead.cancel

    def counting(self, plugins, *args):
        started.extend(plugin.name for plugin in plugins)
        real(self, plugins, *args)

    def ahead(self, plugin, *args):
        started.append(f"{plugin.name}:ahead")
        real_ahead(self, plugin, *args)

    def cancel(self):
        started.append(f"{self.plugin.name}:cancelled")
        real_cancel(self)

    monkeypatch.setattr(background.Beside, "__init__", counting)
    monkeypatch.setattr(background.Ahead, "__init__", ahead)
    monkeypatch.setattr(background.Ahead, "cancel", cancel)
    monkeypatch.setattr(background, "MIN_PAGES", 1)
    monkeypatch.setenv("GONGSHI_JOBS", "2")
    return started


@pytest.mark.parametrize("jobs", ["2", "4"])  # the three features in one process; in three
def test_search_open_data_and_supervision_written_beside_give_the_same_site(tmp_path, monkeypatch, forked, jobs):
    monkeypatch.setenv("GONGSHI_JOBS", jobs)
    root = generate(tmp_path / "site", notices=60, villages=6, seed=3)
    with monkeypatch.context() as m:
        m.setenv("GONGSHI_JOBS", "1")
        single = clean_build(root, tmp_path / "single", TODAY, m)
    assert forked == []
    out = tmp_path / "out"
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    assert tree_bytes(build(root, out, TODAY).out_dir) == single
    assert sorted(forked) == ["funds", "search", "supervision"]
    # An incremental rebuild after an edit, features again in their processes: the bytes of
    # a clean one-process build of the edited content.
    notice = sorted((root / "content" / "notices").rglob("*.yaml"))[3]
    retitle(notice, "更正 ")
    from generator import leakgate

    here: list[str] = []  # what the gate read in this process (the features' processes read theirs)
    real_leaks = leakgate.Rules.leaks
    monkeypatch.setattr(leakgate.Rules, "leaks", lambda self, site_dir, files, **kw: (here.extend(files), real_leaks(self, site_dir, files, **kw))[1])
    result = build(root, out, TODAY)
    # The search index was made in a process started before the content was loaded; the
    # files it changed are written, and read by the gate, in this one.
    assert forked.count("search") == 1 and forked.count("search:ahead") == 1 and "search:cancelled" not in forked
    assert here and not [path for path in here if path.startswith(("data/", "supervision"))]
    assert [path for path in here if path.startswith("search/")]
    with monkeypatch.context() as m:
        m.setenv("GONGSHI_JOBS", "1")
        assert tree_bytes(result.out_dir) == clean_build(root, tmp_path / "single2", TODAY, m)
    # Their times are reported as stages; the manifest lists their files for the next build.
    assert {"search", "funds", "supervision"} <= {key for key, _ in result.timings}
    assert build(root, out, TODAY).files == 0  # nothing changed: up to date, nothing written


def test_after_an_edit_the_search_index_starts_before_the_page_keys(tmp_path, monkeypatch, forked):
    """The search index reads neither the page keys nor the renderer: after an edit its process
    starts before the other features are prepared ("prepare": their on_site) and the keys are
    made; after a larger change (the theme, or many files) the features keep to the processes
    `groups` gives. The site is the same bytes either way."""
    from generator import build as build_module
    from generator.funds import FundsPlugin

    real_keys = build_module.assign_keys
    monkeypatch.setattr(build_module, "assign_keys", lambda *args: (forked.append("keys"), real_keys(*args))[1])
    real_prepare = FundsPlugin.on_site
    monkeypatch.setattr(FundsPlugin, "on_site", lambda self, *args: (forked.append("prepare"), real_prepare(self, *args))[1])
    root = generate(tmp_path / "site", notices=60, villages=6, seed=5)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    build(root, out, TODAY)
    after_keys = ["prepare", "keys", "funds", "supervision", "search"]  # one process, started after the keys
    assert forked == after_keys
    notices = sorted((root / "content" / "notices").rglob("*.yaml"))

    def edit(paths, mark: str) -> None:
        for path in paths:
            retitle(path, mark)

    def rebuilt(mark: str) -> list[str]:
        forked.clear()
        result = build(root, out, TODAY)
        started = list(forked)
        with monkeypatch.context() as m:
            m.setenv("GONGSHI_JOBS", "1")
            assert tree_bytes(result.out_dir) == clean_build(root, tmp_path / mark, TODAY, m)
        return started

    # An edit: the search index is made in a process started before the content is loaded.
    edit(notices[2:3], "更正")
    assert rebuilt("one") == ["search:ahead", "prepare", "keys", "funds", "supervision"]
    edit(notices[:background.EDIT_ENTRIES // 2 + 1], "再改")  # more entries came and went than an edit's
    assert rebuilt("many") == ["search:ahead", "search:cancelled", *after_keys]
    edit(notices[5:6], "三改")
    assert rebuilt("again") == ["search:ahead", "prepare", "keys", "funds", "supervision"]
    # Without the last build's index (a CI runner's empty folder), it is made in a process
    # forked before the page keys.
    shutil.rmtree(out / "search")
    edit(notices[4:5], "又改")
    assert rebuilt("no index") == ["search", "prepare", "keys", "funds", "supervision"]
    css = root / "themes" / "default" / "static" / "extra.css"
    css.parent.mkdir(parents=True, exist_ok=True)
    css.write_text("p { margin: 0 }\n", encoding="utf-8")  # a theme file: every page's base key
    edit(notices[6:7], "四改")
    assert rebuilt("theme") == ["search:ahead", "search:cancelled", *after_keys]


def test_a_search_page_made_of_other_features_globals_after_an_edit(tmp_path, monkeypatch, forked):
    """The search index starts before the other features are prepared, but its page is
    rendered in the build's process (SearchPlugin.on_written), where a theme can use any
    feature's globals: here the county's fund total, which the funds feature provides."""
    from generator.render import BUILTIN_THEMES

    root = generate(tmp_path / "site", notices=60, villages=6, seed=9)
    builtin = next(base / "default" / "templates" / "search.html" for base in BUILTIN_THEMES if (base / "default").is_dir())
    template = root / "themes" / "default" / "templates" / "search.html"
    template.parent.mkdir(parents=True, exist_ok=True)
    text = builtin.read_text(encoding="utf-8")
    assert '<h1 id="search-h">' in text
    template.write_text(text.replace('<h1 id="search-h">', '<p id="funds-total">{{ funds_rollups.county.total }}</p>\n<h1 id="search-h">', 1),
                        encoding="utf-8")
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    build(root, out, TODAY)
    notice = sorted((root / "content" / "notices").rglob("*.yaml"))[4]
    retitle(notice, "更正 ")
    forked.clear()
    result = build(root, out, TODAY)
    assert forked[0] == "search:ahead"  # started first: before the funds feature set its globals
    assert '<p id="funds-total">' in (out / "search.html").read_text(encoding="utf-8")
    with monkeypatch.context() as m:
        m.setenv("GONGSHI_JOBS", "1")
        assert tree_bytes(result.out_dir) == clean_build(root, tmp_path / "single", TODAY, m)


class Handing(Plugin):
    """A feature whose on_write hands a value to its on_written, wherever on_write ran."""

    name = "search"  # a stage name with a catalog entry
    background = True
    needs_page_keys = False
    needs_renderer = False

    def on_write(self, site, context, output, advance) -> dict:
        return {"pid": os.getpid(), "renderer": context.renderer is not None, "notices": len(site.notices)}

    def on_written(self, site, context, output, value: dict) -> None:
        assert context.renderer is not None
        handed = {"notices": value["notices"], "renderer": value["renderer"], "here": value["pid"] == os.getpid()}
        output.write_text("handed.json", json.dumps(handed, sort_keys=True), "handing feature")


def test_what_on_write_returns_reaches_on_written_in_the_build_process(tmp_path, monkeypatch, forked):
    root = generate(tmp_path / "site", notices=30, villages=3, seed=2)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"

    def built(jobs: str) -> dict:
        monkeypatch.setenv("GONGSHI_JOBS", jobs)
        forked.clear()
        result = build(root, out, TODAY, plugins=[p for p in default_plugins() if p.name != "search"] + [Handing()])
        return json.loads((result.out_dir / "handed.json").read_text(encoding="utf-8"))

    here = built("1")  # here, in order: the renderer is made by then
    count = here["notices"]
    assert here == {"here": True, "notices": count, "renderer": True} and count > 20 and forked == []
    notice = sorted((root / "content" / "notices").rglob("*.yaml"))[2]
    retitle(notice, "更正 ")
    # An edit: the feature's process starts first, before the renderer is made.
    assert built("2") == {"here": False, "notices": count, "renderer": False} and forked[0] == "search"
    shutil.rmtree(out)
    shutil.rmtree(tmp_path / "cache")  # a cold build: in the features' process, after the renderer
    assert built("2") == {"here": False, "notices": count, "renderer": True} and "search" in forked


def saving(name: str, out: Path, saved: Path, at_once: bool = False) -> Plugin:
    """A background feature called `name` (a stage with a catalog entry) that writes a file and
    defers saving its cache, which notes whether the new site was in `out` by then."""

    class Saving(Plugin):
        background = True
        saves_at_once = at_once

        def on_write(self, site, context, output, advance) -> None:
            output.write_text("feature.txt", "made\n", "a feature")
            context.defer(lambda: saved.write_text(str((out / "feature.txt").is_file()), encoding="utf-8"))

    Saving.name = name
    return Saving()


def appeared(path: Path, seconds: float) -> bool:
    """Whether `path` is there within `seconds` (a feature's process saving its cache)."""
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return path.exists()


def test_the_features_save_their_caches_once_the_site_is_published(tmp_path, monkeypatch, forked):
    """A feature's process saves its cache (what it defers) after the swap, not beside the
    leak gate and the swap (sharing the cores and the memory with them); processes forked
    after it (the other features', the rendering's workers) do not hold it back."""
    root = generate(tmp_path / "site", notices=20, villages=2, seed=4)
    out = tmp_path / "out"
    saved = tmp_path / "saved"

    sleepers: list[int] = []

    class Forking(Plugin):  # forks a process that outlives the build (as the remover of an old site does)
        name = "qr"

        def on_write(self, site, context, output, advance) -> None:
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            sleepers.append(pid)

    plugins = [saving("search", out, saved) if p.name == "search" else Forking() if p.name == "qr" else p for p in default_plugins()]
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GONGSHI_JOBS", "4")  # a process per feature: two are forked after this one

    def held_back(signum, frame):
        raise TimeoutError("a feature's process waited for a process that only inherited its go pipe")

    before = signal.signal(signal.SIGALRM, held_back)
    signal.alarm(40)  # the forked process sleeps longer
    try:
        build(root, out, TODAY, plugins=plugins)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)
        for pid in sleepers:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
    assert sorted(forked) == ["funds", "search", "supervision"]
    assert saved.read_text(encoding="utf-8") == "True"  # saved once the site was published


class Failing(Plugin):
    """A feature that fails in its process, in one of several ways."""

    name = "search"  # a stage name with a catalog entry
    background = True

    def __init__(self, how: str):
        self.how = how

    def on_write(self, site, context, output, advance) -> None:
        output.write_text("search/extra.json", "{}", "failing feature")
        if self.how == "content":
            raise ContentError([Problem("content/notices/x.yaml", 3, 7, "title", "bad title"), Problem("a.yaml", 1, 1, "", "bad")])
        if self.how == "crash":
            raise ValueError("a bug in a feature")
        if self.how == "collision":
            output.write_text("index.html", "<p>also here</p>", "failing feature")
        if self.how == "leak":  # written by the child, found by the child's scan for the gate
            output.write_text("search/leak.json", '{"x": "身份证 11010519491231002X"}', "failing feature")
        if self.how == "dies":  # the process ends without a word (killed, out of memory)
            os._exit(3)


def _plugins(how: str) -> list[Plugin]:
    return [p for p in default_plugins() if p.name != "search"] + [Failing(how)]


class _FillsUp:
    """A feature process's answer file on a disk that fills up half-way through the answer."""

    def __init__(self, *args, **kwargs):
        self._file = _real_temporary_file(*args, **kwargs)

    def write(self, data: bytes) -> int:
        self._file.write(data[:len(data) // 2])
        self._file.flush()
        raise OSError(28, "No space left on device")

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self._file.__enter__()

    def __exit__(self, *exc):
        return self._file.__exit__(*exc)


_real_temporary_file = background.tempfile.TemporaryFile


@pytest.mark.parametrize("how", ["content", "crash", "collision", "leak", "dies", "disk full"])
def test_an_error_in_a_background_feature_stops_the_build_and_keeps_the_site(tmp_path, monkeypatch, forked, how):
    root = generate(tmp_path / "site", notices=20, villages=2, seed=4)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    out = build(root, tmp_path / "out", TODAY).out_dir
    before = tree_bytes(out)
    notice = sorted((root / "content" / "notices").rglob("*.yaml"))[0]
    retitle(notice, "改 ")
    expected = {"content": ContentError, "crash": RuntimeError, "collision": BuildError, "leak": BuildError,
                "dies": BuildError, "disk full": BuildError}[how]
    if how == "disk full":
        monkeypatch.setattr(background.tempfile, "TemporaryFile", _FillsUp)
    with pytest.raises(expected) as err:
        build(root, out, TODAY, plugins=_plugins(how))
    assert "search" in forked
    if how == "content":  # the problems themselves come back, in order, for the clerk
        assert [str(p) for p in err.value.problems] == ["a.yaml:1:1: bad", "content/notices/x.yaml:3:7: title: bad title"]
    elif how == "crash":
        assert str(err.value).splitlines()[-1] == "ValueError: a bug in a feature"
    elif how == "collision":
        assert "two pages map to index.html" in str(err.value)
    elif how in ("dies", "disk full"):
        assert "search stage stopped without a result" in str(err.value)
    else:
        assert str(err.value).splitlines()[1].startswith("search/leak.json:1:")
    assert tree_bytes(out) == before
    assert not [p for p in os.listdir(out.parent) if ".building-" in p or ".old-" in p]


def test_a_failure_elsewhere_stops_the_background_processes(tmp_path, monkeypatch, forked):
    root = generate(tmp_path / "site", notices=20, villages=2, seed=4)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    cancelled: list[int] = []
    real_cancel = background.Beside.cancel
    monkeypatch.setattr(background.Beside, "cancel", lambda self: (cancelled.append(self.pid), real_cancel(self)))

    class Broken(Plugin):
        name = "qr"

        def on_write(self, site, context, output, advance) -> None:
            raise BuildError("the foreground feature failed")

    plugins = [p for p in default_plugins() if p.name != "qr"]
    plugins.insert(0, Broken())  # before the background features are joined
    with pytest.raises(BuildError, match="the foreground feature failed"):
        build(root, tmp_path / "out", TODAY, plugins=plugins)
    assert len(cancelled) == len(background.groups(["search", "funds", "supervision"])) == 1  # on 2 cores
    for pid in cancelled:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, 0)  # reaped: no process left behind


def test_one_process_for_the_features_per_core_beyond_the_first(monkeypatch):
    features = ["search", "funds", "supervision"]
    expected = {"2": [features], "3": [["search", "supervision"], ["funds"]], "4": [["search"], ["funds"], ["supervision"]],
                "16": [["search"], ["funds"], ["supervision"]]}
    for jobs, grouped in expected.items():
        monkeypatch.setenv("GONGSHI_JOBS", jobs)
        assert background.groups(features) == grouped
    assert background.groups([]) == []
    # After an edit (few pages rendered anew), one process per feature, whatever the cores.
    monkeypatch.setenv("GONGSHI_JOBS", "2")
    assert background.groups(features, background.MIN_PAGES - 1) == [["search"], ["funds"], ["supervision"]]
    assert background.groups(features, background.MIN_PAGES) == [features]


def test_small_sites_and_one_core_run_every_feature_here(monkeypatch):
    monkeypatch.setenv("GONGSHI_JOBS", "2")
    assert background.wanted(background.MIN_PAGES) and not background.wanted(background.MIN_PAGES - 1)
    monkeypatch.setenv("GONGSHI_JOBS", "1")
    assert not background.wanted(100_000)


def test_a_feature_whose_process_cannot_start_is_written_here(tmp_path, monkeypatch, forked):
    root = generate(tmp_path / "site", notices=20, villages=2, seed=4)
    with monkeypatch.context() as m:
        m.setenv("GONGSHI_JOBS", "1")
        single = clean_build(root, tmp_path / "single", TODAY, m)

    def no_fork():
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(background.os, "fork", no_fork)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    assert tree_bytes(build(root, tmp_path / "out", TODAY).out_dir) == single
    assert sorted(forked) == ["funds", "search", "supervision"]  # each was tried


def test_what_is_written_here_is_scanned_for_the_gate_while_the_features_finish(tmp_path, monkeypatch, forked):
    from generator import leakgate

    root = generate(tmp_path / "site", notices=20, villages=2, seed=4)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    out = build(root, tmp_path / "out", TODAY).out_dir
    before = tree_bytes(out)
    events: list = []
    real_leaks, real_join = leakgate.Rules.leaks, background.Beside.join
    monkeypatch.setattr(leakgate.Rules, "leaks", lambda self, site_dir, files, **kw: (events.append(("scan", set(files))), real_leaks(self, site_dir, files, **kw))[1])
    monkeypatch.setattr(background.Beside, "join", lambda self, output: (events.append(("join", None)), real_join(self, output))[1])

    class Leaking(Plugin):  # a feature written in the build's own process
        name = "qr"

        def on_write(self, site, context, output, advance) -> None:
            output.write_text("leak.html", "<p>电话 13812345678</p>", "leaking feature")

    plugins = [p if p.name != "qr" else Leaking() for p in default_plugins()]
    notice = sorted((root / "content" / "notices").rglob("*.yaml"))[0]
    retitle(notice, "改 ")
    with pytest.raises(BuildError) as err:
        build(root, out, TODAY, plugins=plugins)
    assert str(err.value).splitlines()[1].startswith("leak.html:1:")
    # Scanned before the features' processes were waited for; not read a second time.
    scans = [at for at, (what, files) in enumerate(events) if what == "scan" and "leak.html" in files]
    assert len(scans) == 1 and scans[0] < events.index(("join", None))
    assert tree_bytes(out) == before


def logging_scans(monkeypatch, log: Path) -> None:
    """Every file the leak gate scans, from now on, noted in `log` as "pid path" lines, and
    every batch scanned in slices, one per process the gate may use."""
    from generator import leakcheck, leakgate

    real_scan = leakcheck.scan_site

    def logged(site_dir, *, only=None, **options):
        with open(log, "a", encoding="utf-8") as out:
            out.writelines(f"{os.getpid()} {path}\n" for path in only or ())
        return real_scan(site_dir, only=only, **options)

    monkeypatch.setattr(leakcheck, "scan_site", logged)
    monkeypatch.setattr(leakgate, "PARALLEL_FILES", 1)
    monkeypatch.setattr(leakgate, "SPLIT_FILES", 1)


def test_a_features_process_scans_its_files_on_every_core(tmp_path, monkeypatch, forked):
    """A feature's process runs its feature alone (GONGSHI_JOBS=1 there), yet scans a large
    batch of its files in slices on every core: it does so last, while the build waits."""
    log = tmp_path / "scans.log"
    logging_scans(monkeypatch, log)
    root = generate(tmp_path / "site", notices=20, villages=2, seed=4)
    with monkeypatch.context() as m:
        m.setenv("GONGSHI_JOBS", "1")
        single = clean_build(root, tmp_path / "single", TODAY, m)
    log.unlink()
    assert tree_bytes(build(root, tmp_path / "out", TODAY).out_dir) == single
    scanned = [line.split(" ", 1) for line in log.read_text(encoding="utf-8").splitlines()]
    search = {pid for pid, path in scanned if path.startswith("search/")}  # the search feature's files
    assert len(search) == 2 and os.getpid() not in {int(pid) for pid in search}
    assert sorted(path for _, path in scanned) == sorted(set(path for _, path in scanned))  # each file read once


def test_while_the_features_processes_run_the_build_scans_its_files_on_the_cores_they_leave(tmp_path, monkeypatch, forked):
    """The gate reads the files written in the build's own process while the features'
    processes finish: on two cores, one of them busy with the features, in this process
    alone (a worker more would share a core and hold its own copy of what it touches)."""
    log = tmp_path / "scans.log"
    logging_scans(monkeypatch, log)
    monkeypatch.setattr(background.Beside, "answered", lambda self: False)  # (still working throughout)
    monkeypatch.setenv("GONGSHI_JOBS", "2")
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    root = generate(tmp_path / "site", notices=20, villages=2, seed=4)
    build(root, tmp_path / "out", TODAY)
    assert forked  # (a feature's process ran)
    scanned = [line.split(" ", 1) for line in log.read_text(encoding="utf-8").splitlines()]
    pages = {int(pid) for pid, path in scanned if path.startswith(("notices/", "villages/", "posters/"))}
    assert pages == {os.getpid()}
    assert {int(pid) for pid, path in scanned if path.startswith("search/")} - {os.getpid()}  # (the feature's own)


def test_once_the_features_processes_have_answered_the_build_reads_the_rest_of_its_files_on_every_core(tmp_path, monkeypatch, forked):
    """A large batch is read in parts, each on the cores free when it starts: the first
    while the features' process works, in this process alone; the rest, once it has
    answered, on both cores. The site is the same bytes as a build in one process."""
    log = tmp_path / "scans.log"
    logging_scans(monkeypatch, log)
    asked = []
    monkeypatch.setattr(background.Beside, "answered", lambda self: len(asked.append(1) or asked) > 1)  # (busy for the first part)
    monkeypatch.setenv("GONGSHI_JOBS", "2")
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    root = generate(tmp_path / "site", notices=20, villages=2, seed=4)
    result = build(root, tmp_path / "out", TODAY)
    assert forked and len(asked) == 2  # (the first part, then the rest at once)
    scanned = [line.split(" ", 1) for line in log.read_text(encoding="utf-8").splitlines()]
    pages = [(int(pid), path) for pid, path in scanned if path.startswith(("notices/", "villages/", "posters/"))]
    here = [path for pid, path in pages if pid == os.getpid()]
    elsewhere = [path for pid, path in pages if pid != os.getpid()]
    assert here and elsewhere  # (the rest on both cores: this process and a worker)
    with monkeypatch.context() as m:
        m.setenv("GONGSHI_JOBS", "1")
        assert tree_bytes(result.out_dir) == clean_build(root, tmp_path / "single", TODAY, m)


def test_on_the_one_core_the_features_leave_the_build_reads_its_files_in_small_parts(tmp_path, monkeypatch, forked):
    """While the features' processes leave this process one core, it reads its files a few
    at a time (`build.ALONE_PART`), so that a core they free is used a part later, not an
    eighth of the site later. Every file is read once, and the site is the same bytes."""
    from generator import build as build_module
    from generator import leakgate

    log = tmp_path / "scans.log"
    logging_scans(monkeypatch, log)
    monkeypatch.setattr(build_module, "ALONE_PART", 3)
    monkeypatch.setattr(background.Beside, "answered", lambda self: False)  # (still working throughout)
    parts = []
    real_check = leakgate.Rules.check
    monkeypatch.setattr(leakgate.Rules, "check", lambda self, site_dir, written, reused, busy=0: (
        parts.append((len(written), busy)), real_check(self, site_dir, written, reused, busy))[1])
    monkeypatch.setenv("GONGSHI_JOBS", "2")
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    root = generate(tmp_path / "site", notices=20, villages=2, seed=4)
    result = build(root, tmp_path / "out", TODAY)
    assert forked
    early = [size for size, busy in parts if busy]
    assert len(early) > 8 and max(early) <= 5  # (a last part of up to twice the size)
    scanned = [line.split(" ", 1)[1] for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(scanned) == len(set(scanned))
    with monkeypatch.context() as m:
        m.setenv("GONGSHI_JOBS", "1")
        assert tree_bytes(result.out_dir) == clean_build(root, tmp_path / "single", TODAY, m)


def test_a_feature_whose_cache_is_small_saves_it_without_waiting_for_the_site_to_be_published(tmp_path, monkeypatch, forked):
    """`Plugin.saves_at_once`: the feature's process saves its cache once it has answered, and
    leaves, instead of holding its memory while the build runs the gate and the swap. Here
    the build, before it lets any feature's process go, waits until the cache is saved."""
    root = generate(tmp_path / "site", notices=20, villages=2, seed=4)
    out = tmp_path / "out"
    saved = tmp_path / "saved"

    real_let_go = background.Beside.let_go

    def let_go(self) -> None:
        if "funds" in self.names:
            appeared(saved, 30)
        real_let_go(self)

    monkeypatch.setattr(background.Beside, "let_go", let_go)
    plugins = [saving("funds", out, saved, at_once=True) if p.name == "funds" else p for p in default_plugins()]
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GONGSHI_JOBS", "4")
    build(root, out, TODAY, plugins=plugins)
    assert "funds" in forked
    assert saved.read_text(encoding="utf-8") == "False"  # saved before the new site was swapped in


def test_a_feature_that_wrote_many_files_leaves_before_the_build_reads_its_answer(tmp_path, monkeypatch, forked):
    """A feature's answer (the files it wrote, their keys and checksums) can be far larger than
    a pipe holds. The process still saves its cache and leaves once it has answered
    (`saves_at_once`), without waiting for the build to come and read the answer, which is
    after the rendering: the build here waits, before it reads, until the cache is saved."""
    root = generate(tmp_path / "site", notices=20, villages=2, seed=4)
    out = tmp_path / "out"
    saved = tmp_path / "saved"
    count = 2000  # about 300 kB of answer: paths, what they are made from, checksums

    class Many(Plugin):
        name = "funds"
        background = True
        saves_at_once = True

        def on_write(self, site, context, output, advance) -> None:
            for number in range(count):
                output.write_text(f"data/many/{number:05d}.txt", f"{number}\n", f"a feature's file {number}")
            context.defer(lambda: saved.write_text("saved", encoding="utf-8"))

    real_join = background.Beside.join
    before_reading = []  # whether the cache was saved before the build read the answer

    def join(self, output):
        if "funds" in self.names:
            before_reading.append(appeared(saved, 10))
        return real_join(self, output)

    monkeypatch.setattr(background.Beside, "join", join)
    plugins = [Many() if p.name == "funds" else p for p in default_plugins()]
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GONGSHI_JOBS", "4")
    build(root, out, TODAY, plugins=plugins)
    assert "funds" in forked
    assert before_reading == [True]
    assert sorted(p.name for p in (out / "data" / "many").iterdir()) == [f"{n:05d}.txt" for n in range(count)]


# -- the search index made in a process started before the content is loaded (background.Ahead) --

def _edited_twice(root: Path, out: Path, tmp_path: Path, monkeypatch, forked: list[str]) -> list[list[str]]:
    """Two edits rebuilt one after the other, each compared with a clean one-process build;
    returns what each started."""
    notices = sorted((root / "content" / "notices").rglob("*.yaml"))
    starts = []
    for number, notice in enumerate(notices[3:5]):
        retitle(notice, f"更正{number} ")
        forked.clear()
        result = build(root, out, TODAY)
        starts.append(list(forked))
        with monkeypatch.context() as m:
            m.setenv("GONGSHI_JOBS", "1")
            assert tree_bytes(result.out_dir) == clean_build(root, tmp_path / f"single{number}", TODAY, m)
    return starts


def test_after_an_edit_the_search_index_comes_from_a_process_started_before_the_content_is_loaded(tmp_path, monkeypatch, forked):
    """Its files are those a build from nothing makes, and so is the state it saves for the
    next edit; the build's process does not make the index (its on_write is not called)."""
    from generator.search import SearchPlugin

    root = generate(tmp_path / "site", notices=60, villages=6, seed=11)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    build(root, out, TODAY)
    pid = os.getpid()
    real = SearchPlugin.on_write
    here = []
    monkeypatch.setattr(SearchPlugin, "on_write",
                        lambda self, *args: (here.append((os.getpid() == pid, os.environ["GONGSHI_JOBS"])), real(self, *args))[1])
    starts = _edited_twice(root, out, tmp_path, monkeypatch, forked)
    assert starts == [["search:ahead", "funds", "supervision"]] * 2
    assert here == [(True, "1")] * 2  # (the clean builds, in one process)


@pytest.mark.parametrize("answered", ["yes", "not yet", "failed"])
def test_the_search_files_made_ahead_are_written_while_the_other_features_finish(tmp_path, monkeypatch, forked, answered):
    """After an edit the search index's process (started before the content was loaded) has
    usually answered when the pages are rendered: its files are written then, while the
    open-data and supervision processes finish, not after waiting for them. A process that
    has not answered yet is waited for after them, and the index of one that failed is made
    here after them too (beside them it would hold more memory at once). The site is the
    same either way."""
    import select

    from generator.search import SearchPlugin

    root = generate(tmp_path / "site", notices=40, villages=4, seed=12)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    build(root, out, TODAY)
    events: list[str] = []
    real_write, real_on_write, real_join = SearchPlugin.write_ahead, SearchPlugin.on_write, background.Beside.join
    monkeypatch.setattr(SearchPlugin, "write_ahead", lambda self, *args: (events.append("search written"), real_write(self, *args))[1])
    monkeypatch.setattr(SearchPlugin, "on_write", lambda self, *args: (events.append("search made here"), real_on_write(self, *args))[1])
    monkeypatch.setattr(background.Beside, "join", lambda self, output: (events.append("joined"), real_join(self, output))[1])

    def has_answered(self) -> bool:  # (at once, or after its child has answered: not left to timing)
        return answered != "not yet" and (self._read is None or bool(select.select([self._read], [], [])[0]))

    monkeypatch.setattr(background.Ahead, "answered", has_answered)
    if answered == "failed":
        def failing(self, *args):
            raise RuntimeError("the search index's process failed")

        monkeypatch.setattr(SearchPlugin, "ahead_files", failing)  # (in the forked process)
    retitle(sorted((root / "content" / "notices").rglob("*.yaml"))[3], "更正 ")
    build(root, out, TODAY)
    started = ["search:ahead", "funds", "supervision"] + (["search:cancelled"] if answered == "failed" else [])
    assert forked[-len(started):] == started
    joins = ["joined"] * events.count("joined")
    assert joins and events == {"yes": ["search written", *joins], "not yet": [*joins, "search written"],
                                "failed": [*joins, "search made here"]}[answered]
    with monkeypatch.context() as m:
        assert tree_bytes(out) == clean_build(root, tmp_path / "clean", TODAY, m)


@pytest.mark.parametrize("how", ["file gone", "crash", "saved meanwhile"])
def test_when_the_ahead_process_cannot_be_used_the_index_is_made_here(tmp_path, monkeypatch, forked, how):
    """A file of the last build's index gone from the folder (it cannot be linked), the
    process failing, or the edited file saved again after it read it and before this
    process did: the index is made in this process, and is what a build from nothing makes.
    (Files that did not change since they were hashed are read from the parse cache, by
    that hash, in both processes.)"""
    from generator import content as content_module
    from generator.search import SearchPlugin

    root = generate(tmp_path / "site", notices=60, villages=6, seed=13)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    build(root, out, TODAY)
    notices = sorted((root / "content" / "notices").rglob("*.yaml"))
    if how == "file gone":
        shards = sorted((out / "search" / "r").glob("*.js"))
        assert shards
        shards[-1].unlink()
    elif how == "crash":
        monkeypatch.setattr(SearchPlugin, "ahead_files", lambda self, *args: 1 / 0)
    else:  # the ahead process loads first; the build's process finds the notice saved again
        real_load = content_module.load_content
        saved = []

        def load(root, cache_dir=None, **kw):
            if kw.get("save") is not False and not saved:  # (the build's process, once)
                time.sleep(0.5)  # (the ahead process has read the notice by then)
                retitle(notices[2], "又改 ")
                saved.append(True)
            return real_load(root, cache_dir, **kw)

        monkeypatch.setattr(content_module, "load_content", load)
        monkeypatch.setattr("generator.build.load_content", load)
    retitle(notices[2], "更正 ")
    forked.clear()
    result = build(root, out, TODAY)
    assert forked == ["search:ahead", "funds", "supervision", "search:cancelled"]
    with monkeypatch.context() as m:
        m.setenv("GONGSHI_JOBS", "1")
        assert tree_bytes(result.out_dir) == clean_build(root, tmp_path / "single", TODAY, m)


def test_a_content_error_stops_the_ahead_process(tmp_path, monkeypatch, forked):
    root = generate(tmp_path / "site", notices=60, villages=6, seed=17)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    build(root, out, TODAY)
    before = tree_bytes(out)
    notice = sorted((root / "content" / "notices").rglob("*.yaml"))[1]
    notice.write_text(notice.read_text(encoding="utf-8").replace("title:", "title: [", 1), encoding="utf-8")
    forked.clear()
    with pytest.raises(ContentError):
        build(root, out, TODAY)
    assert forked == ["search:ahead", "search:cancelled"]
    assert tree_bytes(out) == before
