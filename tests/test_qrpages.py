"""The QR plugin: what each page and file carries, the vCards, the cache across builds, page weight.

Whether the codes really decode to these payloads is checked from rasters in test_posters.py;
this file checks the wiring, fast, without a browser.
"""
from __future__ import annotations

import datetime as dt
import gzip
import os
import re
import sqlite3
import sys
import xml.etree.ElementTree as ET
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from conftest import REPO, make_site, tree_bytes
from generator.build import build
from generator.plugins import default_plugins
from generator.qr import QUIET_ZONE
from generator.qrpages import QrPlugin, symbol_size
from test_vcard import parse as parse_vcard

TODAY = dt.date(2024, 4, 5)
BASE = "https://example.gov.cn/portal/"  # tests/sites/minimal's base_url, with the "/" the config adds
SVG = re.compile(r"<svg\b[^>]*\bclass=\"qr\".*?</svg>", re.S)


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in SVG.findall(html)]


def build_with_plugin(root: Path, today=TODAY, out=None):
    plugins = default_plugins()
    qr_plugin = next(p for p in plugins if isinstance(p, QrPlugin))
    result = build(root, out, today=today, plugins=plugins)
    return result.out_dir, qr_plugin.cache.stats


def read(out: Path, path: str) -> str:
    return (out / path).read_bytes().decode("utf-8")  # not read_text: it would turn a vCard's CRLF into LF


def link_targets(html: str) -> list[str]:
    return re.findall(r'href="([^"#]+)"', html)


@pytest.fixture
def minimal(tmp_path):
    return build(make_site(tmp_path), today=TODAY).out_dir


def test_the_code_database_is_closed_when_the_build_ends(tmp_path):
    """No -wal or -shm file left beside the database: the build's last connection is
    closed, which folds the log into the file (and the codes are there for the next build)."""
    import sqlite3
    from contextlib import closing

    from generator.media_stage import cache_dir
    from generator.qr import QrCache

    root = make_site(tmp_path)
    _, stats = build_with_plugin(root)
    database = cache_dir(root) / QrCache.FILE_NAME
    assert stats.misses > 0 and database.is_file()
    assert [p.name for p in database.parent.iterdir() if p.name.startswith(QrCache.FILE_NAME + "-")] == []
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("SELECT count(*) FROM codes").fetchone()[0] == stats.misses


def test_the_plugin_is_a_default_feature():
    assert [p.name for p in default_plugins()].count("qr") == 1


def test_village_page_has_its_address_code_and_the_card_links(minimal):
    html = read(minimal, "villages/xiaohe.html")
    [code] = svgs(html)
    url = BASE + "villages/xiaohe.html"
    assert url in code.get("aria-label") and code.get("role") == "img"
    assert code.find("{http://www.w3.org/2000/svg}title").text == code.get("aria-label")
    for target in ("../cards/xiaohe.html", "../contacts/xiaohe.html", "../vcards/xiaohe-1.vcf"):
        assert target in link_targets(html)
        assert (minimal / "villages" / target).resolve().is_file()
    # The contact card: names, roles, units, tel: links for both phones and the supervision phones.
    team = html[html.index('id="team-h"'):html.index("</section>", html.index('id="team-h"'))]
    for text in ("赵工作", "第一书记", "县农业农村局", 'href="tel:13700001111"', 'href="tel:03995552001"',
                 'href="tel:12317"', 'href="tel:03995551234"'):
        assert text in team


def test_notice_page_has_a_small_code_a_poster_link_and_a_check_code_row(minimal):
    html = read(minimal, "notices/road.html")
    [code] = svgs(html)
    assert BASE + "notices/road.html" in code.get("aria-label")
    assert int(code.get("width")) <= 150, "the notice page's code is meant to be small"
    assert "../posters/road.html" in link_targets(html)
    facts = html[html.index('<dl class="facts">'):html.index("</dl>")]
    assert re.search(r'<div><dt>[^<]+</dt><dd><code class="fingerprint">[0-9a-f]{8}</code>', facts)


def test_print_pages_carry_mm_sized_codes_of_the_page_addresses(minimal):
    poster = read(minimal, "posters/road.html")
    [code] = svgs(poster)
    assert BASE + "notices/road.html" in code.get("aria-label")
    assert "@page" in poster and "A4" in poster
    n = int(code.get("viewBox").split()[2])
    width = Decimal(code.get("width").removesuffix("mm"))
    assert width * (n - 2 * QUIET_ZONE) / n >= 40, "the symbol itself must print at least 40 mm wide"

    sheet = read(minimal, "cards/xiaohe.html")
    codes = svgs(sheet)
    assert len(codes) == 8, "4 cards, each with the village code and the leader's contact code"
    for code in codes:
        n = int(code.get("viewBox").split()[2])
        assert Decimal(code.get("width").removesuffix("mm")) * (n - 2 * QUIET_ZONE) / n >= 25
    assert sum(BASE + "villages/xiaohe.html" in c.get("aria-label") for c in codes) == 4
    assert "干群连心服务卡" in sheet and "@page" in sheet and "A4" in sheet


