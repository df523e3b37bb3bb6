"""Notice fingerprints: they change when, and only when, what the notice page publishes changes.

The canonical form is checked against a JSON document written out here from the fixture file
by hand, so the test does not trust `fingerprint.canonical` to define itself.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

import pytest

from conftest import SITES, make_site
from generator.build import build
from generator.content import load_content
from generator.fingerprint import SECTIONS, canonical, fingerprint, short_fingerprint
from generator.site import Site

TODAY = dt.date(2024, 4, 5)
ROAD = "content/notices/xiaohe/road.yaml"
ROAD_TEXT = (SITES / "minimal" / ROAD).read_text(encoding="utf-8")


def road_page(tmp_path, text: str = ROAD_TEXT):
    root = make_site(tmp_path, files={ROAD: text})
    (root / ROAD).write_bytes(text.encode("utf-8"))  # keep CRLF when a test writes it
    return Site.from_content(load_content(root), TODAY).notices["road"]


def edit(text: str, old: str, new: str) -> str:
    assert old in text, f"the fixture no longer holds {old!r}: the test would edit nothing"
    return text.replace(old, new, 1)


# The road notice of tests/sites/minimal, as its page publishes it (beneficiary de-identified).
EXPECTED_ROAD = {
    "format": "gongshi-notice/2",
    "village": "xiaohe",
    "title": "村道硬化项目公示",
    "kind": "project",
    "stage": "before",
    "posted": "2024-04-01",
    "until": "2024-04-10",
    "period_stated": True,
    "published_by": "小河村村民委员会",
    "reviewed_by": "村务监督委员会",
    "body": "现将村道硬化项目公示如下。",
    "funds": {
        "source": "县级财政衔接资金",
        "total": "60000.00",
        "items": [{"name": "路面硬化", "amount": "40000.00"}, {"name": "排水沟", "amount": "20000.00"}],
    },
    "project": {
        "location": "小河村一组", "content": "硬化村道1公里", "subsidy_standard": None, "period": None,
        "implementer": None, "responsible": "钱镇长（副镇长）", "goals": None, "benefit_mechanism": None,
    },
    "beneficiaries": [{"name": "张*丰", "household_size": 4, "amount": "2000.00", "note": None}],
}


def test_canonical_form_is_sorted_compact_json_of_the_published_notice(tmp_path):
    text = canonical(road_page(tmp_path))
    assert json.loads(text) == EXPECTED_ROAD
    assert set(json.loads(text)) == {"format", *SECTIONS}
    assert text == json.dumps(EXPECTED_ROAD, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def test_fingerprint_is_the_sha256_of_the_canonical_json(tmp_path):
    page = road_page(tmp_path)
    expected = hashlib.sha256(
        json.dumps(EXPECTED_ROAD, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    ).hexdigest()
    assert fingerprint(page) == expected
    assert short_fingerprint(page) == expected[:8]
    assert re.fullmatch(r"[0-9a-f]{8}", short_fingerprint(page))


def test_canonical_form_carries_nothing_the_page_does_not_publish(tmp_path):
    text = canonical(road_page(tmp_path))
    for private in ("张三丰", "11010519491231002X", "13900001111", "6217000010001234567"):
        assert private not in text


SAME = {
    "a YAML comment": lambda s: "# 2024年4月 村委会录入\n" + edit(s, "kind: project\n", "kind: project  # 项目类\n"),
    "keys in another order": lambda s: edit(edit(s, "village: xiaohe\n", ""), "kind: project\n", "kind: project\nvillage: xiaohe\n"),
    "quoting and flow style": lambda s: edit(edit(s, "title: 村道硬化项目公示", 'title: "村道硬化项目公示"'),
                                             "    - name: 路面硬化\n      amount: 40000", "    - {name: 路面硬化, amount: '40,000元'}"),
    "an amount written another way": lambda s: edit(s, 'total: "6万元"', "total: 60000.00"),
    "days instead of until": lambda s: edit(s, "until: 2024-04-10", "days: 10"),
    "CRLF line ends": lambda s: s.replace("\n", "\r\n"),
    "a body without its final newline": lambda s: edit(s, "body: |\n", "body: |-\n"),
    "an unpublished beneficiary phone": lambda s: edit(s, '"13900001111"', '"13900002222"'),
    "an unpublished bank account": lambda s: edit(s, '"6217000010001234567"', '"6217000010009999999"'),
    "a name that masks the same": lambda s: edit(s, "name: 张三丰", "name: 张四丰"),
    # Recorded after the paper went up: they must not make the board disagree with the site.
    "a posting record": lambda s: s + "  - place: 二组公开栏\n    date: 2024-04-02\n",
    "an objection record": lambda s: s + "objections:\n  - received: 2024-04-03\n    summary: 有村民反映路线有误\n",
}

CHANGED = {
    "an amount": lambda s: edit(edit(s, 'total: "6万元"', "total: 60001"), "amount: 40000", "amount: 40001"),
    "the title": lambda s: edit(s, "title: 村道硬化项目公示", "title: 村道硬化工程公示"),
    "the posted date": lambda s: edit(s, "posted: 2024-04-01", "posted: 2024-04-02"),
    "the posting period": lambda s: edit(s, "until: 2024-04-10", "until: 2024-04-11"),
    "the body": lambda s: edit(s, "现将村道硬化项目公示如下。", "现将村道硬化项目公示如下，请监督。"),
    "the stage": lambda s: edit(s, "stage: before", "stage: after"),
    "the reviewer": lambda s: edit(s, "reviewed_by: 村务监督委员会", "reviewed_by: 村民代表"),
    "the fund source": lambda s: edit(s, "source: 县级财政衔接资金", "source: 省级财政衔接资金"),
    "a project field": lambda s: edit(s, "location: 小河村一组", "location: 小河村二组"),
    "a beneficiary's amount": lambda s: edit(s, "    amount: 2000", "    amount: 2500"),
    "a beneficiary's published name": lambda s: edit(s, "name: 张三丰", "name: 李三丰"),
}


@pytest.mark.parametrize("change", SAME)
def test_fingerprint_ignores_how_the_file_is_written(tmp_path, change):
    before = short_fingerprint(road_page(tmp_path / "a"))
    assert short_fingerprint(road_page(tmp_path / "b", SAME[change](ROAD_TEXT))) == before


@pytest.mark.parametrize("change", CHANGED)
def test_fingerprint_changes_with_the_published_content(tmp_path, change):
    before = short_fingerprint(road_page(tmp_path / "a"))
    assert short_fingerprint(road_page(tmp_path / "b", CHANGED[change](ROAD_TEXT))) != before


def shown_codes(out) -> tuple[str, str]:
    """The check code as printed on the notice page (a facts row) and on its poster."""
    page = (out / "notices" / "road.html").read_text(encoding="utf-8")
    row = re.search(r'<div><dt>[^<]+</dt><dd><code class="fingerprint">([0-9a-f]+)</code>', page)
    assert row, "no check code row on the notice page"
    poster = (out / "posters" / "road.html").read_text(encoding="utf-8")
    assert poster.count(row.group(1)) >= 1
    return row.group(1), poster


def test_page_and_poster_show_the_same_code_and_it_follows_the_content(tmp_path):
    root = make_site(tmp_path)
    first, _ = shown_codes(build(root, today=TODAY).out_dir)
    assert first == hashlib.sha256(
        json.dumps(EXPECTED_ROAD, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    ).hexdigest()[:8]
    (root / ROAD).write_text("# re-saved by the clerk\n" + ROAD_TEXT, encoding="utf-8")
    assert shown_codes(build(root, today=TODAY).out_dir)[0] == first
    (root / ROAD).write_text(CHANGED["an amount"](ROAD_TEXT), encoding="utf-8")
    second, poster = shown_codes(build(root, today=TODAY).out_dir)
    assert second != first and first not in poster
