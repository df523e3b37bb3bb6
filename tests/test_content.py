"""Loading content: every class of bad input gives its exact located messages, all at once."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from conftest import SITES, make_site, run_cli
from generator.content import load_content
from generator.errors import ContentError

INVALID_SITES = sorted(p.name for p in SITES.iterdir() if p.name.startswith("invalid_"))


@pytest.mark.parametrize("name", INVALID_SITES)
def test_invalid_site_reports_exact_messages_and_exits_non_zero(tmp_path, name):
    root = make_site(tmp_path, name)
    result = run_cli("build", "--root", str(root), "--quiet", "--today", "2024-05-01")
    expected = (SITES / name / "expected.txt").read_text(encoding="utf-8").splitlines()
    assert result.returncode == 1
    assert result.stderr.splitlines()[1:] == expected
    assert not (root / "build").exists()


def test_every_error_class_of_the_contract_has_a_fixture():
    wanted = {"invalid_yaml", "invalid_tag", "invalid_unknown_field", "invalid_missing_field", "invalid_unknown_village",
              "invalid_duplicate_id", "invalid_date", "invalid_until_before_posted", "invalid_negative_amount",
              "invalid_fund_sum", "invalid_media"}
    assert wanted <= set(INVALID_SITES)


def test_minimal_site_loads_into_typed_records(site):
    content = load_content(site)
    notice = content.notices["road"]
    assert notice.posted == dt.date(2024, 4, 1) and notice.until == dt.date(2024, 4, 10)
    assert notice.funds.total == Decimal("60000")
    assert [i.amount for i in notice.funds.items] == [Decimal(40000), Decimal(20000)]
    assert all(isinstance(i.amount, Decimal) for i in notice.funds.items)
    assert content.villages["xiaohe"].team[0].phone == "13700001111"
    assert notice.posting_days == 10
    assert content.notices["later"].until == dt.date(2030, 1, 7)  # days: 7


def test_extra_fields_are_kept_and_not_errors(tmp_path):
    root = make_site(tmp_path, files={"content/notices/xiaohe/x.yaml": "village: xiaohe\ntitle: t\nkind: general\nposted: 2024-01-01\nextra:\n  文号: 青财〔2024〕12号\n"})
    assert load_content(root).notices["x"].extra == {"文号": "青财〔2024〕12号"}


def test_period_defaults_to_the_kinds_minimum_when_not_stated(tmp_path):
    root = make_site(tmp_path, files={"content/notices/xiaohe/x.yaml": "village: xiaohe\ntitle: t\nkind: fund\nposted: 2024-01-01\n"})
    notice = load_content(root).notices["x"]
    assert notice.until == dt.date(2024, 1, 10) and not notice.period_stated


def test_until_and_days_together_are_refused(tmp_path):
    root = make_site(tmp_path, files={"content/notices/xiaohe/x.yaml": "village: xiaohe\ntitle: t\nkind: fund\nposted: 2024-01-01\nuntil: 2024-01-10\ndays: 10\n"})
    with pytest.raises(ContentError) as err:
        load_content(root)
    assert [str(p) for p in err.value.problems] == ["content/notices/xiaohe/x.yaml:6:7: days: give either 'until' or 'days', not both"]


def test_unknown_notice_in_commitment_is_located(tmp_path):
    root = make_site(tmp_path)
    village = root / "content/villages/xiaohe.yaml"
    village.write_text(village.read_text(encoding="utf-8").replace("notices: [road]", "notices: [raod]"), encoding="utf-8")
    with pytest.raises(ContentError) as err:
        load_content(root)
    assert [str(p) for p in err.value.problems] == ["content/villages/xiaohe.yaml:19:7: plan.commitments[0].notices: unknown notice 'raod'"]


def test_problems_of_many_files_are_reported_together(tmp_path):
    root = make_site(tmp_path, "invalid_date", "invalid_unknown_village")
    with pytest.raises(ContentError) as err:
        load_content(root)
    assert len(err.value.problems) == 3


def test_non_utf8_file_is_reported(tmp_path):
    root = make_site(tmp_path)
    (root / "content/notices/xiaohe/gbk.yaml").write_bytes("title: 公示".encode("gbk"))
    with pytest.raises(ContentError) as err:
        load_content(root)
    assert str(err.value.problems[0]).startswith("content/notices/xiaohe/gbk.yaml:1:1: is not UTF-8 text")


@pytest.mark.parametrize("relpath", [
    "content/notices/a-2024-001.yaml", "content/villages/abc.yml", "content/notices/v/a.b.yaml", "a.yaml",
    "content/notices/.yaml", "content/notices/..yaml", "content/notices/.a.yaml", "content/notices/...x.yaml",
    "content/notices/a..b..yaml", "content/notices/noext", "content/notices/a.", "content/notices/.",
])
def test_a_content_files_stem_is_its_name_without_the_suffix_as_posixpath_splits_it(relpath):
    import posixpath

    from generator.content import stem_of

    assert stem_of(relpath) == posixpath.splitext(posixpath.basename(relpath))[0]
