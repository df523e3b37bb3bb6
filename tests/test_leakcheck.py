"""The leak scanner finds personal data in a built site, in any file and any disguise."""
from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import gate_reads
from generator.leakcheck import Leak, scan_site, scan_text
from generator.media import publish_image
from generator.privacy import resident_id_check_char

ID = "13042419800101123" + resident_id_check_char("13042419800101123")  # 130424198001011237
CARD = "6217000010001234569"  # passes Luhn
MOBILE = "13900001111"
OFFICIAL = "13812345678"  # the first secretary's phone, published on purpose
ALLOWED = frozenset({OFFICIAL, "12317", "03101234567"})
NAMES = ["张三丰", "欧阳晓峰"]


def entities(s: str) -> str:
    return "".join(f"&#{ord(c)};" for c in s)


def write(site: Path, files: dict[str, str | bytes]) -> Path:
    for relpath, content in files.items():
        path = site / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return site


def gps_photo(path: Path) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Xiaomi"
    exif.get_ifd(0x8825)[1] = "N"
    Image.new("RGB", (16, 16), (200, 0, 0)).save(path, "JPEG", exif=exif)
    return path.read_bytes()


def clean_site_files(tmp_path: Path) -> dict[str, str | bytes]:
    """Pages as the build writes them: numbers everywhere, none of them personal."""
    src = tmp_path / "src.jpg"
    gps_photo(src)
    published = publish_image(src, tmp_path / "published" / "board.jpg")
    return {
        "index.html": (
            "<!doctype html><html lang=zh-CN><head><title>示范县驻村帮扶公开平台</title>"
            '<link rel="stylesheet" href="assets/style.3f2a13812345678b.css"></head><body>\n'
            "<p>第一书记：李明，电话 13812345678，监督电话 12317、0310-1234567</p>\n"
            "<table><tr><td>2024</td><td>4</td><td>60,000.00元</td><td>20240401</td></tr>\n"
            "<tr><td>肉牛养殖补助</td><td>40000</td><td>6万元</td><td>2024年4月1日</td></tr></table>\n"
            "<p>受益户：张*丰（4人）、欧阳**，身份证**************1237，卡号************4569，电话*******1111</p>\n"
            "<p>青财〔2024〕12号；公示期 2024-04-01 至 2024-04-10；&nbsp;&copy; 2024</p>\n"
            '<svg viewBox="0 0 29 29"><path d="M4 4h7v1H4zm13812345678 0.30000000000000004 1"/></svg>\n'
            "</body></html>\n"
        ),
        "search.json": json.dumps({"pages": [{"t": "2024年第一季度到户产业帮扶资金使用公示", "amount": "44366.5", "who": "张*丰"}]}),
        "history/changes.json": json.dumps({"digest": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "commit": "a1b2c3d"}),
        "data/notices.csv": "id,posted,amount,beneficiary\n2024-q1-industry-fund,2024-04-01,60000.00,张*丰\n",
        "feed.xml": '<?xml version="1.0"?><feed><updated>2024-04-01T00:00:00+08:00</updated><id>urn:uuid:6f1c</id></feed>\n',
        "media/board.jpg": published.path.read_bytes(),
        "media/board.thumb.jpg": published.thumb_path.read_bytes(),
        "assets/app.js": 'const sizes = [1600, 480]; console.log("\\u516c\\u793a");\n',
        "assets/font.woff2": bytes(range(256)) * 4,
    }


def test_clean_site_has_no_leaks(tmp_path):
    site = write(tmp_path / "site", clean_site_files(tmp_path))
    assert scan_site(site, allowed_numbers=ALLOWED, private_names=NAMES) == []


