"""Every QR code of the built demo site, decoded from what Chromium draws; posters and household
card sheets printed to PDF and measured.

Nothing here trusts the generator's own idea of a code: each `svg.qr` element is screenshotted
by Chromium (Debian's, through Playwright; one page load per HTML file) and decoded with
zxing-cpp, and must give back exactly the page's address (from `base_url` in site_config.yaml,
read here with plain YAML) or the text of the vCard file the site publishes. Posters and card
sheets are printed to A4 PDF by Chromium, rasterized by poppler's pdftoppm at 300 dpi, and the
codes decoded there, their width measured from zxing's corner points. A missing tool (chromium,
pdftoppm, pdfinfo, pdftotext from poppler-utils) fails these tests; it never skips them.
"""
from __future__ import annotations

import io
import math
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
import zxingcpp
from PIL import Image

from browser import chromium, serve_folder
from conftest import REPO
from generator.i18n import Translator

DPI = 300
POSTER_MIN_MM = 40
CARD_MIN_MM = 25
PRINT_FOLDERS = ("villages", "notices", "posters", "cards", "contacts")


def base_url() -> str:
    url = yaml.safe_load((REPO / "site_config.yaml").read_text(encoding="utf-8"))["base_url"]
    return url if url.endswith("/") else url + "/"


def vcard_file(site: Path, village: str, number: int) -> str:
    return (site / "vcards" / f"{village}-{number}.vcf").read_bytes().decode("utf-8")


def team_size(site: Path, village: str) -> int:
    return len(list((site / "vcards").glob(f"{village}-*.vcf")))


def expected_payloads(site: Path, path: str) -> list[str]:
    """What the codes of one built file must hold, in document order."""
    folder, stem = path.split("/")[0], Path(path).stem
    base = base_url()
    if folder in ("villages", "notices"):
        return [base + path]
    if folder == "posters":
        return [base + f"notices/{stem}.html"]
    if folder == "contacts":
        return [vcard_file(site, stem, n) for n in range(1, team_size(site, stem) + 1)]
    if folder == "cards":
        leader = [vcard_file(site, stem, 1)] if team_size(site, stem) else []
        return ([base + f"villages/{stem}.html"] + leader) * 4
    raise AssertionError(f"a QR code on {path}, where none is expected")


def decode_all(image: Image.Image) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


def payload(code: zxingcpp.Barcode) -> str:
    return code.bytes.decode("utf-8")


def width_mm(code: zxingcpp.Barcode, dpi: int = DPI) -> float:
    """The symbol's width (quiet zone excluded) from zxing's corner points, on a raster at `dpi`."""
    p = code.position
    top = math.dist((p.top_left.x, p.top_left.y), (p.top_right.x, p.top_right.y))
    bottom = math.dist((p.bottom_left.x, p.bottom_left.y), (p.bottom_right.x, p.bottom_right.y))
    return min(top, bottom) / dpi * 25.4


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def pdf_pages(pdf: Path) -> int:
    info = run("pdfinfo", str(pdf))
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


def page_text(pdf: Path, number: int) -> str:
    return run("pdftotext", "-layout", "-f", str(number), "-l", str(number), str(pdf), "-")


def page_raster(pdf: Path, number: int) -> Image.Image:
    # Uncompressed PGM on stdout: PNG encoding would double the time of this step.
    pgm = subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-gray", "-f", str(number), "-l", str(number), str(pdf)],
        check=True, capture_output=True,
    ).stdout
    return Image.open(io.BytesIO(pgm))


class TableRows(HTMLParser):
    """Header cells and body rows (cell texts) of the table with class `cls`."""

    def __init__(self, cls: str):
        super().__init__(convert_charrefs=True)
        self.cls, self.depth, self.part = cls, 0, None
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and self.cls in (dict(attrs).get("class") or "").split():
            self.depth = 1
        elif self.depth and tag in ("thead", "tbody"):
            self.part = tag
        elif self.depth and tag == "tr" and self.part == "tbody":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if self.depth and tag in ("td", "th") and self.cell is not None:
            text = "".join(self.cell).strip()
            (self.header if self.part == "thead" else self.rows[-1]).append(text)
            self.cell = None
        elif tag == "table" and self.depth:
            self.depth = 0

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def table_rows(html: str, cls: str) -> TableRows:
    parser = TableRows(cls)
    parser.feed(html)
    return parser


