"""De-identification (去标识化) of private persons' data: numbers in free text, and names.

Clerks paste rosters and notes into notices, and real portals have published full ID
numbers, guardians' phones and bank accounts that way. So every free text is searched for
the three kinds of personal number the Personal Information Protection Law treats as
sensitive, and the build either fails or masks them (`privacy.on_unmasked_pii`).

A number is only a finding when it stands alone: the digit run it belongs to has exactly
the right length. That keeps dates (20240401), amounts (44366.5, 60,000), notice numbers
(青财〔2024〕12号) and landlines (0310-1234567) out of the findings without any list of
exceptions. Masks keep at most the last four digits, in a fixed length per kind, so a
masked number reveals neither the region and birth date of an ID nor the issuing bank.

Everything here is pure: same input, same output.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

MASK = "*"

# --- digits as people type them -------------------------------------------------------

_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")

# Chinese input methods produce full-width digits, spaces, hyphens, plus signs and brackets.
# The fold maps each of them to one ASCII character, so offsets into the folded text are
# offsets into the original: findings can point at the text exactly as the clerk wrote it.
_SPELLING_FOLD = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        "Ｘ": "X", "ｘ": "x",
        "\u3000": " ", "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u202f": " ",
        "－": "-", "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
        "＋": "+", "（": "(", "）": ")",
    }
)


def normalize_digits(text: str) -> str:
    """Full-width digits (０-９) and full-width X/x as ASCII; every other character unchanged."""
    return text.translate(_FULLWIDTH_DIGITS)


_NOT_DIGIT = re.compile(r"\D")


def normalize_phone(number: str) -> str:
    """A phone number as its digits alone, without China's +86: how a number published on
    purpose is compared, when the content is read and by the leak gate alike."""
    digits = _NOT_DIGIT.sub("", normalize_digits(number))
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def _fold(text: str) -> str:
    return text.translate(_SPELLING_FOLD)


# --- the numbers' own rules ----------------------------------------------------------------

# GB 11643-1999, the citizen identity number: 6-digit region, 8-digit birth date,
# 3-digit sequence, and a check character over the first 17 digits (ISO 7064 MOD 11-2).
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_ID18 = re.compile(r"[1-9][0-9]{16}[0-9Xx]")
_ID15 = re.compile(r"[1-9][0-9]{14}")  # the first-generation card: YYMMDD, no check digit


def resident_id_check_char(first17: str) -> str:
    """The 18th character of a resident ID number, from its first 17 digits."""
    return _ID_CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS)) % 11]


def _is_birth_date(yyyymmdd: str) -> bool:
    try:
        born = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return 1900 <= born.year <= 2099


def is_valid_resident_id(s: str) -> bool:
    """An 18-character ID with a correct check character (X or x), or a 15-digit old one,
    either with a real birth date. Full-width digits count as digits; spaces do not."""
    s = normalize_digits(s)
    if len(s) == 18 and _ID18.fullmatch(s):
        return _is_birth_date(s[6:14]) and resident_id_check_char(s[:17]) == s[17].upper()
    if len(s) == 15 and _ID15.fullmatch(s):
        return _is_birth_date("19" + s[6:12])
    return False


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check that every bank card number passes."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = int(char)
        if position % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_bank_card(digits: str) -> bool:
    # Card numbers begin with an industry digit of 2-9 (UnionPay 62, Visa 4, Mastercard 5,
    # old domestic 9). Excluding 0 and 1 keeps microsecond timestamps and serial numbers,
    # which pass Luhn one time in ten, out of the findings.
    return 16 <= len(digits) <= 19 and digits[0] not in "01" and luhn_ok(digits)


def _is_mobile(digits: str) -> bool:
    return len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789"


# --- finding numbers in free text ----------------------------------------------------------

ID_NUMBER, MOBILE, BANK_ACCOUNT = "id_number", "mobile", "bank_account"
LABELS = {ID_NUMBER: "ID number", MOBILE: "mobile number", BANK_ACCOUNT: "bank card number"}


@dataclass(frozen=True)
class Finding:
    """A personal number in a text: `text[start:end]` as written there."""

    kind: str  # "id_number" | "mobile" | "bank_account"
    start: int
    end: int
    text: str

    @property
    def label(self) -> str:
        """The kind in the words of messages: `personal number found (ID number)`."""
        return LABELS[self.kind]

    @property
    def digits(self) -> str:
        """The number alone, as it would be looked up in an `allowed` set."""
        return _number_digits(self.kind, self.text)


# Not inside a longer run of digits or letters: digits make it part of a bigger number
# (a date, an amount, a landline), letters make it part of a hash, a fingerprinted asset
# name or a base64 blob. "<digit>." before or ".<digit>" after makes it a decimal fraction
# (0.30000000000000004 in a chart coordinate is not a bank card).
_BEFORE = r"(?<![0-9A-Za-z])(?<![0-9]\.)"
_AFTER = r"(?![0-9A-Za-z])(?!\.[0-9])"
_SEP = r"[ -]"
_MOBILE_GROUPS = rf"1[3-9][0-9](?:{_SEP}?[0-9]{{4}}){{2}}"  # 13812345678, 138 1234 5678, 138-1234-5678
_NUMBER = re.compile(
    r"(?:"
    # A mobile after "+86" or "(+86)": the sign is a boundary of its own ("Tel+86 ...").
    + rf"(?<![0-9])(?P<intl>(?:\+86|\(\+?86\)){_SEP}?{_MOBILE_GROUPS})"
    + rf"|{_BEFORE}(?:"
    # One run of digits: mobile (11; 13 with 86; 15 with 0086), old ID (15), bank card
    # (16-19) or ID (18); which one is decided by length and check digits.
    + r"(?P<run>[0-9]{17}[Xx]|[0-9]{11,19})"
    # An ID written in its parts: region, birth date, sequence and check character.
    + rf"|(?P<id>[0-9]{{6}}{_SEP}[0-9]{{8}}{_SEP}[0-9]{{3}}[0-9Xx])"
    # A card number as printed on the card: groups of four, the last group shorter for
    # 17-19 digits. Must not be followed by more groups, or it is some other long figure.
    + rf"|(?P<bank>[0-9]{{4}}(?:{_SEP}[0-9]{{4}}){{3}}(?:{_SEP}[0-9]{{1,3}})?(?!{_SEP}?[0-9]))"
    # A mobile in groups, optionally after the country code written without a plus sign.
    + rf"|(?P<mobile>(?:0086|86){_SEP}?{_MOBILE_GROUPS}|{_MOBILE_GROUPS})"
    + r"))"
    + _AFTER
)


def _kind_of_run(digits: str) -> str | None:
    n = len(digits)
    if n == 18 and is_valid_resident_id(digits):
        return ID_NUMBER  # an ID is also 18 digits long, so it wins over a card number
    if n == 15 and is_valid_resident_id(digits):
        return ID_NUMBER
    if _is_bank_card(digits):
        return BANK_ACCOUNT
    if _is_mobile(digits) or (n == 13 and digits.startswith("86") and _is_mobile(digits[2:])) or (
        n == 15 and digits.startswith("0086") and _is_mobile(digits[4:])
    ):
        return MOBILE
    return None


def _classify(match: re.Match) -> str | None:
    digits = re.sub(r"[^0-9Xx]", "", match.group())
    if match.lastgroup == "run":
        return _kind_of_run(digits)
    if match.lastgroup == "id":
        return ID_NUMBER if is_valid_resident_id(digits) else None
    if match.lastgroup == "bank":
        return BANK_ACCOUNT if _is_bank_card(digits) else None
    return MOBILE  # "intl" or "mobile": the pattern alone makes it one


def _number_digits(kind: str, text: str) -> str:
    digits = re.sub(r"[^0-9Xx]", "", _fold(text)).upper()
    return digits[-11:] if kind == MOBILE else digits  # a mobile without its country code


# Every number above is a run of at least 11 digits and separators, possibly after "+86"
# or "(+86)". Python's regex engine skips quickly to a pattern's first character only when
# that is a plain character class, so a site-sized text is first searched for such runs
# (as typed, full-width included) and the exact pattern runs only around each of them.
_WIDE_DIGIT = "0-9\uff10-\uff19"
_RUN_CANDIDATE = re.compile(
    rf"[{_WIDE_DIGIT}][{_WIDE_DIGIT} \-\u3000\u00a0\u2002\u2003\u2009\u202f\u2010-\u2013\uff0d]{{9,}}[{_WIDE_DIGIT}Xx\uff38\uff58]"
)
_PREFIX_CHARS = 6  # "(+86) " before a run
_CONTEXT_CHARS = 2  # what the lookarounds look at beyond a match


def find_personal_numbers(text: str, allowed: frozenset[str] = frozenset(), met: set[str] | None = None) -> list[Finding]:
    """Every resident ID, bank card and mobile number standing alone in `text`, in order.

    `allowed` holds numbers published on purpose (officials' phones, supervision phones)
    as bare ASCII digits, mobiles without a country code, IDs with a capital X; they are
    not findings. Findings never overlap.

    `met`: a set the digits of every number matched are added to, allowed or not. Which
    numbers are matched does not depend on `allowed`, and nothing is found exactly when
    every number met is allowed: the first match not allowed is always a finding (there is
    no finding before it to overlap). So the leak gate, which keeps the numbers each clean
    file met, knows without reading it again whether the file is clean under other allowed
    numbers (leakgate.Rules).
    """
    findings: list[Finding] = []
    for candidate in _RUN_CANDIDATE.finditer(text):
        low = max(0, candidate.start() - _PREFIX_CHARS - _CONTEXT_CHARS)
        high = min(len(text), candidate.end() + _CONTEXT_CHARS + 1)
        window = _fold(text[low:high])
        pos = max(0, candidate.start() - _PREFIX_CHARS - low)
        while (match := _NUMBER.search(window, pos)) is not None:
            kind = _classify(match)
            if kind is None:
                # Not a valid number as matched; a shorter one may start inside it after a
                # separator ("2024 1234 5678 9012 138 1234 5678" ends with a mobile).
                pos = match.start() + 1
                continue
            pos = match.end()
            start, end = low + match.start(), low + match.end()
            finding = Finding(kind, start, end, text[start:end])
            digits = finding.digits
            if met is not None:
                met.add(digits)
            if digits not in allowed and not (findings and start < findings[-1].end):
                findings.append(finding)
    return findings


_RUN_GAPS = re.compile(r"[ \-+()]")  # what a number may be written with between its digits (folded)
_LONG_RUN = re.compile(r"[0-9X]{11,}")


def number_runs(text: str) -> list[str]:
    """The stretches of 11 or more digits (or X) in `text` once the spaces, hyphens, plus
    signs and brackets are taken out of its folded spelling, upper-cased.

    Whatever numbers are allowed, the `digits` of every finding `find_personal_numbers`
    makes of the text, or of the text partly masked by `mask_personal_numbers`, are part of
    one of these runs: a finding is digits with only those characters between them, and a
    mask keeps a finding's last four digits where they were, after stars. So an allowed
    number that is part of no run cannot change what is found in the text. (A text without
    a `_RUN_CANDIDATE`, nearly every field, has no finding at all, whatever is allowed.)"""
    if _RUN_CANDIDATE.search(text) is None:
        return []
    return _LONG_RUN.findall(_RUN_GAPS.sub("", _fold(text)).upper())


def allowed_in_runs(runs, allowed: frozenset[str], lengths: frozenset[int]) -> tuple[str, ...]:
    """The numbers of `allowed` (whose lengths are `lengths`) that are part of one of `runs`, sorted."""
    if not runs:
        return ()
    found = {run[start:start + length] for run in runs for length in lengths for start in range(len(run) - length + 1)}
    return tuple(sorted(found & allowed))


# --- masking numbers ------------------------------------------------------------------------


def _keep_last4(s: str, stars: int) -> str:
    chars = re.sub(r"[^0-9Xx]", "", _fold(s)).upper()
    tail = chars[-4:] if len(chars) >= 4 else ""  # so masking a mask changes nothing
    return MASK * (stars + 4 - len(tail)) + tail


def mask_id_number(s: str) -> str:
    """`**************1234`: 18 characters whatever the form, only the last four kept."""
    return _keep_last4(s, 14)


def mask_mobile(s: str) -> str:
    """`*******5678`: country code and spacing dropped, only the last four kept."""
    return _keep_last4(s, 7)


def mask_bank_account(s: str) -> str:
    """`************4567`: 16 characters for 16 to 19 digits, so the length tells nothing."""
    return _keep_last4(s, 12)


_MASKERS = {ID_NUMBER: mask_id_number, MOBILE: mask_mobile, BANK_ACCOUNT: mask_bank_account}


def mask_number(finding: Finding) -> str:
    return _MASKERS[finding.kind](finding.text)


def mask_personal_numbers(text: str, allowed: frozenset[str] = frozenset()) -> tuple[str, list[Finding]]:
    """`text` with every finding replaced by its mask, and the findings (offsets in `text`).

    Idempotent: the result has no findings left. A mask ends in four digits, which could
    in theory join the text after it into a new number; masking again until nothing is
    found makes sure (each round removes digits, so it ends).
    """
    first = find_personal_numbers(text, allowed)
    findings = first
    while findings:
        text = _replace(text, findings)
        findings = find_personal_numbers(text, allowed)
    return text, first


def _replace(text: str, findings: list[Finding]) -> str:
    pieces, pos = [], 0
    for finding in findings:
        pieces += [text[pos:finding.start], mask_number(finding)]
        pos = finding.end
    pieces.append(text[pos:])
    return "".join(pieces)


# --- names -----------------------------------------------------------------------------------

NAME_POLICIES = ("mask", "full", "hide")

# Compound surnames (复姓) from the Hundred Family Surnames and common use: with these the
# surname is two characters, and only the given name is masked (欧阳晓峰 -> 欧阳**).
COMPOUND_SURNAMES = frozenset(
    """
    欧阳 太史 端木 上官 司马 东方 独孤 南宫 万俟 闻人 夏侯 诸葛 尉迟 公羊 赫连 澹台 皇甫
    宗政 濮阳 公冶 太叔 申屠 公孙 慕容 仲孙 钟离 长孙 宇文 司徒 鲜于 司空 闾丘 子车 亓官
    司寇 巫马 公西 颛孙 壤驷 公良 漆雕 乐正 宰父 谷梁 拓跋 夹谷 轩辕 令狐 段干 百里 呼延
    东郭 南门 羊舌 微生 公户 公玉 公仪 梁丘 公仲 公上 公门 公山 公坚 左丘 公伯 西门 公祖
    第五 公乘 贯丘 公皙 南荣 东里 东宫 仲长 子书 子桑 即墨 达奚 褚师
    """.split()
)


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x3134F


def mask_name(name: str, policy: str = "mask") -> str | None:
    """A private person's name as published under the site's `privacy.names` policy.

    `mask`: 张三丰 -> 张*丰, 李强 -> 李*, 欧阳晓峰 -> 欧阳**, 司马云 -> 司马*, 买买提·艾力 ->
    买****力, Zhang San -> Z********; one star per hidden character. Masking a masked name
    changes nothing. `full`: unchanged. `hide`: None, and the caller shows a placeholder.
    """
    if policy == "full":
        return name
    if policy == "hide":
        return None
    if policy != "mask":
        raise ValueError(f"unknown name policy {policy!r}; expected one of {', '.join(NAME_POLICIES)}")
    name = name.strip()
    if len(name) <= 1:
        return MASK * len(name)  # a lone character is the whole name: nothing can be shown
    if not _is_cjk(name[0]):
        return name[0] + MASK * (len(name) - 1)
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return name[:2] + MASK * (len(name) - 2)
    if len(name) == 2:
        return name[0] + MASK
    return name[0] + MASK * (len(name) - 2) + name[-1]
