"""The supervision page, its CSV files and the feeds after edits are those of a full build,
though a rebuild makes only the edited records' rows (the rest come from the build cache).
"""
from __future__ import annotations

import datetime as dt
import pickle
import sys
import xml.etree.ElementTree as ET
from array import array
from pathlib import Path

import pytest

from conftest import REPO, clean_build, retitle, tree_bytes
from generator import feeds, supervision
from generator.build import build
from generator.content import load_content
from generator.i18n import Translator
from generator.site import Site
from test_history import commit, edit, git, make_repository
from test_incremental import add_notice, notice_files, village_files

sys.path.insert(0, str(REPO / "bench"))
from corpus import generate  # noqa: E402

TODAY = dt.date(2026, 11, 22)
SUPERVISION_FILES = ("supervision.html", "feed.xml", *(f"{supervision.CSV_FOLDER}/{name}.csv" for name in supervision.CSV_FILES))


@pytest.fixture
def county(tmp_path, monkeypatch):
    root = generate(tmp_path / "site", notices=48, villages=5, seed=21)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    return root


def only_supervision():
    """Builds here run the supervision feature alone: the other features' files are theirs to test."""
    return [supervision.SupervisionPlugin()]


def rebuild(root: Path, out: Path, today: dt.date, inputs: str | None = None):
    return build(root, out, today, plugins=only_supervision(), inputs=inputs)


def full_build(root: Path, tmp: Path, today: dt.date, monkeypatch) -> dict:
    return clean_build(root, tmp, today, monkeypatch, plugins=only_supervision())


def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "cache" / supervision.ROWS_CACHE


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def uncited(root: Path) -> list[Path]:
    """Notice files no commitment cites (a commitment citing a missing notice is an error)."""
    plans = "".join(path.read_text(encoding="utf-8") for path in village_files(root))
    return [path for path in notice_files(root) if path.stem not in plans]


def with_objection(root: Path) -> Path:
    return next(p for p in notice_files(root) if "    resolution: " in p.read_text(encoding="utf-8"))


def with_commitment(root: Path) -> Path:
    return next(p for p in village_files(root) if "    status: " in p.read_text(encoding="utf-8"))


# -- the edits, each touching what the supervision page shows ------------------------------------

def objection_left_open(root, today):
    path = with_objection(root)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(line for line in lines if not line.startswith("    resolution: ")), encoding="utf-8")


def commitment_done(root, today):
    path = with_commitment(root)
    text = path.read_text(encoding="utf-8")
    status = text.split("    status: ", 1)[1].split("\n", 1)[0]
    replace_in(path, f"    status: {status}", "    status: done" if status != "done" else "    status: delayed")


def village_renamed(root, today):
    replace_in(village_files(root)[1], "name: ", "name: 新")


def notice_gone(root, today):
    uncited(root)[3].unlink()


def notice_moved(root, today):
    path = uncited(root)[7]
    path.rename(path.with_name("moved-" + path.name))


def notice_added(root, today):
    import random

    add_notice(root, random.Random(len(notice_files(root))))


def stricter_rules(root, today):
    with (root / "site_config.yaml").open("a", encoding="utf-8") as config:
        config.write("notice_rules:\n  min_posting_days:\n    general: 30\n")


def rows_template_changed(root, today):
    theme = root / "themes" / "default" / "templates"
    theme.mkdir(parents=True, exist_ok=True)
    source = (REPO / "themes" / "default" / "templates" / supervision.ROWS_TEMPLATE).read_text(encoding="utf-8")
    changed = source.replace('<span class="meta">', '<span class="meta village">')
    assert changed != source
    (theme / supervision.ROWS_TEMPLATE).write_text(changed, encoding="utf-8")


def title_corrected(root, today):
    retitle(notice_files(root)[0])


STEPS = [
    (title_corrected, TODAY),
    (objection_left_open, TODAY),
    (commitment_done, TODAY),
    (village_renamed, TODAY),
    (notice_gone, TODAY),
    (notice_moved, TODAY),
    (notice_added, TODAY),
    (title_corrected, TODAY + dt.timedelta(days=40)),  # and the quarter turns
    (stricter_rules, TODAY + dt.timedelta(days=40)),
    (rows_template_changed, TODAY + dt.timedelta(days=40)),
]


def test_every_edit_rebuilds_to_the_bytes_of_a_full_build(county, tmp_path, monkeypatch):
    out = tmp_path / "out"
    rebuild(county, out, TODAY)
    for step, (change, today) in enumerate(STEPS):
        change(county, today)
        rebuild(county, out, today)
        got, expected = tree_bytes(out), full_build(county, tmp_path, today, monkeypatch)
        assert sorted(got) == sorted(expected), f"step {step} ({change.__name__})"
        for path in SUPERVISION_FILES:  # the page and the CSV files first, for a readable failure
            assert got[path] == expected[path], f"step {step} ({change.__name__}): {path}"
        assert got == expected, f"step {step} ({change.__name__})"
        assert cache_file(tmp_path).is_file()


