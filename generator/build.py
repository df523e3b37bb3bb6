"""`build()`: load everything into a model, then render and write, in timed stages.

Phase one reads and checks all content and stops with every problem at once; phase two
renders into a temporary folder, runs the leak gate over what was written, and only then
swaps the new site into place, so a failed build never touches the published site.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from . import background
from .buildlock import BuildLock
from .content import PROJECT_FIELDS, load_content, saving
from .i18n import Translator, cli_language
from .inputs import inputs_digest, manifest_path, tool_digest, up_to_date
from .leakgate import Rules
from .media_stage import cache_dir, publish_media
from .output import Output, digest, remove_killed_build
from .plugins import BuildContext, Plugin, default_plugins
from .progress import Progress
from .render import Renderer, theme_dirs
from .speed import frozen_heap, gc_paused
from .site import Site, TownshipPage


@dataclass
class BuildResult:
    out_dir: Path
    pages: int
    files: int
    site: Site
    timings: list


def build(root: Path, out_dir: Path | None = None, today: dt.date | None = None, progress: Progress | None = None,
          plugins: list[Plugin] | None = None, inputs: str | None = None, detach: bool = False) -> BuildResult:
    """Build the site of `root` into `out_dir`; `inputs` is `inputs_digest(...)` when the caller has it.

    One build per build cache at a time (buildlock.py). `detach`: return once the site is
    published, while the features' processes still save their caches (they hold the lock
    until they are done); for a command that exits next. Else they are waited for."""
    root = Path(root).resolve()
    out_dir = Path(out_dir).resolve() if out_dir else root / "build"
    today = today or dt.date.today()
    progress = progress or Progress(Translator(cli_language()), enabled=False)
    cache = cache_dir(root)
    with BuildLock(cache) as lock:
        lock.acquire(lambda: progress.say(progress.t("progress.waiting", lock=str(lock.path))))
        background.reap()  # the processes earlier builds of this process left saving caches
        if lock.held:  # no other build of this cache runs: what one left in a temporary folder is garbage
            remove_killed_build(out_dir, manifest_path(cache, out_dir))
        try:
            return _build(root, out_dir, today, progress, plugins, inputs, detach, cache)
        finally:
            for pid in saving():  # the parse cache, written by a process of its own (content.py)
                background.leave(pid) if detach else os.waitpid(pid, 0)


def _build(root, out_dir, today, progress, plugins, inputs, detach, cache) -> BuildResult:
    # Nothing changed since the last build into this folder: the site is already right.
    inputs = inputs or inputs_digest(root, out_dir, today)
    if up_to_date(manifest_path(cache, out_dir), out_dir, inputs):
        progress.say(progress.t("progress.up_to_date", out=str(out_dir)))
        return BuildResult(out_dir=out_dir, pages=0, files=0, site=None, timings=[])

    plugins = default_plugins() if plugins is None else plugins
    # After an edit, features that can (the search index) make their files in processes
    # started now, on the core this one leaves idle while it loads the content (background.Ahead).
    ahead = background.ahead(plugins, root, out_dir, today, cache, manifest_path(cache, out_dir))
    started = {}
    try:
        for plugin in plugins:  # (a cold build's QR codes: qrpages.EncodeAhead)
            job = plugin.before_load(root, cache)
            if job is not None:
                started[plugin.name] = job
        # Phase one: everything into a checked model, or every problem at once.
        with frozen_heap() as freeze:  # the records, then the model: they live until the build ends
            with progress.stage("load"):
                content = load_content(root, cache, save="apart")
            for masked in content.masked:
                progress.say(progress.t("progress.masked", where=str(masked)))
            with progress.stage("model"), gc_paused(keep=True):  # (all of it lives until the build ends)
                site = Site.from_content(content, today)
            context = BuildContext(root=root, config=content.config, today=today, cache_dir=cache, content=content, before_load=started)
            try:
                return _write_site(root, out_dir, today, progress, plugins, inputs, cache, content, site, context, detach, freeze, ahead)
            finally:
                for plugin in plugins:
                    plugin.close()
    except BaseException:
        for job in ahead:
            job.cancel()
        raise
    finally:
        for job in started.values():  # (taken by the features' on_site, unless the build failed first)
            job.cancel()


def _write_site(root, out_dir, today, progress, plugins, inputs, cache, content, site, context, detach, freeze, ahead) -> BuildResult:
    # Phase two: prepare the features, render into a temporary folder, check it, swap it in.
    beside: list[background.Beside] = []
    output = None
    try:
        output = Output(out_dir, manifest_path(context.cache_dir, out_dir))
        base = base_key(root, theme_dirs(root, content.config.theme), today, plugins)
        pages = list(site.all_pages())
        # Features that need only the model write their files beside the rendering (background.py).
        with gc_paused():  # (sets of every name and number: nothing for the collector to free)
            rules = Rules(content, cache)  # the leak gate's, for the features' processes and the gate
        rules.follow(output)  # what the last build passed need not be read again (leakgate.py)

        def check(written, reused: set[str], busy: int = 0) -> tuple[list[str], list, dict]:
            """The files of `written` the gate must read, read now, their leaks and the
            numbers they met (Rules.check)."""
            return rules.check(output.tmp, written, reused, busy)

        def start(group: list) -> None:
            try:
                beside.append(background.Beside(group, site, context, output, check))
            except OSError:  # no process to be had (memory, limits): written here instead
                pass

        edit = output.previous.get("base") == base and content.changed is not None and content.changed <= background.EDIT_ENTRIES
        context.edit = edit
        early_start = background.start_early(len(pages), edit)
        if not early_start:
            for job in ahead:  # (started on a guess: not an edit after all)
                job.cancel()
            ahead.clear()
        # After an edit, a feature that needs neither the renderer nor the page keys (the
        # search index, the rebuild's longest part) starts before the others are prepared.
        ahead_names = {job.plugin.name for job in ahead}
        first = [plugin for plugin in background.first(plugins) if plugin.name not in ahead_names] if early_start else []
        for plugin in first:
            with progress.stage(plugin.name, report=False):
                plugin.on_site(site, context)
        if first:
            freeze()  # what was made so far, out of the garbage collector's way in that process too
            for plugin in first:
                start([plugin])
        for plugin in plugins:
            if plugin not in first:
                with progress.stage(plugin.name, report=False):
                    plugin.on_site(site, context)
        freeze()
        renderer = Renderer(root, content.config, today, extra_globals={"site": site, "project_fields": PROJECT_FIELDS, **context.globals},
                            cache_dir=cache)
        context.renderer = renderer
        with progress.stage("media") as advance:
            media = publish_media(site, root, output, advance)
        with gc_paused():  # (a key for every page)
            assign_keys(site, base, media, plugins)
        if background.wanted(len(pages)):
            previous = output.previous_keys
            rendered = sum(previous.get(path) != page.key for path, page in pages)
            started = {plugin.name for job in beside for plugin in job.plugins} | ahead_names
            for group in background.groups([plugin for plugin in plugins if plugin.background and plugin.name not in started], rendered):
                start(group)
        away = {plugin.name for job in beside for plugin in job.plugins} | ahead_names
        with progress.stage("render", total=len(pages) + len(SINGLE_PAGES)) as advance:
            render_pages(site, renderer, output, media, pages, advance, plugins, context)
        values = {}  # what each feature's on_write returned, for its on_written
        for plugin in plugins:  # the features written here first, while the others finish
            if plugin.name not in away:
                with progress.stage(plugin.name) as advance:
                    values[plugin.name] = plugin.on_write(site, context, output, advance)
        seconds = {}
        pending = list(ahead)  # the features made ahead whose files are not written yet
        unusable = []  # those whose process answered early with files that cannot be used

        def write_ahead(before_join: bool) -> None:
            """Write the files of the features made ahead (background.Ahead): `before_join`,
            those whose process has answered, while the other features' processes finish
            (one whose files cannot be used is made here only after those, holding less
            memory at once); else all the others."""
            for job in [job for job in pending if not before_join or job.answered()]:
                pending.remove(job)
                with progress.stage(job.plugin.name, report=False) as advance:
                    made = _write_ahead(job, site, context, output, advance, here=not before_join)
                if made is None:
                    unusable.append(job)
                else:
                    take(job, made)
            if not before_join:
                for job in unusable:
                    with progress.stage(job.plugin.name, report=False) as advance:
                        take(job, _make_here(job.plugin, site, context, output, advance))

        def take(job, made: tuple) -> None:
            values[job.plugin.name], seconds[job.plugin.name], used = made
            if not used:  # made here after all (the process cancelled)
                ahead.remove(job)

        if beside:  # written while the other features' processes finish, when they are there already
            write_ahead(before_join=True)
        early: tuple[list[str], list, dict] = ([], [], {})
        if beside:
            # While the features' processes finish (on a cold build they can run seconds past
            # the rendering, a core left idle), the gate reads the files written here. Every
            # file is written once and never changed, so its verdict stands. The cores those
            # processes work on are left to them: a worker more would only share a core, and
            # hold its own copy of what it touches (a cold build's peak memory, at its end,
            # 470 -> 435 MB at 10,000 notices).
            with progress.stage("gate", report=False):
                early = _scan_early(check, output, beside)
        seconds.update((name, spent) for job in beside for name, spent in job.join(output).items())
        write_ahead(before_join=False)
        for job in beside:
            values.update(job.values)
        for plugin in plugins:  # reported in the features' order
            if plugin.name in seconds:
                progress.record(plugin.name, seconds[plugin.name])
        for plugin in plugins:
            plugin.on_written(site, context, output, values.get(plugin.name))
        with progress.stage("assets"):
            copy_static(renderer, output)
            write_sitemap(renderer, output, base)
        output.prune()  # what the standby held and this build did not make (output.py)
        with progress.stage("gate"):
            gate, met = run_leak_gate(content, output, rules, beside, early)
        output.commit(inputs=inputs, gate=gate, base=base, gate_parts=rules.parts,
                      gate_numbers=rules.records(output.written, output.reused, met))
    except BaseException:
        for job in [*beside, *ahead]:
            job.cancel()
        if output is not None:
            output.discard()
        raise
    for job in [*beside, *ahead]:  # the site is published: the features' processes save their caches
        job.let_go()
    for job in [*beside, *ahead]:
        job.detach() if detach else job.finish()
    files = len(output.written)
    progress.say(progress.t("progress.built", pages=len(pages) + len(SINGLE_PAGES), files=files, out=str(out_dir), seconds=f"{progress.wall_seconds():.2f}"))
    return BuildResult(out_dir=out_dir, pages=len(pages) + len(SINGLE_PAGES), files=files, site=site, timings=progress.timings)


#: The files the gate's early scan reads at a time in this process alone (`_scan_early`):
#: a tenth of a second's reading.
ALONE_PART = 300


def _scan_early(check, output: Output, beside: list) -> tuple[list[str], list, dict]:
    """`check` of the files written here, while the features' processes finish, on the cores
    they leave: one per process still working. A large batch (a cold build's 26,000 pages and
    posters at 10,000 notices: 10 s of one core) goes in parts, each on the cores free when it
    starts (an eighth of the files, or `ALONE_PART` on one core), the rest at once when every
    process has answered: the search index's process answers seconds before the build's own
    files are read, and a core would idle meanwhile."""
    from .leakgate import PARALLEL_FILES
    from .parallel import workers

    written = list(output.written)
    fresh = sum(1 for path in written if path not in output.reused)
    if fresh < 2 * PARALLEL_FILES:
        return check(written, output.reused, busy=sum(not job.answered() for job in beside))
    part = max(PARALLEL_FILES, len(written) // 8)
    paths, leaks, met = [], [], {}
    start = 0
    while start < len(written):
        busy = sum(not job.answered() for job in beside)
        # On the one core the processes leave, a part is read here, at little cost a call:
        # a small one, so that a core freed meanwhile is soon used (an eighth of a cold
        # build's files left it idle for up to a second).
        size = part if workers() - busy > 1 else min(part, ALONE_PART)
        end = start + size if busy and len(written) - start >= 2 * size else len(written)  # (no small last part)
        checked, found, numbers = check(written[start:end], output.reused, busy=busy)
        paths += checked
        leaks += found
        met.update(numbers)
        start = end
    return paths, leaks, met


def _write_ahead(job, site, context, output, advance, here: bool = True) -> tuple | None:
    """(what the feature's `on_write` returns, its seconds, whether the `Ahead` process's
    files were used): made here instead (the process cancelled) when they cannot be, when
    the process loaded other content than this one (a file saved meanwhile), or when it
    failed (its error, if it is one, comes again here). Not `here`: None instead of making
    them, for the caller to make them later (`_make_here`)."""
    plugin = job.plugin
    try:
        snapshot, made, seconds = job.join()
    except Exception:  # noqa: BLE001
        snapshot, made = None, None
    if snapshot != context.content.snapshot:  # (a file saved between the two loads)
        made = None
    value = plugin.write_ahead(made, output, advance) if made is not None else None
    if value is not None:
        return value, seconds, True
    job.cancel()
    return _make_here(plugin, site, context, output, advance) if here else None


def _make_here(plugin, site, context, output, advance) -> tuple:
    """A feature made ahead whose process's files cannot be used, made in this process:
    (what its `on_write` returns, its seconds, False)."""
    start = time.perf_counter()
    value = plugin.on_write(site, context, output, advance)
    return value, time.perf_counter() - start, False


SINGLE_PAGES = ("index.html", "404.html", "privacy.html")  # one template, one page, at the root
TEMPLATES = {"TownshipPage": ("township.html", "township"), "VillagePage": ("village.html", "village"), "NoticePage": ("notice.html", "notice")}


def render_pages(site: Site, renderer: Renderer, output: Output, media: dict, pages, advance, plugins=(), context=None) -> None:
    """Every page, and the files features make from a page alone (`Plugin.page_files`): those
    go in the page's job, after it, so they find its Markdown and QR code in the caches."""
    # What follows makes two tuples a page (and a closure a file to write), all alive until
    # the pages are written: the garbage collector's passes over them would free nothing
    # (after an edit, 130 passes and 0.03 s at 10,000 notices).
    with gc_paused():
        files = [(path, page.key, page.name if type(page) is TownshipPage else page.id, page) for path, page in pages]
        makers = [plugin for plugin in plugins if type(plugin).page_files is not Plugin.page_files]  # (not 10,000 no-op calls each)
        made = [(*file, path) for path, page in pages for plugin in makers for file in plugin.page_files(page, context)]
        missed = output.reuse_many(files)
        advance(len(files) - len(missed))
        beside: dict[str, list] = {}  # page path -> the files made from it that are not reused
        for site_path, key, made_from, make, path in output.reuse_many(made):
            beside.setdefault(path, []).append((site_path, made_from, key, make))
        groups = []
        for path, key, made_from, page in missed:
            template, name = TEMPLATES[type(page).__name__]
            make = lambda template=template, path=path, context={name: page, "media": media}: renderer.render(template, path, **context)  # noqa: E731
            groups.append([(path, made_from, key, make), *beside.pop(path, [])])
        groups += [[job] for jobs in beside.values() for job in jobs]  # (a page reused, a file made from it not)
    output.write_groups(groups)
    advance(len(missed))
    for path in SINGLE_PAGES:
        output.write_text(path, renderer.render(path, path), path)
        advance()


