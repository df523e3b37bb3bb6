"""Writing the site: into a fresh temporary folder, each path once, then swapped into place.

A failed build must never leave a half-written site behind, so pages go to a temporary
sibling of the output folder and replace the old site only after every check has passed.

Incremental builds: a file written with a `key` (a hash of everything it is made from) is
recorded in the build manifest. The next build asks `reuse(path, key)` before making the
file again: when the previous build made that path from the same key, the old file is
hard-linked into the new site instead, which costs nothing and gives the same bytes.

The standby: the site a build replaces is not deleted but kept in the build cache with its
manifest (when the cache is on the output's file system). The next build takes it as its
temporary folder and only brings it up to date: a file whose key is the standby's stays as
it is, a changed one is replaced (unlinked first: the trees share files through hard links,
and no file is ever changed in place), and files no longer made are removed. A rebuild after
an edit then costs what changed, not a link and a directory per file of the site (40,000
links and 1,000 directories at 10,000 notices), nor the old site's deletion. The folder
swapped in is still a complete new site, checked before the swap.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import shutil
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path

from .buildlock import let_go_in_child
from .errors import BuildError
from .inputs import digest  # noqa: F401 - one hash for the whole tool; pages import it from here
from .inputs import files_stamp, release_streams, stamp_path

# The manifest is in marshal's format (a cache file, never published): a large site's is
# megabytes of keys, read twice (with the standby's) and written once by every rebuild;
# marshal does that in a third of JSON's time (0.11 s less at 10,000 notices).
MANIFEST_VERSION = 4  # 4: the number of files instead of their list; keys and sums in the order made
# An old site of this many files is removed by a detached process after the swap, so that a
# rebuild of a large site does not wait for tens of thousands of unlinks.
BACKGROUND_REMOVAL_FILES = 5000


def file_checksum(data: bytes) -> str:
    """What the manifest keeps of a file written without a key (`Output.sums`)."""
    return hashlib.sha256(data).hexdigest()


class Output:
    def __init__(self, out_dir: Path, manifest_path: Path | None = None):
        self.out_dir = Path(out_dir).resolve()
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self.manifest_path = manifest_path
        self.tmp = self._new_folder()
        try:
            self._start(manifest_path)
        except BaseException:  # (Ctrl+C, SIGTERM) no Output to discard: the folder goes here
            shutil.rmtree(self.tmp, ignore_errors=True)
            self._unmark_building()
            raise

    def _start(self, manifest_path: Path | None) -> None:
        os.chmod(self.tmp, 0o755)  # made private (as mkdtemp does); a web server must read it
        self.written: dict[str, str] = {}  # site path -> what made it, to refuse collisions
        self.keys: dict[str, str] = {}  # site path -> key, for the next build's manifest
        self.reused: set[str] = set()  # paths linked from the previous build or kept from the standby (already checked)
        self.from_standby: set[str] = set()  # those of them kept from the standby (the build before the previous one)
        self.previous = self._read_manifest(manifest_path)
        self.sums: dict[str, str] = {}  # site path -> sha256 of the bytes, for files written without a key
        # Plain strings, not Paths: a large site's rebuild links tens of thousands of files.
        self._out, self._tmp = str(self.out_dir), str(self.tmp)
        self._dirs: set[str] = set()
        # The standby (see the module's notes): its manifest, and the files it held when taken.
        self.standby: dict = {}
        self._standby_files: frozenset[str] = frozenset()
        self._standby_dirs: frozenset[str] = frozenset()
        self._pruned = False
        self._take_standby()

    # -- a build that was killed ---------------------------------------------------------
    def _new_folder(self) -> Path:
        """A new, empty temporary folder beside the output. It is noted beside the manifest
        before it is made and until the build ends, so that when the build is killed (SIGKILL,
        out of memory, power lost: no chance to clean up), at whatever moment, the next one
        removes what it left (`remove_killed_build`)."""
        while True:
            folder = self.out_dir.parent / f".{self.out_dir.name}.building-{os.urandom(6).hex()}"
            if self.manifest_path is not None:
                marker = building_marker(self.manifest_path)
                with suppress(OSError):  # (written whole or not at all)
                    marker.parent.mkdir(parents=True, exist_ok=True)
                    aside = marker.with_suffix(".building-new")
                    aside.write_text(str(folder), encoding="utf-8")
                    os.replace(aside, marker)
            try:
                os.mkdir(folder, 0o700)
                return folder
            except FileExistsError:
                continue

    def _unmark_building(self) -> None:
        if self.manifest_path is not None:
            with suppress(OSError):
                building_marker(self.manifest_path).unlink()

    # -- the previous build --------------------------------------------------------------
    def _read_manifest(self, path: Path | None, without_folder: bool = False) -> dict:
        if path is None or not path.is_file() or not (without_folder or self.out_dir.is_dir()):
            return {}
        try:
            manifest = marshal.loads(path.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            return {}  # a damaged manifest only costs a full build
        if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION or manifest.get("out_dir") != str(self.out_dir):
            return {}
        return manifest

    def last_gate(self) -> tuple[str | None, dict | None]:
        """The leak gate's key and rules' parts of the last build into this folder, also when
        the folder is gone since (a CI runner keeps the build cache, not the output)."""
        manifest = self.previous or self._read_manifest(self.manifest_path, without_folder=True)
        return manifest.get("gate"), manifest.get("gate_parts")

    # -- the standby -----------------------------------------------------------------------
    @property
    def standby_dir(self) -> Path | None:
        """Where the replaced site is kept: beside the manifest, if on the output's file system."""
        if self.manifest_path is None:
            return None
        try:
            if self.manifest_path.parent.stat().st_dev != self.out_dir.parent.stat().st_dev:
                return None
        except OSError:
            return None
        return self.manifest_path.with_suffix(".standby")

    @property
    def standby_manifest(self) -> Path:
        return self.manifest_path.with_suffix(".standby.manifest")

    def _take_standby(self) -> None:
        """Make the standby this build's temporary folder, when it is exactly what its manifest
        says and passed the leak gate under the rules the previous build's files did."""
        folder = self.standby_dir
        if folder is None or not self.previous or not folder.is_dir():
            return
        manifest = self._read_manifest(self.standby_manifest)
        with suppress(OSError):
            self.standby_manifest.unlink()  # from here on the folder is this build's, whatever happens
        if not manifest or manifest.get("gate") != self.previous.get("gate") or not _close(manifest, self.previous):
            return  # left where it is; the swap replaces it
        try:
            os.replace(folder, self.tmp)  # onto the empty folder mkdtemp made
        except OSError:
            return
        try:
            files, folders, odd = _tree(self._tmp)
        except OSError:  # a folder that cannot be read
            files, folders, odd = [], [], True
        if odd:  # something no build makes (a link, a socket): start afresh instead
            _remove(_move_aside(self.tmp, self.out_dir), background=True)
            os.mkdir(self.tmp)
            os.chmod(self.tmp, 0o755)
            return
        self.standby = manifest
        self._standby_files = frozenset(files)
        self._standby_dirs = frozenset(folders)
        self._dirs.update(self._standby_dirs)

    def _clear(self, site_path: str, target: str) -> None:
        """Remove the standby's file (or folder, a layout ago) at `target`, before a new one is made there."""
        if site_path in self._standby_files:
            with suppress(FileNotFoundError):
                os.unlink(target)
        elif target in self._standby_dirs and not any(path.startswith(site_path + "/") for path in self.written):
            shutil.rmtree(target, ignore_errors=True)
            self._dirs = {d for d in self._dirs if d != target and not d.startswith(target + "/")}

    def _kept(self, site_path: str, made_from: str, recorded: dict, table: str, value: str) -> bool:
        """Keep the standby's file at `site_path` when it was made from `value` (a key or checksum)."""
        if not self._in_standby(site_path, table, value):
            return False
        self.path(site_path, made_from)
        recorded[site_path] = value
        self.reused.add(site_path)
        self.from_standby.add(site_path)
        return True

    def prune(self) -> None:
        """Remove the standby's files that this build did not make, and folders left empty:
        the folder then holds this build's files only (call when all are written, before the
        leak gate reads the folder)."""
        if not self._standby_files or self._pruned:
            return
        self._pruned = True
        for site_path in self._standby_files.difference(self.written):
            with suppress(OSError):  # gone already, or under a folder that is a file now
                os.unlink(f"{self._tmp}/{site_path}")
        for folder in sorted(self._standby_dirs, key=len, reverse=True):  # the deepest first
            with suppress(OSError):
                os.rmdir(folder)  # only if empty

    @property
    def previous_keys(self) -> dict[str, str]:
        return self.previous.get("keys", {})

    def reuse(self, site_path: str, key: str, made_from: str) -> bool:
        """Keep the standby's file or link the previous build's when it was made from the same
        key; False otherwise."""
        if self._kept(site_path, made_from, self.keys, "keys", key):
            return True
        if self.previous_keys.get(site_path) != key or not self._link_previous(site_path, made_from):
            return False
        self.keys[site_path] = key
        return True

    def reuse_many(self, files: list[tuple]) -> list[tuple]:
        """`reuse` for many (site_path, key, made_from, ...) tuples at once (what follows the
        third is the caller's): returns those not reused, in their order. The standby's files
        that stay in place, after an edit nearly all of them, are settled by set operations;
        a call each cost 25,000 files 0.15 s."""
        wanted = {file[0]: file[1] for file in files}
        kept: set[str] = set()
        # A path asked for twice, or already written, goes one by one: reuse() says which.
        if self._standby_files and len(wanted) == len(files) and self.written.keys().isdisjoint(wanted):
            kept = {site_path for site_path, _ in wanted.items() & self.standby.get("keys", {}).items()}
            kept &= self._standby_files
            self.written.update((file[0], file[2]) for file in files if file[0] in kept)
            self.keys.update((site_path, wanted[site_path]) for site_path in kept)
            self.reused.update(kept)
            self.from_standby.update(kept)
        return [file for file in files if file[0] not in kept and not self.reuse(*file[:3])]

    def reuse_bytes(self, site_path: str, checksum: str, made_from: str) -> bool:
        """Keep the standby's file or link the previous build's when its bytes had this
        checksum (a file made without a key, whose maker knows it did not change); False otherwise."""
        if self._kept(site_path, made_from, self.sums, "sums", checksum):
            return True
        if self.previous.get("sums", {}).get(site_path) != checksum or not self._link_previous(site_path, made_from):
            return False
        self.sums[site_path] = checksum
        return True

    def _in_standby(self, site_path: str, table: str, value: str) -> bool:
        """Whether the standby holds `site_path`, made from `value` (its "keys" or "sums")."""
        return site_path in self._standby_files and self.standby.get(table, {}).get(site_path) == value

    def reusable(self, site_path: str, checksum: str) -> bool:
        """Whether `reuse_bytes(site_path, checksum, ...)` would keep or link a file (barring
        one removed meanwhile), without doing it."""
        if self._in_standby(site_path, "sums", checksum):
            return True
        return self.previous.get("sums", {}).get(site_path) == checksum and os.path.isfile(f"{self._out}/{site_path}")

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
        self._clear(site_path, target)
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
            try:
                os.makedirs(parent, exist_ok=True)
            except (FileExistsError, NotADirectoryError):  # the standby had a file where a folder goes now
                self._make_folder(parent)
            self._dirs.add(parent)
        return target

    def _make_folder(self, folder: str) -> None:
        """Make `folder`, removing the standby's files in its way."""
        relative = folder[len(self._tmp) + 1:].split("/")
        for depth in range(1, len(relative) + 1):
            current = "/".join([self._tmp, *relative[:depth]])
            if os.path.isfile(current) or os.path.islink(current):
                os.unlink(current)
        os.makedirs(folder, exist_ok=True)

    def write_text(self, site_path: str, text: str, made_from: str, key: str | None = None) -> None:
        # Fixed newline and encoding: byte-identical output on every platform.
        self.write_bytes(site_path, text.encode("utf-8"), made_from, key)

    def write_bytes(self, site_path: str, data: bytes, made_from: str, key: str | None = None) -> None:
        if key is not None:
            target = self.path(site_path, made_from)
            self.keys[site_path] = key
            self._clear(site_path, target)
            _write(target, data)
            return
        # A file made without a key (the search index, site-wide lists) whose bytes equal the
        # previous build's (or the standby's) is linked (or kept), not written: it counts as
        # reused, so the leak gate, which passed those very bytes under the same rules, need
        # not read it again.
        checksum = file_checksum(data)
        if self._kept(site_path, made_from, self.sums, "sums", checksum):
            return
        target = self.path(site_path, made_from)
        self.sums[site_path] = checksum
        if self.previous.get("sums", {}).get(site_path) == checksum and self._take_previous(site_path, target):
            return
        self._clear(site_path, target)
        _write(target, data)

    def write_groups(self, groups) -> None:
        """Make many files at once: `groups` are lists of (site_path, made_from, key, make) jobs,
        `make()` returning the text. Large batches run in one process per core (see
        `parallel`); the jobs of a group are made one after the other in one process, so that
        a later one finds what an earlier one computed in its caches. The bytes are the same
        as from one process, since each file depends only on its job."""
        from .parallel import run_parallel

        made = []
        for group in groups:
            targets = []
            for site_path, made_from, key, make in group:
                target = self.path(site_path, made_from)
                self._clear(site_path, target)
                targets.append((target, make))
                if key is not None:
                    self.keys[site_path] = key
            made.append(targets)
        run_parallel([lambda targets=targets: _write_all(targets) for targets in made])

    def copy(self, site_path: str, source: Path, made_from: str, key: str | None = None) -> None:
        target = self.path(site_path, made_from)
        self._clear(site_path, target)
        shutil.copyfile(source, target)
        if key is not None:
            self.keys[site_path] = key

    # -- finishing -----------------------------------------------------------------------
    def commit(self, inputs: str | None = None, gate: str | None = None, base: str | None = None,
               gate_parts: dict | None = None, gate_numbers: tuple[dict, list] | None = None) -> None:
        """Swap the new site into place. The old one becomes the standby when it has a
        manifest (else it is removed, once the new one is there).

        The manifest never describes a folder it is not about, whenever the process stops: the
        new one is written aside first, the old one taken away (or made the standby's) before
        the folders are swapped, and the new one put in place after. A build killed in between
        finds no manifest and builds afresh; Ctrl+C and SIGTERM wait until the swap is done.

        The manifest keeps `inputs` (for the next build's "nothing changed"), the leak gate's
        key `gate` and what it was made from (`gate_parts`, leakgate.Rules.parts) and the pages'
        base key `base` (build.base_key: whether the next build is an edit of this one), with
        every file's key and checksum, and the numbers its files met (`gate_numbers`,
        leakgate.Rules.records)."""
        self.prune()
        standby = self.standby_dir if self.previous else None
        old = None
        if standby is not None and standby.exists():  # a standby this build could not use
            old = _move_aside(standby, self.out_dir)
        new_manifest = None
        if self.manifest_path is not None:
            self.manifest_path.parent.mkdir(parents=True, exist_ok=True)
            # Keys and checksums are only ever looked up, so they are kept in the order they
            # were made, and of the files only their number is needed (`_close`,
            # BACKGROUND_REMOVAL_FILES): sorting them and writing the list cost a one-notice
            # rebuild 0.03 s at 10,000 notices, and reading it twice the next one 0.01 s.
            manifest = {"version": MANIFEST_VERSION, "out_dir": str(self.out_dir), "inputs": inputs, "gate": gate,
                        "gate_parts": gate_parts, "base": base,
                        "numbers": dict(sorted(gate_numbers[0].items())) if gate_numbers else None,
                        "numbers_unknown": gate_numbers[1] if gate_numbers else None,
                        "file_count": len(self.written), "keys": self.keys, "sums": self.sums}
            new_manifest = self.manifest_path.with_suffix(".new")
            new_manifest.write_bytes(marshal.dumps(manifest))
        with _signals_held():
            if self.manifest_path is not None:
                with suppress(OSError):  # (else a killed build's next one could find its inputs' site "up to date")
                    stamp_path(self.manifest_path).unlink()
                with suppress(OSError):  # (none yet: nothing to take away)
                    if standby is not None:  # the previous build's manifest describes the standby now
                        os.replace(self.manifest_path, self.standby_manifest)
                    else:
                        self.manifest_path.unlink()
            if self.out_dir.exists():
                if standby is None:
                    old = _move_aside(self.out_dir, self.out_dir)
                else:
                    os.replace(self.out_dir, standby)
            os.replace(self.tmp, self.out_dir)
            self._unmark_building()
            if new_manifest is not None:
                os.replace(new_manifest, self.manifest_path)
                tmp = self.manifest_path.with_suffix(".tmp")
                tmp.write_text(files_stamp(inputs, self.written), encoding="utf-8")
                os.replace(tmp, stamp_path(self.manifest_path))
            if old is not None:  # (here too: a signal must not leave it behind)
                _remove(old, background=self.previous.get("file_count", 0) >= BACKGROUND_REMOVAL_FILES)

    def discard(self) -> None:
        # (No folder: it was swapped in, and the failure came after, a signal held till then.)
        if self.tmp.is_dir() and len(self._standby_files) >= BACKGROUND_REMOVAL_FILES:
            _remove(_move_aside(self.tmp, self.out_dir), background=True)  # without keeping the failure waiting
        elif self.tmp.is_dir():
            shutil.rmtree(self.tmp, ignore_errors=True)
        self._unmark_building()


