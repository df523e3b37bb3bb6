"""Features that write their files beside the page rendering, in a forked process.

After the model is built and every page has its key, some features' `on_write` depends only
on the model and the renderer, not on the pages being rendered first: the search index, the
open-data files and the supervision lists (`Plugin.background = True`). On a large site each is seconds of one
core's work, and after a one-notice edit they are most of the rebuild. So they start in
child processes forked before the rendering (each inherits the model, the renderer and the
output folder without copying or pickling them), and write their files into the same
temporary folder. A child runs a group of them, one after the other: in a full build one
group per core beyond the first, in a rebuild after an edit one per feature (`groups`).
After an edit, those that read neither the page keys (`Plugin.needs_page_keys`) nor the
renderer (`Plugin.needs_renderer`) start first (`start_early`, `first`): the search index,
the rebuild's longest part, whose page is rendered here by its `on_written`. They are forked
before the other features' `on_site` and the keys, which this process makes meanwhile.
The build takes their results back at the point where the feature would have run: which
files each wrote (and their keys and checksums, for the manifest), what its `on_write`
returned (for its `on_written`), or the error it raised,
which stops the build exactly as if it had been raised here. Each child also scans the files
it wrote for the leak gate (its findings join the gate's report, in the same order), so
the gate's last step reads only what this process wrote. What it defers (saving its cache
for the next build) it does once the site is published (`Beside.let_go`), or, for features
whose caches are small (`Plugin.saves_at_once`), as soon as it has answered: it then leaves,
and its memory is free while the build renders, runs the gate and the swap (its answer, the
files it wrote, waits in a file of its own until the build reads it). The files are the
same bytes as when the feature runs in this process (tests/test_background.py).

After an edit, the search index goes further (`Ahead`): its process is forked before the
content is loaded, loads the content and the index's state on the core this process leaves
idle meanwhile, and hands back the texts of the files the edit changed, which the build
writes (`Plugin.write_ahead`).

Small sites, one-core machines, platforms without `fork` and `GONGSHI_JOBS=1` run every
feature here, in order.
"""
from __future__ import annotations

import gc
import os
import pickle
import tempfile
import time
import traceback
from pathlib import Path

from .errors import BuildError, GongshiError
from .inputs import fork_with_pipe, release_streams
from .parallel import workers

#: Below this many pages, a process costs more than it saves.
MIN_PAGES = 300


#: At most this many parse-cache entries came or went since the last build (content.py; an
#: edited file counts two, its old and its new version): a clerk's commit, whose rebuild
#: renders a few pages again, not hundreds.
EDIT_ENTRIES = 40


def wanted(pages: int) -> bool:
    return hasattr(os, "fork") and workers() > 1 and pages >= MIN_PAGES


def first(plugins: list) -> list:
    """The features that may start before the others are prepared and the page keys made."""
    return [plugin for plugin in plugins if plugin.background and not plugin.needs_page_keys and not plugin.needs_renderer]


def start_early(pages: int, edit: bool) -> bool:
    """Whether the features `first` gives start before the others are prepared.

    Only after an edit (`edit`: the content changed by at most `EDIT_ENTRIES`, with the theme,
    config, date and tool of the last build): the rebuild then renders a few pages, and its
    features run a process each anyway (`groups`). A larger rebuild keeps them in the
    processes `groups` gives, sharing one, so they do not hold more memory at once."""
    return edit and wanted(pages)


def groups(plugins: list, rendered: int | None = None) -> list[list]:
    """The background features split between processes.

    When a large part of the site is rendered anew (`rendered` pages, None: all), one group
    per core beyond the first: the rendering keeps the cores busy, and each process more
    holds its own copy of the part of the model it touches. When few pages are (below
    `MIN_PAGES`: after an edit), a process per feature: they are then most of the rebuild's
    time, and touch little of the model.
    """
    count = len(plugins)
    if rendered is None or rendered >= MIN_PAGES:
        count = min(count, max(1, workers() - 1))
    return [plugins[start::count] for start in range(count)] if plugins else []


_detached: list[int] = []  # children of earlier builds still saving, or not yet collected

# The write ends of the children's "go" pipes: a child saves its caches once the build closes
# its end (`Beside.let_go`: the site is published), or exits. Only the build's own process
# holds them: every process forked from it closes its copies at once (the other features'
# processes, the rendering's workers, the remover of an old site), else a child would wait
# for the longest-lived of them.
_go_ends: set[int] = set()


def _close_go_ends() -> None:
    for fd in _go_ends:
        try:
            os.close(fd)
        except OSError:
            pass
    _go_ends.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_go_ends)


def leave(pid: int) -> None:
    """A child that saves a cache once this build has returned (it holds the build lock until
    it is done): `reap` collects it."""
    _detached.append(pid)


def reap() -> None:
    """Collect the children earlier builds in this process detached (a dev server builds many
    times) once they have exited; never waits."""
    for pid in list(_detached):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _detached.remove(pid)


