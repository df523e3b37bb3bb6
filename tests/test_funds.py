"""Fund roll-ups: equal to sums taken straight from the YAML, and every figure on the pages
(tables, chart labels, bar lengths) agrees with them to the fen.

The expected figures are computed here from the content files with `yaml.safe_load` and a
small amount reader of this file's own, never with the generator's loader.
"""
from __future__ import annotations

import datetime as dt
import gzip
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from html import unescape as html_unescape
from pathlib import Path

import pytest
import yaml

from conftest import DEMO_TODAY, REPO, make_site
from generator.build import build
from generator.funds import FundsPlugin
from generator.i18n import Translator
from generator.money import format_wan, format_yuan

TODAY = dt.date(2025, 6, 30)
SVG = "{http://www.w3.org/2000/svg}"
LONG_SOURCE = "中央财政衔接推进乡村振兴补助资金（以工代赈）和省级配套资金及县级整合涉农资金"

# Two townships, a village with no notices, a notice with only a total, amounts with fen,
# full-width digits and 万元, a source with HTML characters, an embargoed notice with funds.
FUNDS_FILES = {
    "content/villages/dahe.yaml": "name: 大河村\ntownship: 东风镇\n",
    "content/villages/shanxia.yaml": "name: 山下村\ntownship: 西山乡\n",
    "content/villages/kongcun.yaml": "name: 空村\ntownship: 西山乡\n",
    "content/notices/dahe/2023-seed.yaml": """\
village: dahe
title: 2023年种苗补助公示
kind: fund
posted: 2023-03-01
funds:
  source: 中央财政衔接推进乡村振兴补助资金
  total: 12346
  items:
    - {name: 种苗, amount: 12345.67}
    - {name: 运费, amount: "0.33元"}
""",
    "content/notices/dahe/2024-cattle.yaml": """\
village: dahe
title: 2024年肉牛养殖项目公告
kind: project
stage: after
posted: 2024-09-01
funds:
  source: 中央财政衔接推进乡村振兴补助资金
  total: "44366.5万元"
""",
    "content/notices/dahe/2031-future.yaml": """\
village: dahe
title: 尚未公示的资金
kind: fund
posted: 2031-01-01
funds:
  source: 秘密来源
  total: 99999
""",
    "content/notices/shanxia/2024-water.yaml": f"""\
village: shanxia
title: 饮水工程公示
kind: project
posted: 2024-05-01
funds:
  items:
    - {{name: 蓄水池, amount: "1.5万"}}
    - {{name: 管道, amount: "２，５００元"}}
""",
    "content/notices/shanxia/2025-equal.yaml": f"""\
village: shanxia
title: 三项等额补助
kind: fund
posted: 2025-06-25
funds:
  source: {LONG_SOURCE}
  total: 300
  items:
    - {{name: 甲, amount: 100}}
    - {{name: 乙, amount: 100}}
    - {{name: 丙, amount: 100}}
""",
    "content/notices/shanxia/2025-escape.yaml": """\
village: shanxia
title: 来源名称带符号
kind: fund
posted: 2025-01-10
funds:
  source: "<b>A&B</b> 专项"
  total: 0.01
""",
    "content/notices/shanxia/2025-general.yaml": """\
village: shanxia
title: 村务公开
kind: general
posted: 2025-02-01
""",
}


# -- the expected figures, straight from the YAML -----------------------------------------------

def yaml_amount(value) -> Decimal:
    """The content format's amounts (60000, 0.1, "6万元", "60,000元", full-width digits)."""
    if isinstance(value, int):
        return Decimal(value)
    text = unicodedata.normalize("NFKC", repr(value) if isinstance(value, float) else str(value)).strip()
    text = text.replace(",", "").replace("，", "")
    factor = Decimal(1)
    for unit, times in (("万元", 10000), ("万", 10000), ("元", 1)):
        if text.endswith(unit):
            text, factor = text[: -len(unit)].strip(), Decimal(times)
            break
    return Decimal(text) * factor


