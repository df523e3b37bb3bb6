"""Writing the site: into a fresh temporary folder, each path once, then swapped into place.

A failed build must never leave a half-written site behind, so pages go to a temporary
sibling of the output folder and replace the old site only after every check has passed.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .errors import BuildError


class Output:
    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir).resolve()
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.building-", dir=self.out_dir.parent))
        os.chmod(self.tmp, 0o755)  # mkdtemp makes it private; a web server must read it
        self.written: dict[str, str] = {}  # site path -> what made it, to refuse collisions

    def path(self, site_path: str, made_from: str) -> Path:
        """The file to write for `site_path`; refuses a second page at the same path."""
        if site_path in self.written:
            raise BuildError(f"two pages map to {site_path}: {self.written[site_path]} and {made_from}")
        self.written[site_path] = made_from
        target = self.tmp / site_path
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_text(self, site_path: str, text: str, made_from: str) -> None:
        # Fixed newline and encoding: byte-identical output on every platform.
        self.path(site_path, made_from).write_bytes(text.encode("utf-8"))

    def write_bytes(self, site_path: str, data: bytes, made_from: str) -> None:
        self.path(site_path, made_from).write_bytes(data)

    def copy(self, site_path: str, source: Path, made_from: str) -> None:
        shutil.copyfile(source, self.path(site_path, made_from))

    def commit(self) -> None:
        """Swap the new site into place; the old one is removed only once the new one is there."""
        old = None
        if self.out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.old-", dir=self.out_dir.parent))
            os.replace(self.out_dir, old / "site")
        os.replace(self.tmp, self.out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
