"""Shared fixtures: tiny sites copied to a temporary folder, the CLI, the built demo."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
SITES = TESTS / "sites"
REPO = TESTS.parent
DEMO_TODAY = "2026-11-22"

# Tests assert the exact English messages; the site's own language comes from its config.
os.environ["GONGSHI_LANG"] = "en"


def make_site(tmp_path: Path, *overlays: str, files: dict[str, str] | None = None) -> Path:
    """The `minimal` site with other fixture sites laid over it, plus inline `files`."""
    root = tmp_path / "site"
    shutil.copytree(SITES / "minimal", root)
    for overlay in overlays:
        shutil.copytree(SITES / overlay, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("expected.txt"))
    for relpath, text in (files or {}).items():
        target = root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path)


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m generator ARGS` in a child process, as a clerk would run it."""
    env = dict(os.environ, GONGSHI_LANG="en", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=cwd, env=env, capture_output=True, text=True)


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory) -> Path:
    """The repository's demo site, built once per test session as of the demo date."""
    from generator.build import build

    out = tmp_path_factory.mktemp("demo") / "site"
    build(REPO, out, dt.date.fromisoformat(DEMO_TODAY))
    return out


def clean_build(root: Path, tmp: Path, today, monkeypatch, plugins=None) -> dict[str, bytes]:
    """A build from nothing (fresh output folder, fresh cache in tmp/full-cache): the bytes an
    incremental build must equal."""
    from generator.build import build

    out, cache = tmp / "full", tmp / "full-cache"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    with monkeypatch.context() as m:
        m.setenv("GONGSHI_CACHE", str(cache))
        build(root, out, today, plugins=plugins)
    return tree_bytes(out)


def retitle(path: Path, mark: str = "更正：") -> None:
    """The commonest edit: a clerk corrects one notice's title (`mark` put in front of it)."""
    path.write_text(path.read_text(encoding="utf-8").replace("title: ", f"title: {mark}", 1), encoding="utf-8")


def gate_reads(monkeypatch) -> list[str]:
    """The site paths the leak gate reads whole from now on, in this process, in order."""
    from generator import leakcheck

    read: list[str] = []
    real = leakcheck.Scanner.scan_file
    monkeypatch.setattr(leakcheck.Scanner, "scan_file",
                        lambda self, relpath, data, numbers=None: (read.append(relpath), real(self, relpath, data, numbers))[1])
    return read