def building_marker(manifest_path: Path) -> Path:
    """Beside the manifest while a build runs: the path of its temporary folder."""
    return manifest_path.with_suffix(".building")


def remove_killed_build(out_dir: Path, manifest_path: Path) -> None:
    """Remove the temporary folder of a build into `out_dir` that was killed before it could
    clean up (a whole site's worth of files at worst; with the standby in it, which that
    build had taken). Call holding the build lock: then no build of this cache is running,
    and the folder noted is a dead one's."""
    marker = building_marker(manifest_path)
    try:
        left = Path(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    out_dir = Path(out_dir).resolve()
    if left.parent == out_dir.parent and left.name.startswith(f".{out_dir.name}.building-") and left.is_dir():
        with suppress(OSError):  # moved aside at once (a rename), deleted in the background
            _remove(_move_aside(left, out_dir), background=True)
    with suppress(OSError):
        marker.unlink()


def _held_signals() -> set:
    """Ctrl+C and what `gongshi` stops on like it (cli.stop_like_ctrl_c), where they exist."""
    import signal

    return {getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)}


@contextmanager
def _signals_held():
    """Ctrl+C, SIGTERM and SIGHUP wait until the block is done (where the process can block
    them; a process forked inside the block unblocks them, `_signals_let_through`)."""
    import signal

    try:
        before = signal.pthread_sigmask(signal.SIG_BLOCK, _held_signals())
    except (AttributeError, ValueError, OSError):  # not the main thread's business, or no such call
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _write(target: str, data: bytes) -> None:
    with open(target, "wb") as out:
        out.write(data)


