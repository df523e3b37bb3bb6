"""The pinned checkers of tests/npm: axe-core and the W3C Nu HTML checker (vnu.jar).

`make test` installs them from the npm registry with `npm ci` (versions and hashes in
tests/npm/package-lock.json) and Debian's Java to run vnu.jar. A missing one fails the test
that needs it, saying so; it is never skipped.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

NPM = Path(__file__).parent / "npm"
AXE_JS = NPM / "node_modules" / "axe-core" / "axe.min.js"
VNU_JAR = NPM / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def locked_version(package: str) -> str:
    """The version tests/npm/package-lock.json pins for `package`."""
    lock = json.loads((NPM / "package-lock.json").read_text(encoding="utf-8"))
    return lock["packages"][f"node_modules/{package}"]["version"]


def require(path: Path) -> Path:
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make test` (it installs the pinned checkers with "
                    "`npm ci` in tests/npm)", pytrace=False)
    return path


def java() -> str:
    found = shutil.which("java")
    if not found:
        pytest.fail("java is missing: run `make test` (it installs Debian's default-jre-headless)", pytrace=False)
    return found