# Pages for printing or machines are not what a search engine should send people to.
NOT_IN_SITEMAP = ("404.html", "posters/", "cards/")


def write_sitemap(renderer: Renderer, output: Output, base: str) -> None:
    """After every feature has written its pages, so the sitemap lists them all. Made from
    the list of pages and the base key (config, theme, tool): after an edit that adds or
    removes no page, the last build's is kept (rendering 11,000 addresses takes 0.05 s)."""
    paths = sorted(p for p in output.written if p.endswith(".html") and not p.startswith(NOT_IN_SITEMAP))
    paths.remove("index.html")
    paths.insert(0, "index.html")
    key = digest(base, "sitemap", *paths)
    if not output.reuse("sitemap.xml", key, "sitemap"):
        output.write_text("sitemap.xml", renderer.render("sitemap.xml", "sitemap.xml", paths=paths), "sitemap", key=key)
    output.write_text("robots.txt", renderer.render("robots.txt", "robots.txt"), "robots.txt")


def copy_static(renderer: Renderer, output: Output) -> None:
    """Copy theme files under `static/`; a site theme's file wins over the built-in one."""
    seen: set[str] = set()
    for theme in renderer.theme_dirs:
        static = theme / "static"
        if not static.is_dir():
            continue
        for source in sorted(p for p in static.rglob("*") if p.is_file()):
            site_path = source.relative_to(static).as_posix()
            if site_path not in seen:
                seen.add(site_path)
                output.copy(site_path, source, f"theme file {site_path}")