def test_each_planted_leak_is_reported_with_path_line_and_kind(tmp_path):
    photo = tmp_path / "photo.jpg"
    files = clean_site_files(tmp_path) | {
        "notices/a.html": (
            "<!doctype html>\n<main>\n"
            f"<p>身份证：{ID}</p>\n"  # line 3, plain
            "<p>其他说明</p>\n"
            f"<p>电话：{entities(MOBILE)}</p>\n"  # line 5, every digit an entity
            f"<p>电话：139<span class=\"n\">0000</span>1111，卡号 {CARD[:4]}&nbsp;{CARD[4:8]}&nbsp;{CARD[8:12]}&nbsp;{CARD[12:16]}&nbsp;{CARD[16:]}</p>\n"  # line 6
            "<p>受益户：张三丰</p>\n"  # line 7
            "</main>\n"
        ),
        "search.json": json.dumps({"pages": [{"t": f"受益户欧阳晓峰，卡号{CARD}"}]}),  # \\u escapes
        "assets/app.js": f'const a = 1;\nconst note = "\\u8054\\u7cfb\\u7535\\u8bdd{MOBILE}";\n',
        "data/list.csv": f"name,amount,id\n张*丰,2000,{ID}\n",
        "feed.xml": f"<feed>\n<entry><summary>电话：{entities('+86 ' + MOBILE)}</summary></entry>\n</feed>\n",
        "media/photo.jpg": gps_photo(photo),
    }
    site = write(tmp_path / "site", files)

    leaks = scan_site(site, allowed_numbers=ALLOWED, private_names=NAMES)

    assert [(leak.path, leak.line, leak.kind) for leak in leaks] == [
        ("assets/app.js", 2, "mobile number"),
        ("data/list.csv", 2, "ID number"),
        ("feed.xml", 2, "mobile number"),
        ("media/photo.jpg", 1, "image metadata"),
        ("media/photo.jpg", 1, "image metadata"),
        ("notices/a.html", 3, "ID number"),
        ("notices/a.html", 5, "mobile number"),
        ("notices/a.html", 6, "mobile number"),
        ("notices/a.html", 6, "bank card number"),
        ("notices/a.html", 7, "beneficiary name"),
        ("search.json", 1, "beneficiary name"),
        ("search.json", 1, "bank card number"),
    ]
    by_place = {(leak.path, leak.line, leak.column): leak for leak in leaks}
    assert ("notices/a.html", 3, 8) in by_place
    assert ("notices/a.html", 6, 7) in by_place  # where "139" starts, before the <span>
    assert ("data/list.csv", 2, 10) in by_place
    assert [leak.context for leak in leaks if leak.path == "media/photo.jpg"] == [
        "EXIF metadata (JPEG APP1): GPSInfo, GPSLatitudeRef, Make",
        "GPS location (JPEG APP1)",
    ]


def test_reports_never_repeat_the_number_or_the_name(tmp_path):
    text = f"受益户张三丰，身份证{ID}，电话{MOBILE}，卡号{CARD}，备注"
    leaks = scan_text(text, "notices/a.html", private_names=NAMES)
    assert [leak.kind for leak in leaks] == ["beneficiary name", "ID number", "mobile number", "bank card number"]
    for leak in leaks:
        for secret in (ID[:6], ID[6:14], MOBILE[:7], CARD[:12], "张三丰"):
            assert secret not in str(leak)
    assert str(leaks[1]) == "notices/a.html:1:11: personal number found (ID number): …受益户张*丰，身份证**************1237，电话*******1111，…"
    assert str(leaks[0]).startswith("notices/a.html:1:4: unmasked beneficiary name found: …受益户张*丰，")


def test_allowed_numbers_are_not_reported():
    text = f"第一书记电话{OFFICIAL}，+86 138 1234 5678，监督电话12317，0310-1234567；村民电话{MOBILE}"
    leaks = scan_text(text, "village.html", allowed_numbers=ALLOWED)
    assert [(leak.kind, leak.column) for leak in leaks] == [("mobile number", len(text) - len(MOBILE) + 1)]


def test_masked_names_and_numbers_are_not_reported():
    text = "张*丰 欧阳** **************1237 *******1111 ************4569 张 三丰"
    assert scan_text(text, "a.html", private_names=NAMES) == []


def test_names_are_found_in_every_encoding_but_not_inside_public_names():
    text = "\n".join(
        [
            json.dumps("欧阳晓峰")[1:-1],  # \u6b27\u9633\u6653\u5cf0
            entities("张三丰"),
            "&#x5f20;&#x4e09;&#x4e30;",
            "/search/?q=%E5%BC%A0%E4%B8%89%E4%B8%B0",
            "驻村工作队员张三丰华",  # an official's name that contains a private one
        ]
    )
    leaks = scan_text(text, "a.json", private_names=NAMES, public_names=["张三丰华"])
    assert [(leak.line, leak.column, leak.kind) for leak in leaks] == [
        (1, 1, "beneficiary name"),
        (2, 1, "beneficiary name"),
        (3, 1, "beneficiary name"),
        (4, 12, "beneficiary name"),
    ]
    assert "欧阳**" in leaks[0].context and "张*丰" in leaks[3].context


def test_short_and_latin_names():
    assert scan_text("王", "a.html", private_names=["王"]) == []  # one character: everywhere in Chinese text
    assert scan_text("click here", "a.html", private_names=["Li"]) == []
    assert [leak.column for leak in scan_text("by Li, 2024", "a.html", private_names=["Li"])] == [4]


@pytest.mark.parametrize(
    "disguised, offset",
    [
        ("139<span>0000</span>1111", 0),
        ("139<b>0000</b><i>1111</i>", 0),
        ("139<!-- x -->00001111", 0),
        ("&#x31;&#x33;&#x39;&#x30;&#x30;&#x30;&#x30;&#x31;&#x31;&#x31;&#x31;", 0),
        ("139&nbsp;0000&nbsp;1111", 0),
        ("139&#8203;0000&#8203;1111", 0),
        ("139\u200b0000\u200b1111", 0),
        ("\\u0031\\u0033\\u0039\\u0030\\u0030\\u0030\\u0030\\u0031\\u0031\\u0031\\u0031", 0),
        ("\\uff11\\uff13\\uff19\\uff10\\uff10\\uff10\\uff10\\uff11\\uff11\\uff11\\uff11", 0),
        ("\\n13900001111", 2),  # a JSON newline glued to the number
        ("\\u8bdd13900001111", 6),  # a JSON-escaped 话 glued to it
        ("%2B8613900001111", 0),
        ("139%200000%201111", 0),
    ],
)
def test_numbers_hidden_by_encoders_are_found(disguised, offset):
    text = f'<p title="x">电话{disguised}。</p>'
    [leak] = scan_text(text, "a.html")
    assert (leak.kind, leak.line, leak.column) == ("mobile number", 1, 16 + offset)
    assert "1111" in leak.context and "0000" not in leak.context