class YamlSite:
    """Villages and published fund notices, read without the generator."""

    def __init__(self, root: Path, today: dt.date):
        self.villages = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((root / "content/villages").glob("*.yaml"))}
        self.notices = {}
        for path in sorted((root / "content/notices").rglob("*.yaml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            if data["posted"] <= today:
                self.notices[path.stem] = data
        self.funded = {nid: n for nid, n in self.notices.items() if n.get("funds")}

    def items(self, notice_id: str) -> list[tuple[str, Decimal]]:
        return [(i["name"], yaml_amount(i["amount"])) for i in self.funded[notice_id]["funds"].get("items") or []]

    def total(self, notice_id: str) -> Decimal:
        funds = self.funded[notice_id]["funds"]
        if funds.get("total") is not None:
            return yaml_amount(funds["total"])
        return sum((amount for _, amount in self.items(notice_id)), Decimal(0))

    def township(self, notice_id: str) -> str:
        return self.villages[self.funded[notice_id]["village"]]["township"]

    def sums(self, dimension: str, where=lambda nid: True) -> dict:
        result: dict = defaultdict(Decimal)
        for nid, notice in self.funded.items():
            if not where(nid):
                continue
            key = {
                "year": lambda: notice["posted"].year,
                "source": lambda: notice["funds"].get("source") or "",
                "kind": lambda: notice["kind"],
                "village": lambda: notice["village"],
                "township": lambda: self.township(nid),
            }[dimension]()
            result[key] += self.total(nid)
        return dict(result)

    def grand_total(self, where=lambda nid: True) -> Decimal:
        return sum((self.total(nid) for nid in self.funded if where(nid)), Decimal(0))


def in_village(ys: YamlSite, village_id: str):
    return lambda nid: ys.funded[nid]["village"] == village_id


def in_township(ys: YamlSite, township: str):
    return lambda nid: ys.township(nid) == township


# -- reading the built pages -------------------------------------------------------------------

AMOUNT = re.compile(r"([0-9][0-9,]*(?:\.[0-9]+)?)\s*(万元|元|10k yuan)?")


def page_amounts(text: str) -> list[Decimal]:
    """Every amount in a cell: `443,665,000元（44,366.5万元）` gives both figures, in yuan."""
    amounts = []
    for number, unit in AMOUNT.findall(text.replace("¥", "")):
        value = Decimal(number.replace(",", ""))
        amounts.append(value * 10000 if unit in ("万元", "10k yuan") else value)
    return amounts


def one_amount(text: str) -> Decimal:
    """A cell's amount; when it is shown in 元 and 万元, both must say the same, to the fen."""
    amounts = page_amounts(text)
    assert amounts and len(set(amounts)) == 1, text
    return amounts[0]


def read_figures(path: Path) -> tuple[Decimal | None, list[dict]]:
    """A page's disclosed total (its summary) and each chart figure: caption, SVG, table rows."""
    html = path.read_text(encoding="utf-8")
    summary = re.search(r'<dl class="figures">.*?<dd>(.*?)</dd>', html, re.S)
    figures = []
    for block in re.findall(r'<figure class="funds-chart">.*?</figure>', html, re.S):
        figure = ET.fromstring(block)  # the partials write well-formed markup
        table = figure.find("details/table")
        cells = lambda row: ["".join(cell.itertext()).strip() for cell in row]  # noqa: E731
        figures.append({
            "caption": figure.find("figcaption").text,
            "svg": figure.find(SVG + "svg"),
            "rows": [cells(row) for row in table.find("tbody")],
            "foot": cells(table.find("tfoot/tr")),
        })
    return (one_amount(summary.group(1)) if summary else None), figures


def chart_values(svg) -> list[tuple[str, Decimal, Decimal]]:
    """(label, amount written at the bar's end, bar length) for each bar of an SVG chart."""
    texts = [t.text for t in svg.iter(SVG + "text")]
    lengths = [Decimal(r.get("width")) for r in svg.iter(SVG + "rect")]
    return [(texts[2 * i], one_amount(texts[2 * i + 1]), lengths[i]) for i in range(len(lengths))]


def labels(t: Translator, ys: YamlSite, dimension: str, key) -> str:
    if dimension == "year":
        return t("rollup.year", year=key)
    if dimension == "source":
        return key or t("funds.source_unknown")
    if dimension == "kind":
        return t(f"kind.{key}")
    if dimension == "village":
        return ys.villages[key]["name"]
    return key


def check_figure(figure: dict, expected: dict, t: Translator, ys: YamlSite, dimension: str) -> None:
    """One chart and its table say exactly the YAML's sums, the chart's bars in proportion."""
    want = {labels(t, ys, dimension, key): amount for key, amount in expected.items()}
    table = {row[0]: one_amount(row[1]) for row in figure["rows"]}
    assert table == want, figure["caption"]
    whole = sum(want.values(), Decimal(0))
    for row in figure["rows"]:
        share = (table[row[0]] * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) if whole else None
        assert row[2] == (f"{share}%" if share is not None else "—"), row
    assert one_amount(figure["foot"][1]) == whole
    bars = chart_values(figure["svg"])
    assert len(bars) == len(figure["rows"])
    largest = max(want.values())
    longest = max(length for _, _, length in bars)
    for (label, amount, length), row in zip(bars, figure["rows"]):
        # Same order as the table; a long label may be shortened in the chart, never changed.
        assert label == row[0] or (label.endswith("…") and row[0].startswith(label[:-1])), (label, row[0])
        assert amount == table[row[0]], label
        assert abs(length - (amount * longest / largest if largest else 0)) <= Decimal("0.005"), label


def check_site_numbers(root: Path, out: Path, today: dt.date, language: str) -> int:
    """Every funds figure of the home, township, village and notice pages against the YAML."""
    t = Translator(language)
    ys = YamlSite(root, today)
    checked = 0
    captions = {t(f"rollup.by_{d}"): d for d in ("year", "source", "kind", "village", "township")}

    def check_page(path: Path, where, villages_here, dimensions):
        nonlocal checked
        total, figures = read_figures(path)
        assert total == ys.grand_total(where), path
        shown = [captions[f["caption"]] for f in figures]
        assert shown == (list(dimensions) if any(where(nid) for nid in ys.funded) else []), path
        for figure in figures:
            dimension = captions[figure["caption"]]
            expected = ys.sums(dimension, where)
            # Every village of the township and every township is listed, even at zero.
            if dimension == "village":
                expected = {vid: expected.get(vid, Decimal(0)) for vid in villages_here}
            if dimension == "township":
                expected = {v["township"]: expected.get(v["township"], Decimal(0)) for v in ys.villages.values()}
            check_figure(figure, expected, t, ys, dimension)
            checked += 1

    everything = lambda nid: True  # noqa: E731
    check_page(out / "index.html", everything, list(ys.villages), ("township", "year", "source", "kind"))
    for township_page in sorted((out / "townships").glob("*.html")):
        name = re.search(r"<h1>(.*?)</h1>", township_page.read_text(encoding="utf-8")).group(1)
        here = [vid for vid, v in ys.villages.items() if v["township"] == name]
        check_page(township_page, in_township(ys, name), here, ("year", "source", "village", "kind"))
    for village_id in ys.villages:
        check_page(out / "villages" / f"{village_id}.html", in_village(ys, village_id), [village_id], ("year", "source", "kind"))
    for notice_id in ys.funded:
        html = (out / "notices" / f"{notice_id}.html").read_text(encoding="utf-8")
        section = html[html.index('id="funds-h"'):]
        section = section[: section.index("</section>")]
        cells = re.findall(r'<tr><th scope="row">(.*?)</th><td>(.*?)</td>', section)
        *item_cells, (_, total_cell) = cells
        assert [(html_unescape(name), one_amount(cell)) for name, cell in item_cells] == ys.items(notice_id)
        assert one_amount(total_cell) == ys.total(notice_id)
        checked += 1
    return checked


# -- tests -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def funds_site(tmp_path_factory):
    root = make_site(tmp_path_factory.mktemp("funds"), files=FUNDS_FILES)
    result = build(root, today=TODAY, plugins=[FundsPlugin()])
    return root, result


def test_rollups_equal_the_sums_of_the_yaml(funds_site):
    root, result = funds_site
    ys = YamlSite(root, TODAY)
    rollups = _rollups(result.site)
    assert rollups.county.total == ys.grand_total() == Decimal("443665000") + Decimal("12346") + Decimal("60000") + Decimal("17800.01")
    assert rollups.county.notices == len(ys.funded)
    for dimension in ("township", "year", "source", "kind"):
        got = {s.key: s.amount for s in rollups.county.breakdown(dimension).shares}
        assert got == ys.sums(dimension), dimension
    for township in result.site.townships:
        rollup = rollups.township(township.slug)
        where = in_township(ys, township.name)
        assert rollup.total == ys.grand_total(where)
        for dimension in ("year", "source", "kind"):
            assert {s.key: s.amount for s in rollup.breakdown(dimension).shares} == ys.sums(dimension, where)
        villages = {s.key: s.amount for s in rollup.breakdown("village").shares}
        assert villages == {vid: ys.sums("village", where).get(vid, Decimal(0)) for vid, v in ys.villages.items() if v["township"] == township.name}
    for village_id in ys.villages:
        rollup = rollups.village(village_id)
        where = in_village(ys, village_id)
        assert rollup.total == ys.grand_total(where)
        for dimension in ("year", "source", "kind"):
            assert {s.key: s.amount for s in rollup.breakdown(dimension).shares} == ys.sums(dimension, where)


def test_rollups_agree_with_the_site_models_fund_totals(funds_site):
    _, result = funds_site
    site, rollups = result.site, _rollups(result.site)
    assert site.funds.total == rollups.county.total
    assert dict(site.funds.by_year) == {s.key: s.amount for s in rollups.county.breakdown("year").shares}
    for township in site.townships:
        assert township.funds.total == rollups.township(township.slug).total
    for village in site.villages.values():
        assert village.funds.total == rollups.village(village.id).total


def test_every_figure_on_the_pages_agrees_with_the_yaml(funds_site):
    root, result = funds_site
    assert check_site_numbers(root, result.out_dir, TODAY, "zh-CN") > 20


def test_a_village_without_funds_is_listed_with_zero(funds_site):
    _, result = funds_site
    rollup = _rollups(result.site).township("xishanxiang")
    assert {s.key: s.amount for s in rollup.breakdown("village").shares}["kongcun"] == 0
    html = (result.out_dir / "villages/kongcun.html").read_text(encoding="utf-8")
    assert Translator("zh-CN")("rollup.none") in html and "<svg" not in html


def test_shares_are_shown_as_computed_never_forced_to_100(funds_site):
    _, result = funds_site
    html = (result.out_dir / "notices/2025-equal.html").read_text(encoding="utf-8")
    assert html.count("<td>33.3%</td>") == 3
    # Years of 山下村: 2024 17,500 and 2025 300.01 -> 98.3% + 1.7%; kinds likewise add up as computed.
    shares = [s.percent for s in _rollups(result.site).village("shanxia").breakdown("year").shares]
    assert shares == [Decimal("98.3"), Decimal("1.7")]


def test_amounts_in_wan_are_exact():
    assert format_wan(Decimal("443665000")) == "44,366.5"
    assert format_wan(Decimal("12345.67")) == "1.234567"
    assert format_wan(Decimal("100000.01")) == "10.000001"
    for fen in (1, 99, 1234567, 4436650000001):
        amount = Decimal(fen) / 100
        assert Decimal(format_wan(amount).replace(",", "")) * 10000 == amount
        assert Decimal(format_yuan(amount).replace(",", "")) == amount


def test_data_with_html_characters_is_escaped_in_charts_and_tables(funds_site):
    _, result = funds_site
    html = (result.out_dir / "villages/shanxia.html").read_text(encoding="utf-8")
    assert "<b>A&B</b>" not in html and "&lt;b&gt;A&amp;B&lt;/b&gt; 专项" in html


def test_the_long_source_name_is_shortened_in_the_chart_only(funds_site):
    _, result = funds_site
    _, figures = read_figures(result.out_dir / "villages/shanxia.html")
    figure = next(f for f in figures if f["caption"] == "按资金来源")
    assert LONG_SOURCE in [row[0] for row in figure["rows"]]
    assert any(label.endswith("…") and LONG_SOURCE.startswith(label[:-1]) for label, _, _ in chart_values(figure["svg"]))


def test_village_page_stays_within_the_weight_budget(funds_site):
    _, result = funds_site
    for page in (result.out_dir / "villages").glob("*.html"):
        assert len(gzip.compress(page.read_bytes(), 9)) < 14 * 1024, page.name


def test_english_site_charts_use_english_words(tmp_path):
    files = dict(FUNDS_FILES)
    root = make_site(tmp_path, files=files)
    config = root / "site_config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "language: en\n", encoding="utf-8")
    out = build(root, tmp_path / "out", TODAY, plugins=[FundsPlugin()]).out_dir
    assert check_site_numbers(root, out, TODAY, "en") > 20
    assert ">44,366.5 10k yuan</text>" in (out / "villages/dahe.html").read_text(encoding="utf-8")
    for page in out.rglob("*.html"):
        assert "万元" not in page.read_text(encoding="utf-8"), page


def test_the_demo_sites_figures_agree_with_its_yaml(demo_build):
    today = dt.date.fromisoformat(DEMO_TODAY)
    language = yaml.safe_load((REPO / "site_config.yaml").read_text(encoding="utf-8")).get("language", "zh-CN")
    assert YamlSite(REPO, today).funded, "the demo has no notice with funds"
    assert check_site_numbers(REPO, demo_build, today, language) > 0
    for page in (demo_build / "villages").glob("*.html"):
        assert len(gzip.compress(page.read_bytes(), 9)) < 14 * 1024, page.name


def _rollups(site):
    from generator.funds import FundRollups

    return FundRollups(site, Translator(site.config.language))
