"""Revision history from git: commits per notice (following renames), what each changed, and
"changed after posting began", with one `git log` for the whole site and a cache by HEAD.

The repository is made in a temporary folder with fixed commit dates, so every date asserted
here comes from git, never from the clock.
"""
from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest

from conftest import make_site
from generator import history as history_module
from generator.build import build
from generator.content import load_content
from generator.history import Change, Commit, follow, parse_log, read_history, repository_state
from generator.site import Site
from generator.supervision import supervision_report

TODAY = dt.date(2024, 4, 5)
ROAD = "content/notices/xiaohe/road.yaml"
ROAD_MOVED = "content/notices/xiaohe/2024/road.yaml"


def git(repo: Path, *args: str, date: str | None = None) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="县乡村振兴局", GIT_AUTHOR_EMAIL="clerk@example.gov.cn",
               GIT_COMMITTER_NAME="县乡村振兴局", GIT_COMMITTER_EMAIL="clerk@example.gov.cn",
               GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def edit(root: Path, relpath: str, old: str, new: str) -> None:
    path = root / relpath
    text = path.read_text(encoding="utf-8")
    assert old in text, (relpath, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def commit(repo: Path, message: str, date: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, date=date)
    return git(repo, "rev-parse", "HEAD")


def make_repository(tmp_path: Path, nested: bool) -> tuple[Path, Path, dict[str, str]]:
    """The supervision fixture in git, with seven commits; returns (repo, site root, commit ids)."""
    root = make_site(tmp_path, "supervision")
    repo = tmp_path if nested else root  # nested: the site is a sub-folder of the repository
    git(repo, "init", "-q", "-b", "main")
    ids = {"c1": commit(repo, "all content", "2024-02-20T10:00:00+08:00")}
    # After posting began on 03-01, the period is moved to begin later: still a change after posting.
    edit(root, "content/notices/dahe/clean.yaml", "posted: 2024-03-01\nuntil: 2024-03-10", "posted: 2024-03-06\nuntil: 2024-03-15")
    ids["c2"] = commit(repo, "clean: new dates", "2024-03-05T11:00:00+08:00")
    edit(root, ROAD, "title: 村道硬化项目公示", "title: 小河村村道硬化项目公示")
    ids["c3"] = commit(repo, "road: title, before posting", "2024-03-28T09:00:00+08:00")
    # Comments, indentation and how an amount is written: nothing the page shows changes.
    edit(root, ROAD, "funds:\n", "# 经村务监督委员会审核\nfunds:   # 单位：元\n")
    edit(root, ROAD, 'total: "6万元"', "total: 60000")
    ids["c4"] = commit(repo, "road: comments only", "2024-04-02T09:00:00+08:00")
    edit(root, ROAD, "现将村道硬化项目公示如下。", "现将村道硬化项目（含排水沟）公示如下。")
    ids["c5"] = commit(repo, "road: body after posting", "2024-04-03T16:30:00+08:00")
    (root / ROAD_MOVED).parent.mkdir()
    git(repo, "mv", str((root / ROAD).relative_to(repo)), str((root / ROAD_MOVED).relative_to(repo)))
    ids["c6"] = commit(repo, "road: into 2024/", "2024-04-04T08:00:00+08:00")
    edit(root, "content/notices/dahe/open-objection.yaml", "    summary: 有村民反映补助标准不一致\n",
         "    summary: 有村民反映补助标准不一致\n    resolution: 经核实标准一致，已当面解释\n    resolved: 2024-04-04\n")
    ids["c7"] = commit(repo, "open-objection: answered", "2024-04-04T12:00:00+08:00")
    return repo, root, ids


@pytest.fixture(params=[False, True], ids=["site-is-repo", "site-in-repo"])
def repository(tmp_path, request):
    return make_repository(tmp_path, request.param)


def history_of(root: Path, cache: Path | None = None):
    content = load_content(root)
    site = Site.from_content(content, TODAY)
    notices = {i: p.notice for i, p in site.notices.items()}
    return read_history(root, notices, content.config, cache), site


def test_history_lists_commits_newest_first_following_the_rename(repository):
    _, root, ids = repository
    history, _ = history_of(root)
    road = history.of("road")
    assert [r.commit for r in road.revisions] == [ids["c6"], ids["c5"], ids["c4"], ids["c3"], ids["c1"]]
    assert [r.changes for r in road.revisions] == [("moved",), ("content",), ("format",), ("content",), ("created",)]
    assert [r.path for r in road.revisions] == [ROAD_MOVED, ROAD, ROAD, ROAD, ROAD]
    assert road.revisions[0].moved_from == ROAD
    # Dates are the commits' own, in their own offset.
    assert road.revisions[1].committed == dt.datetime(2024, 4, 3, 16, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert [r.short for r in road.revisions] == [i[:7] for i in (ids["c6"], ids["c5"], ids["c4"], ids["c3"], ids["c1"])]


def test_only_a_content_change_on_or_after_the_first_posting_day_is_flagged(repository):
    _, root, ids = repository
    history, _ = history_of(root)
    road = history.of("road")
    assert [r.commit for r in road.changed_after_posting] == [ids["c5"]]  # not the title before posting, not the comments
    assert road.posting_began == dt.date(2024, 4, 1)
    clean = history.of("clean")
    assert [r.commit for r in clean.changed_after_posting] == [ids["c2"]]
    assert clean.posting_began == dt.date(2024, 3, 1)  # the earliest `posted` any version gave
    objection = history.of("open-objection")
    assert [r.changes for r in objection.revisions] == [("record",), ("created",)]
    assert objection.changed_after_posting == ()
    assert [r.changes for r in history.of("short-period").revisions] == [("created",)]


def test_notice_pages_show_the_history_and_the_warning(repository):
    _, root, ids = repository
    out = build(root, today=TODAY).out_dir
    road = (out / "notices/road.html").read_text(encoding="utf-8")
    section = road.split('id="history-h"', 1)[1].split("</section>", 1)[0]
    assert "修改于公示开始之后" in section
    shorts = [ids[c][:7] for c in ("c6", "c5", "c4", "c3", "c1")]
    positions = [section.index(f"<code>{s}</code>") for s in shorts]
    assert positions == sorted(positions)  # newest first
    assert "2024年4月3日" in section and "格式调整，内容未变" in section and "移动或改名了文件" in section
    assert section.count('class="after-posting"') == 1
    objection = (out / "notices/open-objection.html").read_text(encoding="utf-8").split('id="history-h"', 1)[1]
    assert "修改于公示开始之后" not in objection.split("</section>", 1)[0]
    assert "更新了张贴或异议记录" in objection
    # The supervision page lists the edits after posting as problems, with links to the history.
    page = (out / "supervision.html").read_text(encoding="utf-8")
    changed = page.split('data-kind="changed_after_posting"', 1)[1].split("</ul>", 1)[0]
    assert 'href="notices/road.html#history-h"' in changed and 'href="notices/clean.html#history-h"' in changed
    assert changed.count("<li>") == 2


def test_changed_after_posting_is_a_problem_in_the_report(repository):
    _, root, ids = repository
    history, site = history_of(root)
    report = supervision_report(site, history)
    changed = [(p.page.id, p.revision.commit) for p in report.problems if p.kind == "changed_after_posting"]
    assert sorted(changed) == sorted([("road", ids["c5"]), ("clean", ids["c2"])])
    # The answered objection is no longer a problem.
    assert "unresolved_objection" not in {p.kind for p in report.problems}


def test_one_git_log_for_the_whole_site_and_an_unchanged_repository_is_not_read_again(repository, tmp_path, monkeypatch):
    _, root, _ = repository
    calls = []
    real_git = history_module._git

    def spy(where, *args, **kwargs):
        calls.append(args[0])
        return real_git(where, *args, **kwargs)

    monkeypatch.setattr(history_module, "_git", spy)
    cache = tmp_path / "cache"
    first, _ = history_of(root, cache)
    assert sorted(calls) == ["cat-file", "cat-file", "log", "rev-parse"]
    calls.clear()
    second, _ = history_of(root, cache)
    assert calls == ["rev-parse"]  # HEAD unchanged: log, blob ids and digests all come from the cache
    assert second == first


def test_a_new_commit_is_seen_and_only_new_versions_are_read(repository, tmp_path, monkeypatch):
    repo, root, _ = repository
    cache = tmp_path / "cache"
    history_of(root, cache)
    edit(root, "content/notices/dahe/short-period.yaml", "days: 5", "days: 10")
    c8 = commit(repo, "short-period: ten days", "2024-04-05T09:00:00+08:00")
    read = []
    real_texts = history_module.blob_texts
    monkeypatch.setattr(history_module, "blob_texts", lambda where, ids: read.extend(ids) or real_texts(where, ids))
    history, _ = history_of(root, cache)
    assert history.head == c8
    assert [r.commit for r in history.of("short-period").changed_after_posting] == [c8]
    assert len(read) == 1  # the one new version


def test_outside_git_there_is_no_history_and_no_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = make_site(tmp_path, "supervision")
    assert repository_state(root) is None
    history, _ = history_of(root)
    assert history is None
    out = build(root, today=TODAY).out_dir
    assert 'id="history-h"' not in (out / "notices/road.html").read_text(encoding="utf-8")


def test_without_git_installed_the_section_is_omitted(repository, monkeypatch, tmp_path):
    _, root, _ = repository
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert repository_state(root) is None
    out = build(root, today=TODAY).out_dir
    assert 'id="history-h"' not in (out / "notices/road.html").read_text(encoding="utf-8")


def test_a_shallow_clone_says_its_history_is_incomplete(repository, tmp_path):
    repo, root, _ = repository
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "2", f"file://{repo}", str(clone))
    clone_root = clone / root.relative_to(repo)
    history, _ = history_of(clone_root)
    assert history.shallow
    out = build(clone_root, today=TODAY).out_dir
    assert "构建时只取得了部分版本历史" in (out / "notices/road.html").read_text(encoding="utf-8")


def test_an_uncommitted_notice_has_no_revisions(repository):
    _, root, _ = repository
    (root / "content/notices/dahe/new.yaml").write_text("village: dahe\ntitle: 新公示\nkind: general\nposted: 2024-04-05\n", encoding="utf-8")
    out = build(root, today=TODAY).out_dir
    page = (out / "notices/new.html").read_text(encoding="utf-8")
    assert "这条公告的文件还没有提交到版本库" in page.split('id="history-h"', 1)[1]


# -- the log parser and the rename follower, on their own ------------------------------------------------

def test_parse_log_reads_renames_and_non_ascii_paths():
    data = (b"\x1e" + b"a" * 40 + b" 2024-04-03T16:30:00+08:00\0\nM\0content/notices/b.yaml\0A\0content/notices/\xe6\x9d\x91/c.yaml\0"
            b"\x1e" + b"b" * 40 + b" 2024-04-01T08:00:00+08:00\0\nR100\0content/notices/x/a.yaml\0content/notices/b.yaml\0")
    commits = parse_log(data)
    assert [c.id[0] for c in commits] == ["a", "b"]
    assert commits[0].changes == (Change("M", "content/notices/b.yaml", None), Change("A", "content/notices/村/c.yaml", None))
    assert commits[1].changes == (Change("R", "content/notices/b.yaml", "content/notices/x/a.yaml"),)
    assert commits[1].committed.utcoffset() == dt.timedelta(hours=8)


def test_follow_handles_names_swapped_in_one_commit():
    when = dt.datetime(2024, 4, 1, tzinfo=dt.timezone.utc)
    commits = [
        Commit("3" * 40, when, (Change("R", "a.yaml", "b.yaml"), Change("R", "b.yaml", "a.yaml"))),
        Commit("2" * 40, when, (Change("M", "a.yaml", None),)),
        Commit("1" * 40, when, (Change("A", "a.yaml", None), Change("A", "b.yaml", None))),
    ]
    touches = follow(commits, {"a.yaml": "first", "b.yaml": "second"})
    # "first" is now at a.yaml but was b.yaml before the swap, so commit 2 belongs to "second".
    assert [(t.commit.id[0], t.path) for t in touches["first"]] == [("3", "a.yaml"), ("1", "b.yaml")]
    assert [(t.commit.id[0], t.path) for t in touches["second"]] == [("3", "b.yaml"), ("2", "a.yaml"), ("1", "a.yaml")]