def test_block_tags_separate_numbers():
    row = "<tr><td>139</td><td>0000</td><td>1111</td></tr><p>2024</p><p>0401</p><p>1234</p><p>5678</p>"
    assert scan_text(row, "a.html") == []


def test_text_encodings_and_compressed_files(tmp_path):
    site = write(
        tmp_path / "site",
        {
            "gbk.csv": f"姓名,身份证\n张三丰,{ID}\n".encode("gb18030"),
            "bom.csv": f"姓名\n张三丰\n".encode("utf-8-sig"),
            "utf16.txt": f"电话 {MOBILE}".encode("utf-16"),
            "index.html.gz": gzip.compress(f"<p>{ID}</p>".encode(), mtime=0),
            "no-suffix": f"{MOBILE}\n".encode(),
            "binary.bin": b"\xff\xfe\x00" + MOBILE.encode(),  # UTF-16 BOM then garbage: not text
        },
    )
    leaks = scan_site(site, private_names=NAMES)
    assert [(leak.path, leak.line, leak.kind) for leak in leaks] == [
        ("bom.csv", 2, "beneficiary name"),
        ("gbk.csv", 2, "beneficiary name"),
        ("gbk.csv", 2, "ID number"),
        ("index.html.gz", 1, "ID number"),
        ("no-suffix", 1, "mobile number"),
        ("utf16.txt", 1, "mobile number"),
    ]


def test_order_is_by_path_then_position(tmp_path):
    site = write(tmp_path / "site", {"b.txt": f"{MOBILE}\n{ID}", "a/z.txt": f"x {MOBILE}", "a.txt": f"{ID} {MOBILE}"})
    leaks = scan_site(site)
    assert [(leak.path, leak.line, leak.column) for leak in leaks] == [
        ("a.txt", 1, 1), ("a.txt", 1, 20), ("a/z.txt", 1, 3), ("b.txt", 1, 1), ("b.txt", 2, 1),
    ]
    assert leaks == sorted(leaks)


def test_leak_string_form():
    leak = Leak("notices/a.html", 12, 5, "ID number", "…身份证**************1237…")
    assert str(leak) == "notices/a.html:12:5: personal number found (ID number): …身份证**************1237…"
    assert str(Leak("media/a.jpg", 1, 1, "image metadata", "GPS location (JPEG APP1)")) == (
        "media/a.jpg:1:1: image metadata found: GPS location (JPEG APP1)"
    )


def test_build_stamps_and_versions_are_not_leaks():
    text = "生成于 20261122083015（2026-11-22T08:30:15+08:00），版本 20261122.1，缓存 1764000000123456"
    assert scan_text(text, "a.html") == []


@settings(max_examples=300, deadline=None)
@given(
    private=st.sets(st.text(alphabet="王李张a", min_size=2, max_size=4), min_size=1, max_size=6),
    public=st.sets(st.text(alphabet="王李张村a", min_size=2, max_size=6), max_size=4),
    text=st.text(alphabet="王李张村a b，", max_size=60),
)
@example(private={"王李"}, public={"王李张"}, text="村王李张村")  # a private name inside a public one
@example(private={"王李", "李张村"}, public=set(), text="王李张村")  # the first place wins
def test_name_search_finds_what_one_regex_of_all_names_finds(private, public, text):
    """At every place the longest name there, then on after it: what a regex alternation of
    all names, longest first, finds (the finder avoids compiling such a regex per build)."""
    from generator.leakcheck import _Names, _stands_alone

    names = _Names(private, public)
    words = sorted(names.owner, key=lambda w: (-len(w), w))
    oracle = re.compile("|".join(re.escape(w) for w in words))
    expected = [(m.start(), m.end(), m.group()) for m in oracle.finditer(text)
                if names.owner[m.group()] and _stands_alone(text, m.start(), m.end())]
    assert names.find(text) == expected


# -- QR code outlines are skipped, and the report is the same ------------------------------------

def _scanner(private=NAMES, public=("张三丰华",), allowed=ALLOWED):
    from generator.leakcheck import Scanner

    return Scanner(allowed, private, public)


def _both_ways(text: str, scanner) -> tuple[list, list]:
    """The report with the QR outlines skipped, and with everything read."""
    assert scanner.skip_qr_paths
    skipped = scanner.scan_text(text, "page.html")
    scanner.skip_qr_paths = False
    try:
        whole = scanner.scan_text(text, "page.html")
    finally:
        scanner.skip_qr_paths = True
    return skipped, whole


