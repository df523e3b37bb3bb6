#!/usr/bin/env python3
"""Screenshots of the demo portal at phone width, for the README (docs/screenshots/*.png).

Builds the demo county as of its build date (or takes a folder already built), serves it on
127.0.0.1 and opens three pages in Debian's Chromium through Playwright, at a 360x740 phone
viewport, JavaScript on and the browser's clock set to the build date:

  home.png     the home page (index.html)
  village.png  a village page: --village, or the first village in the home page's list
  notice.png   a notice page: --notice, or the first notice that village page lists

Each picture is the top --screens phone screens of the page, quantised to a 64-colour palette
(no dithering) and compressed by Pillow, so the files stay small. A page that logs a console
error or fails a request stops the script. Run:  make screenshots   (or python scripts/screenshots.py --help)
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DEMO_TODAY = "2026-11-22"  # the demo county's build date (tests/conftest.py)

sys.path.insert(0, str(ROOT / "tests"))
from browser import PHONE, chromium, phone_page, serve_folder  # noqa: E402  (Debian's Chromium, one place)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Take the README's phone-width screenshots (home, village, notice) of the demo portal.")
    parser.add_argument("--site", type=Path, metavar="DIR",
                        help="a site already built (default: build the demo county into a temporary folder)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", metavar="DIR",
                        help="where home.png, village.png and notice.png go (default: docs/screenshots)")
    parser.add_argument("--today", default=DEMO_TODAY, metavar="YYYY-MM-DD",
                        help=f"the build date; also the browser's clock, so posting status reads as built (default: {DEMO_TODAY})")
    parser.add_argument("--village", metavar="ID", help="village page to show (default: the first one the home page lists)")
    parser.add_argument("--notice", metavar="ID", help="notice page to show (default: the first one the village page lists)")
    parser.add_argument("--screens", type=float, default=1.5, metavar="N",
                        help="how many phone screens (740 px each) of each page to keep, from the top (default: 1.5)")
    args = parser.parse_args(argv)
    dt.date.fromisoformat(args.today)  # fail early on a malformed date
    if args.screens <= 0:
        parser.error("--screens must be positive")
    return args


def build_demo(out: Path, today: str) -> Path:
    from generator.build import build

    build(ROOT, out, dt.date.fromisoformat(today))
    return out


def first_link(page, selector: str) -> str:
    """The id (file name without .html) of the first link matching `selector` on the open page."""
    href = page.locator(selector).first.get_attribute("href")
    if not href:
        raise SystemExit(f"no link {selector} on {page.url}")
    return href.rsplit("/", 1)[1].removesuffix(".html")


COLOURS = 64  # flat colours and anti-aliased text: 64 look the same as full colour, at a fraction of the bytes


def small_png(png: bytes) -> bytes:
    """A palette PNG without dithering: the pages are flat colours and text, so nothing visible is lost."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    palette = image.quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def shoot(page, url: str, height: int) -> bytes:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.evaluate("document.fonts.ready")
    if page.problems:
        raise SystemExit(f"{url}: {page.problems}")
    full = page.evaluate("document.documentElement.scrollHeight")
    clip = {"x": 0, "y": 0, "width": PHONE["width"], "height": min(height, full)}
    return page.screenshot(clip=clip, full_page=True, animations="disabled", caret="hide")


def take(site: Path, out: Path, today: str, village: str | None, notice: str | None,
         screens: float) -> dict[str, tuple[Path, str]]:
    """Writes home.png, village.png and notice.png (720 px wide: the phone's 360 at 2 device pixels
    each); returns {name: (PNG, the page it shows, relative to the site)}."""
    clock = dt.datetime.fromisoformat(today + "T12:00:00+00:00")  # the build date in any time zone within ±11 h
    height = round(PHONE["height"] * screens)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    with chromium() as browser, serve_folder(site) as base:
        page = phone_page(browser, javascript=True)
        page.clock.set_fixed_time(clock)
        shots = {"home": ("index.html", shoot(page, base + "index.html", height))}
        village = village or first_link(page, "main a[href^='villages/']")
        shots["village"] = (f"villages/{village}.html", shoot(page, base + f"villages/{village}.html", height))
        notice = notice or first_link(page, "main a[href^='../notices/']")
        shots["notice"] = (f"notices/{notice}.html", shoot(page, base + f"notices/{notice}.html", height))
        page.context.close()
    for name, (shown, png) in shots.items():
        path = out / f"{name}.png"
        path.write_bytes(small_png(png))
        written[name] = (path, shown)
    return written


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gongshi-screens-") as tmp:
        site = args.site or build_demo(Path(tmp) / "site", args.today)
        if not (site / "index.html").is_file():
            raise SystemExit(f"{site}: no index.html (not a built site)")
        written = take(site, args.out, args.today, args.village, args.notice, args.screens)
    for path, shown in written.values():
        with Image.open(path) as image:
            print(f"{path}: {image.width}x{image.height}, {path.stat().st_size // 1024} KiB, {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
