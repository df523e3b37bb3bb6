"""Supervision: posting status, the problems a supervisor looks for, overdue commitments,
quarterly disclosure, the supervision page with its CSV files, and each page's own problems.

The `supervision` fixture site (an overlay on `minimal`) plants one notice per problem; its
dates are around TODAY.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import REPO, make_site, tree_bytes
from generator.build import build
from generator.content import load_content
from generator.site import Site
from generator.supervision import (CSV_FILES, PROBLEM_KINDS, Wording, csv_bytes, disclosure_quarters, notice_problems,
                                   quarter_end, supervision_report)

TODAY = dt.date(2024, 4, 5)


@pytest.fixture
def root(tmp_path):
    return make_site(tmp_path, "supervision")


def report_of(root: Path, today: dt.date = TODAY):
    site = Site.from_content(load_content(root), today)
    return site, supervision_report(site)


def problem_set(report) -> set[tuple[str, str]]:
    return {(p.kind, p.page.id) for p in report.problems}


# -- the checks, on the model ----------------------------------------------------------------------

def test_each_planted_problem_is_found_once_and_nothing_else(root):
    _, report = report_of(root)
    assert sorted((p.kind, p.page.id) for p in report.problems) == sorted([
        ("short_period", "short-period"),
        ("no_posting", "no-posting"),
        ("no_photo", "road"),
        ("late_posting", "late-posting"),
        ("unresolved_objection", "open-objection"),
    ])
    late = next(p for p in report.problems if p.kind == "late_posting")
    assert (late.posting.place, late.posting.date) == ("项目现场", dt.date(2024, 3, 23))
    objection = next(p for p in report.problems if p.kind == "unresolved_objection")
    assert objection.objection.received == dt.date(2024, 4, 2)
    short = next(p for p in report.problems if p.kind == "short_period")
    assert (short.page.notice.posting_days, short.min_days) == (5, 10)


def test_problems_are_listed_in_kind_order(root):
    _, report = report_of(root)
    kinds = [p.kind for p in report.problems]
    assert kinds == sorted(kinds, key=PROBLEM_KINDS.index)


def test_min_posting_days_come_from_the_config(root):
    config = (root / "site_config.yaml").read_text(encoding="utf-8")
    (root / "site_config.yaml").write_text(config + "notice_rules:\n  min_posting_days: {fund: 5, general: 15}\n", encoding="utf-8")
    _, report = report_of(root)
    short = {p.page.id for p in report.problems if p.kind == "short_period"}
    # fund: 5 days is now enough; general: the 10-day no-posting notice is now too short.
    assert short == {"no-posting"}


def test_no_posting_and_no_photo_are_distinct_problems(root):
    site, _ = report_of(root)
    rules = site.config.min_posting_days
    assert [p.kind for p in notice_problems(site.notices["no-posting"], rules)] == ["no_posting"]
    assert [p.kind for p in notice_problems(site.notices["road"], rules)] == ["no_photo"]
    assert notice_problems(site.notices["clean"], rules) == []


def test_a_resolved_objection_is_not_a_problem(root):
    site, _ = report_of(root)
    problems = notice_problems(site.notices["open-objection"], site.config.min_posting_days)
    assert [(p.kind, p.objection.summary) for p in problems] == [("unresolved_objection", "有村民反映补助标准不一致")]


def test_an_objection_is_pending_while_posting_and_late_after(root):
    site, report = report_of(root)
    words = Wording(site.config.language)
    during = next(p for p in report.problems if p.kind == "unresolved_objection")
    assert words.problem(during) == "2024年4月2日收到的异议尚待答复（仍在公示期内）：有村民反映补助标准不一致"
    site, report = report_of(root, dt.date(2024, 4, 7))
    after = next(p for p in report.problems if p.kind == "unresolved_objection")
    assert words.problem(after) == "2024年4月2日收到的异议尚未答复：有村民反映补助标准不一致"


def test_overdue_commitments_exclude_done_cancelled_undated_and_future(root):
    _, report = report_of(root)
    assert [(o.village.id, o.commitment.title, o.days_overdue) for o in report.overdue] == [
        ("dahe", "新建文化广场", 36),
        ("dahe", "修缮村卫生室", 5),
    ]
    _, report = report_of(root, dt.date(2024, 3, 31))
    assert [o.commitment.title for o in report.overdue] == ["新建文化广场"]  # due today is not overdue yet


# -- posting status as of --today: before, during and after a posting period -------------------------

@pytest.mark.parametrize("today, state, listed", [
    (dt.date(2024, 4, 1), "upcoming", None),  # short-period starts on 04-02: embargoed, published nowhere
    (dt.date(2024, 4, 2), "posting", "posting"),
    (dt.date(2024, 4, 6), "posting", "posting"),  # the last day
    (dt.date(2024, 4, 7), "ended", "ended"),
    (dt.date(2024, 5, 6), "ended", "ended"),  # ended 30 days ago: still "recently"
    (dt.date(2024, 5, 7), "ended", None),  # 31 days ago
])
def test_posting_status_before_during_and_after_the_period(root, today, state, listed):
    site, report = report_of(root, today)
    posting = [p.id for p in report.posting]
    ended = [p.id for p in report.ended]
    if state == "upcoming":
        assert "short-period" not in site.notices
        assert "short-period" not in {p.page.id for p in report.problems}
    else:
        assert site.notices["short-period"].status.state == state
    assert ("short-period" in posting) == (listed == "posting")
    assert ("short-period" in ended) == (listed == "ended")


def test_days_left_and_orders(root):
    site, report = report_of(root)
    assert [(p.id, p.status.days_left) for p in report.posting] == [("open-objection", 2), ("short-period", 2), ("road", 6)]
    assert [p.id for p in report.ended] == ["late-posting", "clean"]


# -- quarters --------------------------------------------------------------------------------------

def test_quarters_flag_ended_quarters_with_nothing_and_never_future_ones(root):
    site, report = report_of(root)
    states = {vq.village.id: [(q.year, q.quarter, q.state, q.notices) for q in vq.quarters] for vq in report.quarters}
    assert states["dahe"] == [(2023, 1, "missing", 0), (2023, 2, "missing", 0), (2023, 3, "missing", 0), (2023, 4, "missing", 0),
                              (2024, 1, "disclosed", 4), (2024, 2, "disclosed", 1), (2024, 3, "future", 0), (2024, 4, "future", 0)]
    assert [s for *_, s, _ in states["qingshan"]] == ["missing"] * 5 + ["current", "future", "future"]
    assert [s for *_, s, _ in states["xiaohe"]] == ["missing"] * 5 + ["disclosed", "future", "future"]
    assert report.missing_quarters == 5 + 5 + 4


def test_the_last_day_of_a_quarter_is_still_current(root):
    site, _ = report_of(root, dt.date(2024, 6, 30))
    quarters = disclosure_quarters(site.villages["qingshan"], dt.date(2024, 6, 30)).quarters
    assert [q.state for q in quarters if q.year == 2024] == ["missing", "current", "future", "future"]
    assert quarter_end(2024, 4) == dt.date(2024, 12, 31) and quarter_end(2024, 1) == dt.date(2024, 3, 31)


# -- the built site: page, CSV, village and notice pages ------------------------------------------------

class Outline(HTMLParser):
    """Links (with their text) inside elements with an id, and the text of list items by kind."""

    def __init__(self):
        super().__init__()
        self.stack: list[dict] = []
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.problem_items: list[tuple[str, str, str]] = []  # (kind, href, text)
        self._kind = None
        self._item = None
        self._href = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "ul" and "data-kind" in attrs:
            self._kind = attrs["data-kind"]
        if tag == "li" and self._kind:
            self._item = {"href": None, "text": ""}
        if tag == "a":
            self._href, self._text = attrs.get("href"), ""
            if self._item is not None and self._item["href"] is None:
                self._item["href"] = self._href

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text))
            self._href = None
        if tag == "li" and self._item is not None:
            self.problem_items.append((self._kind, self._item["href"], self._item["text"].strip()))
            self._item = None
        if tag == "ul":
            self._kind = None

    def handle_data(self, data):
        if self._href is not None:
            self._text += data
        if self._item is not None:
            self._item["text"] += data


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


def read_csv(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "no byte-order mark: Excel would misread Chinese"
    return list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"), newline="")))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The fixture site built once for the tests that only read it."""
    return build(make_site(tmp_path_factory.mktemp("supervision"), "supervision"), today=TODAY).out_dir


