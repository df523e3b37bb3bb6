"""Search in Chromium over the demo content: the same results, in the same order, as `gongshi search`.

The demo county's content is copied and one notice with Latin words (LED, PE) is added, so
every kind of query the issue lists is covered; the index's size thresholds are lowered so
the small demo uses every kind of index file a big county's does. The browser's full ranked list comes from
`gongshiSearch.run()` (what the page renders, page by page).
"""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import unicodedata

import pytest

from browser import chromium, phone_page, serve_folder
from conftest import DEMO_TODAY, REPO, run_cli

TODAY = dt.date.fromisoformat(DEMO_TODAY)
LATIN_NOTICE = """\
village: {village}
title: 太阳能LED路灯安装项目公示
kind: project
posted: 2025-06-01
days: 10
body: |
  安装太阳能LED路灯24盏，更换PE供水管1,200米。
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(site root, built folder, documents, whoosh folder) for the demo plus one notice."""
    from generator.build import build
    from generator.content import load_content
    from generator.i18n import Translator
    from generator.search import documents
    from generator.search_whoosh import update
    from generator.site import Site

    root = tmp_path_factory.mktemp("demo-search") / "site"
    root.mkdir()
    shutil.copy(REPO / "site_config.yaml", root / "site_config.yaml")
    shutil.copytree(REPO / "content", root / "content")
    village = sorted(p.stem for p in (root / "content" / "villages").glob("*.yaml"))[0]
    (root / "content" / "notices" / "zz-latin-lights.yaml").write_text(LATIN_NOTICE.format(village=village), encoding="utf-8")
    # A big county's index has all three kinds of term files; lower the thresholds so the
    # demo's index has them too (big terms in files of their own, first-page files, shards).
    import generator.search_export as export

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(export, "BIG_BYTES", 600)
        patch.setattr(export, "PAGE_FILES_FROM_GROUPS", 1)
        patch.setattr(export, "PAGE_FILE_MIN_DOCS", 12)
        build(root, root / "build", TODAY)
    for kind in ("b", "p", "t", "r"):
        assert list((root / "build" / "search" / kind).glob("*.js")), kind
    content = load_content(root)
    docs = documents(Site.from_content(content, TODAY), Translator(content.config.language))
    folder = root / ".gongshi-cache" / "search" / "whoosh"
    update(folder, docs)
    return root, root / "build", docs, folder


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def queries(docs) -> list[str]:
    village = next(d.title for d in docs if d.kind == "village")
    sources = sorted({line for d in docs if d.kind != "village" for line in d.tags.splitlines() if line.endswith("资金")})
    assert village and sources, "the demo content has villages and fund sources"
    return ["饮水", "护林员", "低保", "危房改造", village, sources[0], "2025", "LED", "pe", "路", "危房 2025", "1200"]


def cli_results(site, query, **filters):
    from generator.search_whoosh import search

    _, _, docs, folder = site
    return [(doc.url, score) for doc, score in search(folder, docs, query, **filters)]


def browser_results(page, query, **filters):
    found = page.evaluate("([q, f]) => gongshiSearch.run(q, f)", [query, filters])
    return [(r["url"], r["score"]) for r in found]


def contains(doc, query: str) -> bool:
    """An independent scan: does any field of the document hold the query (each word of it)?"""
    text = unicodedata.normalize("NFKC", "\n".join((doc.title, doc.tags, doc.body))).lower().replace(",", "")
    for word in unicodedata.normalize("NFKC", query).lower().split():
        if re.fullmatch(r"[a-z0-9.]+", word):
            if not re.search(rf"(?<![a-z0-9.]){re.escape(word)}(?![a-z0-9])", text):
                return False
        elif word not in text:
            return False
    return True


def new_page(browser, **options):
    return phone_page(browser, **options)


def open_search(page, url):
    page.goto(url)
    page.wait_for_selector("#search-app[data-ready='1']")
    page.wait_for_selector("#search-app[data-state='done']")


def test_browser_ranks_exactly_like_the_cli_and_finds_every_substring(site, browser):
    root, out, docs, _ = site
    with serve_folder(out) as base:
        page = new_page(browser)
        open_search(page, base + "search.html")
        for query in queries(docs):
            expected = cli_results(site, query)
            assert browser_results(page, query) == expected, query
            by_url = {d.url: d for d in docs}
            found = {url for url, _ in expected}
            wanted = {d.url for d in docs if contains(d, query)}
            assert found == wanted, (query, found ^ wanted)  # recall 1.0, and nothing that lacks it
            assert all(contains(by_url[url], query) for url in found)
            assert found, query
        assert page.problems == []
    cli = run_cli("search", "危房改造", "--root", str(root), "--today", DEMO_TODAY, "--json")
    assert [(h["url"], h["score"]) for h in json.loads(cli.stdout)] == cli_results(site, "危房改造")


