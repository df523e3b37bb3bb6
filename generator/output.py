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
from .inputs import digest  # noqa: F401 - one hash for the whole tool; pages import it from here
from .inputs import files_stamp, stamp_path

MANIFEST_VERSION = 2
# An old site of this many files is removed by a detached process after the swap, so that a
# rebuild of a large site does not wait for tens of thousands of unlinks.
BACKGROUND_REMOVAL_FILES = 5000


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
        self.sums: dict[str, str] = {}  # site path -> sha256 of the bytes, for files written without a key
        # Plain strings, not Paths: a large site's rebuild links tens of thousands of files.
        self._out, self._tmp = str(self.out_dir), str(self.tmp)
        self._dirs: set[str] = set()

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
        if self.previous_keys.get(site_path) != key or not self._link_previous(site_path, made_from):
            return False
        self.keys[site_path] = key
        return True

    def reuse_bytes(self, site_path: str, checksum: str, made_from: str) -> bool:
        """Link the previous build's file when its bytes had this checksum (a file made
        without a key, whose maker knows it did not change); False otherwise."""
        if self.previous.get("sums", {}).get(site_path) != checksum or not self._link_previous(site_path, made_from):
            return False
        self.sums[site_path] = checksum
        return True

    def _link_previous(self, site_path: str, made_from: str) -> bool:
        """`site_path` taken over from the previous build; when it is gone, not written at all."""
        if self._take_previous(site_path, self.path(site_path, made_from)):
            return True
        del self.written[site_path]
        return False

    def _take_previous(self, site_path: str, target: str) -> bool:
        """Hard-link the previous build's file at `target` (a copy across file systems); False
        when it is gone. A file taken over counts as reused: the leak gate passed it before."""
        old = f"{self._out}/{site_path}"
        try:
            os.link(old, target)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return False
        except OSError:
            shutil.copyfile(old, target)  # another file system, or links not allowed
        self.reused.add(site_path)
        return True

    # -- writing -------------------------------------------------------------------------
    def path(self, site_path: str, made_from: str) -> str:
        """The file to write for `site_path`; refuses a second page at the same path."""
        if site_path in self.written:
            raise BuildError(f"two pages map to {site_path}: {self.written[site_path]} and {made_from}")
        self.written[site_path] = made_from
        target = f"{self._tmp}/{site_path}"
        parent = target.rpartition("/")[0]
        if parent not in self._dirs:
            os.makedirs(parent, exist_ok=True)
            self._dirs.add(parent)
        return target

    def write_text(self, site_path: str, text: str, made_from: str, key: str | None = None) -> None:
        # Fixed newline and encoding: byte-identical output on every platform.
        self.write_bytes(site_path, text.encode("utf-8"), made_from, key)

    def write_bytes(self, site_path: str, data: bytes, made_from: str, key: str | None = None) -> None:
        target = self.path(site_path, made_from)
        if key is not None:
            self.keys[site_path] = key
            _write(target, data)
            return
        # A file made without a key (the search index, site-wide lists) whose bytes equal the
        # previous build's is linked, not written: it counts as reused, so the leak gate,
        # which passed those very bytes under the same rules, need not read it again.
        checksum = hashlib.sha256(data).hexdigest()
        self.sums[site_path] = checksum
        if self.previous.get("sums", {}).get(site_path) == checksum and self._take_previous(site_path, target):
            return
        _write(target, data)

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
        run_parallel([lambda target=target, make=make: _write(target, make().encode("utf-8")) for target, make in targets])
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
            _remove(old, background=len(self.previous.get("files", ())) >= BACKGROUND_REMOVAL_FILES)
        if self.manifest_path is not None:
            self.manifest_path.parent.mkdir(parents=True, exist_ok=True)
            manifest = {"version": MANIFEST_VERSION, "out_dir": str(self.out_dir), "inputs": inputs, "gate": gate,
                        "files": sorted(self.written), "keys": dict(sorted(self.keys.items())),
                        "sums": dict(sorted(self.sums.items()))}
            tmp = self.manifest_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self.manifest_path)
            stamp = stamp_path(self.manifest_path)
            tmp.write_text(files_stamp(inputs, self.written), encoding="utf-8")
            os.replace(tmp, stamp)

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _write(target: str, data: bytes) -> None:
    with open(target, "wb") as out:
        out.write(data)


def _remove(folder: Path, background: bool) -> None:
    """Delete `folder` (the replaced site), now or in a grandchild process that nobody waits for."""
    if background and hasattr(os, "fork"):
        try:
            child = os.fork()
        except OSError:
            child = None
        if child == 0:  # the child: start the remover and leave at once
            try:
                if os.fork() == 0:
                    os.setsid()
                    # Let go of the build's output pipes: whoever reads them sees the end now.
                    null = os.open(os.devnull, os.O_RDWR)
                    for fd in (0, 1, 2):
                        os.dup2(null, fd)
                    shutil.rmtree(folder, ignore_errors=True)
            finally:
                os._exit(0)
        if child is not None:
            os.waitpid(child, 0)
            return
    shutil.rmtree(folder, ignore_errors=True)
