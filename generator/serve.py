"""The dev server: the same `build()` as `gongshi build`, re-run when the site's files change.

Three parts, each from the livereload package where it has one:

- *Watching*: livereload's `Watcher` scans `site_config.yaml`, `content/` and `themes/` by
  modification time. Its own loop rebuilds on every change it sees (a clerk's editor saving
  five files runs five builds, the reason mkdocs replaced it), so here its callback only
  notes the change, and one worker thread rebuilds once nothing has changed for a moment.
  A build runs on that thread alone, never two at once, and never on the thread that serves.
- *Serving*: a small tornado handler serves the output folder on 127.0.0.1, never cached,
  so a reload always shows the newest build. `Output` swaps a finished site in whole, so a
  request never sees a half-written one.
- *Reloading*: livereload's script injection (`LiveScriptInjector`) and its websocket
  handler tell the browser to reload after every build. A failed build is printed in the
  terminal exactly as `gongshi build` prints it, and the same lines are laid over every page
  as a banner, above the last good site, which keeps being served until a build succeeds.
"""
from __future__ import annotations

import asyncio
import html
import mimetypes
import re
import signal
import sys
import threading
import time
from pathlib import Path

from livereload.handlers import LiveReloadHandler, LiveReloadJSHandler
from livereload.server import LiveScriptInjector
from livereload.watcher import Watcher
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from .errors import GongshiError, failure_lines

# A burst of saves (an editor saving all, a `git pull`) must settle before a rebuild starts.
SETTLE_SECONDS = 0.3
# Scanning every file is the cost of a poll, so a large content tree is polled less often.
MIN_POLL_SECONDS = 0.1
POLL_COST_FACTOR = 5
HOST = "127.0.0.1"
# livereload's own snippet: it loads livereload.js from the port the page came from.
LIVE_SCRIPT = (b'<script>(function(){var s=document.createElement("script");'
               b'var port=window.location.port||(window.location.protocol=="https:"?443:80);'
               b's.src="//"+window.location.hostname+":"+port+"/livereload.js?port="+port;'
               b'document.head.appendChild(s);})();</script>')
BODY_START = re.compile(rb"<body\b[^>]*>", re.I)
# Files editors write beside the one being saved; a change to them is not a change to the site.
EDITOR_LEFTOVERS = re.compile(r"(^\.#|^#.*#$|~$|\.sw[a-p]$|^4913$|\.tmp$)")


class ChangeLog:
    """livereload's Watcher over the site's sources; remembers what changed and when."""

    def __init__(self, root: Path, out: Path):
        self.root = root
        self.out = out
        self.watcher = Watcher()
        # A folder is walked; the themes pattern also finds a themes/ folder made later.
        for source in (root / "site_config.yaml", root / "content", root / "themes" / "**" / "*"):
            self.watcher.watch(str(source), self._noted, delay="forever", ignore=self._ignored)
        self.changed: set[str] = set()
        self.last_change = 0.0

    def _noted(self) -> None:
        if self.watcher.filepath:
            self.changed.add(self.watcher.filepath)
        self.last_change = time.monotonic()

    def _ignored(self, path: str) -> bool:
        name = Path(path).name
        # An output folder inside content/ must not set off a rebuild by being written.
        inside_output = Path(path).is_relative_to(self.out) or Path(path).parent == self.out.parent and name.startswith(f".{self.out.name}.")
        return bool(EDITOR_LEFTOVERS.search(name)) or inside_output

    def poll(self) -> float:
        """One scan of every watched file; returns how long it took."""
        started = time.monotonic()
        self.watcher.examine()
        return time.monotonic() - started

    def settled(self, quiet: float) -> list[str]:
        """The changed files, once nothing has changed for `quiet` seconds; else nothing."""
        if not self.changed or time.monotonic() - self.last_change < quiet:
            return []
        changed, self.changed = self.changed, set()
        return sorted(self._relative(p) for p in changed)

    def _relative(self, path: str) -> str:
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return path


