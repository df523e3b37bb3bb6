"""vCard 3.0 for contact QR codes: parsed back by a strict little parser, and decoded from a QR."""
from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from generator.qr import qr_png
from generator.vcard import split_name, vcard


# --------------------------------------------------------------------------- strict parser


def physical_lines(card: str) -> list[bytes]:
    data = card.encode("utf-8")
    assert data.endswith(b"\r\n"), "the last line must end with CRLF"
    lines = data[:-2].split(b"\r\n")
    for line in lines:
        assert b"\r" not in line and b"\n" not in line, f"bare CR or LF in {line!r}"
        assert len(line) <= 75, f"{len(line)} octets: {line!r}"
        line.decode("utf-8")  # each physical line on its own: no UTF-8 character split by a fold
    return lines


def unescape(value: str) -> str:
    def repl(m: re.Match) -> str:
        c = m.group(1)
        assert c in "\\,;nN", f"unknown escape \\{c}"
        return "\n" if c in "nN" else c

    assert not re.search(r"(?<!\\)(?:\\\\)*\\$", value), "dangling backslash"
    return re.sub(r"\\(.)", repl, value)


def _split(value: str, sep: str) -> list[str]:
    parts, cur, i = [], "", 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            cur += value[i : i + 2]
            i += 2
            continue
        if c == sep:
            parts.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    parts.append(cur)
    return parts


def parse(card: str) -> list[tuple[str, dict[str, list[str]], str]]:
    """[(NAME, {PARAM: [values]}, raw value)] after unfolding; strict about the frame."""
    logical: list[str] = []
    for raw in physical_lines(card):
        line = raw.decode("utf-8")
        if line.startswith((" ", "\t")):
            assert logical, "continuation before any property"
            logical[-1] += line[1:]
        else:
            logical.append(line)
    props = []
    for line in logical:
        head, sep, value = line.partition(":")
        assert sep, f"no colon in {line!r}"
        name, *params = head.split(";")
        assert re.fullmatch(r"[A-Z][A-Z0-9-]*", name), f"bad property name {name!r}"
        pmap: dict[str, list[str]] = {}
        for p in params:
            key, eq, vals = p.partition("=")
            assert eq and re.fullmatch(r"[A-Z-]+", key), f"bad parameter {p!r}"
            pmap.setdefault(key, []).extend(vals.split(","))
        props.append((name, pmap, value))
    assert props[0] == ("BEGIN", {}, "VCARD") and props[1] == ("VERSION", {}, "3.0")
    assert props[-1] == ("END", {}, "VCARD")
    names = [p[0] for p in props]
    assert names.count("N") == 1 and names.count("FN") == 1, "vCard 3.0 requires exactly one N and one FN"
    return props


def field(props, name: str) -> str | None:
    values = [unescape(v) for n, _, v in props if n == name]
    assert len(values) <= 1
    return values[0] if values else None


def n_parts(props) -> list[str]:
    (raw,) = [v for n, _, v in props if n == "N"]
    parts = _split(raw, ";")
    assert len(parts) == 5, "N has five components"
    return [unescape(p) for p in parts]


def tels(props) -> list[tuple[list[str], str]]:
    return [(p.get("TYPE", []), v) for n, p, v in props if n == "TEL"]


# --------------------------------------------------------------------------- tests

CARD = dict(
    name="王建国",
    role="第一书记",
    org="清河县乡村振兴局驻王家营村工作队",
    phones=[("cell", "13812345678"), ("work", "0371-12345678")],
)


def test_fields_and_types():
    props = parse(vcard(**CARD))
    assert n_parts(props) == ["王", "建国", "", "", ""]
    assert field(props, "FN") == "王建国"
    assert field(props, "TITLE") == "第一书记"
    assert field(props, "ORG") == "清河县乡村振兴局驻王家营村工作队"
    assert tels(props) == [(["CELL"], "13812345678"), (["WORK", "VOICE"], "0371-12345678")]
    assert [p[0] for p in props] == ["BEGIN", "VERSION", "N", "FN", "TITLE", "ORG", "TEL", "TEL", "END"]


def test_no_charset_parameter_and_crlf_everywhere():
    card = vcard(**CARD)
    assert "CHARSET" not in card.upper()
    assert card.count("\r\n") == card.count("\n") == len(card.split("\r\n")) - 1