@pytest.fixture(scope="module")
def browser():
    from browser import chromium

    with chromium() as b:
        yield b


def test_supervision_page_lists_every_problem_with_a_link_to_its_notice(built):
    html = (built / "supervision.html").read_text(encoding="utf-8")
    items = outline(html).problem_items
    assert sorted((kind, href.split("#")[0]) for kind, href, _ in items) == sorted([
        ("short_period", "notices/short-period.html"), ("no_posting", "notices/no-posting.html"),
        ("no_photo", "notices/road.html"), ("late_posting", "notices/late-posting.html"),
        ("unresolved_objection", "notices/open-objection.html"),
    ])
    for _, href, _ in items:
        assert (built / href.split("#")[0]).is_file()
    text = dict(((k, h.split("#")[0]), t) for k, h, t in items)
    assert "5" in text[("short_period", "notices/short-period.html")] and "10" in text[("short_period", "notices/short-period.html")]
    assert "项目现场" in text[("late_posting", "notices/late-posting.html")]
    assert "有村民反映补助标准不一致" in text[("unresolved_objection", "notices/open-objection.html")]


def test_supervision_page_sections_and_links(built):
    html = (built / "supervision.html").read_text(encoding="utf-8")
    section = lambda ident: html.split(f'id="{ident}"', 1)[1].split("</section>", 1)[0]
    posting = [href for href, _ in outline(section("posting-h")).links if href.startswith("notices/")]
    assert posting == ["notices/open-objection.html", "notices/short-period.html", "notices/road.html"]
    ended = [href for href, _ in outline(section("ended-h")).links if href.startswith("notices/")]
    assert ended == ["notices/late-posting.html", "notices/clean.html"]
    overdue = outline(section("overdue-h")).links
    assert [(h, t) for h, t in overdue if h.startswith("villages/")] == [
        ("villages/dahe.html#plan-h", "新建文化广场"), ("villages/dahe.html#plan-h", "修缮村卫生室")]
    quarters = section("quarters-h")
    assert quarters.count('class="quarter missing"') == 14
    assert quarters.count('class="quarter future"') == 6
    for name in CSV_FILES:
        assert f'href="data/supervision/{name}.csv"' in html