def test_real_qr_outlines_are_skipped():
    """The speed-up applies to the codes the site draws (else it is only not faster)."""
    from generator.leakcheck import _without_qr_paths
    from generator.qr import qr_svg
    from generator.vcard import vcard

    payloads = ["https://example.gov.cn/notices/bty-2024-001.html", "https://x.cn/" + "v" * 300,
                vcard(name="张晓东", role="第一书记", org="青禾县驻村工作队", phones=[("cell", "13812345678")])]
    for payload in payloads:
        svg = qr_svg(payload, label="二维码")
        page = f"<p>前</p>{svg}<p>后</p>"
        shorter, starts, removed = _without_qr_paths(page)
        assert len(starts) == 1 and 'd=""' in shorter and shorter.startswith("<p>前</p>") and shorter.endswith("<p>后</p>")
        assert removed[0] == len(page) - len(shorter) > 100


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([
    ' d="M4 4h7v7h-7zm9 0h1v2h-1z"', ' d="M12 4h1v1h-1zM4-3h2z"', ' d="M', '"', 'd="M', " d=\"M1 2h138 1234 5678z\"",
    ' d="M13900001111h1z"', ' d="M1 2h1z&#49;"', " d=\"M1 2h张三丰z\"", " ", "-", "h", "z", "M", "1", "139", "0000", "1111",
    MOBILE, ID, CARD, OFFICIAL, "+86 ", "(+86)", "&#49;", "&#51;", "<span>", "</span>", "\\u0031", "%31", "张三丰", "欧阳晓峰",
    "张三丰华", "\n", "<path", "/>", "Mh", "<!--", "-->", '<span class="', '">', "<b ",
]), max_size=30))
def test_skipping_qr_outlines_never_changes_the_report(pieces):
    skipped, whole = _both_ways("".join(pieces), _scanner())
    assert skipped == whole


def test_a_number_beside_or_inside_an_outline_is_still_found():
    text = ('<svg><path fill="#000" d="M4 4h7v7h-7zm9 0h1v2h-1z"/></svg>\n'
            f'<path d="M4 4h1z"/>{MOBILE}<path d="M1 2h {MOBILE} 1z"/><path d="M4 4h {MOBILE[:3]}-{MOBILE[3:7]}-{MOBILE[7:]} z"/>')
    skipped, whole = _both_ways(text, _scanner())
    assert skipped == whole
    assert [(leak.line, leak.kind) for leak in skipped] == [(2, "mobile number")] * 3


def test_a_name_that_could_be_path_data_turns_the_skipping_off():
    scanner = _scanner(private=["Mh", "张三丰"])
    assert not scanner.skip_qr_paths
    assert [leak.kind for leak in scanner.scan_text('<path d="M4 4 Mh 1z"/>', "page.html")] == ["beneficiary name"]
    assert not _scanner(private=['张"三']).skip_qr_paths


# -- after an edit, a file is read only where it changed ----------------------------------------

# Pieces of text that make numbers, names, escapes, tags and comments, and the characters
# that may end what the scan reads (leakcheck._EDGE_CHARS), with the ways they may not.
_PIECES = [
    "\n", ",", '"', "{", "}", "[", "]", "\\", '\\"', "<", ">", "<!--", "-->", "<span>", "</span>", '<span title="', '">',
    "<b ", "<p>", "<a", "</B", "<=", "&#49;", "&#51;", "\\u0031", "%31", "\u200b", " ", "-", "+86 ", "(", ")", "1", "139", "0000", "1111",
    "9", "13", "9000", "011", "11", "张三", "丰", "张三丰", "欧阳晓峰", "张三丰华", "村", "a", "\\u5f20\\u4e09\\u4e30", ' d="M4 4h7z"',
]


def _edited(pieces: list[str], at: int, cut: int, inserted: list[str]) -> tuple[str, str]:
    before = "".join(pieces)
    at = min(at, len(before))
    return before, before[:at] + "".join(inserted) + before[at + cut:]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40), st.integers(0, 200), st.integers(0, 8),
       st.lists(st.sampled_from(_PIECES), max_size=6))
@example([MOBILE[:3], ",", MOBILE[3:]], 3, 1, [])  # the edge taken away joins a number
@example(["张三", ",", "丰"], 2, 1, [])  # a name put together
@example(["139", "<!--", ">", ",", "-->", "0000", "a", "1111"], 16, 1, [])  # an edge inside a comment is none
@example(["139", '<span title="', ",", '">', "0000", "a", "1111"], 23, 1, [])  # nor one inside a tag
# After the change, an edge of the new text inside a comment of the old one: in the old text
# a number's characters after it belonged to a run that started before it, and showed none.
@example(["9", "<!--", ",", "-->", "139", "&#49;", "9000", "011"], 5, 0, ["-->"])
def test_reading_what_changed_finds_what_reading_everything_finds(pieces, at, cut, inserted):
    """When the old text had no finding, the part read (from an edge before the change to
    one after it, with no margin at all here) has one whenever the whole new text has."""
    from unittest import mock

    from generator import leakcheck

    scanner = _scanner()
    before, text = _edited(pieces, at, cut, inserted)
    if scanner.scan_text(before, "old") or text == before:
        return  # (the property is about edits of a text that passed)
    with mock.patch.object(leakcheck, "_EDGE_MARGIN", 0):
        start, end = leakcheck._changed_span(text, before, scanner.edges)
    whole = scanner.scan_text(text, "new")
    if whole:
        assert scanner.scan_text(text[start:end], "new"), (text[start:end], whole)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=60), st.lists(st.tuples(st.integers(0, 300), st.integers(0, 6),
       st.lists(st.sampled_from(_PIECES), max_size=4)), min_size=1, max_size=4))