def line_holds(line: str, cells: list[str]) -> bool:
    """All non-empty cells on one printed line, in order (pdftotext -layout keeps a row on a line)."""
    at = 0
    for cell in (c for c in cells if c):
        found = line.find(cell, at)
        if found < 0:
            return False
        at = found + len(cell)
    return True


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:  # raises when /usr/bin/chromium is missing: no skip
        yield b


@pytest.fixture(scope="module")
def served(demo_build):
    with serve_folder(demo_build) as url:
        yield url


def print_pdf(browser, url: str, target: Path) -> Path:
    page = browser.new_page()
    try:
        page.goto(url)
        page.pdf(path=str(target), format="A4", prefer_css_page_size=True)
    finally:
        page.close()
    return target


# --------------------------------------------------------------------------- every code on screen


# Each code's box in page coordinates, in document order.
BOXES = """() => Array.from(document.querySelectorAll("svg.qr"), e => { const r = e.getBoundingClientRect();
  return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]; })"""


def code_rasters(page, dpr: int) -> list[Image.Image]:
    """Each `svg.qr` of the loaded page as Chromium draws it: one screenshot of the area that
    holds them all (one capture per page is what keeps 500 codes fast), cut into one image per
    element."""
    boxes = page.evaluate(BOXES)
    if not boxes:
        return []
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, bottom = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    shot = page.screenshot(clip={"x": left, "y": top, "width": right - left, "height": bottom - top}, full_page=True)
    assert page.evaluate(BOXES) == boxes, "the codes moved while the page was being captured"
    area = Image.open(io.BytesIO(shot)).convert("L")
    return [
        area.crop((round((x - left) * dpr), round((y - top) * dpr), round((x - left + w) * dpr), round((y - top + h) * dpr)))
        for x, y, w, h in boxes
    ]


def test_every_qr_code_in_the_demo_site_decodes_to_its_payload(browser, served, demo_build):
    with_codes = sorted(
        p.relative_to(demo_build).as_posix() for p in demo_build.rglob("*.html") if 'class="qr"' in p.read_text(encoding="utf-8")
    )
    for folder in PRINT_FOLDERS:
        assert any(path.startswith(folder + "/") for path in with_codes), f"no codes in {folder}/"
    # Whole CSS pixels per module on screen: a device scale of 2 gives 6-8 pixels per module;
    # the card sheets' dense contact codes (printed 27 mm wide) need 3.
    pages = {dpr: browser.new_page(viewport={"width": 900, "height": 1000}, device_scale_factor=dpr) for dpr in (2, 3)}
    decoded = 0
    problems = []
    try:
        for path in with_codes:
            dpr = 3 if path.startswith("cards/") else 2
            page = pages[dpr]
            page.goto(served + path, wait_until="load")  # styles applied: the boxes will not move
            found = []
            for i, image in enumerate(code_rasters(page, dpr), 1):
                results = decode_all(image)
                if len(results) != 1:
                    problems.append(f"{path} code {i}: zxing found {len(results)} codes")
                    continue
                found.append(payload(results[0]))
                if results[0].ec_level != "M":
                    problems.append(f"{path} code {i}: error correction {results[0].ec_level}, not M")
            decoded += len(found)
            expected = expected_payloads(demo_build, path)
            if found != expected:
                problems.append(f"{path}: decoded {found!r}, expected {expected!r}")
    finally:
        for page in pages.values():
            page.close()
    assert problems == []
    # Every village, notice and poster page, and four cards per sheet, were really decoded.
    minimum = sum(1 if not p.startswith("cards/") else 4 for p in with_codes)
    assert decoded >= minimum
    print(f"decoded {decoded} QR codes from {len(with_codes)} pages")


# --------------------------------------------------------------------------- posters on paper


def demo_notices(demo_build: Path) -> dict[str, dict]:
    """Published notices (those with a page) as plain YAML, by id."""
    published = {p.stem for p in (demo_build / "notices").glob("*.html")}
    notices = {}
    for path in sorted((REPO / "content" / "notices").rglob("*.yaml")):
        if path.stem in published:
            notices[path.stem] = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert notices, "the demo has no published notices"
    return notices


def representative_posters(demo_build: Path) -> dict[str, str]:
    """The shortest notice, the longest beneficiary list, and the first notice of each kind."""
    notices = demo_notices(demo_build)
    chosen = {"shortest": min(notices, key=lambda n: ((demo_build / "posters" / f"{n}.html").stat().st_size, n))}
    chosen["longest list"] = max(notices, key=lambda n: (len(notices[n].get("beneficiaries") or []), n))
    for notice_id, data in notices.items():
        chosen.setdefault(f"kind {data['kind']}", notice_id)
    return chosen


