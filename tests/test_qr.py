"""QR codes: decoded back from real rasters, not trusted.

Chromium (Debian's, through Playwright) renders the inline SVG the way a visitor's browser
does; zxing-cpp decodes the screenshot and must give back the payload byte for byte, at level
M, with a 4-module quiet zone. A path rasterizer written here checks that the path data fills
exactly the dark modules on random matrices. A missing tool fails these tests, it never skips.
"""
from __future__ import annotations

import io
import os
import random
import re
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from contextlib import closing
from pathlib import Path

import pytest
import zxingcpp  # the zxing-cpp distribution; missing -> collection error, on purpose
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from browser import chromium
from qr_bits import read_symbol
from generator import qr as qrmod
from generator.qr import QUIET_ZONE, QrCache, path_from_matrix, qr_matrix, qr_png, qr_svg

SVG_NS = "{http://www.w3.org/2000/svg}"
REPO = Path(__file__).resolve().parent.parent

LONG_URL = "https://gongshi.example.gov.cn/qinghe/villages/wangjiaying.html"
SHORT_URL = "https://gs.example.cn/q/7"
VCARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:欧阳;建国;;;\r\nFN:欧阳建国\r\nTITLE:第一书记\\, 驻村工作队队长\r\n"
    "ORG:清河县乡村振兴局\r\nTEL;TYPE=CELL:13812345678\r\nTEL;TYPE=WORK,VOICE:0371-12345678\r\nEND:VCARD\r\n"
)
PAYLOADS = {"long-url": LONG_URL, "short-url": SHORT_URL, "vcard-zh": VCARD}

# Byte-mode capacity at level M, versions 1-10 (ISO/IEC 18004 table 7).
BYTE_CAPACITY_M = [14, 26, 42, 62, 84, 106, 122, 152, 180, 213]


# --------------------------------------------------------------------------- helpers


def decode(image: Image.Image) -> zxingcpp.Barcode:
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, f"expected one QR code in the raster, zxing found {len(found)}"
    return found[0]


def view_box_size(svg: str) -> int:
    box = ET.fromstring(svg).get("viewBox").split()
    assert box[:2] == ["0", "0"] and box[2] == box[3]
    return int(box[2])


def naive_svg(matrix, label: str) -> str:
    """The obvious output, one rect per dark module: the size reference."""
    n = len(matrix)
    rects = "".join(
        f'<rect x="{x}" y="{y}" width="1" height="1"/>' for y, row in enumerate(matrix) for x, m in enumerate(row) if m
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" role="img" aria-label="{label}" class="qr"'
        f' shape-rendering="crispEdges"><title>{label}</title><rect width="{n}" height="{n}" fill="#fff"/>'
        f'<g fill="#000">{rects}</g></svg>'
    )


def rasterize_path(d: str, n: int) -> list[list[int]]:
    """Winding number at each module centre of an axis-aligned path (written independently)."""
    assert re.fullmatch(r"[MmHhVvZz0-9 \-]*", d), "unexpected characters in path data"
    tokens = re.findall(r"[MmHhVvZz]|-?\d+", d)
    verticals = []  # (x, y_from, y_to)
    i = 0
    x = y = sx = sy = None
    while i < len(tokens):
        cmd = tokens[i]
        i += 1
        if cmd in "Mm":
            a, b = int(tokens[i]), int(tokens[i + 1])
            i += 2
            if cmd == "m":
                assert sx is not None, "relative move before any subpath"
                a, b = sx + a, sy + b  # after z the pen is at the subpath's start
            x, y = sx, sy = a, b
        elif cmd in "HhVv":
            v = int(tokens[i])
            i += 1
            if cmd == "H":
                x = v
            elif cmd == "h":
                x += v
            else:
                ny = v if cmd == "V" else y + v
                verticals.append((x, y, ny))
                y = ny
        else:  # z: the implied closing line must be axis-aligned too
            assert x == sx or y == sy, f"diagonal closing segment from {(x, y)} to {(sx, sy)}"
            if x == sx and y != sy:
                verticals.append((x, y, sy))
            x, y = sx, sy
    grid = [[0] * n for _ in range(n)]
    for cy in range(n):
        py = cy + 0.5
        for cx in range(n):
            px = cx + 0.5
            w = 0
            for vx, y0, y1 in verticals:
                if vx > px and min(y0, y1) < py < max(y0, y1):
                    w += 1 if y1 > y0 else -1
            grid[cy][cx] = w
    return grid


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:  # raises when /usr/bin/chromium is missing: no skip
        yield b