@example(["139", ",", "a", "a", "a", ",", "0000", ",", "1111"], [(4, 1, []), (12, 1, [])])  # two edges taken away
@example(["张三", ",", "x", "x", "x", "x", ",", "丰"], [(2, 1, []), (9, 1, [])])  # a name put together across a stretch
def test_reading_the_parts_that_changed_finds_what_reading_everything_finds(pieces, edits):
    """Several edits of a text that passed: the parts read (cut around stretches the old
    text has too, with no margins and the shortest stretches here) have a finding whenever
    the whole new text has one."""
    from unittest import mock

    from generator import leakcheck

    scanner = _scanner()
    before = text = "".join(pieces)
    if scanner.scan_text(before, "old"):
        return  # (the property is about edits of a text that passed)
    for at, cut, inserted in sorted(edits, reverse=True):  # from the end, so the places stay apart
        at = min(at, len(text))
        text = text[:at] + "".join(inserted) + text[at + cut:]
    if text == before:
        return
    with mock.patch.multiple(leakcheck, _EDGE_MARGIN=0, _PROBE=2, _SPLIT_AT_LEAST=3):
        spans = leakcheck._changed_spans(text, before, scanner.edges)
    assert spans == sorted(spans) and all(a < b <= c for (a, b), (c, _) in zip(spans, spans[1:]))
    whole = scanner.scan_text(text, "new")
    if whole:
        assert any(scanner.scan_text(text[start:end], "new") for start, end in spans), (spans, whole)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=60), st.lists(st.tuples(st.integers(0, 300), st.integers(0, 6),
       st.lists(st.sampled_from(_PIECES), max_size=4)), min_size=1, max_size=4))
@example(["139", ",", "0000", "1111"], [(3, 1, [])])  # an edge taken away joins a number
def test_the_numbers_a_text_meets_are_those_the_old_one_met_or_the_parts_read_meet(pieces, edits):
    """What scan_site's `met` keeps for a file read only where it changed: every number the
    whole new text meets (whatever is allowed) is met by the old text or by a part read."""
    from unittest import mock

    from generator import leakcheck

    scanner = _scanner(allowed=frozenset())
    before = text = "".join(pieces)
    for at, cut, inserted in sorted(edits, reverse=True):
        at = min(at, len(text))
        text = text[:at] + "".join(inserted) + text[at + cut:]
    with mock.patch.multiple(leakcheck, _EDGE_MARGIN=0, _PROBE=2, _SPLIT_AT_LEAST=3):
        spans = leakcheck._changed_spans(text, before, scanner.edges) if text != before else []
    old, new, parts = set(), set(), set()
    scanner.scan_text(before, "old", old)
    scanner.scan_text(text, "new", new)
    for start, end in spans:
        scanner.scan_text(text[start:end], "new", parts)
    assert new <= old | parts, (spans, new - old - parts)


def test_a_long_stretch_the_old_text_has_is_not_read_again():
    """A search index file after a notice is added: a record renumbered near its start and
    one gap of the postings changed near its end. The middle is not read; a leak put in
    the middle instead is found."""
    from generator import leakcheck

    import random

    from generator import search_export

    scanner = _scanner()
    rng = random.Random(3)
    postings = search_export.digits([rng.choice([rng.randrange(64), rng.randrange(5000)]) for _ in range(6000)])
    before = '{"docs":{"5120":["n/a.html","村务公示"]},"terms":{"村务":"' + postings + '"}}'
    text = before.replace('"5120"', '"5121"').replace(postings[-300:-290], "QQ" + postings[-298:-290])
    spans = leakcheck._changed_spans(text, before, scanner.edges)
    assert len(spans) == 2 and sum(end - start for start, end in spans) < len(text) // 4
    assert scanner.changed_part_is_clean(text.encode(), before.encode())
    middle = len(text) // 2
    leaky = text[:middle] + f'","x":"{MOBILE}","y":"' + text[middle:]
    assert not scanner.changed_part_is_clean(leaky.encode(), before.encode())


def test_a_character_of_a_name_is_never_an_edge():
    from generator import leakcheck

    scanner = _scanner(private=["张,三"])
    assert not scanner.edges.search(",") and scanner.edges.search("\n")
    text = "张,三"
    start, end = leakcheck._changed_span(text, "张,四", scanner.edges)
    assert [leak.kind for leak in scanner.scan_text(text[start:end], "p")] == ["beneficiary name"]