def test_csv_files_carry_the_same_facts_as_the_page(built, root):
    # `root` is a fresh copy of the same fixture site, for the model side.
    site, report = report_of(root)
    words = Wording(site.config.language)
    html = (built / "supervision.html").read_text(encoding="utf-8")
    items = outline(html).problem_items
    rows = read_csv(built / "data/supervision/problems.csv")
    base = site.config.base_url
    assert [(r["problem"], r["url"]) for r in rows] == [(k, base + h) for k, h, _ in items]
    for row, (_, _, text) in zip(rows, items):
        assert row["description"] in text and row["title"] in text
        assert row["description"] == words.problem(next(p for p in report.problems if p.kind == row["problem"] and p.page.id == row["notice_id"]))
    late = next(r for r in rows if r["problem"] == "late_posting")
    assert (late["posting_place"], late["posting_date"], late["posted"]) == ("项目现场", "2024-03-23", "2024-03-20")

    posting = read_csv(built / "data/supervision/posting.csv")
    assert [(r["notice_id"], r["days_left"]) for r in posting] == [("open-objection", "2"), ("short-period", "2"), ("road", "6")]
    ended = read_csv(built / "data/supervision/ended.csv")
    assert [(r["notice_id"], r["days_since_end"]) for r in ended] == [("late-posting", "7"), ("clean", "26")]
    overdue = read_csv(built / "data/supervision/overdue_commitments.csv")
    assert [(r["village_id"], r["commitment"], r["due"], r["status"], r["days_overdue"]) for r in overdue] == [
        ("dahe", "新建文化广场", "2024-02-29", "delayed", "36"), ("dahe", "修缮村卫生室", "2024-03-31", "in_progress", "5")]
    quarters = read_csv(built / "data/supervision/quarters.csv")
    assert len(quarters) == 3 * 8
    flagged = [(r["village_id"], r["year"], r["quarter"]) for r in quarters if r["flagged"] == "yes"]
    assert len(flagged) == 14 and ("qingshan", "2024", "2") not in flagged and ("xiaohe", "2024", "1") in flagged
    page_cells = re.findall(r'<td class="quarter (\w+)"', html.split('id="quarters-h"', 1)[1])
    assert page_cells == [r["state"] for r in quarters]


def test_csv_header_bom_and_formula_cells():
    data = csv_bytes(["a", "b"], [["=SUM(1)", 3], [None, dt.date(2024, 1, 2)]])
    assert data.startswith("\ufeff".encode("utf-8"))
    assert data.decode("utf-8")[1:].split("\r\n") == ["a,b", "'=SUM(1),3", ",2024-01-02", ""]