@pytest.mark.parametrize("modules", [21, 41, 61, 177])
@pytest.mark.parametrize("symbol_mm", [Decimal(25), Decimal(40)])
def test_symbol_size_leaves_the_quiet_zone_outside_the_asked_width(modules, symbol_mm):
    size = symbol_size(modules, symbol_mm)
    total = Decimal(size.removesuffix("mm"))
    symbol = total * (modules - 8) / modules
    assert symbol_mm <= symbol < symbol_mm + Decimal("0.1")


def test_vcards_are_utf8_vcard_3_with_the_members_phones(tmp_path):
    team = """\
team:
  - name: 欧阳建国
    role: 第一书记、工作队队长
    unit: 县乡村振兴局
    phone: "13812345678"
    unit_phone: "0399-7654321"
  - name: 李四
    unit_phone: "0399-1112222"
"""
    root = make_site(tmp_path)
    village = (root / "content/villages/xiaohe.yaml").read_text(encoding="utf-8")
    village = village[:village.index("team:")] + team + village[village.index("plan:"):]
    (root / "content/villages/xiaohe.yaml").write_text(village, encoding="utf-8")
    out = build(root, today=TODAY).out_dir
    first = (out / "vcards/xiaohe-1.vcf").read_bytes()
    props = parse_vcard(first.decode("utf-8"))
    values = {(name, tuple(sorted(params.get("TYPE", [])))): value for name, params, value in props}
    assert values[("VERSION", ())] == "3.0"
    assert values[("N", ())] == "欧阳;建国;;;" and values[("FN", ())] == "欧阳建国"
    assert values[("TITLE", ())] == "小河村第一书记、工作队队长"
    assert values[("ORG", ())] == "县乡村振兴局"
    assert values[("TEL", ("CELL",))] == "13812345678"
    assert values[("TEL", ("VOICE", "WORK"))] == "0399-7654321"
    second = parse_vcard(read(out, "vcards/xiaohe-2.vcf"))
    tels = [(p.get("TYPE"), v) for name, p, v in second if name == "TEL"]
    assert tels == [(["WORK", "VOICE"], "0399-1112222")]
    assert not any(name == "ORG" for name, _, _ in second)
    assert sorted(p.name for p in (out / "vcards").iterdir()) == ["xiaohe-1.vcf", "xiaohe-2.vcf"]
    html = read(out, "villages/xiaohe.html")
    assert html.count('class="vcf"') == 2
    assert len(svgs(read(out, "contacts/xiaohe.html"))) == 2


def test_a_village_without_a_team_still_gets_its_code_and_card_sheet(tmp_path):
    root = make_site(tmp_path, files={"content/villages/kong.yaml": "name: 空村\ntownship: 东风镇\n"})
    out = build(root, today=TODAY).out_dir
    html = read(out, "villages/kong.html")
    assert len(svgs(html)) == 1 and "../cards/kong.html" in link_targets(html)
    assert len(svgs(read(out, "cards/kong.html"))) == 4
    assert not (out / "contacts/kong.html").exists()
    assert not list((out / "vcards").glob("kong-*"))


def test_only_published_notices_get_posters(minimal):
    assert sorted(p.name for p in (minimal / "posters").iterdir()) == ["road.html"]
    assert "later" not in "".join(p.read_text(encoding="utf-8") for p in minimal.rglob("*.html"))


def test_data_is_escaped_in_cards_posters_and_labels(tmp_path):
    root = make_site(tmp_path)
    village = root / "content/villages/xiaohe.yaml"
    village.write_text(village.read_text(encoding="utf-8").replace("name: 赵工作", 'name: "赵<b>&工作"'), encoding="utf-8")
    notice = root / "content/notices/xiaohe/road.yaml"
    notice.write_text(notice.read_text(encoding="utf-8").replace("title: 村道硬化项目公示", 'title: "村道<i>硬化</i>"'), encoding="utf-8")
    out = build(root, today=TODAY).out_dir
    for path in ("cards/xiaohe.html", "contacts/xiaohe.html", "villages/xiaohe.html"):
        html = read(out, path)
        assert "<b>" not in html and "赵&lt;b&gt;&amp;工作" in html
    poster = read(out, "posters/road.html")
    assert "<i>" not in poster and "村道&lt;i&gt;硬化&lt;/i&gt;" in poster
    assert "FN:赵<b>&工作" in read(out, "vcards/xiaohe-1.vcf")


