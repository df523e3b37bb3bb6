"""A plain wheel (not an editable install) carries the theme and catalogs and builds any site."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from conftest import REPO, SITES


def test_wheel_carries_theme_and_catalogs_and_builds_a_site_elsewhere(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(REPO)],
                   check=True, capture_output=True)
    wheel = next(dist.glob("gongshi-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "generator/themes/default/templates/notice.html" in names
    assert "generator/themes/default/static/assets/style.css" in names
    assert "generator/locales/zh-CN/core.yaml" in names and "generator/locales/en/core.yaml" in names

    # Unpack the wheel alone (dependencies come from this environment) and build a site
    # that lives outside the repository, from a folder that is not the repository.
    target = tmp_path / "installed"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    site = tmp_path / "county"
    subprocess.run(["cp", "-r", str(SITES / "minimal"), str(site)], check=True)
    env = dict(os.environ, PYTHONPATH=str(target), GONGSHI_LANG="en")
    result = subprocess.run([sys.executable, "-m", "generator", "build", "--root", str(site), "--today", "2024-04-05"],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (site / "build" / "notices" / "road.html").read_text(encoding="utf-8").count("村道硬化项目公示") >= 1
    # The module that ran is the installed copy, not the checkout.
    probe = subprocess.run([sys.executable, "-c", "import generator, sys; print(generator.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True)
    assert probe.stdout.strip().startswith(str(target))