@pytest.fixture(scope="module")
def posters(browser, served, demo_build, tmp_path_factory):
    folder = tmp_path_factory.mktemp("posters")
    chosen = representative_posters(demo_build)
    return {
        role: (notice_id, print_pdf(browser, served + f"posters/{notice_id}.html", folder / f"{notice_id}.pdf"))
        for role, notice_id in chosen.items()
    }


def test_a_representative_set_of_posters_was_printed(posters, demo_build):
    kinds = {yaml.safe_load(p.read_text(encoding="utf-8"))["kind"] for p in (REPO / "content" / "notices").rglob("*.yaml")}
    assert {f"kind {kind}" for kind in kinds} <= set(posters)
    assert {"shortest", "longest list"} <= set(posters)


def test_each_poster_code_decodes_from_the_pdf_at_least_40mm_wide(posters):
    for role, (notice_id, pdf) in posters.items():
        codes = decode_all(page_raster(pdf, 1))
        assert [payload(c) for c in codes] == [base_url() + f"notices/{notice_id}.html"], role
        assert width_mm(codes[0]) >= POSTER_MIN_MM, f"{notice_id}: {width_mm(codes[0]):.1f} mm"


def test_posters_show_the_check_code_and_supervision_phones(posters, demo_build):
    config = yaml.safe_load((REPO / "site_config.yaml").read_text(encoding="utf-8"))
    for role, (notice_id, pdf) in posters.items():
        text = "".join(page_text(pdf, n) for n in range(1, pdf_pages(pdf) + 1))
        page = (demo_build / "notices" / f"{notice_id}.html").read_text(encoding="utf-8")
        code = page.split('<code class="fingerprint">', 1)[1].split("<", 1)[0]
        assert code in page_text(pdf, 1), f"{notice_id}: the check code is not on the first page"
        for phone in config["supervision_phones"]:
            assert str(phone) in text, f"{notice_id}: supervision phone {phone} missing"


def test_the_shortest_poster_is_one_page(posters):
    notice_id, pdf = posters["shortest"]
    assert pdf_pages(pdf) == 1, notice_id


def test_a_long_beneficiary_list_continues_with_its_header_and_whole_rows(posters, demo_build):
    notice_id, pdf = posters["longest list"]
    pages = pdf_pages(pdf)
    assert pages > 1, f"{notice_id}: expected the list to run onto a second page"
    table = table_rows((demo_build / "posters" / f"{notice_id}.html").read_text(encoding="utf-8"), "beneficiaries")
    assert table.header and len(table.rows) > 20
    texts = [page_text(pdf, n).splitlines() for n in range(1, pages + 1)]
    assert any(line_holds(line, table.header) for line in texts[1]), "the table header is not repeated on page 2"
    for row in table.rows:
        where = [n for n, lines in enumerate(texts, 1) if any(line_holds(line, row) for line in lines)]
        assert len(where) == 1, f"row {row} printed on pages {where} (split or missing)"
    assert any(line_holds(line, table.rows[-1]) for line in texts[1] + (texts[2] if pages > 2 else [])), "the list's end is not after page 1"


# --------------------------------------------------------------------------- household cards


def test_every_household_card_sheet_prints_on_one_a4_page_with_codes_at_least_25mm(browser, served, demo_build, tmp_path):
    sheets = sorted(p.stem for p in (demo_build / "cards").glob("*.html"))
    assert sheets
    title = Translator(yaml.safe_load((REPO / "site_config.yaml").read_text(encoding="utf-8")).get("language", "zh-CN"))("qr.card_title")
    for village in sheets:
        pdf = print_pdf(browser, served + f"cards/{village}.html", tmp_path / f"{village}.pdf")
        assert pdf_pages(pdf) == 1, village
        info = run("pdfinfo", str(pdf))
        assert "(A4)" in info, f"{village}: not A4 ({info})"
        codes = decode_all(page_raster(pdf, 1))
        expected = expected_payloads(demo_build, f"cards/{village}.html")
        assert sorted(payload(c) for c in codes) == sorted(expected), village
        for code in codes:
            assert width_mm(code) >= CARD_MIN_MM, f"{village}: {width_mm(code):.1f} mm"
        assert page_text(pdf, 1).count(title) == 4, village
