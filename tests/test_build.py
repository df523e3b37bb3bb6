"""Whole builds of tiny sites: output shape, determinism, embargo, and the swap."""
from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import make_site, run_cli, tree_bytes
from generator.build import build
from generator.errors import ContentError

TODAY = dt.date(2024, 4, 5)


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def internal_links(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return [link for link in parser.links if not re.match(r"^(https?|mailto|tel|data):", link) and not link.startswith("#")]


def check_links(out: Path) -> list[str]:
    """Every internal link of every page, resolved against the page: must be a file, relative."""
    broken = []
    for page in out.rglob("*.html"):
        for link in internal_links(page.read_text(encoding="utf-8")):
            target = link.split("#")[0]
            if target.startswith("/") or urlsplit(target).scheme:
                broken.append(f"{page.name}: absolute {link}")
                continue
            resolved = (page.parent / target).resolve()
            if not resolved.is_file():
                broken.append(f"{page.relative_to(out)}: {link}")
    return broken


def test_minimal_site_builds_every_page(site):
    out = build(site, today=TODAY).out_dir
    files = set(tree_bytes(out))
    assert {"index.html", "404.html", "sitemap.xml", "robots.txt", "assets/style.css",
            "villages/xiaohe.html", "notices/road.html", "townships/dongfengzhen.html"} <= files


def test_links_are_relative_and_resolve_to_files(site):
    out = build(site, today=TODAY).out_dir
    assert check_links(out) == []


def test_sitemap_and_robots_use_base_url(site):
    out = build(site, today=TODAY).out_dir
    sitemap = (out / "sitemap.xml").read_text(encoding="utf-8")
    assert "<loc>https://example.gov.cn/portal/notices/road.html</loc>" in sitemap
    assert "<loc>https://example.gov.cn/portal/index.html</loc>" in sitemap
    assert "Sitemap: https://example.gov.cn/portal/sitemap.xml" in (out / "robots.txt").read_text(encoding="utf-8")


def test_embargoed_notice_is_published_nowhere_until_its_date(site):
    out = build(site, today=TODAY).out_dir
    assert not (out / "notices/later.html").exists()
    for path, data in tree_bytes(out).items():
        assert b"later.html" not in data and "尚未开始的公示".encode() not in data, path
    out = build(site, today=dt.date(2030, 1, 1)).out_dir
    assert (out / "notices/later.html").exists()
    assert 'href="../notices/later.html"' in (out / "villages/xiaohe.html").read_text(encoding="utf-8")


def test_two_builds_are_byte_identical(site, tmp_path):
    first = tree_bytes(build(site, tmp_path / "a", TODAY).out_dir)
    second = tree_bytes(build(site, tmp_path / "b", TODAY).out_dir)
    assert first == second


def test_failed_build_leaves_the_previous_site_intact(site, tmp_path):
    out = tmp_path / "out"
    build(site, out, TODAY)
    before = tree_bytes(out)
    (site / "content/notices/xiaohe/road.yaml").write_text("village: xiaohe\ntitle: [\n", encoding="utf-8")
    with pytest.raises(ContentError):
        build(site, out, TODAY)
    assert tree_bytes(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"] or sorted(p.name for p in tmp_path.iterdir()) == ["out", "site"]


def test_render_failure_leaves_the_previous_site_and_no_temporary_folder(site, tmp_path):
    out = tmp_path / "out"
    build(site, out, TODAY)
    before = tree_bytes(out)
    theme = site / "themes/default/templates"
    theme.mkdir(parents=True)
    (theme / "notice.html").write_text("{{ no_such_variable }}", encoding="utf-8")
    with pytest.raises(Exception):
        build(site, out, TODAY)
    assert tree_bytes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "site") == ["out"]


def test_site_theme_overrides_builtin_templates(site):
    theme = site / "themes/default/templates"
    theme.mkdir(parents=True)
    (theme / "404.html").write_text("{% extends 'base.html' %}{% block main %}自定义{% endblock %}", encoding="utf-8")
    out = build(site, today=TODAY).out_dir
    assert "自定义" in (out / "404.html").read_text(encoding="utf-8")


def test_notice_page_shows_status_funds_and_masked_beneficiaries(site):
    out = build(site, today=TODAY).out_dir
    html = (out / "notices/road.html").read_text(encoding="utf-8")
    assert "公示中，还剩6天" in html
    assert "<td>40,000元</td><td>66.7%</td>" in html
    assert "张三丰" not in html and "张*丰" in html
    for secret in ("11010519491231002X", "13900001111", "6217000010001234567"):
        assert secret not in html


@pytest.mark.parametrize("today, text", [
    (dt.date(2024, 4, 10), "公示中，还剩1天"),
    (dt.date(2024, 4, 11), "公示期已结束"),
])
def test_posting_status_as_of_today(site, today, text):
    out = build(site, today=today).out_dir
    assert text in (out / "notices/road.html").read_text(encoding="utf-8")


def test_data_is_escaped(tmp_path):
    root = make_site(tmp_path, files={"content/notices/xiaohe/x.yaml": (
        "village: xiaohe\ntitle: '<script>alert(1)</script>'\nkind: general\nposted: 2024-01-01\n"
        "body: |\n  <img src=x onerror=alert(1)> [点我](javascript:alert(1))\n")})
    out = build(root, today=TODAY).out_dir
    html = (out / "notices/x.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html and 'href="javascript:' not in html


def test_english_interface(tmp_path):
    root = make_site(tmp_path)
    config = root / "site_config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "language: en\n", encoding="utf-8")
    out = build(root, today=TODAY).out_dir
    html = (out / "notices/road.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in html and "On the board, 6 days left" in html
    assert "公示中" not in html


def test_cli_build_exits_zero_and_prints_stage_timings(site):
    result = run_cli("build", "--root", str(site), "--today", "2024-04-05")
    assert result.returncode == 0, result.stderr
    assert "Rendering pages:" in result.stderr and "Built 6 pages" in result.stderr


def test_cli_rejects_a_bad_today(site):
    result = run_cli("build", "--root", str(site), "--today", "2024-13-01")
    assert result.returncode == 2 and "is not a date in the form YYYY-MM-DD" in result.stderr


def test_privacy_page_explains_the_policy_in_force(tmp_path):
    root = make_site(tmp_path)
    out = build(root, today=TODAY).out_dir
    page = (out / "privacy.html").read_text(encoding="utf-8")
    assert "张*丰" in page and "身份证号、银行账号和个人手机号码一律不公开" in page
    assert 'href="privacy.html"' in (out / "index.html").read_text(encoding="utf-8")
    config = root / "site_config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "privacy:\n  names: hide\n", encoding="utf-8")
    page = (build(root, today=TODAY).out_dir / "privacy.html").read_text(encoding="utf-8")
    assert "受益群众的姓名不公开" in page and "张*丰" not in page


def test_a_profiled_build_still_writes_its_profile(tmp_path):
    """`gongshi build` leaves without tearing the process down, except under a profiler or a
    tracer (coverage), which write their results at exit."""
    import subprocess
    import sys

    from conftest import REPO, make_site

    root = make_site(tmp_path)
    profile = tmp_path / "build.prof"
    result = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "generator", "build", "--root", str(root),
                             "--today", "2026-11-22", "--quiet"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (root / "build" / "index.html").is_file() and profile.stat().st_size > 1000


class _Terminal:
    """A stream that says it is a terminal, keeping what is written to it."""

    def __init__(self, tty: bool):
        self.tty, self.text = tty, []

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        self.text.append(text)
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("tty", [True, False])
def test_a_terminal_sees_a_progress_bar_and_a_log_plain_lines(tty):
    from generator.i18n import Translator
    from generator.progress import Progress

    stream = _Terminal(tty)
    progress = Progress(Translator("en"), stream)
    with progress.stage("render", total=4) as advance:
        for _ in range(4):
            advance()
    written = "".join(stream.text)
    assert ("| 0/4 " in written) == tty  # the bar (tqdm), on a terminal only
    assert re.search(r"Rendering pages: \d+\.\d\d s \(4\)", written)
