"""Rebuilds of the fund roll-ups and open data after small edits: the bytes of a clean full
build, made from the previous build's rows (opendata.RowCache) and only the roll-ups asked for.

Each step edits the county the way a clerk would, rebuilds into the same folder with the
same build cache, and compares every file with a build made afresh (new folder, no cache).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import pickle
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, clean_build, retitle, tree_bytes
from generator.build import build
from generator.funds import FundRollups, FundsPlugin
from generator.i18n import Translator
from generator.opendata import TABLES, OpenData
from generator.output import Output

sys.path.insert(0, str(REPO / "bench"))
from corpus import generate  # noqa: E402

TODAY = dt.date(2026, 11, 22)


@pytest.fixture
def county(tmp_path, monkeypatch):
    monkeypatch.setenv("GONGSHI_JOBS", "1")  # pages render in this process, where calls are counted
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    root = generate(tmp_path / "site", notices=60, villages=6, seed=7)
    rewrite(villages(root)[-1], lambda record: record.update(township="新设乡"))  # a second township
    return root


def rebuild(root: Path, tmp: Path, today: dt.date = TODAY):
    """The build a clerk runs: same output folder, same cache as the builds before."""
    return build(root, tmp / "out", today, plugins=[FundsPlugin()])


def fresh_build(root: Path, tmp: Path, today: dt.date, monkeypatch) -> dict[str, bytes]:
    files = clean_build(root, tmp, today, monkeypatch, plugins=[FundsPlugin()])
    assert (tmp / "full-cache" / "opendata" / "rows.pickle").is_file()
    return files


def notices(root: Path) -> list[Path]:
    return sorted((root / "content" / "notices").rglob("*.yaml"))


def villages(root: Path) -> list[Path]:
    return sorted((root / "content" / "villages").glob("*.yaml"))


def rewrite(path: Path, change) -> None:
    record = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(record)
    path.write_text(yaml.safe_dump(record, allow_unicode=True, sort_keys=False), encoding="utf-8")


def funded(root: Path) -> list[Path]:
    return [p for p in notices(root) if "\nfunds:" in p.read_text(encoding="utf-8")]


def cited(root: Path) -> list[str]:
    return sorted({ref for v in villages(root) for c in (yaml.safe_load(v.read_text(encoding="utf-8")).get("plan") or {}).get("commitments", [])
                   for ref in c.get("notices", [])})


# -- the edits ------------------------------------------------------------------------------------

def edit_title(root):
    path = notices(root)[3]
    path.write_text(path.read_text(encoding="utf-8").replace("title: ", "title: 更正：", 1), encoding="utf-8")


def edit_amounts(root):
    def change(record):
        record["funds"] = {"source": "县级财政专项资金（调整）", "total": "12345.67", "items": [
            {"name": "材料", "amount": "12000.60"}, {"name": "人工", "amount": "345.07"}]}
    rewrite(funded(root)[0], change)


def drop_funds(root):
    rewrite(funded(root)[1], lambda record: record.pop("funds"))


def add_funds_without_items(root):
    path = next(p for p in notices(root) if "\nfunds:" not in p.read_text(encoding="utf-8"))
    rewrite(path, lambda record: record.update(funds={"total": "8000"}))  # no source, no items


def rename_notice(root):
    """Same bytes under a new id: rows are cached by id as well as by page key."""
    path = funded(root)[2]
    path.rename(path.with_name("renamed-" + path.name))  # the village page links the new address


def touch_villages(root):
    for path in villages(root):
        path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")


def embargo_cited_notice(root):
    """A commitment's notice is put off to later: it leaves the commitments table too."""
    published = [p for p in notices(root) if p.stem in cited(root) and yaml.safe_load(p.read_text(encoding="utf-8"))["posted"] <= TODAY]
    def change(record):
        record["posted"] = dt.date(2027, 1, 4)
        if "until" in record:
            record["until"] = dt.date(2027, 1, 20)
    rewrite(published[0], change)


def delete_notice(root):
    next(p for p in funded(root) if p.stem not in cited(root)).unlink()


def rename_village(root):
    rewrite(villages(root)[0], lambda record: record.update(name=record["name"] + "（新）"))


def move_village(root):
    townships = sorted({yaml.safe_load(v.read_text(encoding="utf-8"))["township"] for v in villages(root)})
    def change(record):
        record["township"] = next(t for t in townships if t != record["township"]) if len(townships) > 1 else "新设乡"
    rewrite(villages(root)[1], change)


def add_embargoed_notice(root):
    village = villages(root)[2].stem
    (root / "content" / "notices" / village / "later-2026.yaml").write_text(
        f"village: {village}\ntitle: 以后公示的资金\nkind: fund\nposted: 2026-11-25\ndays: 10\nbody: |\n  资金使用计划。\n"
        "funds:\n  source: 县级财政衔接资金\n  total: \"2.5万元\"\n", encoding="utf-8")


def change_base_url(root):
    path = root / "site_config.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("https://gongshi.example.gov.cn/portal/", "https://example.org/g/"),
                    encoding="utf-8")


STEPS = [  # (edit, today after it)
    (edit_title, TODAY), (edit_amounts, TODAY), (drop_funds, TODAY), (add_funds_without_items, TODAY),
    (rename_notice, TODAY), (touch_villages, TODAY), (embargo_cited_notice, TODAY), (delete_notice, TODAY), (rename_village, TODAY), (move_village, TODAY),
    (add_embargoed_notice, TODAY), (lambda root: None, TODAY + dt.timedelta(days=5)),  # the embargo ends
    (change_base_url, TODAY + dt.timedelta(days=5)),
]