class _Child:
    """A child process that answers once, into a file of its own (`_fork`, `_answer_of`), and
    saves what it defers once the site is published (`let_go`) or at once (`saves_at_once`)."""

    names = ""
    pid: int | None = None
    _read: int | None = None
    _go: int | None = None

    def _fork(self, work, saves_at_once: bool) -> None:
        """Fork the child, which runs `work()` -> (its answer, the jobs it defers)."""
        # The child's answer goes to a file of its own, not down the pipe: an answer larger
        # than the pipe holds (the files a feature wrote: thousands of paths) would keep the
        # child, and all the memory it holds, waiting until this process reads it, which is
        # after the rendering. The pipe's end (the child closes it) says the answer is there.
        self._answer = tempfile.TemporaryFile(prefix="gongshi-answer-")
        go_read, self._go = os.pipe()
        _go_ends.add(self._go)  # (closed in the child by _close_go_ends)
        try:
            pid, read, write = fork_with_pipe()
        except OSError:
            os.close(go_read)
            self.let_go()
            self._answer.close()
            raise
        if pid == 0:  # the child: do the work, send back its answer, leave
            os.close(read)
            _child(write, self._answer, go_read, work, saves_at_once)
        os.close(write)
        os.close(go_read)
        self.pid, self._read = pid, read

    def _answer_of(self):
        """Wait for the child's answer and return it; the child's error is raised here."""
        with os.fdopen(self._read, "rb") as pipe:
            self._read = None
            while pipe.read(1 << 10):  # (nothing comes: the end, once the answer is written)
                pass
        with self._answer as answer:
            answer.seek(0)
            data = answer.read()
        try:
            outcome, payload = pickle.loads(data)
        except Exception:  # noqa: BLE001 - nothing, or part of an answer (its disk filled up): the process died
            _, status = os.waitpid(self.pid, 0)
            self.pid = None
            raise BuildError(f"the {self.names} stage stopped without a result (exit status {status})") from None
        if outcome == "error":
            raise payload
        if outcome == "message":
            raise BuildError(payload)
        if outcome == "crash":  # an unexpected error: its traceback, last line last (cli shows that)
            raise RuntimeError(f"the {self.names} stage failed in its process:\n{payload}")
        return payload

    def answered(self) -> bool:
        """Whether the child has answered (or died): the end of its pipe has come. Never waits."""
        if self._read is None:
            return True
        import select

        return bool(select.select([self._read], [], [], 0)[0])

    def let_go(self) -> None:
        """Let the child save what it defers: it waits for this (the site is published), so
        that its saving (the search index's state: a third of a second, and tens of
        megabytes packed) does not share the cores or the memory with the leak gate and the
        swap."""
        if self._go is not None:
            _go_ends.discard(self._go)
            os.close(self._go)
            self._go = None

    def finish(self) -> None:
        """Let the child save what it defers and wait until it has (once the site is published)."""
        self.let_go()
        if self.pid is not None:
            os.waitpid(self.pid, 0)
            self.pid = None

    def detach(self) -> None:
        """Let the child save what it defers after this build has returned (the site is
        published). It holds the build lock until it is done (buildlock.py); `reap` collects it."""
        self.let_go()
        if self.pid is not None:
            leave(self.pid)
            self.pid = None

    def cancel(self) -> None:
        """The build failed, or does not want the answer: stop the child (its cache files are
        written whole or not at all)."""
        if self.pid is not None:
            try:
                os.kill(self.pid, 9)
            except OSError:
                pass
            self.finish()
        self.let_go()
        if self._read is not None:
            os.close(self._read)
            self._read = None
        self._answer.close()


class Beside(_Child):
    """Some features' `on_write`, one after the other, in a child process from its creation until `join`."""

    def __init__(self, plugins: list, site, context, output, check=None):
        """`check(written, reused)`: (the paths the leak gate must read of those the features
        wrote, their leaks), run in the child once its files are written."""
        self.plugins = plugins
        self.names = ", ".join(plugin.name for plugin in plugins)
        self.checked: list[str] = []  # paths the child scanned for the leak gate
        self.leaks: list = []  # and what it found there
        self.numbers: dict = {}  # and the numbers the files it read met (leakgate.Rules.check)
        self.values: dict = {}  # what each feature's on_write returned, by name (for on_written)
        before = (set(output.written), set(output.keys), set(output.sums), set(output.reused), set(output.from_standby))
        self._fork(lambda: _write_beside(plugins, site, context, output, before, check), all(plugin.saves_at_once for plugin in plugins))

    def join(self, output) -> dict[str, float]:
        """Wait for the child; merge what it wrote into `output`. Returns each feature's
        running time, by name. The child's error is raised here."""
        written, keys, sums, reused, from_standby, seconds, self.values, self.checked, self.leaks, self.numbers = self._answer_of()
        for site_path, made_from in written.items():
            if site_path in output.written:
                raise BuildError(f"two pages map to {site_path}: {output.written[site_path]} and {made_from}")
            output.written[site_path] = made_from
        output.keys.update(keys)
        output.sums.update(sums)
        output.reused.update(reused)
        output.from_standby.update(from_standby)
        return seconds