def run_leak_gate(content, output: Output, rules: Rules, beside=(), early=((), (), {})) -> tuple[str, dict]:
    """Scan what this build wrote (as `Rules.check` says: files reused from the last build
    are read not at all, for added names only, or whole); the features run beside
    (`beside`) scanned their own files, and `early` holds the paths scanned while they ran,
    what was found there and the numbers they met. Under other rules, every file in the
    folder is read. Returns the rules' key and the numbers the files read met (Rules.records)."""
    from .leakgate import gate

    checked = {path for job in beside for path in job.checked} | set(early[0])
    found = [*(leak for job in beside for leak in job.leaks), *early[1]]
    met = {**early[2]}
    for job in beside:
        met.update(job.numbers)
    if rules.reads_all:
        gate(content, output.tmp, None, rules=rules, checked=checked, found=found, met=met)
    else:
        paths, leaks, numbers = rules.check(output.tmp, [path for path in output.written if path not in checked], output.reused)
        met.update(numbers)
        gate(content, output.tmp, paths, rules=rules, checked=set(paths), found=[*found, *leaks])  # (read just now)
    return rules.key, met


# -- incremental builds: what each page is made from ------------------------------------------

def base_key(root: Path, themes: list[Path], today: dt.date, plugins) -> str:
    """What every page depends on: the tool, the theme (its folders, `render.theme_dirs`), the
    config, the date, the features."""
    theme_files = []
    for theme in themes:
        for path in sorted(p for p in theme.rglob("*") if p.is_file()):
            theme_files.append(f"{path.relative_to(theme).as_posix()}\0{digest(path.read_bytes())}")
    config = (root / "site_config.yaml").read_bytes()
    return digest(tool_digest(), *theme_files, config, today.isoformat(), *(type(p).__name__ for p in plugins))