def render(browser, svg: str, css: str = "", scale: float = 1) -> Image.Image:
    page = browser.new_page(device_scale_factor=scale, viewport={"width": 800, "height": 800})
    try:
        page.set_content(
            f"<!doctype html><html><head><style>body{{margin:20px;background:#fff}}{css}</style></head>"
            f"<body>{svg}</body></html>"
        )
        png = page.locator("svg.qr").screenshot()
    finally:
        page.close()
    return Image.open(io.BytesIO(png)).convert("L")


# --------------------------------------------------------------------------- decoding


SIZINGS = {
    "8px-per-module": ({"module_px": 8}, "", 1),
    "css-151px": ({}, "svg.qr{width:151px}", 1),  # not a whole number of pixels per module
    "print-40mm": ({"size": "40mm"}, "", 1),
    "phone-dpr2-css-120px": ({}, "svg.qr{width:120px}", 2),
}


@pytest.mark.parametrize("sizing", SIZINGS)
@pytest.mark.parametrize("name", PAYLOADS)
def test_chromium_render_decodes_to_the_exact_payload(browser, name, sizing):
    payload = PAYLOADS[name]
    kwargs, css, scale = SIZINGS[sizing]
    svg = qr_svg(payload, label="扫码查看", **kwargs)
    code = decode(render(browser, svg, css, scale))
    assert code.bytes == payload.encode("utf-8")
    assert code.text == payload
    assert code.ec_level == "M"
    assert code.extra["ECLevel"] == "M"
    version = int(code.extra["Version"])
    modules = 17 + 4 * version
    assert view_box_size(svg) == modules + 2 * 4, "quiet zone must be 4 modules on each side"
    # Smallest version: never more than plain byte mode needs (mixed modes may need less).
    byte_only = next(v for v, cap in enumerate(BYTE_CAPACITY_M, 1) if cap >= len(payload.encode("utf-8")))
    assert version <= byte_only


@pytest.mark.parametrize("name", PAYLOADS)
def test_rendered_modules_match_the_matrix_and_quiet_zone_is_blank(browser, name):
    payload = PAYLOADS[name]
    matrix = qr_matrix(payload)
    n = len(matrix)
    img = render(browser, qr_svg(payload, label="x", module_px=10))
    assert img.size == (10 * n, 10 * n)
    seen = [[img.getpixel((10 * x + 5, 10 * y + 5)) < 128 for x in range(n)] for y in range(n)]
    assert seen == matrix, "Chromium's raster differs from the encoded modules"
    for i in range(n):
        for j in list(range(4)) + list(range(n - 4, n)):
            assert not seen[i][j] and not seen[j][i], "a dark module in the quiet zone"
    # The code itself starts right after the quiet zone (finder pattern corner).
    assert seen[4][4] and seen[4][n - 5] and seen[n - 5][4]


@pytest.mark.parametrize("name", PAYLOADS)
def test_png_helper_decodes(name):
    payload = PAYLOADS[name]
    img = Image.open(io.BytesIO(qr_png(payload, scale=4)))
    assert img.size == (4 * len(qr_matrix(payload)),) * 2
    assert decode(img).bytes == payload.encode("utf-8")


# --------------------------------------------------------------------------- path data