class Made:
    """Counts the rows a build makes, by kind, through the module's row functions."""

    def __init__(self, monkeypatch):
        self.counts: dict[str, int] = {}
        for name in ("posting_row", "ended_row", "problem_row", "overdue_row", "quarter_rows"):
            monkeypatch.setattr(supervision, name, self._counting(name, getattr(supervision, name)))

    def _counting(self, name, function):
        def counted(*args):
            self.counts[name] = self.counts.get(name, 0) + 1
            return function(*args)
        return counted


def test_a_title_correction_makes_only_that_notices_rows(county, tmp_path, monkeypatch):
    out = tmp_path / "out"
    made = Made(monkeypatch)
    rebuild(county, out, TODAY)
    site = Site.from_content(load_content(county), TODAY)
    report = supervision.supervision_report(site)
    assert made.counts["problem_row"] == len(report.problems) > 10
    assert made.counts["quarter_rows"] == len(site.villages)

    path = notice_files(county)[0]
    notice = site.notices[path.stem]
    assert report.problems_of_notice(notice.id), "the edited notice should be on the supervision page"
    made.counts.clear()
    retitle(path)
    rebuild(county, out, TODAY)
    # Its problems, and the quarters row and overdue commitments of its village and of any
    # village citing it (a village page's key covers its notices and the notices it cites).
    villages = {notice.village.id} | {v.id for v in site.villages.values() if v.village.plan
                                       and any(notice.id in c.notices for c in v.village.plan.commitments)}
    assert made.counts.get("problem_row") == len(report.problems_of_notice(notice.id))
    assert made.counts.get("quarter_rows") == len(villages) < len(site.villages)
    assert made.counts.get("overdue_row", 0) == sum(len(report.overdue_of_village(v)) for v in villages)
    assert made.counts.get("posting_row", 0) + made.counts.get("ended_row", 0) <= 1
    assert tree_bytes(out) == full_build(county, tmp_path, TODAY, monkeypatch)
    # The CSV files put together from kept rows are the tables made from the model at once.
    site = Site.from_content(load_content(county), TODAY)
    tables = supervision.csv_tables(supervision.supervision_report(site), site, supervision.Wording(site.config.language))
    assert tables == {path: (out / path).read_bytes() for path in tables}

    made.counts.clear()
    rebuild(county, out, TODAY, inputs="a build though nothing changed")
    assert made.counts == {}


def kept_ids(stored: dict, table: str) -> list[str]:
    """The record ids of a table of the stored cache (each table's first element)."""
    ids = stored["tables"][table][0]
    return ids.split("\0") if ids else []


def test_a_damaged_or_foreign_cache_only_costs_making_rows_again(county, tmp_path, monkeypatch):
    out = tmp_path / "out"
    rebuild(county, out, TODAY)
    made = Made(monkeypatch)
    good = pickle.loads(cache_file(tmp_path).read_bytes())
    assert good["version"] == supervision.ROWS_CACHE_VERSION and set(good["tables"]) == set(supervision.RowCache.TABLES)
    report = supervision.supervision_report(Site.from_content(load_content(county), TODAY))
    every = {"problem_row": len(report.problems), "quarter_rows": len(village_files(county))}
    assert len(report.problems) > 10
    ids, keys, states, kinds = good["tables"]["notices"]
    ids, keys = ids.split("\0"), keys.split("\0")
    changed = [n for n, notice_id in enumerate(ids[:8]) if report.problems_of_notice(notice_id)][:4]
    other_keys = "\0".join("another key" if n in changed else key for n, key in enumerate(keys))
    no_photo = kinds["no_photo"]
    village_ids, village_keys, _, _ = good["tables"]["villages"]

    def tables(**changed_tables):
        return pickle.dumps({**good, "tables": {**good["tables"], **changed_tables}})

    damages = [  # (what the cache file holds, the rows made again)
        (b"not a pickle", every),
        (cache_file(tmp_path).read_bytes()[:1000], every),
        (pickle.dumps(["a list"]), every),
        (pickle.dumps({**good, "setting": "another tool, date or config"}), every),
        (pickle.dumps({**good, "version": supervision.ROWS_CACHE_VERSION + 1}), every),
        (pickle.dumps({**good, "tables": None}), every),
        (tables(notices=("a", "b")), {"problem_row": len(report.problems)}),
        (tables(notices=("\0".join(ids), "\0".join(keys), states, {**kinds, "no_photo": (no_photo[0][:-1], *no_photo[1:])})),
         {"problem_row": len(report.problems)}),
        (tables(notices=("\0".join(ids), "\0".join(keys), b"\x07" * len(ids), kinds)),
         {"problem_row": len(report.problems)}),
        (tables(villages=None), {"quarter_rows": len(village_files(county))}),
        (tables(notices=("\0".join(ids), other_keys, states, kinds)),
         {"problem_row": sum(len(report.problems_of_notice(ids[n])) for n in changed)}),
        # Rows that cannot be read: everything is made again.
        (tables(villages=(village_ids, village_keys, b"x" * 8, array("Q", [0] + [8] * len(village_files(county))).tobytes())),
         every),
    ]
    expected = full_build(county, tmp_path, TODAY, monkeypatch)
    for number, (damage, again) in enumerate(damages):
        cache_file(tmp_path).write_bytes(damage)
        made.counts.clear()
        rebuild(county, out, TODAY, inputs=f"damage {number}")  # nothing changed, but build
        assert {name: made.counts.get(name, 0) for name in again} == again, number
        assert "quarter_rows" in again or "quarter_rows" not in made.counts, number
        assert tree_bytes(out) == expected, number
        assert pickle.loads(cache_file(tmp_path).read_bytes()) == good, number


