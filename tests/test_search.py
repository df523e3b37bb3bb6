"""Search without a browser: the analyzer, the index files, the whoosh index and `gongshi search`."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from conftest import make_site, run_cli
from generator.search_analysis import char_tokens, normalize, query_parts, term_positions, tokens
from generator.search_export import (
    CONTINUE, FINAL, IndexBuilder, decode_numbers, encode_number, term_hash, window,
)

TODAY = dt.date(2026, 11, 22)

EXTRA_NOTICE = """\
village: xiaohe
title: 村道路灯安装项目公示
kind: project
posted: 2024-05-01
days: 10
body: |
  安装太阳能LED路灯20盏，铺设PE管道60,000米。危房改造另行公示。
funds:
  source: 县级财政衔接资金
  total: 30000
"""


def test_pairs_positions_and_words():
    found = [(t.text, t.pos) for t in tokens("危房改造，ＰＥ管60,000米")]
    assert found == [("危房", 0), ("房改", 1), ("改造", 2), ("pe", 5), ("60000", 8), ]
    assert [t.text for t in char_tokens("危房 ab 改")] == ["危", "房", "改"]
    positions, length = term_positions("哈哈哈。哈哈")
    assert positions == {"哈哈": [0, 1, 4]} and length == 3


def test_query_parts_split_like_the_index():
    parts = query_parts("危房改造 LED 村 60,000")
    assert [(p.text, p.terms, p.is_char) for p in parts] == [
        ("危房改造", ("危房", "房改", "改造"), False), ("led", ("led",), False), ("村", ("村",), True), ("60000", ("60000",), False),
    ]
    assert query_parts("  ，。") == []
    assert [p.text for p in query_parts("低保 低保")] == ["低保"]


def test_normalize_is_per_character():
    text = "ＡＢ……①Σ"
    assert normalize(text) == "ab......1σ"
    assert len(normalize("危房")) == 2


def test_numbers_round_trip_through_the_alphabet():
    alphabet = FINAL + CONTINUE
    assert len(set(alphabet)) == len(alphabet) == 82 and not set(alphabet) & set('"\\0123456789')
    values = [0, 1, 63, 64, 1215, 1216, 99999, 12345678]
    assert decode_numbers("".join(encode_number(v) for v in values)) == values
    assert [len(encode_number(v)) for v in (63, 64, 1215, 1216)] == [1, 2, 2, 3]


def test_term_hash_is_fnv1a_over_utf16():
    assert term_hash("") == 0x811C9DC5
    assert term_hash("a") == 0xE40C292C  # the published FNV-1a test vector


def test_window_quotes_around_the_first_match():
    text = "甲" * 100 + "危房改造" + "乙" * 100
    quoted = window(text, "危房")
    assert quoted.startswith("…") and quoted.endswith("…") and "危房改造" in quoted and len(quoted) < 90
    assert window("短文本", "无") == "短文本"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from generator.build import build

    root = make_site(tmp_path_factory.mktemp("search"), files={"content/notices/xiaohe/lights.yaml": EXTRA_NOTICE})
    build(root, root / "build", TODAY)
    return root


def read_script(path: Path):
    text = path.read_text(encoding="utf-8")
    match = re.fullmatch(r'gongshiSearch\.(\w+)\("([^"]+)",(.*)\);\n', text, re.S)
    assert match, path
    return match.group(1), match.group(2), json.loads(match.group(3))


def test_build_writes_the_search_page_and_index(built):
    out = built / "build"
    page = (out / "search.html").read_text(encoding="utf-8")
    assert 'id="search-directory"' in page and 'href="villages/xiaohe.html"' in page and 'href="notices/road.html"' in page
    assert 'src="assets/search.js"' in page
    kind, key, meta = read_script(out / "search" / "meta.js")
    assert (kind, key) == ("meta", "meta")
    assert meta["docs"] == 3  # the village and its two published notices
    # Every page's header has the plain GET form to the search page.
    village = (out / "villages" / "xiaohe.html").read_text(encoding="utf-8")
    assert 'action="../search.html" method="get"' in village and 'name="q"' in village


def test_nothing_private_or_unpublished_is_in_the_index(built):
    text = "".join(p.read_text(encoding="utf-8") for p in sorted((built / "build" / "search").rglob("*.js")))
    for name in ("t", "r"):
        for path in (built / "build" / "search" / name).glob("*.js"):
            data = read_script(path)[2]
            for encoded in (data["terms"].values() if name == "t" else []):
                assert not re.search(r"[0-9]", encoded), path  # postings never form digit runs
    for secret in ("张三丰", "张*丰", "11010519491231002X", "13900001111", "6217000010001234567", "尚未开始"):
        assert secret not in text
    assert "村道硬化项目公示" in text  # the published notice is there


def test_shards_hold_every_term_with_exact_statistics(built):
    from generator.search import documents
    from generator.content import load_content
    from generator.site import Site
    from generator.i18n import Translator

    content = load_content(built)
    docs = documents(Site.from_content(content, TODAY), Translator("zh-CN"))
    index = IndexBuilder(docs)
    out = built / "build" / "search"
    meta = read_script(out / "meta.js")[2]
    assert meta["lengths"] == index.totals
    big = set(meta["big"].split())
    for term in ("路灯", "led", "60000", "危", "k:project", "v:xiaohe"):
        name = f"b/{term_hash(term):08x}" if term in big else f"t/{term_hash(term) % meta['shards']}"
        assert term in read_script(out / f"{name}.js")[2]["terms"], term


def test_cli_search_ranks_and_filters(built):
    result = run_cli("search", "路灯", "--root", str(built), "--today", TODAY.isoformat(), "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert [h["url"] for h in hits] == ["notices/lights.html"]
    assert "Updating the search index (3 of 3 documents changed)" in result.stderr
    again = run_cli("search", "公示", "--root", str(built), "--today", TODAY.isoformat(), "--json")
    assert again.stderr == ""  # nothing changed: nothing re-indexed
    both = json.loads(again.stdout)
    assert {h["url"] for h in both} == {"notices/lights.html", "notices/road.html"}
    assert [h["score"] for h in both] == sorted((h["score"] for h in both), reverse=True)
    only = json.loads(run_cli("search", "公示", "--root", str(built), "--today", TODAY.isoformat(), "--year", "2024", "--kind", "fund", "--json").stdout)
    assert only == []
    bad = run_cli("search", "公示", "--root", str(built), "--village", "nowhere")
    assert bad.returncode == 1 and "No such village: nowhere" in bad.stderr
    text = run_cli("search", "危房改造", "--root", str(built), "--today", TODAY.isoformat())
    assert text.returncode == 0 and "1 results" in text.stdout and "notices/lights.html" in text.stdout


def test_whoosh_index_is_updated_incrementally_and_stays_exact(tmp_path, monkeypatch):
    import generator.search_whoosh

    monkeypatch.setattr(generator.search_whoosh, "SEGMENT_DOCS", 1)  # one document per segment
    from generator.content import load_content
    from generator.i18n import Translator
    from generator.search import documents
    from generator.search_whoosh import search, update
    from generator.site import Site

    root = make_site(tmp_path, files={"content/notices/xiaohe/lights.yaml": EXTRA_NOTICE})

    def docs_now():
        return documents(Site.from_content(load_content(root), TODAY), Translator("zh-CN"))

    folder = tmp_path / "cache" / "whoosh"
    assert update(folder, docs_now()) == 3
    assert update(folder, docs_now()) == 0  # nothing changed, nothing re-indexed
    lights = root / "content/notices/xiaohe/lights.yaml"
    lights.write_text(EXTRA_NOTICE.replace("20盏", "30盏"), encoding="utf-8")
    assert update(folder, docs_now()) == 1
    (root / "content/notices/xiaohe/road.yaml").unlink()
    (root / "content/villages/xiaohe.yaml").write_text(
        (root / "content/villages/xiaohe.yaml").read_text(encoding="utf-8").replace("notices: [road]", "notices: []"), encoding="utf-8")
    docs = docs_now()
    update(folder, docs)
    fresh = tmp_path / "fresh"
    update(fresh, docs)
    for query in ("公示", "路灯", "村", "30"):
        assert search(folder, docs, query) == search(fresh, docs, query), query


def test_index_files_are_byte_identical_build_after_build(tmp_path, monkeypatch):
    import generator.search_export as search_export
    from conftest import tree_bytes
    from generator.build import build

    # Small thresholds, so this tiny site gets every kind of index file a county's has.
    monkeypatch.setattr(search_export, "BIG_BYTES", 25)
    monkeypatch.setattr(search_export, "GROUP_SIZE", 1)
    monkeypatch.setattr(search_export, "PAGE_FILES_FROM_GROUPS", 1)
    monkeypatch.setattr(search_export, "PAGE_FILE_MIN_DOCS", 1)
    monkeypatch.setattr(search_export, "PAGE_SIZE", 3)
    root = make_site(tmp_path, files={"content/notices/xiaohe/lights.yaml": EXTRA_NOTICE})
    build(root, tmp_path / "one", TODAY)
    build(root, tmp_path / "two", TODAY)
    one, two = tree_bytes(tmp_path / "one" / "search"), tree_bytes(tmp_path / "two" / "search")
    assert one == two
    assert {path.split("/")[0] for path in one} == {"b", "p", "r", "t", "meta.js", "v.js"}


def test_benchmark_corpus_is_valid_content_and_deterministic(tmp_path):
    import sys

    from conftest import REPO, tree_bytes
    from generator.content import load_content

    sys.path.insert(0, str(REPO / "bench"))
    try:
        from corpus import generate
    finally:
        sys.path.remove(str(REPO / "bench"))
    one = generate(tmp_path / "one", notices=80, villages=8, seed=3)
    two = generate(tmp_path / "two", notices=80, villages=8, seed=3)
    assert tree_bytes(one) == tree_bytes(two)
    assert tree_bytes(generate(tmp_path / "three", notices=80, villages=8, seed=4)) != tree_bytes(one)
    content = load_content(one)  # every file passes the content checks
    assert len(content.notices) == 80 and len(content.villages) == 8
    assert {n.kind for n in content.notices.values()} == {"fund", "project", "beneficiaries", "plan", "general"}
    assert any(n.beneficiaries for n in content.notices.values())


def test_documents_are_each_village_then_its_notices_newest_first(tmp_path):
    """The documents' order is the rank among equal scores and the browser's numbering: by
    township, villages by id, each village before its notices, those newest first (ties by id)."""
    import random
    import sys

    from conftest import REPO
    from generator.content import load_content
    from generator.i18n import Translator
    from generator.search import documents
    from generator.site import Site

    sys.path.insert(0, str(REPO / "bench"))
    from corpus import generate

    root = generate(tmp_path / "site", notices=80, villages=4, seed=3)
    paths = sorted((root / "content" / "notices").rglob("*.yaml"))
    for path in random.Random(3).sample(paths, 20):  # same days, so that ids must break the ties
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^until: .*$", "days: 10", re.sub(r"(?m)^posted: .*$", "posted: 2026-03-02", text, count=1))
        path.write_text(text, encoding="utf-8")
    content = load_content(root)
    site = Site.from_content(content, TODAY)
    keys = [doc.key for doc in documents(site, Translator("zh-CN"))]
    expected = []
    for township in site.townships:
        for village in sorted(township.villages, key=lambda v: v.id):
            expected.append(f"village:{village.id}")
            published = [n for n in content.notices.values() if n.village == village.id and n.id in site.notices]
            expected += [f"notice:{n.id}" for n in sorted(published, key=lambda n: (-n.posted.toordinal(), n.id))]
    assert keys == expected
    assert len({key for key in keys if key.startswith("notice:")}) == len(site.notices) > 60