def test_an_edit_of_a_large_file_is_read_where_it_changed(tmp_path, monkeypatch):
    """A table of ten thousand rows with one row changed: a few hundred characters are read,
    a leak put in is reported as a whole scan reports it, and a file that is not UTF-8,
    or changed throughout, is read whole."""
    from generator import leakcheck

    rows = [f"row-{i},张*丰,{i * 7}.00,青禾县\n" for i in range(10000)]
    old = "\ufeffid,who,amount,county\n" + "".join(rows)
    site, published = tmp_path / "site", tmp_path / "published"
    write(published, {"data/t.csv": old.encode("utf-8"), "data/g.csv": old.encode("gb18030"), "data/all.csv": old})
    edited = old.replace("row-5000,张*丰", "row-5000,张*丰（更正）")
    leaky = old.replace("row-7000,张*丰", f"row-7000,张三丰,{MOBILE}")
    write(site, {"data/t.csv": edited, "data/leaky.csv": leaky, "data/g.csv": edited.encode("gb18030"),
                 "data/all.csv": old.replace("张*丰", "张*峰")})
    (published / "data" / "leaky.csv").write_bytes(old.encode("utf-8"))

    read: list[int] = []
    real_scan_text = leakcheck.Scanner.scan_text
    monkeypatch.setattr(leakcheck.Scanner, "scan_text", lambda self, text, path, numbers=None: (read.append(len(text)), real_scan_text(self, text, path, numbers))[1])
    options = dict(allowed_numbers=ALLOWED, private_names=NAMES, public_names=["张三丰华"])
    assert scan_site(site, only=["data/t.csv"], previous=published, **options) == []
    assert read and max(read) < 2000
    read.clear()
    leaks = scan_site(site, only=["data/leaky.csv"], previous=published, **options)
    assert leaks == scan_site(site, only=["data/leaky.csv"], **options)
    assert [(leak.line, leak.kind) for leak in leaks] == [(7002, "beneficiary name"), (7002, "mobile number")]
    assert read[0] < 2000 and read[-1] == len(leaky) - 1  # the changed part, then all of it (without the BOM)
    for whole, length in (("data/g.csv", len(edited)), ("data/all.csv", len(old) - 1)):  # (GB18030 keeps its mark)
        read.clear()
        assert scan_site(site, only=[whole], previous=published, **options) == []
        assert read == [length]


def test_the_gate_lists_every_file_as_rglob_does(tmp_path):
    """The gate reads every file in the output, also one no feature registered: its listing
    (os.scandir) is pathlib's rglob("*") with is_file(): nested folders, odd names, links to
    files in, linked folders and broken links out."""
    import os

    from generator.leakcheck import site_files

    site = tmp_path / "site"
    for path in ("index.html", "a/b/c/deep.json", "a/b/x y.txt", "notices/公示.html", "a/.hidden", "empty/.keep"):
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text("x", encoding="utf-8")
    (site / "void").mkdir()
    os.symlink(site / "index.html", site / "a" / "link.html")
    os.symlink(site / "a" / "b", site / "linked-folder")
    os.symlink(tmp_path / "nowhere", site / "broken")
    expected = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    assert "a/link.html" in expected and not any(p.startswith("linked-folder/") for p in expected)
    assert sorted(site_files(site)) == expected


def test_verdicts_spare_reading_a_file_again_only_for_its_same_path_bytes_and_rules(tmp_path, monkeypatch):
    """A CI runner builds into an empty folder with the build cache restored: files the gate
    passed before, by path and bytes under the same rules, are not read again; a changed
    file, a file with findings and every file under other rules are."""
    from generator.leakgate import Verdicts

    site = write(tmp_path / "site", {**{f"p{n}.html": f"<p>公示 {n}</p>" for n in range(5)},
                                     "notice.html": "<p>张三丰 领取补贴</p>"})
    scanned = gate_reads(monkeypatch)
    cache = tmp_path / "cache"

    def scan(rules: str, **options) -> list[str]:
        scanned.clear()
        return [leak.path for leak in scan_site(site, verdicts=Verdicts(cache, rules), **options)]

    assert scan("a") == [] and len(scanned) == 6
    assert scan("a") == [] and scanned == []
    (site / "p1.html").write_text(f"<p>电话 {MOBILE}</p>", encoding="utf-8")
    assert scan("a") == ["p1.html"] and scanned == ["p1.html"]
    assert scan("a") == ["p1.html"] and scanned == ["p1.html"]  # a file with findings is never recorded
    (site / "p1.html").rename(site / "p9.html")  # the same bytes elsewhere: read again
    (site / "p2.html").rename(site / "moved.html")
    assert scan("a") == ["p9.html"] and sorted(scanned) == ["moved.html", "p9.html"]
    # A beneficiary's name became private (other rules): every file is read, the unchanged
    # notice too, and the name is found there.
    assert scan("b", private_names=["张三丰"]) == ["notice.html", "p9.html"] and len(scanned) == 6
    monkeypatch.setattr("generator.inputs.tool_digest", lambda: "another version of the scanner")
    assert scan("a") == ["p9.html"] and len(scanned) == 6


