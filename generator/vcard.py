"""vCard 3.0 (RFC 2426 on RFC 2425's text/directory) for the work team's contact QR codes.

Phone scanners read vCard 3.0 with both N and FN best (4.0 and MECARD are read badly by
some; shared/DOMAIN.md). Output: CRLF line ends, text values escaped (backslash, comma,
semicolon, newline), lines folded at 75 octets without splitting a UTF-8 character (nor an
escape such as ``\\,``), UTF-8 throughout, deterministic (no REV/UID timestamps).

No ``CHARSET`` parameter: it belongs to vCard 2.1. In 3.0 the character set is that of the
whole MIME object (RFC 2425 section 5.8.2 / RFC 2426 section 4 have no CHARSET parameter in
their grammar), some 3.0 readers reject the unknown parameter or show it in the value, and a
QR payload has no MIME header anyway: readers take the bytes as UTF-8, which is what
`generator.qr` puts in the code.
"""
from __future__ import annotations

import re
import unicodedata

__all__ = ["vcard", "split_name", "COMPOUND_SURNAMES"]

#: Two-character (复姓) surnames; a name that starts with one of these (and is longer than
#: it) has it as family name. The single first character otherwise.
COMPOUND_SURNAMES = frozenset(
    """
    欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 司空 夏侯 轩辕 令狐 钟离
    闾丘 澹台 公冶 太史 申屠 端木 南宫 独孤 百里 呼延 万俟 单于 赫连 濮阳 东郭 西门 亓官
    拓跋 左丘 第五 梁丘 公羊 宗政 淳于 太叔 仲孙 鲜于 闻人 羊舌 微生 司寇 子车 颛孙 壤驷
    公良 漆雕 乐正 宰父 谷梁 巫马 公西 南门 东门 公伯 夹谷 段干
    """.split()
)

_PHONE_TYPES = {"cell": "CELL", "work": "WORK,VOICE"}
_PHONE_OK = re.compile(r"\+?[0-9][0-9 ()\-]*")
_LINE_OCTETS = 75  # RFC 2425 5.8.1: lines SHOULD NOT be longer than 75 octets, excluding CRLF


def _is_han(ch: str) -> bool:
    return unicodedata.category(ch) == "Lo" and (
        "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0003134f"
    )


def split_name(name: str) -> tuple[str, str]:
    """(family, given) for the N property.

    Chinese names: the compound surname (欧阳, 司马, …) when the name is longer than it, else
    the first character. Names joined with a middle dot (transliterated minority names such
    as 阿依古丽·买买提, which have no family name) and single words: all in `given`. Other
    names with spaces: the last word is the family name.
    """
    name = " ".join(name.split())
    if not name:
        raise ValueError("a contact needs a name")
    if any(dot in name for dot in "·•・‧"):
        return "", name
    compact = name.replace(" ", "")
    if all(_is_han(ch) for ch in compact):
        if len(compact) == 1:
            return compact, ""
        if len(compact) > 2 and compact[:2] in COMPOUND_SURNAMES:
            return compact[:2], compact[2:]
        return compact[0], compact[1:]
    if " " in name:
        given, family = name.rsplit(" ", 1)
        return family, given
    return "", name


def _clean(text: str) -> str:
    """Normalize line ends to \\n, turn tabs into spaces, drop other control characters."""
    if text.isprintable():  # no control character at all (the common case: a site has thousands)
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) != "Cc")


def _escape(text: str) -> str:
    """RFC 2426 section 4 text escaping: backslash, comma, semicolon, newline."""
    return (
        _clean(text).replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")
    )


def _fold(line: str) -> list[str]:
    """Physical lines of at most 75 octets; a continuation starts with one space (counted)."""
    if len(line.encode("utf-8")) <= _LINE_OCTETS:
        return [line]
    # Units never split: one character, or an escape pair like "\," (kept whole for naive readers).
    units = re.findall(r"\\.|.", line, flags=re.DOTALL)
    lines: list[str] = []
    current, size, limit = "", 0, _LINE_OCTETS
    for unit in units:
        octets = len(unit.encode("utf-8"))
        if size + octets > limit:
            lines.append(current)
            current, size, limit = " ", 1, _LINE_OCTETS
        current += unit
        size += octets
    lines.append(current)
    return lines


def _phone(number: str) -> str:
    number = " ".join(str(number).split())
    if not _PHONE_OK.fullmatch(number) or sum(c.isdigit() for c in number) < 3:
        raise ValueError(f"not a phone number a phone can dial: {number!r} (digits, +, -, spaces, parentheses)")
    return number


def vcard(*, name: str, role: str | None, org: str | None, phones: list[tuple[str, str]]) -> str:
    """A vCard 3.0 for one contact, CRLF-terminated lines, ready to put in a QR code.

    `phones` is a list of (type, number) with type "cell" (TEL;TYPE=CELL) or "work"
    (TEL;TYPE=WORK,VOICE), kept in the given order. `role` becomes TITLE and `org` ORG
    (one organization-name component); empty ones are left out. Raises ValueError on an
    empty name, an unknown phone type or a number with letters in it.
    """
    family, given = split_name(_clean(name).replace("\n", " "))
    props = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"N:{_escape(family)};{_escape(given)};;;",
        f"FN:{_escape(' '.join(_clean(name).split()))}",
    ]
    for prop, value in (("TITLE", role), ("ORG", org)):
        value = _clean(value or "").strip()
        if value:
            props.append(f"{prop}:{_escape(value)}")
    for kind, number in phones:
        tel_type = _PHONE_TYPES.get(str(kind).strip().lower())
        if tel_type is None:
            raise ValueError(f"phone type must be 'cell' or 'work', not {kind!r}")
        props.append(f"TEL;TYPE={tel_type}:{_phone(number)}")
    props.append("END:VCARD")
    return "".join(physical + "\r\n" for prop in props for physical in _fold(prop))