def test_a_second_build_encodes_nothing_and_writes_the_same_bytes(tmp_path, monkeypatch):
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    root = make_site(tmp_path)
    out, cold = build_with_plugin(root)
    first = tree_bytes(out)
    codes = cold.misses
    assert codes == 3, "village address, notice address, one contact"
    # Into another folder, so the build really runs (into the same one, nothing changed and
    # the build would stop at once); the codes come from the disk cache.
    out, warm = build_with_plugin(root, out=tmp_path / "second")
    assert (warm.misses, warm.disk_hits) == (0, codes)
    assert tree_bytes(out) == first


def test_after_an_edit_the_pages_made_again_make_their_new_codes(tmp_path, monkeypatch):
    """After an edit the QR stage does not list the site's codes (every page address and
    vCard, against the cache's keys: 0.1 s at 10,000 notices); a page made again encodes
    the code the cache lacks as it is rendered. A new phone: one new code, and the site a
    build from nothing makes."""
    from generator.qr import QrCache

    listed = []
    real_missing = QrCache.missing

    def missing(self, payloads):
        listed.append(len(payloads))
        return real_missing(self, payloads)

    monkeypatch.setattr(QrCache, "missing", missing)
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    root = make_site(tmp_path)
    build_with_plugin(root)
    assert listed == [3]
    village = root / "content" / "villages" / "xiaohe.yaml"
    village.write_text(village.read_text(encoding="utf-8").replace("13700001111", "13700002222"), encoding="utf-8")
    out, stats = build_with_plugin(root)
    assert listed == [3]  # not listed again
    assert stats.misses == 1  # the new vCard (the pages' addresses are read from the cache)
    assert "TEL;TYPE=CELL:13700002222" in read(out, "vcards/xiaohe-1.vcf")
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "other-cache"))
    fresh, _ = build_with_plugin(root, out=tmp_path / "fresh")
    assert tree_bytes(out) == tree_bytes(fresh)


def large_site(tmp_path: Path) -> Path:
    """A site large enough for the build's processes (background.MIN_PAGES)."""
    if str(REPO / "bench") not in sys.path:
        sys.path.insert(0, str(REPO / "bench"))
    from corpus import generate

    return generate(tmp_path / "site", notices=300, villages=10, seed=2)


def test_a_cold_build_encodes_its_page_codes_while_it_loads_the_content(tmp_path, monkeypatch):
    """`EncodeAhead`: in a cold build of a large site, a process started before the content
    is loaded encodes the page codes the file names promise; the QR stage encodes only the
    contact codes then (here the process is let finish before the stage). The site is the
    same bytes as a build in one process."""
    from generator import qrpages
    from generator.qr import QrCache

    started = []
    real_init = qrpages.EncodeAhead.__init__
    monkeypatch.setattr(qrpages.EncodeAhead, "__init__", lambda self, *a: (started.append(1), real_init(self, *a))[1])

    def stop(self):  # let it finish first, instead of stopping it after its batch
        os.waitpid(self.pid, 0)
        os.close(self._stop)
        self.pid = None

    monkeypatch.setattr(qrpages.EncodeAhead, "stop", stop)
    monkeypatch.setenv("GONGSHI_JOBS", "2")
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    root = large_site(tmp_path)
    plugins = default_plugins()
    qr_plugin = next(p for p in plugins if isinstance(p, QrPlugin))
    result = build(root, tmp_path / "out", today=TODAY, plugins=plugins)
    assert started == [1]
    site = result.site
    members = sum(len(village.village.team) for village in site.villages.values())
    assert qr_plugin.cache.stats.misses == members  # every page code was in the disk cache
    with closing(sqlite3.connect(tmp_path / "cache" / QrCache.FILE_NAME)) as db:
        stored = {key for (key,) in db.execute("SELECT key FROM codes")}
    pages = [*site.villages.values(), *site.notices.values()]
    assert {QrCache.key(site.config.absolute_url(page.url)) for page in pages} <= stored
    with monkeypatch.context() as m:
        m.setenv("GONGSHI_JOBS", "1")
        m.setenv("GONGSHI_CACHE", str(tmp_path / "one-cache"))
        single = build(root, tmp_path / "single", today=TODAY)
    assert tree_bytes(result.out_dir) == tree_bytes(single.out_dir)
    started.clear()
    (root / "content" / "notices").joinpath("extra.txt").write_text("not content", encoding="utf-8")
    build(root, tmp_path / "out", today=TODAY)  # the cache holds codes now: nothing started
    assert started == []


