"""scripts/screenshots.py: the README's phone-width pictures come out of the demo build."""
from __future__ import annotations

import re
import subprocess
import sys

from PIL import Image

from browser import PHONE
from conftest import DEMO_TODAY, REPO

NAMES = ("home", "village", "notice")


def test_script_writes_three_small_phone_width_pngs_of_the_chosen_pages(demo_build, tmp_path):
    village = sorted(p.stem for p in (demo_build / "villages").glob("*.html"))[-1]
    out = tmp_path / "shots"
    run = subprocess.run(
        [sys.executable, str(REPO / "scripts/screenshots.py"), "--site", str(demo_build), "--out", str(out),
         "--today", DEMO_TODAY, "--village", village, "--screens", "1"],
        capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.png" for name in NAMES)
    pictures = {}
    for name in NAMES:
        path = out / f"{name}.png"
        assert f"{path}: 720x1480, " in run.stdout, run.stdout
        assert path.stat().st_size < 150_000, (name, path.stat().st_size)
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size == (PHONE["width"] * 2, PHONE["height"] * 2)  # one phone screen at 2 device pixels
            assert image.mode == "P"  # a palette: small files
            pictures[name] = image.convert("RGB")
            # A page, not a blank or broken render: dark text on a light page, many shades of anti-aliasing.
            colours = pictures[name].getcolors(maxcolors=1 << 16)
            assert colours is not None and len(colours) >= 16, name
            assert max(colours)[1] == (255, 255, 255) or sum(max(colours)[1]) > 700, name
    assert len({p.tobytes() for p in pictures.values()}) == 3  # three different pages
    assert f"villages/{village}.html\n" in run.stdout


def test_chosen_pages_default_to_the_first_listed(demo_build, tmp_path):
    """Without --village/--notice the pictures are of the first village on the home page and its first notice:
    the same pages whatever order the files lie on disk, so the README's pictures only change with the content."""
    out = tmp_path / "shots"
    run = subprocess.run([sys.executable, str(REPO / "scripts/screenshots.py"), "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and all(opt in run.stdout for opt in ("--site", "--out", "--today", "--village", "--notice", "--screens"))
    home = (demo_build / "index.html").read_text(encoding="utf-8")
    first_village = re.search(r'<main.*?href="villages/([a-z0-9-]+)\.html"', home, re.S).group(1)
    run = subprocess.run(
        [sys.executable, str(REPO / "scripts/screenshots.py"), "--site", str(demo_build), "--out", str(out),
         "--screens", "0.5"], capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    village_page = (demo_build / "villages" / f"{first_village}.html").read_text(encoding="utf-8")
    first_notice = re.search(r'<main.*?href="../notices/([a-z0-9-]+)\.html"', village_page, re.S).group(1)
    for name, shown in (("home", "index.html"), ("village", f"villages/{first_village}.html"), ("notice", f"notices/{first_notice}.html")):
        assert f"{out / name}.png: 720x740, " in run.stdout and run.stdout.count(f", {shown}\n") == 1, (name, run.stdout)


def test_readme_shows_the_committed_screenshots():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# Gongshi"), "the README opens with its title and the two commands"
    first_block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    assert [line.split()[:2] for line in first_block.strip().splitlines()] == [["make", "build"], ["make", "test"]]
    section = readme.split("## What it looks like", 1)[1].split("\n## ", 1)[0]
    assert readme.index("## What it looks like") > readme.index(first_block)
    for name in NAMES:
        assert f'src="docs/screenshots/{name}.png"' in section
        with Image.open(REPO / "docs/screenshots" / f"{name}.png") as image:
            assert image.width == PHONE["width"] * 2
        assert (REPO / "docs/screenshots" / f"{name}.png").stat().st_size < 150_000