class DevServer:
    def __init__(self, root: Path, out: Path | None, today, t, debug: bool = False, stream=None):
        self.root = Path(root).resolve()
        self.out = Path(out).resolve() if out else self.root / "build"
        self.today = today
        self.t = t
        self.debug = debug
        self.stream = stream or sys.stderr
        self.problems: list[str] = []  # the last build's failure, as printed; empty after a success
        self.builds = 0
        self.changes = ChangeLog(self.root, self.out)
        self.stopping = threading.Event()

    def say(self, message: str) -> None:
        print(message, file=self.stream, flush=True)

    # -- building ---------------------------------------------------------------------------
    def build(self, *, verbose: bool) -> bool:
        """The same build as `gongshi build`; a failure is printed and kept for the banner."""
        from .build import build
        from .progress import Progress

        self.builds += 1
        try:
            # The browser reloads while the features' caches are still saved (buildlock.py).
            build(self.root, self.out, self.today, Progress(self.t, self.stream, enabled=verbose), detach=True)
        except Exception as exc:  # a dev server outlives any broken build
            self.problems = failure_lines(exc, self.t, self.debug)
            for line in self.problems:
                self.say(line)
            self.say(self.t("serve.kept") if self.out.is_dir() else self.t("serve.nothing_built"))
            return False
        self.problems = []
        return True

    def rebuild(self, changed: list[str]) -> bool:
        if len(changed) == 1:
            self.say(self.t("serve.changed", path=changed[0]))
        else:
            self.say(self.t("serve.changed_many", path=changed[0], more=len(changed) - 1))
        started = time.perf_counter()
        ok = self.build(verbose=False)
        if ok:
            self.say(self.t("serve.rebuilt", seconds=f"{time.perf_counter() - started:.2f}"))
        return ok

    def watch_and_rebuild(self, reload) -> None:
        """The worker thread: poll, and rebuild once a burst of changes has settled."""
        interval = MIN_POLL_SECONDS
        while not self.stopping.wait(interval):
            interval = max(MIN_POLL_SECONDS, POLL_COST_FACTOR * self.changes.poll())
            changed = self.changes.settled(SETTLE_SECONDS + interval)
            if changed:
                self.rebuild(changed)
                reload()  # after a failure too: the page then shows the problems

    # -- serving ----------------------------------------------------------------------------
    def banner(self) -> bytes:
        problems = self.problems
        if not problems:
            return b""
        kept = self.t("serve.banner_kept") if self.out.is_dir() else self.t("serve.nothing_built")
        text = (
            f'<div id="gongshi-build-problems" lang="{html.escape(self.t("meta.html_lang"))}" role="alert" style="position:relative;z-index:2147483647;'
            "margin:0;padding:1em;background:#fff3f3;color:#5c0000;border:4px solid #b00020;"
            'font:16px/1.5 sans-serif;text-align:left">'
            f'<strong style="font-size:1.2em">{html.escape(self.t("serve.banner_title"))}</strong>'
            f'<pre style="white-space:pre-wrap;margin:.5em 0;font:14px/1.5 monospace">{html.escape(chr(10).join(problems))}</pre>'
            f"<p style=\"margin:0\">{html.escape(kept)}</p></div>"
        )
        return text.encode("utf-8")

    def application(self) -> web.Application:
        server = self

        class PageInjector(LiveScriptInjector):
            """livereload's script before `</head>`, and the build's problems after `<body>`."""

            script = LIVE_SCRIPT

            def transform_first_chunk(self, status_code, headers, chunk, finishing):
                status_code, headers, chunk = super().transform_first_chunk(status_code, headers, chunk, finishing)
                banner = server.banner()
                match = BODY_START.search(chunk) if banner and "html" in headers.get("Content-Type", "") else None
                if match:
                    chunk = chunk[: match.end()] + banner + chunk[match.end():]
                    if "Content-Length" in headers:
                        headers["Content-Length"] = str(int(headers["Content-Length"]) + len(banner))
                return status_code, headers, chunk

        LiveReloadHandler.watcher = self.changes.watcher  # it logs the watcher's last file
        return web.Application(
            [(r"/livereload", LiveReloadHandler), (r"/livereload.js", LiveReloadJSHandler),
             (r"/(.*)", SiteHandler, {"server": self})],
            transforms=[PageInjector],
            log_function=lambda handler: None,  # the terminal is for build results, not requests
        )

    def run(self, port: int) -> int:
        try:
            sockets = bind_sockets(port, address=HOST)
        except OSError as exc:
            raise GongshiError(self.t("serve.port_in_use", port=port, reason=exc.strerror or exc)) from None
        port = sockets[0].getsockname()[1]
        self.changes.poll()  # the files as they are now: edits made during the first build count
        self.build(verbose=True)
        asyncio.run(self._serve(sockets, port))
        return 0

    async def _serve(self, sockets, port: int) -> None:
        http = HTTPServer(self.application())
        http.add_sockets(sockets)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        hangup = [signal.SIGHUP] if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN else []
        for signum in (signal.SIGINT, signal.SIGTERM, *hangup):  # (a hangup ignored on purpose, nohup, stays so)
            try:
                loop.add_signal_handler(signum, stop.set)
            except (NotImplementedError, AttributeError):  # Windows: Ctrl+C ends the process instead
                break
        reload = lambda: loop.call_soon_threadsafe(LiveReloadHandler.reload_waiters, "*")  # noqa: E731
        worker = threading.Thread(target=self.watch_and_rebuild, args=(reload,), name="gongshi-rebuild", daemon=True)
        worker.start()
        self.say(self.t("serve.serving", url=f"http://{HOST}:{port}/"))
        self.say(self.t("serve.watching"))
        await stop.wait()
        self.say(self.t("serve.stopping"))
        http.stop()
        self.stopping.set()
        # A build stopped halfway would leave its temporary folder behind: let it finish.
        await asyncio.to_thread(worker.join)