def test_verdicts_count_under_other_published_numbers_for_files_that_met_none_given_up(tmp_path, monkeypatch):
    """A verdict keeps the numbers its file met: under other numbers published on purpose
    (a work team's new phone), a file that passed is read again only if it met one no
    longer published, and found there; what a verdict is read from counts too."""
    from generator.leakgate import Verdicts

    site = write(tmp_path / "site", {"phone.html": f"<p>电话 {OFFICIAL}</p>", "escaped.json": '{"t": "&#49;' + OFFICIAL[1:] + '"}',
                                     "plain.html": "<p>公示</p>", "other.html": f"<p>电话 {MOBILE}</p>"})
    scanned = gate_reads(monkeypatch)
    cache = tmp_path / "cache"

    def scan(numbers) -> list[str]:
        scanned.clear()
        return [leak.path for leak in scan_site(site, verdicts=Verdicts(cache, "names"), allowed_numbers=frozenset(numbers))]

    assert scan({OFFICIAL, MOBILE}) == [] and len(scanned) == 4
    assert scan({OFFICIAL, MOBILE, "13700001111"}) == [] and scanned == []  # a number added: nothing read
    assert scan({MOBILE}) == ["escaped.json", "phone.html"] and sorted(scanned) == ["escaped.json", "phone.html"]
    assert scan({MOBILE}) == ["escaped.json", "phone.html"] and sorted(scanned) == ["escaped.json", "phone.html"]
    met: dict = {}
    assert scan_site(site, verdicts=Verdicts(cache, "names"), allowed_numbers=frozenset({OFFICIAL, MOBILE}), met=met) == []
    assert met == {"phone.html": (OFFICIAL,), "escaped.json": (OFFICIAL,), "plain.html": (), "other.html": (MOBILE,)}


def test_damaged_or_full_verdicts_only_cost_reading_the_files(tmp_path, monkeypatch):
    import sqlite3

    from generator.leakgate import Verdicts

    site = write(tmp_path / "site", {f"p{n}.html": f"<p>公示 {n}</p>" for n in range(6)})
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / Verdicts.FILE_NAME).write_bytes(b"not a database at all" * 100)
    verdicts = Verdicts(cache, "a")
    assert verdicts.known() == {}  # damaged: removed, to be made again
    assert scan_site(site, verdicts=verdicts) == []
    assert len(verdicts.known()) == 6
    monkeypatch.setattr(Verdicts, "KEPT", 8)
    assert scan_site(site, verdicts=Verdicts(cache, "b")) == []  # 6 more would exceed 8: emptied first
    with sqlite3.connect(cache / Verdicts.FILE_NAME) as db:
        assert db.execute("SELECT count(*) FROM passed").fetchone() == (6,)


_POOL = ["张三", "张三丰", "三丰", "李明", "李明华", "明华", "华张", "王小明", "小明", "Li", "Lim", "Ming"]


def _spellings(name: str) -> list[str]:
    return [name, "".join(f"\\u{ord(c):04x}" for c in name), "".join(f"&#{ord(c)};" for c in name),
            "".join(f"%{b:02X}" for b in name.encode("utf-8"))]


@settings(max_examples=600, deadline=None)
@given(
    pieces=st.lists(st.one_of(st.sampled_from(list("张三丰李明华王小村 xLimng<>\"")),
                              st.sampled_from(_POOL).flatmap(lambda n: st.sampled_from(_spellings(n)))), max_size=14),
    old=st.sets(st.sampled_from(_POOL)), new=st.sets(st.sampled_from(_POOL)), public=st.sets(st.sampled_from(_POOL)),
)
@example(pieces=["李明华", "三丰"], old={"张三丰"}, new={"张三丰", "华张"}, public={"李明华"})
@example(pieces=["ax张三"], old={"x张", "张三"}, new={"张三"}, public=set())  # a removed name with a letter hid 张三
def test_files_that_passed_need_be_read_only_where_an_added_name_occurs(pieces, old, new, public):
    """What leakgate.Rules.added_names and scan_site's `mentions` rely on: a text in which the
    old private names were not found, in which no added name occurs (`_may_mention`), and
    whose removed names have no Latin letters or digits, shows nothing under the new names."""
    from generator.leakcheck import _WORD_CHAR, _may_mention

    assume(not any(_WORD_CHAR.search(name) for name in old - new))
    text = "".join(pieces)
    assume(scan_text(text, "t.html", private_names=old, public_names=public) == [])
    if not _may_mention("t.html", text.encode("utf-8"), frozenset(new - old)):
        assert scan_text(text, "t.html", private_names=new, public_names=public) == []