def _check_path(matrix):
    n = len(matrix)
    grid = rasterize_path(path_from_matrix(matrix), n)
    expected = [[1 if m else 0 for m in row] for row in matrix]
    assert grid == expected  # winding exactly 1 on dark, 0 on light: nonzero and evenodd agree


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda n: st.lists(st.lists(st.booleans(), min_size=n, max_size=n), min_size=n, max_size=n)
    )
)
def test_path_fills_exactly_the_dark_modules(matrix):
    _check_path(matrix)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 10).flatmap(
        lambda n: st.lists(st.lists(st.booleans(), min_size=n, max_size=n), min_size=n, max_size=n)
    ),
    st.integers(0, 5),
)
def test_a_margin_is_the_path_of_the_matrix_with_light_modules_around(matrix, margin):
    n = len(matrix)
    padded = [[False] * (n + 2 * margin) for _ in range(margin)]
    padded += [[False] * margin + list(row) + [False] * margin for row in matrix]
    padded += [[False] * (n + 2 * margin) for _ in range(margin)]
    assert path_from_matrix(matrix, margin) == path_from_matrix(padded)


def _move(x: int, y: int, pen: tuple[int, int] | None) -> str:
    """The command that starts a subpath at (x, y): relative to `pen` (where the last one
    started) unless that is longer than the absolute one. (A minus sign separates numbers
    in path data: "3-2" reads as 3, -2.)"""
    absolute = f"M{x}{'' if y < 0 else ' '}{y}"
    if pen is None:
        return absolute
    dx, dy = x - pen[0], y - pen[1]
    relative = f"m{dx}{'' if dy < 0 else ' '}{dy}"
    return relative if len(relative) <= len(absolute) else absolute


def _edge_walk_path(matrix, margin=0):
    """The path as the tracer made it before it worked on whole ints: one edge at a time
    (generator/qr.py's path_from_matrix must give exactly this text)."""
    rows = len(matrix)
    cols = len(matrix[0]) if rows else 0
    # Vertices (module corners) are numbered y * w + x; an edge leaving a vertex is one bit of
    # out[vertex]. A step in direction d moves the pen by step[d]; turning right maps d to
    # right[d]. Flat integers and a bytearray keep this fast (a code takes about a millisecond).
    w = cols + 1
    R, D, L, U = 1, 2, 4, 8
    step = {R: 1, D: w, L: -1, U: -w}
    right = {R: D, D: L, L: U, U: R}
    left = {R: U, U: L, L: D, D: R}
    letter = {R: "h", L: "h", D: "v", U: "v"}
    sign = {R: 1, D: 1, L: -1, U: -1}
    out = bytearray((rows + 1) * w)
    blank = [False] * cols
    above = blank
    for y in range(rows):
        row = [bool(m) for m in matrix[y]]
        below = [bool(m) for m in matrix[y + 1]] if y + 1 < rows else blank
        top = y * w
        for x in range(cols):
            if not row[x]:
                continue
            v = top + x
            if not above[x]:
                out[v] |= R
            if x + 1 == cols or not row[x + 1]:
                out[v + 1] |= D
            if not below[x]:
                out[v + w + 1] |= L
            if x == 0 or not row[x - 1]:
                out[v + w] |= U
        above = row

    parts: list[str] = []
    pen: tuple[int, int] | None = None  # start of the last subpath (where "z" leaves the pen)
    for start in range(len(out)):
        if not out[start] & R:
            continue
        # Row-major order finds each loop at a corner whose next edge runs right and whose
        # previous edge is vertical (at a corner-touch vertex both incoming edges are
        # vertical), so the loop is h, v, h, …, v and the last v is implied.
        y, x = divmod(start, w)
        x, y = x + margin, y + margin
        cmds = [_move(x, y, pen)]
        pen = (x, y)
        v, d, run = start, R, 0
        while True:
            out[v] &= ~d
            run += 1
            v += step[d]
            if v == start:
                break
            choices = out[v]
            if choices & d and not choices & right[d]:
                continue  # straight on
            turn = right[d] if choices & right[d] else (d if choices & d else left[d])
            if turn != d:
                cmds.append(f"{letter[d]}{sign[d] * run}")
                d, run = turn, 0
        # The last run (vertical, back up to the start) is left to "z".
        cmds.append("z")
        parts.append("".join(cmds))
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 14).flatmap(
        lambda rows: st.integers(1, 14).flatmap(
            lambda cols: st.lists(st.lists(st.booleans(), min_size=cols, max_size=cols), min_size=rows, max_size=rows)
        )
    ),
    st.integers(0, 4),
)
def test_path_is_the_edge_walks_text(matrix, margin):
    """The same path text as walking the edges one by one, byte for byte (the QR cache
    holds paths from both), for any matrix, square or not, with any margin."""
    assert path_from_matrix(matrix, margin) == _edge_walk_path(matrix, margin)