def test_filters_give_the_cli_results(site, browser):
    _, out, docs, _ = site
    notice = next(d for d in docs if d.kind == "fund")
    cases = [
        ("公示", {"kind": "fund"}), ("公示", {"year": notice.year}), ("公示", {"village": notice.village}),
        ("公示", {"township": notice.township, "kind": "project"}), ("村", {"kind": "village"}),
    ]
    with serve_folder(out) as base:
        page = new_page(browser)
        open_search(page, base + "search.html")
        for query, filters in cases:
            expected = cli_results(site, query, **filters)
            assert expected, (query, filters)
            assert browser_results(page, query, **filters) == expected, filters
            by_url = {d.url: d for d in docs}
            for url, _ in expected:
                doc = by_url[url]
                assert all(getattr(doc, key) == value for key, value in filters.items()), (url, filters)
        # The page itself: a filter chosen in the form narrows what is shown.
        open_search(page, base + f"search.html?q=%E5%85%AC%E7%A4%BA&kind=fund")
        shown = page.eval_on_selector_all("#search-results a", "els => els.map(e => e.getAttribute('href'))")
        assert shown == [url for url, _ in cli_results(site, "公示", kind="fund")][:10]
        assert page.problems == []


def test_results_page_highlights_and_pages(site, browser):
    _, out, _, _ = site
    expected = [url for url, _ in cli_results(site, "公示")]
    assert len(expected) > 10
    with serve_folder(out) as base:
        page = new_page(browser)
        open_search(page, base + "search.html")
        page.fill("#search-form input[name=q]", "公示")
        page.wait_for_selector("#search-app[data-state='done'][data-query='公示']")
        first = page.eval_on_selector_all("#search-results a", "els => els.map(e => e.getAttribute('href'))")
        assert first == expected[:10]
        marks = page.eval_on_selector_all("#search-results mark", "els => els.map(e => e.textContent)")
        assert marks and set(marks) == {"公示"}
        page.click("#search-pager button")
        page.wait_for_function("document.querySelector('#search-results li a')?.getAttribute('href') === %s" % json.dumps(expected[10]))
        second = page.eval_on_selector_all("#search-results a", "els => els.map(e => e.getAttribute('href'))")
        assert second == expected[10:20]
        assert "page=2" in page.url
        assert page.problems == []


def test_without_javascript_the_page_lists_every_village_and_notice(site, browser):
    _, out, docs, _ = site
    with serve_folder(out) as base:
        page = new_page(browser, javascript=False)
        page.goto(base + "index.html")
        page.fill("header input[name=q]", "饮水")
        page.press("header input[name=q]", "Enter")
        page.wait_for_load_state()
        assert page.url.split("?")[0].endswith("/search.html")
        assert page.locator("#search-directory").is_visible()
        assert not page.locator("#search-app").is_visible()
        links = set(page.eval_on_selector_all("#search-directory a", "els => els.map(e => e.getAttribute('href'))"))
        assert {d.url for d in docs} <= links
        assert page.problems == []


def test_header_form_lands_on_results_under_a_sub_path(site, browser):
    _, out, _, _ = site
    expected = [url for url, _ in cli_results(site, "低保")][:10]
    with serve_folder(out, mount="/county/portal/") as base:
        page = new_page(browser)
        notice = next(out.glob("notices/*.html")).relative_to(out).as_posix()
        page.goto(base + notice)
        page.fill("header input[name=q]", "低保")
        page.press("header input[name=q]", "Enter")
        page.wait_for_selector("#search-app[data-state='done'][data-query='低保']")
        assert page.url.startswith(base + "search.html?q=")
        shown = page.eval_on_selector_all("#search-results a", "els => els.map(e => e.getAttribute('href'))")
        assert shown == expected
        page.wait_for_load_state("networkidle")  # let the page finish (its icon) before leaving it
        page.locator("#search-results a").first.click()
        page.wait_for_load_state()
        assert page.url == base + expected[0]
        assert page.problems == []


def test_search_works_from_disk(site, browser):
    _, out, _, _ = site
    expected = [url for url, _ in cli_results(site, "危房改造")][:10]
    page = new_page(browser)
    page.goto((out / "search.html").as_uri() + "?q=%E5%8D%B1%E6%88%BF%E6%94%B9%E9%80%A0")
    page.wait_for_selector("#search-app[data-state='done'][data-query='危房改造']")
    shown = page.eval_on_selector_all("#search-results a", "els => els.map(e => e.getAttribute('href'))")
    assert shown == expected
    assert page.problems == []


def test_javascript_log_agrees_with_python_for_this_index(site, browser):
    """idf is computed in the browser with Math.log: it must equal Python's for every frequency."""
    import math

    _, out, docs, _ = site
    n = len(docs)
    page = new_page(browser)
    page.goto((out / "search.html").as_uri())
    js = page.evaluate("n => Array.from({length: n}, (_, df) => Math.log(n / (df + 1)) + 1)", n)
    assert js == [math.log(n / (df + 1)) + 1 for df in range(n)]
