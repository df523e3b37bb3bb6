"""Named build hooks. Gongshi's own features (search, QR codes, supervision, open data) use
them too, so how data moves through a build is visible in one place.

A plugin is a class with a `name` (its progress stage, a key under `build_stage.` in the
catalogs) and any of these methods, each a no-op by default:

- `on_site(site, context)`: after the model is built and before anything is rendered. Put
  whatever templates need into `context.globals` (a dict handed to Jinja as globals).
- `on_write(site, context, output, advance)`: after the pages are rendered; write the
  plugin's own files through `output` (which refuses two files at one path). What it
  returns (something pickle can carry: it may come from the feature's own process) is
  handed to `on_written`.
- `on_written(site, context, output, value)`: in the build's own process, once `on_write`
  is done there or in the feature's process; for what needs the renderer when `on_write`
  does not have it (see `needs_renderer`).
- `page_files(page, context)`: files made from one page alone, as (site path, key, made
  from, make) with `make()` returning the text: written in the same job as the page, just
  after it (so in the same process), where what the page's rendering computed (its
  Markdown, its QR code) is still at hand; a file whose key the last build made it from is
  reused, like a page.
- `page_key(page)`: text that goes into the page's key when the plugin shows data on the
  page that the model does not hold (a notice's git history, say). Files a plugin makes
  per page can be reused with `output.reuse(path, page.key, ...)` (the manifest keeps a key
  per path), many at once with `output.reuse_many`.

`context` is a `BuildContext`: root folder, config, today, renderer, cache folder.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class BuildContext:
    root: Path
    config: object
    today: dt.date
    cache_dir: Path
    content: object
    globals: dict = field(default_factory=dict)
    renderer: object = None
    # A rebuild after a small edit (the content changed by at most background.EDIT_ENTRIES
    # files, with the theme, config, date and tool of the last build): few pages are made again.
    edit: bool = False
    # Work for the next build only (saving a feature's cache): run at once, or, in a feature
    # written beside the rendering (background.py), after its files are handed back.
    deferred: list | None = None
    # What a feature started before the content was loaded (`Plugin.before_load`), by its
    # name: its `on_site` takes it (and stops it); the build cancels what is left.
    before_load: dict = field(default_factory=dict)

    def defer(self, job) -> None:
        """Run `job()` now, or after this feature's files are handed to the build."""
        if self.deferred is None:
            job()
        else:
            self.deferred.append(job)


class Plugin:
    name = "plugin"
    #: True when `on_write` needs only the model and the renderer (not the rendered pages, nor
    #: anything another feature's `on_write` does): on a large site it then runs in a forked
    #: process beside the page rendering (background.py), and what it keeps in `self` during
    #: `on_write` stays in that process.
    background = False
    #: False when `on_write` does not read `page.key` (build.assign_keys).
    needs_page_keys = True
    #: False when neither `on_site` nor `on_write` uses the renderer (`context.renderer` is
    #: None in `on_write` then) or what the other features put in `context.globals`. With
    #: both False, after an edit a background feature starts before the other features'
    #: `on_site` and the keys (background.first); pages it renders, it renders in `on_written`.
    needs_renderer = True
    #: True when what a background feature defers (`BuildContext.defer`: saving its cache) is
    #: small and may be done before the site is published: its process then saves it once
    #: it has handed its files back, and leaves, instead of holding its memory until the
    #: build has run the leak gate and the swap (background.py).
    saves_at_once = False

    def on_site(self, site, context: BuildContext) -> None:
        pass

    def on_write(self, site, context: BuildContext, output, advance):
        pass

    def on_written(self, site, context: BuildContext, output, value) -> None:
        pass

    def page_files(self, page, context: BuildContext) -> list[tuple]:
        return []

    # After an edit, a background feature that needs neither the page keys nor the renderer
    # may make its files in a process forked before the content is loaded (background.Ahead):
    # `ahead_possible` says whether it kept what that takes (its state from the last build
    # into `out_dir`); `ahead_files` runs in that process, with a model of its own, and
    # returns what it made (picklable); `write_ahead` writes that into `output` in the build's
    # process, at the point where `on_write` would have run, and returns what `on_write`
    # would have, or None when it cannot use it (then `on_write` runs as usual).

    def ahead_possible(self, cache_dir, out_dir) -> bool:
        return False

    def ahead_files(self, site, context: BuildContext, out_dir):
        raise NotImplementedError

    def write_ahead(self, made, output, advance):
        return None

    def before_load(self, root, cache_dir):
        """Work worth starting before the content is loaded, from the site's files alone (on a
        core the loading leaves idle), or None. The object returned has `cancel()`; the build
        puts it in `context.before_load[self.name]` for `on_site`, and cancels it if the build
        fails first or `on_site` leaves it there."""
        return None

    def page_key(self, page) -> str:
        return ""

    def close(self) -> None:
        """The build is over (published or failed): let go of what the feature holds open."""


def default_plugins() -> list[Plugin]:
    """The features every build has, in the order they run."""
    from .funds import FundsPlugin  # imported here: feature modules import this one
    from .qrpages import QrPlugin
    from .search import SearchPlugin
    from .supervision import SupervisionPlugin

    return [FundsPlugin(), SupervisionPlugin(), QrPlugin(), SearchPlugin()]