def test_path_beyond_the_coordinates_of_any_code_is_the_edge_walks_text():
    """Coordinates past those of the largest code (185 with the quiet zone), where the
    widths of the numbers are worked out instead of looked up."""
    rng = random.Random(5)
    matrix = [[rng.random() < 0.3 for _ in range(290)] for _ in range(3)]
    for margin in (0, 1, 250):
        assert path_from_matrix(matrix, margin) == _edge_walk_path(matrix, margin)


def test_path_of_real_codes_is_the_edge_walks_text():
    for payload in [*PAYLOADS.values(), *(f"https://gs.example.cn/v/{i}/n/{i * 7}.html" for i in range(40))]:
        core = qrmod._encode_core(payload)
        assert path_from_matrix(core, QUIET_ZONE) == _edge_walk_path(core, QUIET_ZONE)

def test_path_handles_corner_touching_modules_and_holes():
    checker = [[(x + y) % 2 == 0 for x in range(9)] for y in range(9)]
    ring = [[x in (0, 6) or y in (0, 6) or (2 <= x <= 4 and 2 <= y <= 4) for x in range(7)] for y in range(7)]
    for matrix in (checker, ring, [[True]], [[False]], [[True] * 5] * 5):
        _check_path(matrix)
    for payload in PAYLOADS.values():
        _check_path(qr_matrix(payload))


# --------------------------------------------------------------------------- SVG text


def test_svg_is_well_formed_accessible_and_css_sized():
    label = 'Notice <b>"A&B"</b>\x01 王家营村'
    svg = qr_svg(LONG_URL, label=label)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("role") == "img" and root.get("class") == "qr"
    assert root.get("shape-rendering") == "crispEdges"
    assert root.get("aria-label") == 'Notice <b>"A&B"</b> 王家营村'  # escaped, control char dropped
    assert root.find(f"{SVG_NS}title").text == 'Notice <b>"A&B"</b> 王家营村'
    assert root.get("width") is None and root.get("height") is None
    n = view_box_size(svg)
    rect, path = list(root)[1:]
    assert (rect.get("width"), rect.get("height"), rect.get("fill")) == (str(n), str(n), "#fff")
    assert path.tag == f"{SVG_NS}path" and path.get("fill") == "#000"
    assert "<b>" not in svg and "\x01" not in svg


def test_svg_sizes_for_print_and_pixels():
    n = len(qr_matrix(SHORT_URL))
    root = ET.fromstring(qr_svg(SHORT_URL, label="x", size="40mm"))
    assert (root.get("width"), root.get("height")) == ("40mm", "40mm")
    root = ET.fromstring(qr_svg(SHORT_URL, label="x", module_px=6))
    assert (root.get("width"), root.get("height")) == (str(6 * n), str(6 * n))
    for bad in ('40mm" onload="alert(1)', "big", "-4mm", ""):
        with pytest.raises(ValueError):
            qr_svg(SHORT_URL, label="x", size=bad)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError):
            qr_svg(SHORT_URL, label="x", module_px=bad)
    with pytest.raises(ValueError):
        qr_svg(SHORT_URL, label="x", size="40mm", module_px=4)


@pytest.mark.parametrize("name", PAYLOADS)
def test_svg_is_much_smaller_than_one_rect_per_module(name):
    payload = PAYLOADS[name]
    ours = qr_svg(payload, label="扫码查看")
    naive = naive_svg(qr_matrix(payload), "扫码查看")
    ratio = len(naive.encode()) / len(ours.encode())
    assert ratio > 5, f"only {ratio:.1f}x smaller than the naive SVG"


def test_output_is_deterministic_across_processes():
    script = "from generator.qr import qr_svg; import sys; sys.stdout.write(qr_svg(sys.argv[1], label='x'))"
    outs = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(REPO))
        res = subprocess.run([sys.executable, "-c", script, VCARD], env=env, capture_output=True, check=True)
        outs.add(res.stdout)
    assert outs == {qr_svg(VCARD, label="x").encode("utf-8")}