def test_village_page_shows_its_own_problems_only(built):
    dahe = (built / "villages/dahe.html").read_text(encoding="utf-8")
    part = dahe.split('id="supervision-h"', 1)[1].split("</section>", 1)[0]
    links = {h.split("#")[0] for h, _ in outline(part).links if "notices/" in h}
    assert links == {"../notices/short-period.html", "../notices/no-posting.html", "../notices/late-posting.html",
                     "../notices/open-objection.html"}
    assert "修缮村卫生室" in part and "新建文化广场" in part and "安装路灯50盏" not in part
    assert part.count('class="quarter missing"') == 4
    xiaohe = (built / "villages/xiaohe.html").read_text(encoding="utf-8").split('id="supervision-h"', 1)[1].split("</section>", 1)[0]
    assert {h.split("#")[0] for h, _ in outline(xiaohe).links if "notices/" in h} == {"../notices/road.html"}
    assert 'href="../feeds/xiaohe.xml"' in xiaohe


def test_notice_page_shows_its_own_problems(built):
    road = (built / "notices/road.html").read_text(encoding="utf-8")
    check = road.split('id="check-h"', 1)[1].split("</section>", 1)[0]
    assert "张贴记录都没有照片" in check
    clean = (built / "notices/clean.html").read_text(encoding="utf-8")
    assert "未发现问题" in clean.split('id="check-h"', 1)[1].split("</section>", 1)[0]
    # Outside git there is no history section, and no error.
    assert 'id="history-h"' not in road


def test_every_page_links_to_the_supervision_page_in_its_footer(built):
    # Every page with the site's footer (printables such as posters have none).
    pages = [p for p in built.rglob("*.html") if '<footer class="site-footer">' in p.read_text(encoding="utf-8")]
    names = {p.relative_to(built).as_posix() for p in pages}
    assert {"index.html", "404.html", "supervision.html", "villages/dahe.html", "notices/road.html",
            "townships/dongfengzhen.html"} <= names
    for page in pages:
        html = page.read_text(encoding="utf-8")
        footer = html.split('<footer class="site-footer">', 1)[1]
        link = re.search(r'href="([^"]*supervision\.html)"', footer)
        assert link, page
        assert (page.parent / link.group(1)).resolve() == (built / "supervision.html").resolve()


def test_notice_status_carries_dates_and_catalog_strings_for_the_script(built):
    html = (built / "notices/road.html").read_text(encoding="utf-8")
    status = re.search(r'<span class="status posting"([^>]*)>([^<]*)</span>', html)
    attrs = dict(re.findall(r'(data-[\w-]+)="([^"]*)"', status.group(1)))
    assert attrs["data-posted"] == "2024-04-01" and attrs["data-until"] == "2024-04-10"
    assert attrs["data-t-posting"] == "公示中，还剩{days}天" and attrs["data-t-ended"] == "公示期已结束"
    assert status.group(2) == "公示中，还剩6天"
    assert re.search(r'data-as-of="2024-04-05" data-t-as-of="[^"]*\{date\}[^"]*" data-date-format="\{y\}年\{m\}月\{d\}日">[^<]*2024年4月5日', html)
    assert '<script src="../assets/status.js" defer></script>' in html
    assert (built / "assets/status.js").is_file()
    script = (built / "assets/status.js").read_text(encoding="utf-8")
    assert not re.search(r"[\u4e00-\u9fff]", script), "the script must carry no language"
    assert "status.js" not in (built / "index.html").read_text(encoding="utf-8")


def test_english_site_uses_the_english_catalog(root):
    config = (root / "site_config.yaml").read_text(encoding="utf-8")
    (root / "site_config.yaml").write_text(config + "language: en\n", encoding="utf-8")
    out = build(root, today=TODAY).out_dir
    html = (out / "supervision.html").read_text(encoding="utf-8")
    assert "Posted for 5 days, less than the required 10" in html
    rows = read_csv(out / "data/supervision/problems.csv")
    assert "Posted for 5 days, less than the required 10" in [r["description"] for r in rows]


def test_supervision_output_is_deterministic(root, tmp_path):
    first = tree_bytes(build(root, tmp_path / "one", today=TODAY).out_dir)
    second = tree_bytes(build(root, tmp_path / "two", today=TODAY).out_dir)
    keys = [k for k in first if k.startswith(("data/supervision/", "feed", "supervision"))]
    assert len(keys) >= 8
    assert {k: first[k] for k in keys} == {k: second[k] for k in keys}


# -- the status script, in Chromium with the visitor's clock ---------------------------------------------