@settings(max_examples=1500, deadline=None)
@given(pieces=st.lists(st.sampled_from(["\\u", "\\u5f20", "\\u5F20", "&#", "&#24352;", "&#x5f20;", "&#X5F;", "%", "%E5",
                                        "%e5%bc", ";", "x", "5", "f", "张", "u", "\\", " ", "#", "&"]), max_size=24))
def test_the_escaped_runs_searched_apart_are_the_ones_the_single_pattern_finds(pieces):
    import re

    from generator import leakcheck

    text = "".join(pieces)
    single = re.compile("|".join(leakcheck.ESCAPED_RUN_PATTERNS))
    assert [m.span() for m in leakcheck._escaped_runs(text)] == [m.span() for m in single.finditer(text)]


def _mentions_in_text(relpath: str, data: bytes, names: frozenset[str]) -> bool:
    """`_may_mention` as it was: the file decoded as the scan decodes it, then searched."""
    from generator import leakcheck

    if relpath.endswith(".gz"):
        data, relpath = gzip.decompress(data), relpath[:-3]
    if Path(relpath).suffix in leakcheck.IMAGE_SUFFIXES:
        return False  # (its scan reads the metadata, whatever the names)
    text = leakcheck._decode_text(data, known_text=Path(relpath).suffix in leakcheck.TEXT_SUFFIXES)
    if text is None:
        return False
    return any(name in text for name in names) or any(
        name in leakcheck._decode_run(m.group()) for m in leakcheck._escaped_runs(text) for name in names)


@settings(max_examples=1500, deadline=None)
@given(
    pieces=st.lists(st.one_of(
        st.sampled_from(["张", "三", "丰", "李明", "<p>", " ", "x", "\\", "&", "%", ";", "\ufeff", "\u00e9", "😀"]),
        st.sampled_from(_POOL).flatmap(lambda n: st.sampled_from(_spellings(n)))), max_size=16),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "gb18030", "broken"]),
    relpath=st.sampled_from(["p.html", "d.csv", "x.bin", "p.html.gz", "i.png"]),
    names=st.sets(st.sampled_from(_POOL + ["明李"]), min_size=1),
)
def test_looking_for_added_names_in_the_bytes_finds_what_the_decoded_text_shows(pieces, encoding, relpath, names):
    """`_may_mention` reads UTF-8 files' escaped runs in their bytes: the same answer as the
    text, whatever the file's encoding (the others are decoded first, as before)."""
    from generator.leakcheck import _may_mention

    text = "".join(pieces)
    if encoding == "broken":  # not UTF-8: a stray byte (read as GB18030 for a text file)
        data = text.encode("utf-8") + b"\xff" + text.encode("utf-8")
    else:
        data = text.encode(encoding, errors="replace")
    if relpath.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    assert _may_mention(relpath, data, frozenset(names)) == _mentions_in_text(relpath, data, frozenset(names))


def _id_number(body: str) -> str:
    return body + resident_id_check_char(body)


_NUMBERS = ["13900001111", "13911112222", "15800001111", "8613900001111", _id_number("11010519491231002"),
            _id_number("44030119800101123")]


def _number_spellings(number: str) -> list[str]:
    """A number as pages and data files may write it, disguised in the ways the scan decodes."""
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in number)
    return [number, f"{number[:3]} {number[3:7]} {number[7:]}", f"{number[:3]}-{number[3:]}", wide,
            "".join(f"&#{ord(c)};" for c in number), "".join(f"\\u{ord(c):04x}" for c in number),
            "".join(f"%{ord(c):02X}" for c in number), f"{number[:3]}<span>{number[3:7]}</span>{number[7:]}"]


@settings(max_examples=1500, deadline=None)
@given(
    pieces=st.lists(st.one_of(st.sampled_from([" ", "-", "+86 ", "1", "2", "x", "，", "<p>", "</p>", "电话", "\\n", "&nbsp;"]),
                              st.sampled_from(_NUMBERS).flatmap(lambda n: st.sampled_from(_number_spellings(n)))), max_size=10),
    before=st.sets(st.sampled_from(_NUMBERS)), after=st.sets(st.sampled_from(_NUMBERS)),
)
@example(pieces=["13900001111", "13911112222"], before={"13900001111", "13911112222"}, after={"13911112222"})
def test_a_file_is_clean_under_other_published_numbers_exactly_when_it_met_only_those(pieces, before, after):
    """What leakgate.Rules.unsure relies on: the numbers a scan meets (matched, allowed or
    not) do not depend on which are allowed, and the scan finds nothing exactly when all
    it met are allowed. So a file that passed, and met none of the numbers no longer
    published, passes under the new ones unread."""
    from generator.leakcheck import Scanner

    allowed = {number[2:] if len(number) == 13 else number for number in before}, \
        {number[2:] if len(number) == 13 else number for number in after}
    text = "".join(pieces)
    met = [set(), set()]
    found = [Scanner(frozenset(numbers), (), ()).scan_text(text, "t.html", seen) for numbers, seen in zip(allowed, met)]
    assert met[0] == met[1]
    for numbers, leaks in zip(allowed, found):
        assert (leaks == []) == (met[0] <= numbers)