def test_payload_too_long_is_a_clear_error():
    with pytest.raises(ValueError, match="does not fit"):
        qr_svg("x" * 3000, label="x")


# --------------------------------------------------------------------------- cache


def stored(cache_dir: Path) -> dict:
    """key -> (path, rows, checksum) as the disk cache holds them."""
    with closing(sqlite3.connect(cache_dir / QrCache.FILE_NAME)) as db:
        return {key: (path, rows, checksum) for key, path, rows, checksum in db.execute("SELECT key, path, rows, checksum FROM codes")}


def test_cache_serves_the_same_svg_and_a_second_build_encodes_nothing(tmp_path):
    payloads = list(PAYLOADS.values()) + [f"https://gongshi.example.gov.cn/qinghe/notices/{i}.html" for i in range(5)]
    first = QrCache(tmp_path)
    svgs = [first.svg(p, "扫码") for p in payloads]
    assert svgs == [qr_svg(p, label="扫码") for p in payloads]
    assert (first.stats.misses, first.stats.hits, first.stats.disk_hits) == (len(payloads), 0, 0)
    assert [first.svg(p, "扫码") for p in payloads] == svgs
    assert first.stats.hits == len(payloads) and first.stats.misses == len(payloads)

    rows = stored(tmp_path)
    assert sorted(rows) == sorted(QrCache.key(p) for p in payloads)
    for payload in payloads:  # the rows are the symbol without its quiet zone, '#' for dark
        path, symbol, _ = rows[QrCache.key(payload)]
        core = [row[QUIET_ZONE:-QUIET_ZONE] for row in qr_matrix(payload)[QUIET_ZONE:-QUIET_ZONE]]
        assert symbol == "\n".join("".join("#" if m else "." for m in row) for row in core)
        assert path == path_from_matrix(core, QUIET_ZONE)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(QrCache.FILE_NAME)) == []

    second = QrCache(tmp_path)
    assert second.missing(payloads) == []
    assert [second.svg(p, "扫码") for p in payloads] == svgs
    assert second.stats.misses == 0
    assert second.stats.disk_hits == len(payloads)
    assert second.stats.disk_errors == 0


def test_prepare_many_stores_every_code_for_the_next_cache(tmp_path):
    payloads = [f"https://gongshi.example.gov.cn/qinghe/notices/{i}.html" for i in range(12)] + [VCARD]
    first = QrCache(tmp_path)
    assert first.missing(payloads) == payloads
    first.prepare_many(payloads[:5])
    assert first.missing(payloads) == payloads[5:]
    first.prepare_many(payloads[5:])
    assert first.stats.misses == len(payloads) and first.missing(payloads) == []
    second = QrCache(tmp_path)
    assert [second.svg(p, "x") for p in payloads] == [qr_svg(p, label="x") for p in payloads]
    assert (second.stats.misses, second.stats.disk_hits) == (0, len(payloads))


def test_codes_stored_by_forked_processes_are_read_by_the_parent(tmp_path):
    """The parent's connection is closed before each fork; the children open their own and
    write at the same time (the build's QR stage does this on every core)."""
    cache = QrCache(tmp_path)
    payloads = [f"https://gongshi.example.gov.cn/qinghe/villages/v{i}.html" for i in range(40)]
    assert cache.missing(payloads) == payloads  # the parent has a connection open now
    children = []
    for part in range(4):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's exit status is checked below
            try:
                cache.prepare_many(payloads[part::4])
                os._exit(0 if cache.stats.disk_errors == 0 else 3)
            except BaseException:
                os._exit(4)
        children.append(pid)
    assert [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children] == [0, 0, 0, 0]
    # SQLite's rule: no connection may cross a fork (a child must not even close it).
    assert cache._db is None, "the connection was open when the process forked"
    assert cache.missing(payloads) == []
    assert [cache.svg(p, "x") for p in payloads] == [qr_svg(p, label="x") for p in payloads]
    assert (cache.stats.misses, cache.stats.disk_hits, cache.stats.disk_errors) == (0, len(payloads), 0)


