"""`gongshi serve`: one rebuild per burst of saves, problems in the terminal and the page, reload.

Each test runs the real command in a child process on 127.0.0.1 and a free port, over a
copy of the minimal site, and always stops it. Every wait is bounded.
"""
from __future__ import annotations

import html
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from conftest import DEMO_TODAY, REPO, make_site, run_cli

from generator.serve import ChangeLog, resolve

NOTICE = "content/notices/xiaohe/road.yaml"
OLD_TITLE = "村道硬化项目公示"
START_SECONDS = 60
BUILD_SECONDS = 30
# Longer than the server's settle time plus a poll, so a second rebuild would have started.
QUIET_SECONDS = 1.5


class Terminal:
    """What the server printed, read line by line on a thread as it comes."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def count(self, pattern: str) -> int:
        return sum(1 for line in list(self.lines) if re.search(pattern, line))

    def wait_for(self, pattern: str, times: int = 1, timeout: float = BUILD_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while self.count(pattern) < times:
            assert time.monotonic() < deadline, f"no {times}× {pattern!r} within {timeout} s; the server printed:\n" + "\n".join(self.lines)
            time.sleep(0.05)

    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def dev_server(root: Path, *args: str):
    """`gongshi serve` in a child process; yields (base URL, its terminal)."""
    env = dict(os.environ, GONGSHI_LANG="en", PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    child = subprocess.Popen(
        [sys.executable, "-m", "generator", "serve", "--root", str(root), "--port", "0", "--today", DEMO_TODAY, *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
    )
    try:
        terminal = Terminal(child.stdout)
        terminal.wait_for(r"Serving the site at http://127\.0\.0\.1:\d+/", timeout=START_SECONDS)
        url = re.search(r"http://127\.0\.0\.1:\d+/", terminal.text()).group(0)
        yield url, terminal
    finally:
        child.terminate()
        try:
            child.wait(timeout=BUILD_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def set_title(root: Path, title: str) -> None:
    path = root / NOTICE
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"(?m)^title: .*$", f"title: {title}", text), encoding="utf-8")


def title(page: str) -> str:
    return html.unescape(re.search(r"<title>(.*?)</title>", page, re.S).group(1))


def banner_text(page: str) -> str:
    match = re.search(r'<div id="gongshi-build-problems".*?<pre[^>]*>(.*?)</pre>', page, re.S)
    return html.unescape(match.group(1)) if match else ""


def test_a_burst_of_saves_gives_one_rebuild_and_the_page_shows_the_last(tmp_path):
    root = make_site(tmp_path)
    with dev_server(root) as (url, terminal):
        status, page = fetch(url + "notices/road.html")
        assert status == 200 and title(page).startswith(OLD_TITLE)
        assert "/livereload.js" in page  # livereload's script was injected

        for n in range(1, 6):  # an editor saving five times within a tenth of a second
            set_title(root, f"第{n}次修改的公示")
            time.sleep(0.02)
        terminal.wait_for(r"^Rebuilt in")
        time.sleep(QUIET_SECONDS)

        assert terminal.count(r"changed: rebuilding") == 1, terminal.text()
        assert terminal.count(r"^Rebuilt in") == 1, terminal.text()
        status, page = fetch(url + "notices/road.html")
        assert status == 200 and title(page).startswith("第5次修改的公示")
        assert "gongshi-build-problems" not in page


def test_a_content_error_shows_in_the_terminal_and_the_page_until_it_is_fixed(tmp_path):
    root = make_site(tmp_path)
    notice = root / NOTICE
    good = notice.read_text(encoding="utf-8")
    with dev_server(root) as (url, terminal):
        notice.write_text(good.replace("kind: project", "kind: projekt\nfunding: 1"), encoding="utf-8")
        terminal.wait_for(r"The last good site is still being served")

        # The same lines as `gongshi build` prints for the same content.
        build = run_cli("build", "--root", str(root), "--out", str(tmp_path / "check"), "--today", DEMO_TODAY)
        expected = build.stderr.strip().splitlines()
        assert build.returncode == 1 and len(expected) >= 3, build.stderr
        assert any(line.startswith(f"{NOTICE}:") and "kind" in line for line in expected), expected
        assert "\n".join(expected) in terminal.text()

        status, page = fetch(url + "notices/road.html")
        assert status == 200
        assert banner_text(page).splitlines() == expected
        assert title(page).startswith(OLD_TITLE)  # the last good site is still served underneath

        notice.write_text(good.replace(OLD_TITLE, "修好以后的公示"), encoding="utf-8")
        terminal.wait_for(r"^Rebuilt in")
        status, page = fetch(url + "notices/road.html")
        assert status == 200 and title(page).startswith("修好以后的公示")
        assert "gongshi-build-problems" not in page


def test_when_nothing_ever_built_every_page_explains_why(tmp_path):
    root = make_site(tmp_path, files={"content/villages/xiaohe.yaml": "name: [unclosed\n"})
    with dev_server(root) as (url, terminal):
        assert terminal.count(r"No site has been built yet") == 1, terminal.text()
        status, page = fetch(url + "index.html")
        assert status == 503
        problems = banner_text(page).splitlines()
        assert problems == terminal.lines[: len(problems)]
        assert any(line.startswith("content/villages/xiaohe.yaml:2:1: invalid YAML") for line in problems), problems
        assert "/livereload.js" in page  # it reloads by itself once fixed


def test_the_browser_reloads_by_itself_after_a_rebuild(tmp_path):
    from browser import chromium, phone_page

    root = make_site(tmp_path)
    with dev_server(root) as (url, terminal), chromium() as browser:
        page = phone_page(browser)
        page.goto(url + "notices/road.html")
        page.wait_for_function("window.LiveReload && window.LiveReload.connector && window.LiveReload.connector._isSocketConnected()", timeout=20_000)
        set_title(root, "浏览器自动刷新的公示")
        terminal.wait_for(r"^Rebuilt in")
        page.wait_for_function("document.querySelector('h1').textContent.includes('浏览器自动刷新的公示')", timeout=20_000)

        (root / NOTICE).write_text("village: [\n", encoding="utf-8")
        page.wait_for_function("document.getElementById('gongshi-build-problems') !== null", timeout=20_000)
        assert NOTICE in page.inner_text("#gongshi-build-problems")


def test_a_port_in_use_is_refused_in_the_users_words(tmp_path):
    root = make_site(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--root", str(root), "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1 port {port}" in result.stderr
    assert not (root / "build").exists()  # refused before building anything


def test_editor_leftovers_and_quiet_time_decide_when_a_burst_is_over(tmp_path):
    root = make_site(tmp_path)
    changes = ChangeLog(root, root / "build")
    changes.poll()
    time.sleep(0.02)
    (root / "content/notices/xiaohe/.road.yaml.swp").write_text("x", encoding="utf-8")
    (root / "content/notices/xiaohe/road.yaml~").write_text("x", encoding="utf-8")
    changes.poll()
    assert changes.changed == set()

    set_title(root, "新标题")
    changes.poll()
    assert changes.settled(quiet=60) == []  # still inside the burst
    assert changes.settled(quiet=0) == [NOTICE]
    assert changes.settled(quiet=0) == []  # handed over once


def test_only_files_inside_the_output_folder_are_served(tmp_path):
    out = tmp_path / "out"
    (out / "notices").mkdir(parents=True)
    (out / "index.html").write_text("home", encoding="utf-8")
    (out / "notices" / "index.html").write_text("list", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("no", encoding="utf-8")
    assert resolve(out, "") == out / "index.html"
    assert resolve(out, "notices/") == out / "notices" / "index.html"
    assert resolve(out, "../secret.txt") is None
    assert resolve(out, "notices/../../secret.txt") is None
    assert resolve(out, "missing.html") is None


def test_a_large_site_rebuilds_with_its_features_in_processes_forked_from_the_rebuilding_thread(tmp_path, monkeypatch):
    """On a site of 300 pages or more, with two cores, a rebuild after an edit forks the
    features' processes (the search index's before the content is loaded: background.Ahead)
    from the server's rebuilding thread. Two edits later, the served folder is the bytes of
    a clean build in one process."""
    import datetime as dt
    import shutil

    sys.path.insert(0, str(REPO / "bench"))
    from conftest import clean_build, tree_bytes
    from corpus import generate

    root = generate(tmp_path / "site", notices=300, villages=20, seed=8)
    notices = sorted((root / "content" / "notices").rglob("*.yaml"))
    monkeypatch.setenv("GONGSHI_JOBS", "2")
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    with dev_server(root) as (url, terminal):
        for number, notice in enumerate(notices[5:7], start=1):
            text = notice.read_text(encoding="utf-8")
            notice.write_text(re.sub(r"(?m)^title: ", f"title: 第{number}次更正 ", text, count=1), encoding="utf-8")
            terminal.wait_for(r"^Rebuilt in", times=number)
            status, page = fetch(url + f"notices/{notice.stem}.html")
            assert status == 200 and title(page).startswith(f"第{number}次更正 "), terminal.text()
        served = tree_bytes(root / "build")
    shutil.rmtree(tmp_path / "cache")
    monkeypatch.setenv("GONGSHI_JOBS", "1")
    assert served == clean_build(root, tmp_path / "clean", dt.date.fromisoformat(DEMO_TODAY), monkeypatch)