@pytest.mark.parametrize("visitor_day, status, as_of", [
    ("2024-04-08", "公示中，还剩3天", "2024年4月8日"),  # days left counted from the visitor's day
    ("2024-04-10", "公示中，还剩1天", "2024年4月10日"),  # the last day
    ("2024-04-11", "公示期已结束", "2024年4月11日"),
    ("2024-04-03", "公示中，还剩6天", "2024年4月5日"),  # a clock before the build date is wrong: keep the build's word
])
def test_status_script_follows_the_visitors_clock(built, browser, visitor_day, status, as_of):
    from browser import serve_folder

    with serve_folder(built) as base:
        context = browser.new_context(timezone_id="Asia/Shanghai")
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.clock.set_fixed_time(dt.datetime.fromisoformat(visitor_day + "T09:00:00+08:00"))
        page.goto(base + "notices/road.html")
        page.wait_for_load_state("load")
        assert page.locator("span.status").inner_text() == status
        assert as_of in page.locator("span[data-t-as-of]").inner_text()
        expected_class = "ended" if "结束" in status else "posting"
        assert page.locator("span.status").get_attribute("class") == f"status {expected_class}"
        assert errors == []
        context.close()


def test_without_javascript_the_status_is_as_of_the_build_date(built, browser):
    from browser import serve_folder

    with serve_folder(built) as base:
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        page.goto(base + "notices/road.html")
        assert page.locator("span.status").inner_text() == "公示中，还剩6天"
        assert "2024年4月5日" in page.locator("span[data-t-as-of]").inner_text()
        context.close()


# -- the demo county: exactly the problems content/README-demo.md says were planted ---------------------

DEMO_PROBLEMS = {
    ("short_period", "yjg-2025-sheep-fund"), ("short_period", "btl-2024-ranger"),
    ("no_posting", "qsk-2025-q2-finance"), ("no_photo", "dg-2026-q2-finance"),
    ("unresolved_objection", "mlt-2025-dibao"), ("unresolved_objection", "lx-2026-rice-fish-result"),
    ("late_posting", "np-2025-walnut-list"),
}
DEMO_EMBARGOED = "qsk-2026-project-pool"


def planted_in_readme() -> set[str]:
    """The notice ids of the README's table of planted problems."""
    text = (REPO / "content/README-demo.md").read_text(encoding="utf-8")
    table = text.split("## Problems planted", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\|[^|]+\| `([a-z0-9-]+)` \|", table, flags=re.M))


def test_demo_supervision_page_lists_exactly_the_planted_problems(demo_build):
    assert planted_in_readme() == {notice for _, notice in DEMO_PROBLEMS} | {DEMO_EMBARGOED}
    html = (demo_build / "supervision.html").read_text(encoding="utf-8")
    items = outline(html).problem_items
    # Edits after posting depend on the repository's history, not on the content: left out here.
    listed = [(kind, href.split("#")[0].removeprefix("notices/").removesuffix(".html"))
              for kind, href, _ in items if kind != "changed_after_posting"]
    assert sorted(listed) == sorted(DEMO_PROBLEMS)
    rows = read_csv(demo_build / "data/supervision/problems.csv")
    assert sorted((r["problem"], r["notice_id"]) for r in rows if r["problem"] != "changed_after_posting") == sorted(DEMO_PROBLEMS)
    assert DEMO_EMBARGOED not in html and not (demo_build / f"notices/{DEMO_EMBARGOED}.html").exists()


def test_demo_posting_overdue_and_quarters(demo_build):
    posting = read_csv(demo_build / "data/supervision/posting.csv")
    # Ending soonest first: the README's "currently on the board" table.
    assert [(r["notice_id"], r["until"], r["days_left"]) for r in posting] == [
        ("yjg-2026-dibao-review", "2026-11-22", "1"), ("xlp-2026-cattle-subsidy", "2026-11-26", "5"),
        ("shw-2026-welfare-jobs", "2026-11-27", "6"), ("lx-2026-rice-fish-result", "2026-11-29", "8")]
    overdue = read_csv(demo_build / "data/supervision/overdue_commitments.csv")
    assert sorted((r["village_id"], r["commitment"], r["status"]) for r in overdue) == sorted([
        ("donggou", "中蜂养殖发展到800箱", "delayed"), ("huashuling", "修建森林防火通道8公里", "delayed"),
        ("yangjiaogou", "新建集中供水工程1处，解决全村饮水问题", "delayed"), ("shinianzi", "建设村级养老服务站", "in_progress"),
        ("baituliang", "建设马铃薯储藏窖10座", "in_progress"), ("nanpo", "建设村史馆", "planned")])
    quarters = read_csv(demo_build / "data/supervision/quarters.csv")
    assert len(quarters) == 12 * 8
    assert [r for r in quarters if r["flagged"] == "yes"] == []