def test_label_and_size_are_applied_after_the_cache(tmp_path):
    cache = QrCache(tmp_path)
    a = cache.svg(LONG_URL, "甲")
    b = cache.svg(LONG_URL, "乙 & <丙>", size="40mm")
    assert cache.stats.misses == 1 and cache.stats.hits == 1
    assert 'aria-label="甲"' in a and 'aria-label="乙 &amp; &lt;丙&gt;"' in b and 'width="40mm"' in b
    assert a.split("<path")[1] == b.split("<path")[1]
    assert b == qr_svg(LONG_URL, label="乙 & <丙>", size="40mm")


def test_memory_only_cache(tmp_path):
    cache = QrCache(None)
    assert cache.svg(SHORT_URL, "x") == cache.svg(SHORT_URL, "x") == qr_svg(SHORT_URL, label="x")
    assert (cache.stats.misses, cache.stats.hits) == (1, 1)
    assert cache.matrix(SHORT_URL) == qr_matrix(SHORT_URL)
    assert cache.modules(SHORT_URL) == len(qr_matrix(SHORT_URL)) == 25 + 2 * QUIET_ZONE  # version 2
    assert cache.png(SHORT_URL, 3) == qr_png(SHORT_URL, 3)
    assert list(tmp_path.iterdir()) == []


