"""A villager's journey through the built demo in Chromium at a phone viewport.

home -> township -> village -> notice -> poster -> (back to the notice) -> search -> the
notice again, with JavaScript on and off, with the site served at "/", under a sub-path
(/county/portal/) and opened from disk (file://). Every step: the page is the one the link
named, the address stays inside the site, nothing is wider than the phone, and the browser
reports no console error, no failed request and no HTTP error.

Then the same visible text with and without JavaScript on every kind of content page (the
visitor's clock set to the build date), and what the search page says when it cannot search.
"""
from __future__ import annotations

import datetime as dt
import shutil

import pytest
import yaml

from browser import PHONE, chromium, phone_page, serve_folder
from conftest import DEMO_TODAY, REPO

# Noon UTC is the build date in every time zone from UTC-11 to UTC+11 (status.js reads the local date).
BUILD_DAY = dt.datetime.fromisoformat(DEMO_TODAY + "T12:00:00+00:00")
SEARCH_STRINGS = yaml.safe_load((REPO / "generator/locales/zh-CN/search.yaml").read_text(encoding="utf-8"))["search"]


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def new_page(browser, javascript: bool, when: dt.datetime = BUILD_DAY):
    page = phone_page(browser, javascript=javascript)
    page.clock.set_fixed_time(when)
    return page


def settled(page, base: str, what: str) -> None:
    """After each step: inside the site, phone-wide, and not one problem in the browser."""
    page.wait_for_load_state("load")
    assert page.url.startswith(base), f"{what}: left the site for {page.url}"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], f"{what}: wider than a phone"
    assert page.problems == [], f"{what}: {page.problems}"


def follow(page, locator, base: str, what: str) -> str:
    """Click a link (it must be on screen) and return its text, once the next page has loaded."""
    assert locator.count() >= 1, f"{what}: no such link on {page.url}"
    link = locator.first
    text = link.inner_text().strip()
    assert text, f"{what}: an empty link"
    link.click()
    settled(page, base, what)
    return text


@pytest.fixture(params=["root", "sub-path", "file"])
def site_base(request, demo_build):
    """The base URL of the demo site, ending in "/": served at / or /county/portal/, or from disk."""
    if request.param == "file":
        yield demo_build.resolve().as_uri() + "/"
        return
    with serve_folder(demo_build, mount="/" if request.param == "root" else "/county/portal/") as base:
        assert request.param == "root" or base.endswith("/county/portal/")
        yield base


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_journey_home_township_village_notice_poster_search(browser, site_base, javascript):
    base = site_base
    page = new_page(browser, javascript)
    page.goto(base + "index.html")
    settled(page, base, "home")
    assert page.locator("h1").first.inner_text().strip()

    township = follow(page, page.locator("main a[href^='townships/']:visible"), base, "home -> township")
    assert page.locator("h1").inner_text() == township
    village = follow(page, page.locator("main a[href^='../villages/']:visible"), base, "township -> village")
    assert page.locator("h1").inner_text() == village
    assert township in page.locator("nav.crumbs").inner_text()

    title = follow(page, page.locator("main a[href^='../notices/']:visible"), base, "village -> notice")
    notice_url = page.url
    notice_path = "notices/" + notice_url.rsplit("/", 1)[1]
    assert page.locator("h1").inner_text() == title
    crumbs = page.locator("nav.crumbs").inner_text()
    assert village in crumbs and township in crumbs

    follow(page, page.locator("main .print-links a"), base, "notice -> poster")
    assert page.url == base + "posters/" + notice_path.split("/")[1]
    assert page.locator("h1").inner_text() == title
    assert page.locator("figure.code svg").count() == 1  # the QR code to the notice's page
    assert follow(page, page.locator("nav.screen-only a"), base, "poster -> notice") == title
    assert page.url == notice_url

    # Search from the header: the notice's own title finds it.
    page.fill("header input[name=q]", title)
    page.press("header input[name=q]", "Enter")
    settled(page, base, "search")
    assert page.url.startswith(base + "search.html?q=")
    if javascript:
        page.wait_for_selector("#search-app[data-state='done']")
        assert page.locator("#search-form input[name=q]").input_value() == title
        assert not page.locator("#search-directory").is_visible()
        results = page.locator(f"#search-results a[href='{notice_path}']")
        assert results.count() == 1, page.locator("#search-results").inner_text()
        assert results.inner_text() == title
    else:
        # No search without JavaScript: the page says so in its language and lists every notice.
        assert not page.locator("#search-app").is_visible()
        assert page.locator("#search-no-js").inner_text() == SEARCH_STRINGS["no_js"]
        assert page.locator("#search-directory").is_visible()
        results = page.locator(f"#search-directory a[href='{notice_path}']")
        assert results.count() == 1
    assert follow(page, results, base, "search -> notice") == title
    assert page.url == notice_url
    assert page.locator("h1").inner_text() == title
    page.context.close()


