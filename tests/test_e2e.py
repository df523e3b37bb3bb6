"""End to end in Chromium at a phone viewport: the built demo, served on 127.0.0.1.

The walk home -> township -> village -> notice -> poster -> search (JavaScript on and off, at /,
under a sub-path and from disk) is in test_e2e_journey.py.
"""
from __future__ import annotations

from urllib.parse import urljoin

import pytest

from browser import chromium, phone_page, serve_folder


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def test_every_page_is_reachable_from_home_without_broken_links(demo_build, browser):
    """Crawl by following links in the browser from the home page; every internal link loads."""
    with serve_folder(demo_build) as base:
        page = phone_page(browser)
        seen, queue, broken = set(), [base + "index.html"], []
        while queue:
            url = queue.pop()
            if url in seen:
                continue
            seen.add(url)
            if not url.endswith(".html"):
                # Data files (CSV, JSON, vCards) download rather than display: fetch them.
                if page.request.get(url).status != 200:
                    broken.append(url)
                continue
            response = page.goto(url)
            if response is None or response.status != 200:
                broken.append(url)
                continue
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
            for href in hrefs:
                if href.startswith(("http:", "https:", "tel:", "mailto:", "#")):
                    continue
                target = urljoin(url, href).split("#")[0]
                if target.startswith(base):
                    queue.append(target)
        assert broken == []
        expected = {p.relative_to(demo_build).as_posix() for p in demo_build.glob("*/*.html")}
        reached = {u[len(base):] for u in seen}
        assert expected - reached == set()
        assert page.problems == []