def test_damaged_cache_row_is_re_encoded_not_trusted(tmp_path):
    QrCache(tmp_path).svg(LONG_URL, "x")
    ((key, (path, rows, checksum)),) = stored(tmp_path).items()
    assert path.startswith("M") and set(rows) <= set("#.\n")
    # Well-formed but wrong (one module, one path command): only the checksum can tell.
    damaged_rows = [
        (path, rows[: len(rows) // 2], checksum),
        (path, rows.replace("#", ".", 1), checksum),
        (path.replace("h", "v", 1), rows, checksum),
        (path, rows, "0" * 16),
        ("", "", ""),
        (path, "garbage", checksum),
    ]
    for damaged in damaged_rows:
        with closing(sqlite3.connect(tmp_path / QrCache.FILE_NAME)) as db, db:
            db.execute("UPDATE codes SET path = ?, rows = ?, checksum = ? WHERE key = ?", (*damaged, key))
        cache = QrCache(tmp_path)
        assert cache.svg(LONG_URL, "x") == qr_svg(LONG_URL, label="x")
        assert (cache.stats.misses, cache.stats.disk_hits, cache.stats.disk_errors) == (1, 0, 1)
        assert stored(tmp_path)[key] == (path, rows, checksum), "the damaged row was not rewritten"


def test_a_row_whose_checksum_matches_must_still_be_a_symbol(tmp_path):
    """A row written with its own checksum (another program's, or a bug's) is read only when
    it is n lines of n modules: uneven lines, a stray character or a wrong size are refused."""
    QrCache(tmp_path).svg(LONG_URL, "x")
    ((key, (path, rows, _)),) = stored(tmp_path).items()
    n = rows.count("\n") + 1
    first, second = rows.split("\n")[:2]
    uneven = rows.replace(first + "\n" + second, first[:-1] + "\n" + second + "#", 1)  # same length
    assert len(uneven) == len(rows) and uneven.count("\n") == n - 1
    for bad in (uneven, rows.replace("#", "x", 1), rows.replace(".", "\n", 1), rows + "\n" + "#" * n,
                "\n".join(line[:-1] for line in rows.split("\n")[:-1])):  # (no version is that size)
        assert not QrCache(None)._valid(path, bad, QrCache._checksum(path, bad))
    assert QrCache(None)._valid(path, rows, QrCache._checksum(path, rows))


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_database_is_replaced_and_costs_only_speed(tmp_path, damage):
    QrCache(tmp_path).svg(LONG_URL, "x")
    db_file = tmp_path / QrCache.FILE_NAME
    with closing(sqlite3.connect(db_file)) as db:  # everything into the main file, none left in the log
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = db_file.read_bytes()
    db_file.write_bytes(b"this is not a database " * 200 if damage == "garbage" else data[:100] + bytes(len(data) - 100))
    cache = QrCache(tmp_path)
    assert cache.svg(LONG_URL, "x") == qr_svg(LONG_URL, label="x")
    assert cache.stats.misses == 1 and cache.stats.disk_errors >= 1
    later = QrCache(tmp_path)  # the new database holds the code encoded just now
    assert later.svg(LONG_URL, "x") == qr_svg(LONG_URL, label="x")
    assert (later.stats.misses, later.stats.disk_hits, later.stats.disk_errors) == (0, 1, 0)


def test_the_file_per_code_layout_of_earlier_versions_is_removed(tmp_path):
    old = tmp_path / "qr" / "ab"
    old.mkdir(parents=True)
    (old / ("ab" + "0" * 62 + ".txt")).write_text("gongshi-qr/3 21 0\n")
    cache = QrCache(tmp_path)
    assert not (tmp_path / "qr").exists()
    assert cache.svg(SHORT_URL, "x") == qr_svg(SHORT_URL, label="x")


def test_unwritable_cache_costs_speed_not_the_build(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    cache = QrCache(blocker)
    assert cache.svg(SHORT_URL, "x") == qr_svg(SHORT_URL, label="x")
    assert cache.stats.misses == 1 and cache.stats.disk_errors >= 1


# --------------------------------------------------------------------------- the encoder against qrcode

ASCII_PAYLOADS = [
    LONG_URL,
    SHORT_URL,
    "https://gongshi.example.gov.cn/portal/notices/2024-lijiagou-shengchan-jiangbu-0042.html",
    "https://gongshi.example.gov.cn/portal/villages/wangjiaying.html?from=board",
    "HTTPS://GS.EXAMPLE.CN/Q/7",  # alphanumeric mode
    "https://gs.example.cn/" + "1234567890" * 6,  # a long run of digits
    "https://gongshi.example.gov.cn/" + "x" * 200,  # a large version
]


def _qrcode_symbol(payload: str, version: int | None, mask: int | None):
    import qrcode
    import qrcode.constants

    code = qrcode.QRCode(version=version, error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=0, mask_pattern=mask)
    code.add_data(payload)
    code.make(fit=version is None)
    return code.version, [[bool(m) for m in row] for row in code.get_matrix()]


@pytest.mark.parametrize("payload", ASCII_PAYLOADS)
def test_page_addresses_get_exactly_the_symbol_qrcode_makes(payload):
    """Page addresses, like every code: the symbol qrcode.QRCode.make(fit=True) makes (its
    version, segments and mask), which an independent decoder reads back as the address."""
    _, reference = _qrcode_symbol(payload, None, None)
    assert qrmod._encode_core(payload) == reference
    assert decode(Image.open(io.BytesIO(qr_png(payload, scale=4)))).text == payload


def test_text_with_chinese_is_utf8_bytes_without_eci():
    """vCards carry Chinese names: one byte-mode segment of UTF-8, no ECI header, no Kanji mode."""
    for payload in (VCARD, "BEGIN:VCARD\r\nFN:村委会\r\nEND:VCARD\r\n"):
        found = decode(Image.open(io.BytesIO(qr_png(payload, scale=4))))
        assert found.bytes == payload.encode("utf-8")
        assert found.text == payload  # zxing-cpp guesses UTF-8, as phone scanners do
        # What is inside, read from the modules: zxing-cpp's own encoder, for instance, puts
        # an ECI 899 ("binary") header before bytes, and an alphanumeric segment for
        # "BEGIN:VCARD"; the decoder's symbology identifier stays ]Q1 all the same.
        _, _, segments = read_symbol(qrmod._encode_core(payload))
        assert segments == [("byte", payload.encode("utf-8"))]


_TEXT = st.text(alphabet="驻村工作队青禾县张王李欧阳建国abcXYZ0123456789 :;,-.\r\n", min_size=1, max_size=500)


@settings(max_examples=60, deadline=None)
@given(_TEXT)
def test_text_gets_exactly_the_symbol_qrcode_makes(payload):
    """Text is laid out by qrcode but its mask is chosen by our faster scorer: the symbol
    must be the one qrcode.QRCode.make(fit=True) makes, whatever the version (up to 26 here)."""
    _, reference = _qrcode_symbol(payload, None, None)
    assert qrmod._rows(*qrmod._encode_bits(payload)) == reference



def _qrcode_codewords(data: bytes):
    """(the version qrcode's best_fit picks, util.create_data's codewords) of one byte-mode
    segment at level M; (None, None) when it does not fit."""
    import qrcode
    from qrcode import util
    from qrcode.constants import ERROR_CORRECT_M
    from qrcode.exceptions import DataOverflowError

    code = qrcode.QRCode(version=None, error_correction=ERROR_CORRECT_M, box_size=1, border=0)
    code.add_data(util.QRData(data, mode=util.MODE_8BIT_BYTE))
    try:
        version = code.best_fit()
    except DataOverflowError:
        return None, None
    return version, util.create_data(version, ERROR_CORRECT_M, code.data_list)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2400))
def test_byte_codewords_are_the_ones_qrcode_makes(data):
    """The fast stream and Reed-Solomon blocks of a byte-mode segment: qrcode's version and
    codewords, byte for byte (and too long for both alike)."""
    version, expected = _qrcode_codewords(data)
    if version is None:
        with pytest.raises(ValueError):
            qrmod._byte_version(len(data))
        return
    assert qrmod._byte_version(len(data)) == version
    assert list(qrmod._byte_codewords(version, data)) == expected


def test_byte_codewords_at_every_version_when_full_and_nearly_full():
    """The longest payload of each version (no room for the whole terminator, no padding)
    and one byte less: every block layout and both length-field sizes."""
    from qrcode import util
    from qrcode.constants import ERROR_CORRECT_M

    checked = 0
    for version in range(1, 41):
        capacity = (util.BIT_LIMIT_TABLE[ERROR_CORRECT_M][version] - 4 - util.length_in_bits(util.MODE_8BIT_BYTE, version)) // 8
        for length in (capacity, capacity - 1):
            data = bytes((i * 37 + version) % 256 for i in range(length))
            found_version, expected = _qrcode_codewords(data)
            assert qrmod._byte_version(length) == found_version
            assert list(qrmod._byte_codewords(found_version, data)) == expected
            checked += 1
    assert checked == 80
    with pytest.raises(ValueError):
        qrmod._byte_version(capacity + 1)  # past version 40

@settings(max_examples=40, deadline=None)
@given(_TEXT, st.integers(min_value=0, max_value=7))
def test_mask_penalty_is_the_standard_score_qrcode_computes(payload, mask):
    import qrcode
    from qrcode import util
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(version=None, error_correction=ERROR_CORRECT_M, box_size=1, border=0)
    code.add_data(payload)
    code.best_fit()
    code.makeImpl(True, mask)
    n = len(code.modules)
    rows = int("".join("1" if m else "0" for row in code.modules for m in row), 2)
    cols = int("".join("1" if code.modules[r][c] else "0" for c in range(n) for r in range(n)), 2)
    assert qrmod._packed_penalty(rows, cols, n) == util.lost_point(code.modules)


def test_bit_reader_sees_headers_and_modes():
    """The reader the tests above rely on tells segments apart (it is not only ever 'byte')."""
    for payload, expected in (
        ("HTTPS://GS.EXAMPLE.CN/Q/7", [("alphanumeric", "HTTPS://GS.EXAMPLE.CN/Q/7")]),
        ("https://gs.example.cn/" + "1234567890" * 6, [("byte", b"https://gs.example.cn/"), ("numeric", "1234567890" * 6)]),
    ):
        assert read_symbol(qrmod._encode_core(payload))[2] == expected
    code = zxingcpp.create_barcode("BEGIN:VCARD\r\nFN:村委会".encode("utf-8"), zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    pixels = memoryview(code.to_image(scale=1, add_quiet_zones=False))
    n = pixels.shape[0]
    raw = pixels.tobytes()
    segments = read_symbol([[raw[y * n + x] < 128 for x in range(n)] for y in range(n)])[2]
    assert segments[0] == ("eci", 899)
