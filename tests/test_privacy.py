"""De-identification: personal numbers found in free text and masked, names masked."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.privacy import (
    Finding,
    find_personal_numbers,
    is_valid_resident_id,
    luhn_ok,
    mask_bank_account,
    mask_id_number,
    mask_mobile,
    mask_name,
    mask_personal_numbers,
    normalize_digits,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- numbers made the way the standards define them (independently of the module) ------------


def id_check_char(first17: str) -> str:
    # ISO 7064 MOD 11-2 as GB 11643 states it: weight of position i is 2^(17-i) mod 11.
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    return "10X98765432"[total % 11]


def resident_id(region: int, born: dt.date, sequence: int) -> str:
    first17 = f"{region:06d}{born:%Y%m%d}{sequence:03d}"
    return first17 + id_check_char(first17)


def luhn_complete(partial: str) -> str:
    """`partial` plus the check digit that makes it pass Luhn."""
    total = 0
    for i, d in enumerate(reversed(partial)):
        n = int(d) * (2 if i % 2 == 0 else 1)  # doubled: every second digit from the check digit
        total += n - 9 if n > 9 else n
    return partial + str((10 - total % 10) % 10)


VALID_ID = resident_id(130424, dt.date(1980, 1, 1), 123)  # 130424198001011237
VALID_CARD = luhn_complete("621700001000123456")  # 19 digits
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

resident_ids = st.builds(
    resident_id,
    st.integers(110000, 829999),
    st.dates(dt.date(1900, 1, 1), dt.date(2099, 12, 31)),
    st.integers(0, 999),
)
card_numbers = st.builds(
    lambda first, rest: luhn_complete(str(first) + rest),
    st.integers(2, 9),  # card numbers begin with 2-9 (UnionPay 62, Visa 4, Mastercard 5, ...)
    st.integers(14, 17).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)),
)
mobiles = st.builds(
    lambda second, rest: "1" + second + rest,
    st.sampled_from("3456789"),
    st.text("0123456789", min_size=9, max_size=9),
)

MOBILE_SPELLINGS = {
    "plain": lambda m: m,
    "hyphens": lambda m: f"{m[:3]}-{m[3:7]}-{m[7:]}",
    "spaces": lambda m: f"{m[:3]} {m[3:7]} {m[7:]}",
    "+86 spaced": lambda m: f"+86 {m[:3]} {m[3:7]} {m[7:]}",
    "+86-": lambda m: f"+86-{m}",
    "(+86)": lambda m: f"(+86){m}",
    "86 glued": lambda m: f"86{m}",
    "full-width": lambda m: m.translate(FULLWIDTH),
}
CARD_SPELLINGS = {
    "plain": lambda c: c,
    "groups of 4, spaces": lambda c: " ".join(c[i:i + 4] for i in range(0, len(c), 4)),
    "groups of 4, hyphens": lambda c: "-".join(c[i:i + 4] for i in range(0, len(c), 4)),
}

# Free Chinese text around a number: CJK characters and punctuation, never a digit or a
# Latin letter, so the number stands alone.
filler = st.text(
    st.one_of(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), st.sampled_from("，。、；：！？（）《》“”【】 ,;:!?")),
    max_size=12,
)


def digits_of(s: str) -> str:
    return re.sub(r"[^0-9X]", "", normalize_digits(s).upper())


def assert_found_and_masked(before: str, number: str, after: str, kind: str, mask: str) -> None:
    text = before + number + after
    findings = find_personal_numbers(text)
    assert findings == [Finding(kind, len(before), len(before) + len(number), number)]

    masked, masked_findings = mask_personal_numbers(text)
    assert masked_findings == findings
    assert masked == before + mask + after
    assert find_personal_numbers(masked) == []
    assert mask_personal_numbers(masked) == (masked, [])
    assert digits_of(number)[:6] not in digits_of(masked)


# --- properties ---------------------------------------------------------------------------


@SETTINGS
@given(resident_ids, st.booleans(), filler, filler)
def test_any_valid_resident_id_in_text_is_found_and_masked(number, lower_x, before, after):
    if lower_x:
        number = number.replace("X", "x")
    assert is_valid_resident_id(number)
    assert_found_and_masked(before, number, after, "id_number", "*" * 14 + number[-4:].upper())


@SETTINGS
@given(card_numbers, st.sampled_from(sorted(CARD_SPELLINGS)), filler, filler)
def test_any_valid_card_number_in_text_is_found_and_masked(number, spelling, before, after):
    written = CARD_SPELLINGS[spelling](number)
    assert_found_and_masked(before, written, after, "bank_account", "*" * 12 + number[-4:])


@SETTINGS
@given(mobiles, st.sampled_from(sorted(MOBILE_SPELLINGS)), filler, filler)
def test_any_mobile_in_any_spelling_is_found_and_masked(number, spelling, before, after):
    written = MOBILE_SPELLINGS[spelling](number)
    assert_found_and_masked(before, written, after, "mobile", "*" * 7 + number[-4:])


@SETTINGS
@given(st.lists(st.tuples(st.one_of(resident_ids, card_numbers, mobiles), filler), max_size=6), filler)
def test_masking_is_idempotent_and_leaves_no_number(parts, start):
    text = start + "".join(f"{number}，{gap}" for number, gap in parts)
    masked, findings = mask_personal_numbers(text)
    assert len(findings) == len(parts)
    assert find_personal_numbers(masked) == []
    assert mask_personal_numbers(masked) == (masked, [])
    for number, _ in parts:
        assert number[:6] not in masked


amounts = st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2)
dates = st.dates(dt.date(1950, 1, 1), dt.date(2099, 12, 31))
landlines = st.builds(
    lambda area, local, form: form.format(area=area, local=local),
    st.sampled_from(["010", "021", "0310", "0371", "0991"]),
    st.builds(lambda first, rest: str(first) + rest, st.integers(2, 8), st.text("0123456789", min_size=6, max_size=7)),
    st.sampled_from(["{area}-{local}", "({area}){local}", "（{area}）{local}", "{area} {local}", "{area}-{local}-801"]),
)
everyday_figures = st.one_of(
    amounts.map(lambda d: f"{d:,.2f}元"),
    amounts.map(lambda d: f"{d:.2f}元"),
    st.decimals(min_value=0, max_value=999999, places=2).map(lambda d: f"{d.normalize():f}万元"),
    st.integers(0, 99999999).map(lambda n: f"{n:,}元"),
    dates.map(lambda d: f"{d:%Y%m%d}"),
    dates.map(lambda d: f"{d:%Y-%m-%d}"),
    dates.map(lambda d: f"{d.year}年{d.month}月{d.day}日"),
    st.tuples(dates, dates).map(lambda p: f"{p[0]:%Y%m%d}-{p[1]:%Y%m%d}"),
    st.tuples(dates, dates).map(lambda p: f"{p[0]:%Y.%m.%d}—{p[1]:%Y.%m.%d}"),
    st.integers(2000, 2099).flatmap(lambda y: st.integers(1, 300).map(lambda n: f"青财〔{y}〕{n}号")),
    landlines,
    st.just("12317"),
)


@SETTINGS
@given(st.lists(st.tuples(everyday_figures, filler), max_size=8))
def test_amounts_dates_notice_numbers_and_landlines_are_never_findings(parts):
    text = "".join(f"{figure}{gap}，" for figure, gap in parts)
    assert find_personal_numbers(text) == []
    assert mask_personal_numbers(text) == (text, [])


# --- examples -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "13812345678",
        "138-1234-5678",
        "138 1234 5678",
        "+86 138 1234 5678",
        "+86-13812345678",
        "+8613812345678",
        "(+86)13812345678",
        "（+86）138 1234 5678",
        "0086 13812345678",
        "8613812345678",
        "86-138-1234-5678",
        "１３８１２３４５６７８",
        "１３８－１２３４－５６７８",
    ],
)
def test_mobile_spellings(written):
    text = f"联系电话：{written}。"
    assert find_personal_numbers(text) == [Finding("mobile", 5, 5 + len(written), written)]
    assert mask_personal_numbers(text)[0] == "联系电话：*******5678。"


@pytest.mark.parametrize(
    "written, kind",
    [
        (VALID_ID, "id_number"),
        (VALID_ID[:6] + " " + VALID_ID[6:14] + " " + VALID_ID[14:], "id_number"),
        (VALID_ID.translate(FULLWIDTH), "id_number"),
        ("130424800101123", "id_number"),  # the old 15-digit form
        (VALID_CARD, "bank_account"),
        ("6217 0000 1000 1234 569", "bank_account"),
        ("6217-0000-1000-1234-569", "bank_account"),
        ("4111 1111 1111 1111", "bank_account"),
    ],
)
def test_id_and_card_spellings(written, kind):
    text = f"张*丰，{written}，户主"
    [finding] = find_personal_numbers(text)
    assert (finding.kind, finding.text) == (kind, written)


def test_labels_are_the_words_of_the_messages():
    text = f"{VALID_ID} 13812345678 {VALID_CARD}"
    assert [f.label for f in find_personal_numbers(text)] == ["ID number", "mobile number", "bank card number"]


@pytest.mark.parametrize(
    "text",
    [
        "公示期：20240401至20240410",
        "2024-04-01",
        "2024年4月1日",
        "共计44366.5元",
        "60,000元",
        "1234567.89元",
        "6万元",
        "青财〔2024〕12号",
        "监督电话：12317、0310-1234567",
        "(0310)1234567",
        "010-12345678",
        "0310-7654321转801",
        "身份证号：130424198001011234",  # wrong check digit
        "130424198002301237",  # no 30 February
        "6217000010001234567",  # fails Luhn
        "0000000000000000",  # passes Luhn, but no card begins with 0
        "1712345678901234",  # a timestamp in microseconds: no card begins with 1
        "12345678901",  # not a mobile prefix
        "138123456789",  # one digit too many for a mobile
        "x=0.13812345678",  # decimal fractions
        "3.62170000100012347",  # 17 digits passing Luhn: a card, were it not a fraction
        "13812345678.5",  # an amount
        "sha256:a13812345678b0c",  # part of a hash
    ],
)
def test_not_personal_numbers(text):
    assert find_personal_numbers(text) == []


def test_number_between_latin_letters_is_part_of_a_word():
    # Hashes and fingerprinted file names are letters and digits; a mobile needs a boundary.
    assert find_personal_numbers("id=f13812345678e") == []
    assert len(find_personal_numbers("id=13812345678&x=1")) == 1


def test_an_id_that_also_passes_luhn_is_an_id():
    both = next(
        number
        for seq in range(1000)
        if luhn_ok(number := resident_id(130424, dt.date(1980, 1, 1), seq)) and number[-1] != "X"
    )
    assert [f.kind for f in find_personal_numbers(f"号码{both}")] == ["id_number"]


def test_a_bad_group_of_four_does_not_hide_a_mobile_after_it():
    text = "2024 1234 5678 9012 138 1234 5678"
    assert [f.text for f in find_personal_numbers(text)] == ["138 1234 5678"]


def test_masking_again_finds_nothing_even_when_a_mask_joins_the_text_after_it():
    # The mobile's mask keeps "5678", which with the groups after it spells a valid card.
    card = luhn_complete("567890123456789")
    text = f"电话 138 1234 {card[:4]} {card[4:8]} {card[8:12]} {card[12:]}"
    assert [f.kind for f in find_personal_numbers(text)] == ["mobile"]
    masked, findings = mask_personal_numbers(text)
    assert [f.kind for f in findings] == ["mobile"]
    assert find_personal_numbers(masked) == []
    assert mask_personal_numbers(masked) == (masked, [])


def test_allowed_numbers_are_not_findings():
    text = "第一书记李明，电话13812345678，+86 139 0000 1111；村民王*，电话13700001111"
    allowed = frozenset({"13812345678", "13900001111"})
    assert [f.text for f in find_personal_numbers(text, allowed)] == ["13700001111"]
    assert mask_personal_numbers(text, allowed)[0] == text.replace("13700001111", "*******1111")


def test_findings_never_overlap_and_come_in_order():
    text = f"{VALID_CARD} {VALID_ID}、13812345678/13900001111"
    findings = find_personal_numbers(text)
    assert [f.kind for f in findings] == ["bank_account", "id_number", "mobile", "mobile"]
    assert all(a.end <= b.start for a, b in zip(findings, findings[1:]))


# --- the numbers' own rules -------------------------------------------------------------------


def test_resident_id_rules():
    assert is_valid_resident_id(VALID_ID)
    x_id = next(n for seq in range(1000) if (n := resident_id(110101, dt.date(1990, 5, 17), seq)).endswith("X"))
    assert is_valid_resident_id(x_id) and is_valid_resident_id(x_id.lower())
    assert not is_valid_resident_id(VALID_ID[:-1] + str((int(VALID_ID[-1]) + 1) % 10))
    assert not is_valid_resident_id(resident_id(130424, dt.date(1899, 12, 31), 1))
    assert is_valid_resident_id(resident_id(130424, dt.date(2099, 12, 31), 1))
    assert is_valid_resident_id(VALID_ID.translate(FULLWIDTH))
    assert is_valid_resident_id("130424800101123")
    assert not is_valid_resident_id("130424801301123")  # month 13
    assert not is_valid_resident_id(VALID_ID + "1")
    assert not is_valid_resident_id(" " + VALID_ID)
    assert not is_valid_resident_id("")


def test_luhn():
    assert luhn_ok("79927398713")
    assert not luhn_ok("79927398710")
    assert luhn_ok(VALID_CARD)
    assert not luhn_ok("")
    assert not luhn_ok("1234-5678")
    assert not luhn_ok("７９９２７３９８７１３")  # digits are ASCII by then


def test_normalize_digits():
    assert normalize_digits("１３０４２４ｘＸ-－ 号") == "130424xX-－ 号"


def test_masks_keep_at_most_the_last_four_in_a_fixed_length():
    assert mask_id_number(VALID_ID) == "**************1237"
    assert mask_id_number("130424800101123") == "**************1123"
    assert mask_mobile("+86 138 1234 5678") == "*******5678"
    assert mask_bank_account(VALID_CARD) == "************4569"
    assert mask_bank_account("6217 0000 1000 1234") == "************1234"
    assert mask_mobile(mask_mobile("13812345678")) == "*******5678"


# --- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, masked",
    [
        ("张三丰", "张*丰"),
        ("李强", "李*"),
        ("欧阳晓峰", "欧阳**"),
        ("司马云", "司马*"),
        ("诸葛亮", "诸葛*"),
        ("上官婉儿", "上官**"),
        ("令狐冲", "令狐*"),
        ("欧阳", "欧*"),  # only a surname: keep less than the whole
        ("张三丰四", "张**四"),
        ("买买提·艾力", "买****力"),
        ("王", "*"),
        ("Zhang San", "Z********"),
        ("  李强 ", "李*"),
        ("", ""),
    ],
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked
    assert mask_name(name, "mask") == masked
    assert mask_name(masked, "mask") == masked  # masking a masked name changes nothing


def test_name_policies():
    assert mask_name("张三丰", "full") == "张三丰"
    assert mask_name("张三丰", "hide") is None
    with pytest.raises(ValueError, match="unknown name policy 'initials'"):
        mask_name("张三丰", "initials")


@SETTINGS
@given(st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=2, max_size=5))
def test_masked_names_hide_something_and_are_stable(name):
    masked = mask_name(name)
    assert len(masked) == len(name)
    assert masked != name and "*" in masked
    assert mask_name(masked) == masked


# Numbers as clerks write them: plain, grouped, with +86, full-width, inside other figures.
_NUMBER_PIECES = ["13912345678", "139 1234 5678", "139-1234-5678", "+86 139 1234 5678", "(+86)13912345678", "0086139 1234 5678",
                  "１３９１２３４５６７８", "13812345678", "11010519491231002X", "11010519491231002x", "110105 19491231 002X",
                  "6222021234567890123", "6222 0212 3456 7890", "2026-11-22", "1", "9", "86", " ", "-", "(", ")", "+", "x", "X",
                  "电话", "，", "*", "\u3000", "－", "＋", "0.5"]
_ALLOWED = ["13912345678", "13812345678", "11010519491231002X", "6222021234567890123", "62220212345678907", "1391234567",
            "139123456789", "9123456780"]


@settings(max_examples=2000, deadline=None)
@given(pieces=st.lists(st.sampled_from(_NUMBER_PIECES), max_size=12), allowed=st.sets(st.sampled_from(_ALLOWED)))
def test_only_the_allowed_numbers_in_a_text_s_number_runs_change_what_is_found_or_masked(pieces, allowed):
    """What the parse cache keys a file by (content.py): its free text read under the allowed
    numbers that are part of its number runs reads exactly as under all of them."""
    from generator.privacy import allowed_in_runs, mask_personal_numbers, number_runs

    text = "".join(pieces)
    allowed = frozenset(allowed)
    lengths = frozenset(len(number) for number in allowed if len(number) >= 11)
    relevant = frozenset(allowed_in_runs(number_runs(text), allowed, lengths))
    assert find_personal_numbers(text, relevant) == find_personal_numbers(text, allowed)
    assert mask_personal_numbers(text, relevant) == mask_personal_numbers(text, allowed)
