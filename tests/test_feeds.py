"""Atom feeds: well-formed Atom 1.0, absolute links from base_url, dates from content and git."""
from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import make_site
from generator.build import build
from generator.feeds import ENTRIES, atom_feed
from generator.i18n import Translator
from test_history import make_repository

TODAY = dt.date(2024, 4, 5)
A = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
BASE = "https://example.gov.cn/portal/"


def parse_feed(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()  # raises on anything not well-formed
    assert root.tag == A + "feed"
    return root


def check_atom(feed: ET.Element) -> None:
    """The elements RFC 4287 requires, and what we promise about them."""
    for name in ("id", "title", "updated"):
        assert len(feed.findall(A + name)) == 1, name
    assert RFC3339.match(feed.findtext(A + "updated"))
    assert feed.find(A + "author/" + A + "name").text
    self_link = [l for l in feed.findall(A + "link") if l.get("rel") == "self"]
    assert len(self_link) == 1 and self_link[0].get("href") == feed.findtext(A + "id")
    for entry in feed.findall(A + "entry"):
        for name in ("id", "title", "updated", "summary"):
            assert len(entry.findall(A + name)) == 1, name
        assert RFC3339.match(entry.findtext(A + "updated")) and RFC3339.match(entry.findtext(A + "published"))
        link = entry.find(A + "link")
        assert link.get("rel") == "alternate" and link.get("href") == entry.findtext(A + "id")
        assert entry.findtext(A + "id").startswith(BASE)


def entry_ids(feed: ET.Element) -> list[str]:
    return [e.findtext(A + "id").removeprefix(BASE) for e in feed.findall(A + "entry")]


@pytest.fixture
def built(tmp_path):
    return build(make_site(tmp_path, "supervision"), today=TODAY).out_dir


def test_site_feed_is_atom_with_every_published_notice_latest_first(built):
    feed = parse_feed(built / "feed.xml")
    check_atom(feed)
    assert feed.findtext(A + "id") == BASE + "feed.xml"
    # Outside git, `updated` is the first day of posting; ties by address.
    assert entry_ids(feed) == ["notices/short-period.html", "notices/road.html", "notices/open-objection.html",
                               "notices/late-posting.html", "notices/clean.html", "notices/no-posting.html"]
    updated = {e.findtext(A + "id").removeprefix(BASE): e.findtext(A + "updated") for e in feed.findall(A + "entry")}
    assert updated["notices/road.html"] == "2024-04-01T00:00:00+08:00"
    assert feed.findtext(A + "updated") == "2024-04-02T00:00:00+08:00"
    assert "later.html" not in (built / "feed.xml").read_text(encoding="utf-8")  # embargoed


def test_village_feeds_hold_only_their_village(built):
    dahe = parse_feed(built / "feeds/dahe.xml")
    check_atom(dahe)
    assert sorted(entry_ids(dahe)) == sorted(["notices/short-period.html", "notices/open-objection.html",
                                              "notices/late-posting.html", "notices/clean.html", "notices/no-posting.html"])
    xiaohe = parse_feed(built / "feeds/xiaohe.xml")
    assert entry_ids(xiaohe) == ["notices/road.html"]
    links = {l.get("rel"): l.get("href") for l in xiaohe.findall(A + "link")}
    assert links == {"self": BASE + "feeds/xiaohe.xml", "alternate": BASE + "villages/xiaohe.html"}


def test_a_village_without_notices_has_a_valid_empty_feed_dated_by_the_build(built):
    feed = parse_feed(built / "feeds/qingshan.xml")
    check_atom(feed)
    assert feed.findall(A + "entry") == []
    assert feed.findtext(A + "updated") == "2024-04-05T00:00:00+08:00"


def test_pages_announce_their_feeds_with_relative_links(built):
    village = (built / "villages/dahe.html").read_text(encoding="utf-8")
    hrefs = re.findall(r'<link rel="alternate" type="application/atom\+xml" title="[^"]+" href="([^"]+)">', village)
    assert hrefs == ["../feed.xml", "../feeds/dahe.xml"]
    notice = (built / "notices/road.html").read_text(encoding="utf-8")
    assert re.findall(r'type="application/atom\+xml" title="[^"]+" href="([^"]+)"', notice) == ["../feed.xml", "../feeds/xiaohe.xml"]
    home = (built / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'type="application/atom\+xml" title="[^"]+" href="([^"]+)"', home) == ["feed.xml"]


def test_changed_notices_are_dated_by_their_last_change_in_git(tmp_path):
    _, root, ids = make_repository(tmp_path, nested=False)
    out = build(root, today=TODAY).out_dir
    feed = parse_feed(out / "feed.xml")
    check_atom(feed)
    entries = {e.findtext(A + "id").removeprefix(BASE): e for e in feed.findall(A + "entry")}
    # road: changed 04-03 after posting (the later move changed nothing shown).
    assert entries["notices/road.html"].findtext(A + "updated") == "2024-04-03T16:30:00+08:00"
    assert entries["notices/road.html"].findtext(A + "published") == "2024-04-01T00:00:00+08:00"
    assert "修改于公示开始之后" in entries["notices/road.html"].findtext(A + "summary")
    # the objection answered on 04-04 12:00 is the latest change of all.
    assert entry_ids(feed)[:2] == ["notices/open-objection.html", "notices/road.html"]
    assert feed.findtext(A + "updated") == "2024-04-04T12:00:00+08:00"
    # a notice never changed keeps its posting date
    assert entries["notices/short-period.html"].findtext(A + "updated") == "2024-04-02T00:00:00+08:00"


def test_feeds_are_deterministic_and_escape_text(tmp_path):
    root = make_site(tmp_path, "supervision")
    path = root / "content/notices/dahe/clean.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("title: 大河村道路维修项目公示", 'title: "道路 <维修> & 公示"'), encoding="utf-8")
    one = build(root, tmp_path / "one", today=TODAY).out_dir
    two = build(root, tmp_path / "two", today=TODAY).out_dir
    assert (one / "feed.xml").read_bytes() == (two / "feed.xml").read_bytes()
    feed = parse_feed(one / "feed.xml")
    assert "道路 <维修> & 公示" in [e.findtext(A + "title") for e in feed.findall(A + "entry")]


def test_a_feed_carries_at_most_the_latest_entries():
    class Page:
        def __init__(self, i):
            from types import SimpleNamespace
            day = dt.date(2024, 1, 1) + dt.timedelta(days=i)
            self.id = f"n{i:03d}"
            self.url = f"notices/{self.id}.html"
            self.notice = SimpleNamespace(title=self.id, kind="general", posted=day, until=day)
            self.village = SimpleNamespace(village=SimpleNamespace(name="村"))

    class Config:
        title = "测试"
        absolute_url = staticmethod(lambda path: BASE + path)

    xml = atom_feed(Config(), Translator("zh-CN"), path="feed.xml", title="t", home_path="index.html",
                    pages=[Page(i) for i in range(ENTRIES + 20)], history=None, today=TODAY)
    feed = ET.fromstring(xml)
    ids = entry_ids(feed)
    assert len(ids) == ENTRIES and ids[0] == f"notices/n{ENTRIES + 19:03d}.html"