class Ahead(_Child):
    """A feature's files after an edit, made in a process forked before the content is loaded
    (`Plugin.ahead_possible`, `ahead_files`, `write_ahead`): the search index, a rebuild's longest part. The build's process, which
    until it forks the other features' processes has one core to itself, loads the content
    and builds the model on it; the child loads them too, on the other core, with the
    feature's own state, and makes the files the edit changed. It hands back their texts (and
    which files are the last build's), for the build to write where the feature would have
    written them (`Plugin.write_ahead`), and saves the feature's state once the site is
    published. Started on a guess (`ahead`): the build cancels it when the content turns out
    not to be an edit, and makes the files itself when the child's answer cannot be used."""

    def __init__(self, plugin, root: Path, out_dir: Path, today, cache: Path):
        self.plugin = plugin
        self.names = plugin.name
        self._fork(lambda: _make_ahead(plugin, root, out_dir, today, cache), plugin.saves_at_once)

    def join(self):
        """(the snapshot of the content it loaded (`Content.snapshot`), what
        `Plugin.ahead_files` returned, the seconds it took); the child's error is raised here."""
        return self._answer_of()


def ahead(plugins: list, root: Path, out_dir: Path, today, cache: Path, manifest: Path) -> list[Ahead]:
    """The `Ahead` processes worth starting before the content is loaded: on a large site
    (by its content files, hashed just now) with a last build into `out_dir`, for each
    feature that says it can use what it kept (`Plugin.ahead_possible`)."""
    from .inputs import hashed

    if not wanted(len(hashed(root / "content"))) or not manifest.is_file():
        return []
    started = []
    for plugin in plugins:
        if plugin.background and plugin.ahead_possible(cache, out_dir):
            try:
                started.append(Ahead(plugin, root, out_dir, today, cache))
            except OSError:  # no process to be had: made as usual
                pass
    return started


def _make_ahead(plugin, root: Path, out_dir: Path, today, cache: Path):
    """In an `Ahead` child: load the content (leaving the parse cache to the build, and
    giving up when more than an edit changed), build the model, make the feature's files."""
    from .content import load_content
    from .plugins import BuildContext
    from .site import Site
    from .speed import frozen_heap

    with frozen_heap() as freeze:
        content = load_content(root, cache, save=False, at_most=EDIT_ENTRIES)
        site = Site.from_content(content, today)
        freeze()
        context = BuildContext(root=root, config=content.config, today=today, cache_dir=cache, content=content, edit=True)
        context.deferred = []
        start = time.perf_counter()
        made = plugin.ahead_files(site, context, out_dir)
        return (content.snapshot, made, time.perf_counter() - start), context.deferred


def _write_beside(plugins, site, context, output, before, check):
    """In a `Beside` child: the features' files, and what the build needs of them."""
    context.deferred = []
    seconds, values = {}, {}
    for plugin in plugins:
        start = time.perf_counter()
        values[plugin.name] = plugin.on_write(site, context, output, lambda n=1: None)
        seconds[plugin.name] = time.perf_counter() - start
        # What the feature made (a cold build's search index: millions of objects) lives
        # until this process ends: left out of the collector's full passes from here on
        # (0.6 s of collections in a cold build at 10,000 notices before, 0.2 s after).
        gc.freeze()
    written_before, keys_before, sums_before, reused_before, standby_before = before
    written = {p: m for p, m in output.written.items() if p not in written_before}
    reused = output.reused - reused_before
    checked, leaks, numbers = check(list(written), reused) if check is not None else ([], [], {})
    answer = (
        written,
        {p: k for p, k in output.keys.items() if p not in keys_before},
        {p: s for p, s in output.sums.items() if p not in sums_before},
        reused,
        output.from_standby - standby_before,
        seconds,
        values,
        checked,
        leaks,
        numbers,
    )
    return answer, context.deferred


def _child(write: int, answer, go: int, work, saves_at_once: bool) -> None:
    status = 0
    try:
        # One process is enough: the rendering and the other features have the other cores,
        # and every worker more would hold its own copy of what it changes.
        os.environ["GONGSHI_JOBS"] = "1"
        deferred = []
        try:
            payload, deferred = work()
            result = ("ok", payload)
        except GongshiError as exc:
            result = ("error", exc)
        except BaseException:  # noqa: BLE001 - everything goes back to the build, which reports it
            result = ("crash", traceback.format_exc())
        try:
            data = pickle.dumps(result)
            pickle.loads(data)  # an error whose class cannot be rebuilt from its pickle: its text
        except Exception:  # noqa: BLE001
            data = pickle.dumps(("message", str(result[1])) if result[0] == "error" else ("crash", traceback.format_exc()))
        answer.write(data)
        answer.flush()
        os.close(write)
        # The build has what it needs (it reads the answer once the pipe, closed here, ends)
        # and goes on to check and publish the site; this process saves the feature's cache
        # once it has (the end of `go`), maybe after the command has returned, or at once
        # (`saves_at_once`): then it leaves without waiting for the build to read the answer.
        release_streams()
        if result[0] == "ok":
            if not saves_at_once:
                try:
                    while os.read(go, 1 << 10):
                        pass
                except OSError:
                    pass
            for job in deferred:
                job()
    except BaseException:  # noqa: BLE001
        status = 1
    finally:
        os._exit(status)
