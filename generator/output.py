"""Writing the site: into a fresh temporary folder, each path once, then swapped into place.

A failed build must never leave a half-written site behind, so pages go to a temporary
sibling of the output folder and replace the old site only after every check has passed.

Incremental builds: a file written with a `key` (a hash of everything it is made from) is
recorded in the build manifest. The next build asks `reuse(path, key)` before making the
file again: when the previous build made that path from the same key, the old file is
hard-linked into the new site instead, which costs nothing and gives the same bytes.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from .errors import BuildError

MANIFEST_VERSION = 1


def digest(*parts: object) -> str:
    """A stable hash of strings (or anything with a stable `str`)."""
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode("utf-8")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


class Output:
    def __init__(self, out_dir: Path, manifest_path: Path | None = None):
        self.out_dir = Path(out_dir).resolve()
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.building-", dir=self.out_dir.parent))
        os.chmod(self.tmp, 0o755)  # mkdtemp makes it private; a web server must read it
        self.written: dict[str, str] = {}  # site path -> what made it, to refuse collisions
        self.keys: dict[str, str] = {}  # site path -> key, for the next build's manifest
        self.reused: set[str] = set()  # paths linked from the previous build (already checked)
        self.manifest_path = manifest_path
        self.previous = self._read_manifest()
        self._dirs: set[Path] = set()

    # -- the previous build --------------------------------------------------------------
    def _read_manifest(self) -> dict:
        if self.manifest_path is None or not self.manifest_path.is_file() or not self.out_dir.is_dir():
            return {}
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # a damaged manifest only costs a full build
        if manifest.get("version") != MANIFEST_VERSION or manifest.get("out_dir") != str(self.out_dir):
            return {}
        return manifest

    @property
    def previous_keys(self) -> dict[str, str]:
        return self.previous.get("keys", {})

    def reuse(self, site_path: str, key: str, made_from: str) -> bool:
        """Link the previous build's file when it was made from the same key; False otherwise."""
        if self.previous_keys.get(site_path) != key:
            return False
        old = self.out_dir / site_path
        if not old.is_file():
            return False
        target = self.path(site_path, made_from)
        try:
            os.link(old, target)
        except OSError:
            shutil.copyfile(old, target)  # another file system, or links not allowed
        self.keys[site_path] = key
        self.reused.add(site_path)
        return True

    # -- writing -------------------------------------------------------------------------
    def path(self, site_path: str, made_from: str) -> Path:
        """The file to write for `site_path`; refuses a second page at the same path."""
        if site_path in self.written:
            raise BuildError(f"two pages map to {site_path}: {self.written[site_path]} and {made_from}")
        self.written[site_path] = made_from
        target = self.tmp / site_path
        parent = target.parent
        if parent not in self._dirs:
            parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(parent)
        return target

    def write_text(self, site_path: str, text: str, made_from: str, key: str | None = None) -> None:
        # Fixed newline and encoding: byte-identical output on every platform.
        self.write_bytes(site_path, text.encode("utf-8"), made_from, key)

    def write_bytes(self, site_path: str, data: bytes, made_from: str, key: str | None = None) -> None:
        self.path(site_path, made_from).write_bytes(data)
        if key is not None:
            self.keys[site_path] = key

    def write_many(self, jobs, advance=None) -> None:
        """Make many files at once: `jobs` are (site_path, made_from, key, make) with `make()`
        returning the text. Large batches run in one process per core (see `parallel`); the
        bytes are the same as from one process, since each file depends only on its job."""
        from .parallel import run_parallel

        targets = []
        for site_path, made_from, key, make in jobs:
            targets.append((self.path(site_path, made_from), make))
            if key is not None:
                self.keys[site_path] = key
        run_parallel([lambda target=target, make=make: target.write_bytes(make().encode("utf-8")) for target, make in targets])
        if advance is not None:
            advance(len(targets))

    def copy(self, site_path: str, source: Path, made_from: str, key: str | None = None) -> None:
        shutil.copyfile(source, self.path(site_path, made_from))
        if key is not None:
            self.keys[site_path] = key

    # -- finishing -----------------------------------------------------------------------
    def commit(self, inputs: str | None = None, gate: str | None = None) -> None:
        """Swap the new site into place; the old one is removed only once the new one is there."""
        old = None
        if self.out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.old-", dir=self.out_dir.parent))
            os.replace(self.out_dir, old / "site")
        os.replace(self.tmp, self.out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        if self.manifest_path is not None:
            self.manifest_path.parent.mkdir(parents=True, exist_ok=True)
            manifest = {"version": MANIFEST_VERSION, "out_dir": str(self.out_dir), "inputs": inputs, "gate": gate,
                        "files": sorted(self.written), "keys": dict(sorted(self.keys.items()))}
            tmp = self.manifest_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self.manifest_path)

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