class SiteHandler(web.RequestHandler):
    """The output folder as it is now; a missing page gets the site's own 404 page."""

    def initialize(self, server: DevServer):
        self.server = server

    def compute_etag(self):
        return None  # the banner changes a page without changing its file

    def set_default_headers(self):
        self.set_header("Cache-Control", "no-store")

    def get(self, path: str) -> None:
        out = self.server.out
        target = resolve(out, path)
        if target is None:
            self.set_status(404 if out.is_dir() else 503)
            target = out / "404.html"
        data = read(target)
        if data is None:
            # Nothing built yet (the first build failed), or no 404 page: a bare page that
            # still carries the reload script and the build's problems.
            data = BARE_PAGE.format(title=html.escape(self.server.t("serve.page_missing"))).encode("utf-8")
            target = Path("page.html")
        self.set_header("Content-Type", content_type(target))
        self.finish(data)

    def head(self, path: str) -> None:
        self.get(path)


BARE_PAGE = '<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head><body><h1>{title}</h1></body></html>'


def read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:  # missing, or swapped away by a build between the look-up and the read
        return None


def resolve(out: Path, url_path: str) -> Path | None:
    """The file a URL path names inside the output folder; never anything outside it."""
    parts = [part for part in url_path.split("/") if part not in ("", ".")]
    if any(part == ".." or "\\" in part or "\0" in part for part in parts):
        return None
    target = out.joinpath(*parts)
    if target.is_dir():
        target = target / "index.html"
    return target if target.is_file() else None


def content_type(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") or kind in ("application/json", "application/javascript", "image/svg+xml") else kind


def serve(root: Path, out: Path | None, today, port: int, t, debug: bool = False) -> int:
    return DevServer(root, out, today, t, debug).run(port)