def test_the_page_addresses_promised_by_the_file_names_are_the_models(tmp_path):
    from generator.content import load_content
    from generator.qrpages import page_payloads
    from generator.site import Site

    root = large_site(tmp_path)
    site = Site.from_content(load_content(root), TODAY)
    promised = page_payloads(root)
    published = [site.config.absolute_url(page.url) for page in [*site.villages.values(), *site.notices.values()]]
    assert set(published) <= set(promised) and len(promised) == len(set(promised))
    assert len(promised) - len(published) == len(load_content(root).notices) - len(site.notices)  # (not published yet)


def test_a_failed_build_stops_the_encoding_process(tmp_path, monkeypatch):
    from generator import qrpages
    from generator.errors import ContentError

    handles = []
    real_init = qrpages.EncodeAhead.__init__
    monkeypatch.setattr(qrpages.EncodeAhead, "__init__", lambda self, *a: (real_init(self, *a), handles.append((self, self.pid)))[0])
    monkeypatch.setenv("GONGSHI_JOBS", "2")
    monkeypatch.setenv("GONGSHI_CACHE", str(tmp_path / "cache"))
    root = large_site(tmp_path)
    broken = sorted((root / "content" / "notices").rglob("*.yaml"))[0]
    broken.write_text(broken.read_text(encoding="utf-8").replace("title:", "title: [", 1), encoding="utf-8")
    with pytest.raises(ContentError):
        build(root, tmp_path / "out", today=TODAY)
    (handle, pid), = handles
    assert handle.pid is None  # stopped
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # and collected


def test_the_codes_hold_absolute_https_addresses_from_base_url(tmp_path):
    root = make_site(tmp_path)
    config = root / "site_config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("https://example.gov.cn/portal", "https://qr.example.cn/x/y"), encoding="utf-8")
    out = build(root, today=TODAY).out_dir
    labels = [c.get("aria-label") for path in ("villages/xiaohe.html", "notices/road.html", "posters/road.html")
              for c in svgs(read(out, path))]
    assert len(labels) == 3
    for label, page in zip(labels, ("villages/xiaohe.html", "notices/road.html", "notices/road.html")):
        assert label.endswith("https://qr.example.cn/x/y/" + page)


def test_demo_notice_pages_stay_light(demo_build):
    sizes = {p.name: len(gzip.compress(p.read_bytes(), 9, mtime=0)) for p in (demo_build / "notices").glob("*.html")}
    assert sizes, "the demo built no notice pages"
    heaviest = max(sizes, key=sizes.get)
    assert sizes[heaviest] < 10 * 1024, f"{heaviest}: {sizes[heaviest]} bytes gzipped (budget 14 KB for the first round trip)"
    for page in (demo_build / "notices").glob("*.html"):
        assert len(svgs(page.read_text(encoding="utf-8"))) == 1


def test_every_demo_village_and_notice_has_its_files(demo_build):
    config = yaml.safe_load((REPO / "site_config.yaml").read_text(encoding="utf-8"))
    villages = sorted(p.stem for p in (REPO / "content/villages").glob("*.yaml"))
    assert sorted(p.stem for p in (demo_build / "cards").glob("*.html")) == villages
    assert sorted(p.stem for p in (demo_build / "posters").glob("*.html")) == sorted(p.stem for p in (demo_build / "notices").glob("*.html"))
    for village in villages:
        team = yaml.safe_load((REPO / f"content/villages/{village}.yaml").read_text(encoding="utf-8")).get("team") or []
        assert sorted(p.name for p in (demo_build / "vcards").glob(f"{village}-*.vcf")) == sorted(
            f"{village}-{n}.vcf" for n in range(1, len(team) + 1)
        )
        for n, member in enumerate(team, 1):
            tels = {v for name, _, v in parse_vcard(read(demo_build, f"vcards/{village}-{n}.vcf")) if name == "TEL"}
            assert tels == {str(member[k]) for k in ("phone", "unit_phone") if member.get(k)}
    assert config["base_url"].startswith("https://")


def test_print_pages_speak_the_sites_language(tmp_path):
    from generator.i18n import Translator

    root = make_site(tmp_path)
    config = root / "site_config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "language: en\n", encoding="utf-8")
    out = build(root, today=TODAY).out_dir
    t = Translator("en")
    sheet, poster = read(out, "cards/xiaohe.html"), read(out, "posters/road.html")
    assert '<html lang="en">' in sheet and '<html lang="en">' in poster
    assert sheet.count(t("qr.card_title")) == 4
    assert t("qr.poster_scan") in poster and t("qr.fingerprint") in read(out, "notices/road.html")
    assert "TITLE:第一书记, 小河村" in read(out, "vcards/xiaohe-1.vcf").replace("\\,", ",")
