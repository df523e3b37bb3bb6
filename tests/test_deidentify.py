"""Personal numbers in free text: located failures, or masking that leaves nothing behind."""
from __future__ import annotations

import datetime as dt

import pytest

from conftest import SITES, make_site, tree_bytes
from generator.build import build
from generator.content import load_content
from generator.errors import BuildError, ContentError

TODAY = dt.date(2024, 5, 1)
EXPECTED = (SITES / "invalid_pii" / "expected.txt").read_text(encoding="utf-8").splitlines()


def test_every_free_text_field_with_a_number_fails_with_its_location(tmp_path):
    root = make_site(tmp_path, "invalid_pii")
    with pytest.raises(ContentError) as err:
        load_content(root)
    assert [str(p) for p in err.value.problems] == EXPECTED
    # One per planted number: every free-text field of a notice and a village is scanned.
    assert len(EXPECTED) == 11


def test_officials_and_supervision_phones_and_landlines_are_not_personal(tmp_path):
    root = make_site(tmp_path, files={"content/notices/xiaohe/ok.yaml": (
        "village: xiaohe\ntitle: 联系方式\nkind: general\nposted: 2024-01-01\n"
        "body: 工作队 13700001111，村委会 0399-5552001，举报 12317，日期 20240401，金额 1234567.89元，文号 青财〔2024〕12号\n")})
    assert "ok" in load_content(root).notices


def test_mask_policy_masks_numbers_and_logs_each_one(tmp_path):
    root = make_site(tmp_path, "invalid_pii")
    config = root / "site_config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "privacy:\n  on_unmasked_pii: mask\n", encoding="utf-8")
    content = load_content(root)
    assert [str(p) for p in content.masked] == EXPECTED
    notice = content.notices["leaky"]
    assert "13912345678" not in notice.title and notice.title.endswith("5678）")
    out = build(root, today=TODAY).out_dir
    everything = b"".join(tree_bytes(out).values()).decode("utf-8", "replace")
    for number in ("13912345678", "11010519491231002X", "6228480402564890018", "110105194912310038", "13812345678"):
        assert number not in everything


def test_the_gate_catches_a_leak_planted_in_a_template(tmp_path):
    root = make_site(tmp_path)
    out = tmp_path / "out"
    build(root, out, TODAY)
    before = tree_bytes(out)
    theme = root / "themes/default/templates"
    theme.mkdir(parents=True)
    (theme / "_notice_extra.html").write_text(
        "{% for b in notice.notice.beneficiaries %}<p>{{ b.id_number }} {{ b.name }}</p>{% endfor %}", encoding="utf-8")
    with pytest.raises(BuildError) as err:
        build(root, out, TODAY)
    report = str(err.value)
    assert "notices/road.html:" in report and "personal number found (ID number)" in report
    assert "unmasked beneficiary name found" in report
    assert "11010519491231002X" not in report  # the report itself does not re-leak
    assert tree_bytes(out) == before