def test_optional_fields_are_left_out():
    props = parse(vcard(name="李四", role=None, org="  ", phones=[]))
    assert [p[0] for p in props] == ["BEGIN", "VERSION", "N", "FN", "END"]


@pytest.mark.parametrize(
    "name, family, given_name",
    [
        ("王建国", "王", "建国"),
        ("李娜", "李", "娜"),
        ("欧阳建国", "欧阳", "建国"),
        ("司马光", "司马", "光"),
        ("上官婉儿", "上官", "婉儿"),
        ("诸葛亮", "诸葛", "亮"),
        ("欧阳", "欧", "阳"),  # two characters: surname + given, not a bare compound surname
        ("王 建国", "王", "建国"),
        ("阿依古丽·买买提", "", "阿依古丽·买买提"),
        ("Wang Jianguo", "Jianguo", "Wang"),
    ],
)
def test_family_and_given_names(name, family, given_name):
    assert split_name(name) == (family, given_name)
    props = parse(vcard(name=name, role=None, org=None, phones=[]))
    assert n_parts(props)[:2] == [family, given_name]
    assert field(props, "FN") == " ".join(name.split())


def test_escaping_round_trips():
    role = "主任, 第一书记; 驻村\n工作队 \\ back\\slash \\n not a newline"
    org = "清河县;乡村振兴局,驻村\r\n工作队"
    props = parse(vcard(name="欧阳,建;国", role=role, org=org, phones=[]))
    assert field(props, "TITLE") == role
    assert field(props, "ORG") == "清河县;乡村振兴局,驻村\n工作队"  # CRLF normalised to one newline
    assert n_parts(props)[:2] == ["", "欧阳,建;国"]  # not all Han: one given name, escaped
    assert field(props, "FN") == "欧阳,建;国"


def test_long_lines_fold_at_75_octets_between_characters():
    org = "清河县乡村振兴局驻王家营村工作队（中国共产党清河县委员会组织部选派，" * 3 + "ABC\\;,"
    card = vcard(name="王建国", role="a" * 200, org=org, phones=[])
    lines = physical_lines(card)
    assert any(len(line) > 70 for line in lines) and any(line.startswith(b" ") for line in lines)
    props = parse(card)
    assert field(props, "ORG") == org and field(props, "TITLE") == "a" * 200
    for line in lines:  # an escape pair is never cut by a fold either
        assert not re.search(rb"(?<!\\)(?:\\\\)*\\$", line)


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1).filter(lambda s: s.split()),
    role=st.text(st.characters(blacklist_categories=("Cs",))),
    org=st.text(st.characters(blacklist_categories=("Cs",))),
)
def test_any_text_round_trips(name, role, org):
    card = vcard(name=name, role=role, org=org, phones=[("cell", "+86 138-1234-5678")])
    props = parse(card)

    def norm(s: str) -> str:
        s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
        return "".join(c for c in s if c == "\n" or not (ord(c) < 32 or 0x7F <= ord(c) <= 0x9F)).strip()

    assert field(props, "FN") == " ".join(norm(name).split())
    assert field(props, "TITLE") == (norm(role) or None)
    assert field(props, "ORG") == (norm(org) or None)
    assert tels(props) == [(["CELL"], "+86 138-1234-5678")]


@pytest.mark.parametrize("phones", [[("fax", "123456")], [("cell", "call 138")], [("work", "12")], [("cell", "")]])
def test_bad_phones_are_refused(phones):
    with pytest.raises(ValueError):
        vcard(name="王建国", role=None, org=None, phones=phones)


def test_empty_name_is_refused():
    with pytest.raises(ValueError):
        vcard(name="  ", role=None, org=None, phones=[])


def test_qr_of_the_vcard_decodes_to_the_same_text():
    card = vcard(**CARD)
    found = zxingcpp.read_barcodes(
        Image.open(io.BytesIO(qr_png(card, scale=4))), formats=zxingcpp.BarcodeFormat.QRCode
    )
    assert len(found) == 1
    assert found[0].bytes == card.encode("utf-8")
    assert found[0].text == card
    assert found[0].ec_level == "M"
    props = parse(found[0].text)
    assert field(props, "FN") == "王建国"