def _write_all(targets) -> None:
    for target, make in targets:
        _write(target, make().encode("utf-8"))


def _close(standby: dict, previous: dict) -> bool:
    """Whether most of the previous build's files are the standby's too: else (after a change
    of template or config) bringing the standby up to date would replace nearly every file,
    which costs more than linking them all into an empty folder."""
    same = 0
    for table in ("keys", "sums"):
        theirs = standby.get(table, {})
        same += sum(1 for path, value in previous.get(table, {}).items() if theirs.get(path) == value)
    return same * 2 >= previous.get("file_count", 0)


def _tree(folder: str) -> tuple[list[str], list[str], bool]:
    """The files and the folders below `folder` (as `folder/...` paths), and whether it holds
    anything but files and folders."""
    files: list[str] = []
    folders: list[str] = []
    odd = False
    pending = [(folder, "")]
    while pending:
        current, prefix = pending.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, prefix + entry.name + "/"))
                    folders.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    files.append(prefix + entry.name)
                else:
                    odd = True
    return files, folders, odd


def _move_aside(folder: Path, out_dir: Path) -> Path:
    """Move `folder` (an old site, a standby) into a new `.OUT.old-*` folder beside the
    output, to be removed there (`_remove`); returns that folder."""
    aside = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.replace(folder, aside / "site")
    return aside


def _remove(folder: Path, background: bool) -> None:
    """Delete `folder` (the replaced site), now or in a grandchild process that nobody waits for."""
    if background and hasattr(os, "fork"):
        try:
            child = os.fork()
        except OSError:
            child = None
        if child == 0:  # the child: start the remover and leave at once
            try:
                _signals_let_through()
                if os.fork() == 0:
                    os.setsid()
                    let_go_in_child()  # the next build need not wait for this (buildlock.py)
                    release_streams()
                    shutil.rmtree(folder, ignore_errors=True)
            finally:
                os._exit(0)
        if child is not None:
            os.waitpid(child, 0)
            return
    shutil.rmtree(folder, ignore_errors=True)


def _signals_let_through() -> None:
    """In a process forked inside `_signals_held`: it may be stopped like any other (the
    signals held there are unblocked, nothing else)."""
    import signal

    with suppress(AttributeError, ValueError, OSError):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _held_signals())
