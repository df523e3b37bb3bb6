"""Chromium for end-to-end tests: Debian's /usr/bin/chromium driven by Playwright for Python.

Never a downloaded browser: the path is fixed and a missing browser fails the test (the
Makefile installs it). The site is served on 127.0.0.1 by a static server in a thread.
"""
from __future__ import annotations

import functools
import http.server
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
PHONE = {"width": 360, "height": 740}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        pass


@contextmanager
def serve_folder(folder: Path, mount: str = "/"):
    """Serve `folder` at http://127.0.0.1:PORT{mount}; yields the base URL (ending in /)."""
    mount = "/" + mount.strip("/") + "/" if mount.strip("/") else "/"
    if mount != "/":
        # Serve a parent that holds the site under the sub-path, as a real host would.
        holder = folder.parent / f"{folder.name}.mount"
        shutil.rmtree(holder, ignore_errors=True)
        target = holder / mount.strip("/")
        target.parent.mkdir(parents=True)
        target.symlink_to(folder.resolve(), target_is_directory=True)
        served = holder
    else:
        served = folder
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{mount}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def chromium():
    """A Playwright Browser on Debian's Chromium; fails loudly when it is missing."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def phone_page(browser, *, javascript: bool = True, color_scheme: str = "light"):
    """A page at a phone viewport that records console errors and failed requests in `page.problems`."""
    context = browser.new_context(viewport=PHONE, java_script_enabled=javascript, color_scheme=color_scheme, device_scale_factor=2)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda msg: page.problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.problems.append(f"page error: {exc}"))
    # A request aborted because the test moved on to the next page is not a broken link
    # (those show as HTTP errors below); any other failure is.
    page.on("requestfailed", lambda req: page.problems.append(f"request failed: {req.url} {req.failure}")
            if "ERR_ABORTED" not in (req.failure or "") else None)
    page.on("response", lambda resp: page.problems.append(f"HTTP {resp.status}: {resp.url}") if resp.status >= 400 else None)
    return page
