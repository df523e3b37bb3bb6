"""Open data: a valid Frictionless package whose figures equal the YAML's to the fen,
de-identified like the pages, documented column by column from the same schema."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import frictionless
import pytest
from markupsafe import escape

from conftest import DEMO_TODAY, REPO, make_site, tree_bytes
from generator.build import build
from generator.funds import FundsPlugin
from generator.i18n import LANGUAGES, catalog
from generator.opendata import TABLES
from test_funds import FUNDS_FILES, TODAY, YamlSite, yaml_amount

EXACT_YUAN = re.compile(r"^(0|[1-9][0-9]*)\.[0-9]{2}$")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = make_site(tmp_path_factory.mktemp("opendata"), files=FUNDS_FILES)
    out = build(root, today=TODAY, plugins=[FundsPlugin()]).out_dir
    return root, out


def read_csv(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "no byte-order mark for Excel"
    text = data.decode("utf-8-sig")
    assert "\n" not in text.replace("\r\n", ""), "mixed line ends"
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_data_package_is_valid(built):
    _, out = built
    report = frictionless.validate(str(out / "data/datapackage.json"))
    assert report.valid, report.flatten(["resourceName", "rowNumber", "fieldName", "type", "note"])
    package = json.loads((out / "data/datapackage.json").read_text(encoding="utf-8"))
    assert [r["path"] for r in package["resources"]] == ["villages.csv", "notices.csv", "fund_items.csv", "commitments.csv"]


@pytest.mark.parametrize("before, after, error", [
    (b"12345.67", b"12,345.6", "type-error"),  # a grouped number is not a bare number
    (b"2024-cattle,1,", b"2024-cattlf,1,", "foreign-key"),  # an item of no notice
    (b"12345.67", b"12345.670", "byte-count"),  # any change of size
])
def test_a_changed_file_makes_the_package_invalid(built, tmp_path, before, after, error):
    # The check above can fail: types, keys and sizes are all enforced.
    _, out = built
    data = shutil.copytree(out / "data", tmp_path / "data")
    items = data / "fund_items.csv"
    assert before in items.read_bytes()
    items.write_bytes(items.read_bytes().replace(before, after))
    report = frictionless.validate(str(data / "datapackage.json"))
    assert error in {e[0] for e in report.flatten(["type"])}, report.flatten(["type", "note"])


def test_each_village_file_fits_the_fund_items_schema(built):
    _, out = built
    package = json.loads((out / "data/datapackage.json").read_text(encoding="utf-8"))
    resource = next(r for r in package["resources"] if r["name"] == "fund_items")
    everything = read_csv(out / "data/fund_items.csv")
    for village_file in sorted((out / "data/villages").glob("*/fund_items.csv")):
        village_id = village_file.parent.name
        descriptor = {k: v for k, v in resource.items() if k not in ("bytes", "hash", "path", "name")}
        # Foreign keys need the whole package (checked above); the rest of the schema applies as is.
        descriptor["schema"] = {k: v for k, v in resource["schema"].items() if k != "foreignKeys"}
        resource_file = frictionless.Resource(dict(descriptor, name="village", path=village_file.name), basepath=str(village_file.parent))
        report = frictionless.validate(resource_file)
        assert report.valid, (village_id, report.flatten(["rowNumber", "fieldName", "note"]))
        assert read_csv(village_file) == [row for row in everything if row["village_id"] == village_id]


def test_csv_amounts_round_trip_to_the_yamls_decimals(built):
    root, out = built
    ys = YamlSite(root, TODAY)
    items = read_csv(out / "data/fund_items.csv")
    for row in items:
        assert EXACT_YUAN.match(row["amount"]), row["amount"]
    by_notice: dict[str, list] = {}
    for row in items:
        by_notice.setdefault(row["notice_id"], []).append((row["item"], Decimal(row["amount"])))
    expected = {nid: ys.items(nid) or [("", ys.total(nid))] for nid in ys.funded}
    assert by_notice == expected
    notices = {row["notice_id"]: row for row in read_csv(out / "data/notices.csv")}
    assert set(notices) == set(ys.notices)
    for nid, row in notices.items():
        assert (Decimal(row["fund_total"]) if row["fund_total"] else None) == (ys.total(nid) if nid in ys.funded else None)
    villages = {row["village_id"]: Decimal(row["fund_total"]) for row in read_csv(out / "data/villages.csv")}
    assert villages == {vid: ys.grand_total(lambda nid, vid=vid: ys.funded[nid]["village"] == vid) for vid in ys.villages}
    assert sum(Decimal(row["amount"]) for row in items) == ys.grand_total()


def test_frictionless_reads_the_same_decimals(built):
    root, out = built
    ys = YamlSite(root, TODAY)
    package = frictionless.Package(str(out / "data/datapackage.json"))
    rows = package.get_resource("fund_items").read_rows()
    assert all(isinstance(row["amount"], Decimal) for row in rows)
    assert sum(row["amount"] for row in rows) == ys.grand_total()


def test_a_notice_with_only_a_total_has_one_row_without_item_name(built):
    _, out = built
    rows = [row for row in read_csv(out / "data/fund_items.csv") if row["notice_id"] == "2024-cattle"]
    assert [(row["item_no"], row["item"], row["amount"]) for row in rows] == [("1", "", "443665000.00")]


def test_notice_json_holds_what_the_page_shows_de_identified(built):
    root, out = built
    ys = YamlSite(root, TODAY)
    record = json.loads((out / "data/notices/road.json").read_text(encoding="utf-8"))
    assert record["title"] == "村道硬化项目公示" and record["village"]["id"] == "xiaohe"
    assert record["funds"]["total"] == "60000.00"
    assert [(i["name"], Decimal(i["amount"])) for i in record["funds"]["items"]] == ys.items("road")
    assert [i["percent"] for i in record["funds"]["items"]] == ["66.7", "33.3"]
    assert record["beneficiaries"] == [{"name": "张*丰", "household_size": 4, "amount": "2000.00", "note": None}]
    assert record["status"] == {"as_of": TODAY.isoformat(), "state": "ended", "days_left": None}
    text = (out / "data/notices/road.json").read_text(encoding="utf-8")
    for secret in ("张三丰", "11010519491231002X", "13900001111", "6217000010001234567", "id_number", "bank_account"):
        assert secret not in text
    for nid in ys.funded:
        record = json.loads((out / f"data/notices/{nid}.json").read_text(encoding="utf-8"))
        assert Decimal(record["funds"]["total"]) == ys.total(nid)
        assert [(i["name"], Decimal(i["amount"])) for i in record["funds"]["items"]] == ys.items(nid)


def test_amounts_are_never_floats_in_json(built):
    _, out = built
    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("amount", "total"):
                    assert item is None or (isinstance(item, str) and EXACT_YUAN.match(item)), (key, item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        else:
            assert not isinstance(value, float), value
    for path in (out / "data/notices").glob("*.json"):
        walk(json.loads(path.read_text(encoding="utf-8"), parse_float=lambda s: float(s)))


def test_embargoed_notices_appear_in_no_data_file(built):
    _, out = built
    assert not (out / "data/notices/2031-future.json").exists()
    for path, data in tree_bytes(out / "data").items():
        assert b"2031-future" not in data and "秘密来源".encode() not in data, path
    commitments = read_csv(out / "data/commitments.csv")
    assert [row["notices"] for row in commitments] == ["road"]


def test_the_column_guide_documents_every_column_of_the_package(built):
    _, out = built
    package = json.loads((out / "data/datapackage.json").read_text(encoding="utf-8"))
    guide = (out / "data/index.html").read_text(encoding="utf-8")
    for resource in package["resources"]:
        header = (out / "data" / resource["path"]).read_bytes().decode("utf-8-sig").split("\r\n")[0].split(",")
        assert header == [field["name"] for field in resource["schema"]["fields"]]
        section = guide[guide.index(f'id="table-{resource["name"]}"'):]
        section = section[: section.index("</section>")]
        documented = re.findall(r'<dt><code lang="en">([a-z_]+)</code> (.*?)</dt>', section)
        assert documented == [(f["name"], f["title"]) for f in resource["schema"]["fields"]]
        for field in resource["schema"]["fields"]:
            assert str(escape(field["description"])) in section, field["name"]


def test_every_column_has_a_title_and_a_meaning_in_every_language():
    for language in LANGUAGES:
        messages = catalog(language)
        for table in TABLES:
            assert f"opendata.table.{table.name}.title" in messages
            for column in table.columns:
                key = f"opendata.column.{table.name}.{column.name}"
                assert messages.get(key) and messages.get(key + "_title"), (language, key)


def test_downloads_are_linked_from_the_home_village_and_footer(built):
    _, out = built
    home = (out / "index.html").read_text(encoding="utf-8")
    for name in ("villages", "notices", "fund_items", "commitments"):
        assert f'href="data/{name}.csv"' in home
    assert 'href="data/datapackage.json"' in home
    village = (out / "villages/dahe.html").read_text(encoding="utf-8")
    assert 'href="../data/villages/dahe/fund_items.csv"' in village and 'href="../data/index.html"' in village
    footer = Path(REPO / "themes/default/templates/_footer_links_data.html").read_text(encoding="utf-8")
    assert "open_data.index_path | rel" in footer


def test_open_data_is_byte_for_byte_deterministic(built, tmp_path):
    root, out = built
    again = build(root, tmp_path / "again", TODAY, plugins=[FundsPlugin()]).out_dir
    assert tree_bytes(again / "data") == tree_bytes(out / "data")


def test_the_demo_package_is_valid_and_agrees_with_its_yaml(demo_build):
    today = dt.date.fromisoformat(DEMO_TODAY)
    report = frictionless.validate(str(demo_build / "data/datapackage.json"))
    assert report.valid, report.flatten(["resourceName", "rowNumber", "fieldName", "note"])
    ys = YamlSite(REPO, today)
    items = read_csv(demo_build / "data/fund_items.csv")
    assert items, "the demo has no fund items"
    by_notice: dict[str, Decimal] = {}
    for row in items:
        by_notice[row["notice_id"]] = by_notice.get(row["notice_id"], Decimal(0)) + Decimal(row["amount"])
    assert by_notice == {nid: ys.total(nid) for nid in ys.funded}
    for nid in ys.funded:
        record = json.loads((demo_build / f"data/notices/{nid}.json").read_text(encoding="utf-8"))
        assert Decimal(record["funds"]["total"]) == ys.total(nid)
        assert [(i["name"], Decimal(i["amount"])) for i in record["funds"]["items"]] == ys.items(nid)


def test_yaml_amount_reader_matches_the_content_format():
    # The tests' own reader must understand what clerks write, or every comparison is moot.
    assert yaml_amount("44366.5万元") == Decimal("443665000")
    assert yaml_amount("２，５００元") == Decimal("2500")
    assert yaml_amount(0.1) == Decimal("0.1")
    assert yaml_amount(60000) == Decimal("60000")