# -- the same text with and without JavaScript ----------------------------------------------------

def posting_notice(demo_build) -> str:
    """A notice still being posted on the build date: its "N days left" is what status.js rewrites."""
    posting = sorted(p.name for p in (demo_build / "notices").glob("*.html")
                     if 'class="status posting"' in p.read_text(encoding="utf-8"))
    assert posting, "the demo has notices still being posted on its build date"
    return "notices/" + posting[0]


def content_pages(demo_build) -> list[str]:
    """One page of every kind a villager reads (all but search.html, whose form needs JavaScript)."""
    first = lambda folder: f"{folder}/" + sorted(p.name for p in (demo_build / folder).glob("*.html"))[0]  # noqa: E731
    notice = posting_notice(demo_build)
    pages = ["index.html", first("townships"), first("villages"), notice, first("notices"),
             notice.replace("notices/", "posters/"), "supervision.html", first("contacts"), first("cards"),
             "data/index.html", "privacy.html", "404.html"]
    for page in pages:
        assert (demo_build / page).is_file(), page
    return pages


def visible_texts(browser, urls: list[str], javascript: bool, when: dt.datetime = BUILD_DAY) -> list[str]:
    """document.body.innerText of each page, read in one phone-sized tab."""
    page = new_page(browser, javascript, when)
    texts = []
    for url in urls:
        page.goto(url)
        page.wait_for_load_state("load")
        texts.append(page.evaluate("document.body.innerText"))
        assert page.problems == [], (url, page.problems)
    page.context.close()
    return texts


def test_content_pages_read_the_same_with_and_without_javascript(browser, demo_build):
    pages = content_pages(demo_build)
    with serve_folder(demo_build) as base:
        urls = [base + path for path in pages]
        with_js = visible_texts(browser, urls, javascript=True)
        without = visible_texts(browser, urls, javascript=False)
    for path, on, off in zip(pages, with_js, without):
        assert len(off) > 100, path
        assert on == off, path


def test_status_script_runs_so_the_comparison_can_see_it(browser, demo_build):
    """The pages above read the same because the clock is the build date, not because no script ran:
    two days later the status of a notice being posted counts two days fewer with JavaScript."""
    path = posting_notice(demo_build)
    later = BUILD_DAY + dt.timedelta(days=2)
    with serve_folder(demo_build) as base:
        with_js, = visible_texts(browser, [base + path], javascript=True, when=later)
        without, = visible_texts(browser, [base + path], javascript=False, when=later)
    assert with_js != without
    changed = set(with_js.splitlines()) ^ set(without.splitlines())
    assert len(changed) == 2, changed  # the status line only: as of the build date / as of the visitor's day
    new, = set(with_js.splitlines()) - set(without.splitlines())
    assert "2026年11月24日" in new, new


# -- search that cannot run says so -----------------------------------------------------------------

@pytest.fixture(scope="module")
def site_without_index(demo_build, tmp_path_factory):
    """The demo build with its search index missing (a partial upload, a copy that left it out)."""
    out = tmp_path_factory.mktemp("no-index") / "site"
    shutil.copytree(demo_build, out, ignore=shutil.ignore_patterns("notices", "posters", "cards", "contacts", "media", "data"))
    shutil.rmtree(out / "search")
    return out


@pytest.mark.parametrize("where", ["http", "file"])
def test_search_without_its_index_says_so_and_lists_the_pages(browser, site_without_index, where):
    page = new_page(browser, javascript=True)
    if where == "file":
        page.goto(site_without_index.resolve().as_uri() + "/search.html?q=%E9%A5%AE%E6%B0%B4")
        _check_index_error(page)
    else:
        with serve_folder(site_without_index) as base:
            page.goto(base + "search.html?q=%E9%A5%AE%E6%B0%B4")
            _check_index_error(page)
    page.context.close()


def _check_index_error(page) -> None:
    page.wait_for_selector("#search-app[data-state='error']", timeout=5000)
    assert page.locator("#search-status").inner_text() == SEARCH_STRINGS["error_directory"]
    assert page.locator("#search-directory").is_visible()
    assert not page.locator("#search-no-js").is_visible()  # JavaScript is on: that line would be wrong
    assert page.locator("#search-directory a[href^='notices/']").count() > 100
    # The browser reports the missing file itself; nothing else may go wrong.
    assert page.problems, "the missing index was not even requested"
    assert all("meta.js" in p or "Failed to load resource" in p for p in page.problems), page.problems