def page_key(*parts: str) -> str:
    """A page's key: one hash of the texts' repr, which quotes and escapes each, so that no
    two lists of texts give the same bytes (a third of `digest`'s time, which hashes each
    part on its own, over the 11,000 pages of every build)."""
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


def assign_keys(site: Site, base: str, media: dict, plugins) -> None:
    """Set `key` on every page: a hash of everything it shows, so unchanged pages are reused.

    A notice page shows its notice, its village's and township's names and its photos; a
    village page its own file, its notices and the notices its commitments cite; a township
    page its villages and their notices. Anything else a page shows is the same for every
    page (config, theme, date: the base key) or comes from a feature's `page_key`.
    """
    keyed = [plugin for plugin in plugins if type(plugin).page_key is not Plugin.page_key]  # (not 30,000 no-op calls)

    def extra(page) -> list[str]:
        return [plugin.page_key(page) for plugin in keyed]

    for page in site.notices.values():
        photos = [repr(media.get(p.photo)) for p in page.notice.postings if p.photo]
        village = page.village
        page.key = page_key(base, "notice", page.notice.digest, village.village.digest, village.township.slug, *photos, *extra(page))
    listed: dict[str, list[str]] = {}  # village id -> "notice id:digest" of its notices, for its township too
    for village in site.villages.values():
        cited = sorted({ref for c in (village.village.plan.commitments if village.village.plan else ()) for ref in c.notices})
        cited_digests = [site.notices[ref].notice.digest if ref in site.notices else "-" for ref in cited]
        notices = listed[village.village.id] = [f"{n.notice.id}:{n.notice.digest}" for n in village.notices]
        village.key = page_key(base, "village", village.village.digest, village.township.slug,
                               *notices, *cited_digests, *extra(village))
    for township in site.townships:
        parts = [f"{v.village.id}:{v.village.digest}:{','.join(listed[v.village.id])}" for v in township.villages]
        township.key = page_key(base, "township", township.name, township.slug, *parts, *extra(township))