def test_the_cache_keeps_only_this_builds_records(county, tmp_path, monkeypatch):
    out = tmp_path / "out"
    rebuild(county, out, TODAY)
    for path in uncited(county)[:8]:
        path.unlink()
    rebuild(county, out, TODAY)
    stored = pickle.loads(cache_file(tmp_path).read_bytes())
    site = Site.from_content(load_content(county), TODAY)
    assert kept_ids(stored, "notices") == list(site.notices)
    assert kept_ids(stored, "villages") == [v.id for t in site.townships for v in t.villages]
    report = supervision.supervision_report(site)
    assert sorted(kept_ids(stored, "lists")) == sorted(p.id for p in report.posting + report.ended)


def test_the_report_groups_problems_as_the_whole_list_does(county):
    """Problems are found per notice when asked for; by notice and by village they are the
    whole list's, in its order."""
    objection_left_open(county, TODAY)
    site = Site.from_content(load_content(county), TODAY)
    every = supervision.supervision_report(site).problems
    assert [p.kind for p in every] == sorted((p.kind for p in every), key=supervision.PROBLEM_KINDS.index)
    assert {"no_photo", "unresolved_objection"} <= {p.kind for p in every}
    for asked_first in ("everything", "by notice", "by village"):
        report = supervision.supervision_report(site)
        if asked_first == "everything":
            assert [(p.kind, p.page.id) for p in report.problems] == [(p.kind, p.page.id) for p in every]
        elif asked_first == "by village":
            by_village = {v: report.problems_of_village(v) for v in site.villages}
        by_notice = {n: report.problems_of_notice(n) for n in site.notices}
        by_village = {v: report.problems_of_village(v) for v in site.villages}
        assert [(p.kind, p.page.id) for p in report.problems] == [(p.kind, p.page.id) for p in every]
        for notice_id, problems in by_notice.items():
            assert problems == [p for p in report.problems if p.page.id == notice_id]
        for village_id, problems in by_village.items():
            assert problems == [p for p in report.problems if p.page.village.id == village_id]
        assert report.problems_of_notice("no-such-notice") == [] and report.problems_of_village("no-such-village") == []


def test_a_commit_after_posting_rebuilds_to_the_bytes_of_a_full_build(tmp_path, monkeypatch):
    """In git, committing an edit changes the notice's history, not its file: its rows show the
    change after posting once it is committed."""
    _, root, _ = make_repository(tmp_path / "repo", nested=False)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    today, out = dt.date(2024, 4, 5), tmp_path / "out"
    edit(root, "content/notices/dahe/short-period.yaml", "title: ", "title: 更正：")
    rebuild(root, out, today)  # edited, not committed yet

    def changed_after_posting(page: bytes) -> int:
        return page.decode("utf-8").count('href="notices/short-period.html#history-h"')

    before = changed_after_posting((out / "supervision.html").read_bytes())
    commit(root, "short-period: title after posting", "2024-04-05T09:30:00+08:00")
    rebuild(root, out, today)
    got, expected = tree_bytes(out), full_build(root, tmp_path, today, monkeypatch)
    assert changed_after_posting(got["supervision.html"]) == before + 1
    assert got == expected