def test_every_edit_rebuilds_to_the_bytes_of_a_fresh_build(county, tmp_path, monkeypatch):
    rebuild(county, tmp_path)
    for edit, today in STEPS:
        ignored = edit(county) or set()
        rebuild(county, tmp_path, today)
        got = tree_bytes(tmp_path / "out")
        want = fresh_build(county, tmp_path, today, monkeypatch)
        assert sorted(got) == sorted(want), edit.__name__
        different = [path for path in want if got[path] != want[path] and path not in ignored]
        assert not different, (edit.__name__, different[:5])
        assert any(path.startswith("data/notices/") for path in want)


def counting(monkeypatch, owner, name: str, calls: list) -> None:
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(args[1:])
        return original(*args, **kwargs)
    monkeypatch.setattr(owner, name, counted)


def notice_file(root: Path, page) -> Path:
    path = root / "content" / "notices" / page.village.id / f"{page.id}.yaml"
    assert path.is_file(), path
    return path


def test_a_title_edit_makes_only_that_notices_rows_and_the_rollups_shown(county, tmp_path, monkeypatch):
    first = rebuild(county, tmp_path)
    assert len(first.site.villages) > 1 and len(first.site.townships) > 1  # so "only one" means something
    edited = list(first.site.notices.values())[5]
    calls: dict[str, list] = {name: [] for name in ("_notice_row", "_fund_item_rows", "_village_row", "_commitment_rows", "_rollup")}
    for name in ("_notice_row", "_fund_item_rows", "_village_row", "_commitment_rows"):
        counting(monkeypatch, OpenData, name, calls[name])
    counting(monkeypatch, FundRollups, "_rollup", calls["_rollup"])
    written: list = []
    counting(monkeypatch, Output, "write_text", written)
    retitle(notice_file(county, edited))
    rebuild(county, tmp_path)

    # Only the edited notice's rows, and its village's (whose counts it is part of).
    assert [args[0].id for args in calls["_notice_row"]] == [edited.id]
    assert [args[0].id for args in calls["_fund_item_rows"]] == [edited.id]
    assert [args[0].id for args in calls["_village_row"]] == [edited.village.id]
    assert [args[0].id for args in calls["_commitment_rows"]] == [edited.village.id]
    # The county's roll-up (home page), and those of the village and township pages made again.
    assert sorted(args[0] for args in calls["_rollup"]) == ["county", "township", "village"]
    # Of the villages' fund items, only the edited notice's village's file is made again.
    assert [args[0] for args in written if args[0].startswith("data/villages/")] == [f"data/villages/{edited.village.id}/fund_items.csv"]
    rows = csv.DictReader(io.StringIO((tmp_path / "out" / "data" / "notices.csv").read_text(encoding="utf-8-sig")))
    assert [row["title"].startswith("更正：") for row in rows if row["notice_id"] == edited.id] == [True]

    # The cache holds exactly the last build's notices and villages: it does not grow.
    notice_file(county, edited).unlink()
    third = rebuild(county, tmp_path)
    with open(tmp_path / "cache" / "opendata" / "rows.pickle", "rb") as source:
        kept = pickle.load(source)
    assert edited.id not in third.site.notices
    assert sorted(key.split(" ")[1] for key in kept["notices"]) == sorted(third.site.notices)
    assert sorted(key.split(" ")[1] for key in kept["villages"]) == sorted(third.site.villages)


def test_a_damaged_or_missing_cache_only_costs_making_every_row(county, tmp_path, monkeypatch):
    first = rebuild(county, tmp_path)
    pages = list(first.site.notices.values())
    damages = [lambda p: p.write_bytes(b"\x80\x05garbage"), lambda p: p.write_bytes(pickle.dumps({"version": -1})),
               lambda p: p.write_bytes(pickle.dumps(["not", "a", "dict"])), Path.unlink]
    for number, damage in enumerate(damages):
        damage(tmp_path / "cache" / "opendata" / "rows.pickle")
        retitle(notice_file(county, pages[number]))
        calls: list = []
        with monkeypatch.context() as m:
            counting(m, OpenData, "_notice_row", calls)
            rebuild(county, tmp_path)
        assert len(calls) == len(pages)  # every row made again
        assert tree_bytes(tmp_path / "out") == fresh_build(county, tmp_path, TODAY, monkeypatch)
        retitle(notice_file(county, pages[number]))
        calls.clear()
        with monkeypatch.context() as m:
            counting(m, OpenData, "_notice_row", calls)
            rebuild(county, tmp_path)
        assert [args[0].id for args in calls] == [pages[number].id]  # and the next build has its cache again


def test_row_counts_shown_on_pages_match_the_files(county, tmp_path):
    add_funds_without_items(county)  # one row for its total
    result = rebuild(county, tmp_path)
    out = tmp_path / "out"
    data = OpenData(result.site, Translator(result.site.config.language))
    for table in data.tables():
        rows = list(csv.reader(io.StringIO((out / table["path"]).read_text(encoding="utf-8-sig"))))
        assert table["rows"] == len(rows) - 1 > 0, table["name"]
    for village_id in result.site.villages:
        rows = list(csv.reader(io.StringIO((out / data.village_items_path(village_id)).read_text(encoding="utf-8-sig"))))
        assert data.village_item_count(village_id) == len(rows) - 1
    assert [table.name for table in TABLES] == [table["name"] for table in data.tables()]
