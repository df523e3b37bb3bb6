"""axe-core finds no serious or critical accessibility problem on any kind of page, light or dark.

axe-core (pinned in tests/npm) is injected into Debian's Chromium at a phone viewport, on one or
a few pages of every kind the demo build has: the home page, a township, the villages and
notices that between them show every section and state (found by what their HTML holds), a
poster, a card sheet, a contact page, the open-data guide, supervision, privacy, 404, and the
search page before a query, with results, with none and with its scripts blocked (the listing a
reader without JavaScript gets). Each is checked in the light and the dark colour scheme with the
WCAG 2.0/2.1/2.2 A and AA rules and axe's best practices. Serious and critical violations fail the
test; moderate and minor ones are reported as warnings. A canary page with known faults shows
that the checks run and their results are read.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from browser import chromium, phone_page, serve_folder
from checkers import AXE_JS, locked_version, require

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]
FAILING = ("serious", "critical")
SCHEMES = ("light", "dark")
QUERY = "公示"  # in nearly every notice: a full page of results
NO_RESULTS = "没有这个词语的公示"

# What a page of each kind can show; the test checks the fewest pages that show all of it.
NOTICE_PARTS = ['id="project-h"', 'id="funds-h"', 'id="ben-h"', "<img ", 'id="objections-h"',
                'class="problems"', 'class="status posting"', 'class="status ended"']
VILLAGE_PARTS = ['class="funds-chart"', 'class="commitments"', 'class="problems"', 'class="quarters"',
                 'class="badge posting"', 'class="badge done"', 'class="badge delayed"',
                 'class="badge planned"', 'class="badge cancelled"', 'class="qr-code"']
POSTER_PARTS = ['class="facts"', "<table>", 'class="beneficiaries"']


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def axe_source() -> str:
    return require(AXE_JS).read_text(encoding="utf-8")


def covering(build: Path, pattern: str, parts: list[str]) -> list[str]:
    """The fewest pages matching `pattern` (chosen greedily, in name order) that between them hold every part."""
    pages = {p.relative_to(build).as_posix(): p.read_text(encoding="utf-8") for p in sorted(build.glob(pattern))}
    chosen, missing = [], list(parts)
    while missing:
        best = max(pages, key=lambda name: sum(part in pages[name] for part in missing))
        found = [part for part in missing if part in pages[best]]
        assert found, f"no page {pattern} of the demo build shows {missing}: the demo no longer has every kind of page"
        chosen.append(best)
        missing = [part for part in missing if part not in found]
    return chosen


def page_states(build: Path) -> list[tuple[str, str]]:
    """(page, state) for every kind of page: state is '' (as loaded), 'query', 'no-results' or 'no-scripts'."""
    first = lambda pattern: sorted(p.relative_to(build).as_posix() for p in build.glob(pattern))[0]  # noqa: E731
    pages = ["index.html", first("townships/*.html"), *covering(build, "villages/*.html", VILLAGE_PARTS),
             *covering(build, "notices/*.html", NOTICE_PARTS), *covering(build, "posters/*.html", POSTER_PARTS),
             first("contacts/*.html"), first("cards/*.html"), "data/index.html", "supervision.html",
             "privacy.html", "404.html", "search.html"]
    return [(page, "") for page in pages] + [("search.html", "query"), ("search.html", "no-results"),
                                              ("search.html", "no-scripts")]


def search_for(page, words: str) -> None:
    page.wait_for_selector("#search-app[data-ready='1']")
    page.fill("#search-form input[name=q]", words)
    page.wait_for_selector(f"#search-app[data-state='done'][data-query='{words}']")


def axe(page, source: str) -> dict:
    page.evaluate(source)
    return page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", TAGS)


def describe(scheme: str, url: str, violation: dict) -> str:
    nodes = "; ".join(" ".join(node["target"]) if isinstance(node["target"], list) else str(node["target"])
                      for node in violation["nodes"][:5])
    more = f" (+{len(violation['nodes']) - 5} more)" if len(violation["nodes"]) > 5 else ""
    summary = (violation["nodes"][0].get("failureSummary") or "").replace("\n", " ")
    return (f"[{scheme}] {url}: {violation['impact']} {violation['id']}: {violation['help']}"
            f" — {nodes}{more} — {summary}")


def test_axe_finds_no_serious_problem_on_any_kind_of_page(demo_build, browser, axe_source):
    states = page_states(demo_build)
    failures, notes, checked = [], [], 0
    with serve_folder(demo_build) as base:
        for scheme in SCHEMES:
            page = phone_page(browser, color_scheme=scheme)
            assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (scheme == "dark")
            for name, state in states:
                url = name + {"query": f" (searched for {QUERY})", "no-results": " (no results)",
                              "no-scripts": " (scripts blocked)"}.get(state, "")
                if state == "no-scripts":
                    # The site's scripts arrive empty: the page as a browser without JavaScript
                    # shows it (axe itself needs JavaScript, so it cannot simply be turned off).
                    page.route("**/assets/*.js", lambda route: route.fulfill(body="", content_type="text/javascript"))
                page.goto(base + name)
                if state == "query":
                    search_for(page, QUERY)
                    assert page.locator("#search-results li").count() == 10, url
                elif state == "no-results":
                    search_for(page, NO_RESULTS)
                    assert page.locator("#search-results li").count() == 0, url
                elif state == "no-scripts":
                    assert page.locator("#search-directory").is_visible(), url
                result = axe(page, axe_source)
                if state == "no-scripts":
                    page.unroute("**/assets/*.js")
                assert result["passes"], url  # the rules ran
                checked += 1
                for violation in result["violations"]:
                    (failures if violation["impact"] in FAILING else notes).append(describe(scheme, url, violation))
            assert page.problems == [], scheme
            page.context.close()
    assert checked == len(states) * len(SCHEMES)
    for note in notes:
        warnings.warn(f"axe-core: {note}", stacklevel=1)
    assert not failures, (f"axe-core {locked_version('axe-core')} found {len(failures)} serious or critical "
                          "violations:\n" + "\n".join(failures))


CANARY = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>canary</title>
<style>.faint { color: #bbb; background: #fff; } @media (prefers-color-scheme: dark) { .faint { color: #444; background: #000; } }</style></head>
<body><main><h1>Canary</h1>
<p class="faint">Text too faint to read.</p>
<img src="photo.png" width="10" height="10">
</main></body>
</html>
"""


def test_axe_reports_a_faulty_page_in_both_schemes(browser, axe_source, tmp_path):
    """The same run on a page with faint text and an image without alt text fails as it should."""
    (tmp_path / "canary.html").write_text(CANARY, encoding="utf-8")
    with serve_folder(tmp_path) as base:
        for scheme in SCHEMES:
            page = phone_page(browser, color_scheme=scheme)
            page.goto(base + "canary.html")
            found = {(v["id"], v["impact"]) for v in axe(page, axe_source)["violations"]}
            assert {("color-contrast", "serious"), ("image-alt", "critical")} <= found, (scheme, found)
            assert page.evaluate("axe.version") == locked_version("axe-core")
            page.context.close()