def test_histories_are_made_again_only_for_notices_whose_commits_or_day_changed(tmp_path, monkeypatch):
    from generator import history as history_module

    repo, root, _ = make_repository(tmp_path / "repo", nested=False)
    cache = tmp_path / "cache"
    made = set()
    real = history_module.notice_history
    monkeypatch.setattr(history_module, "notice_history",
                        lambda touches, *args: made.add(Path(touches[0].path).stem) or real(touches, *args))

    def histories(cache_dir=cache):
        content = load_content(root)
        site = Site.from_content(content, dt.date(2024, 4, 5))
        return history_module.read_history(root, {i: p.notice for i, p in site.notices.items()}, content.config, cache_dir)

    first = histories()
    assert first.of("road").changed_after_posting and len(made) == len(first.notices) == 6
    short, objection = "content/notices/dahe/short-period.yaml", "content/notices/dahe/open-objection.yaml"
    steps = [  # (what happens, the notices whose histories are made again)
        (lambda: None, set()),
        (lambda: edit(root, short, "title: ", "title: 更正："), set()),  # not committed: the same commits
        # A day earlier (not committed), the same place in the model: posting began earlier.
        (lambda: edit(root, objection, "posted: 2024-03-28", "posted: 2024-03-27"), {"open-objection"}),
        (lambda: commit(repo, "two notices", "2024-04-05T09:30:00+08:00"), {"short-period", "open-objection"}),
        # The same number of commits, one of them another.
        (lambda: git(repo, "commit", "-q", "--amend", "-m", "two notices, at 11", date="2024-04-05T11:00:00+08:00"),
         {"short-period", "open-objection"}),
        (lambda: (root / short).rename(root / "content/notices/dahe/short.yaml"), set()),  # not committed: no history
        (lambda: next((cache / "history").glob("histories-*.pickle")).write_bytes(b"damaged"),
         set(first.notices) - {"short-period"}),  # everything made again (short-period: now short, not committed)
    ]
    for number, (happen, again) in enumerate(steps):
        happen()
        made.clear()
        kept = histories()
        assert made == again, number
        assert kept == histories(cache_dir=None), number
    assert len(list((cache / "history").glob("histories-*"))) == 1


def test_after_a_commit_only_the_new_commits_files_are_looked_up(tmp_path, monkeypatch):
    """Which file a commit holds at a path never changes: the lookups of the previous HEAD are kept."""
    from generator import history as history_module

    repo, root, _ = make_repository(tmp_path / "repo", nested=False)
    cache = tmp_path / "cache"

    def histories(cache_dir=cache):
        content = load_content(root)
        site = Site.from_content(content, dt.date(2024, 4, 5))
        return history_module.read_history(root, {i: p.notice for i, p in site.notices.items()}, content.config, cache_dir)

    histories()
    asked = []
    real = history_module.blob_ids
    monkeypatch.setattr(history_module, "blob_ids",
                        lambda where, prefix, pairs: asked.extend(pairs) or real(where, prefix, pairs))
    edit(root, "content/notices/dahe/short-period.yaml", "title: ", "title: 更正：")
    new = commit(repo, "short-period: title", "2024-04-05T09:30:00+08:00")
    kept = histories()
    assert asked == [(new, "content/notices/dahe/short-period.yaml")]
    assert kept == histories(cache_dir=None) and len(asked) > 5  # without the cache: every version
    assert len(list((cache / "history").glob("log-*.json"))) == 1


# -- the site feed: the newest entries found among a few candidates ------------------------------

def feed_entry_ids(xml: str) -> list[str]:
    atom = "{http://www.w3.org/2005/Atom}"
    return [entry.findtext(atom + "id") for entry in ET.fromstring(xml).findall(atom + "entry")]


@pytest.mark.parametrize("entries", [1, 2, 3, 5, 8, 100])
def test_the_site_feed_from_candidates_is_the_feed_of_every_notice(tmp_path, monkeypatch, entries):
    """In git, a notice changed after posting is dated by that change: an old notice can be
    among the newest. The feed made from the candidates is the feed made from every notice."""
    _, root, _ = make_repository(tmp_path, nested=False)
    edit(root, "content/notices/dahe/short-period.yaml", "title: ", "title: 更正：")
    commit(root, "short-period: title", "2024-04-05T09:30:00+08:00")
    today = dt.date(2024, 4, 5)
    monkeypatch.setattr(feeds, "ENTRIES", entries)
    content = load_content(root)
    site = Site.from_content(content, today)
    from generator.history import read_history

    history = read_history(root, {i: p.notice for i, p in site.notices.items()}, content.config, None)
    t = Translator(content.config.language)
    pages = list(site.notices.values())
    changed = [p.id for p in pages if feeds.entry_updated(p, history) != feeds._start_of(p.notice.posted)]
    assert "short-period" in changed and "road" in changed

    def feed(pages):
        return feeds.atom_feed(content.config, t, path="feed.xml", title="t", home_path="index.html", pages=pages,
                               history=history, today=today)

    candidates = feeds.newest_candidates(pages, history)
    assert feed(candidates) == feed(pages)
    assert len(feed_entry_ids(feed(pages))) == min(entries, len(pages))
    assert len(candidates) <= entries + len(changed)
    assert feeds.newest_candidates(pages, None) == sorted(pages, key=lambda p: (-p.notice.posted.toordinal(), p.id))[:entries]
