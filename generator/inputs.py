"""What a build is made from, cheaply: the check that lets an unchanged site exit at once.

Kept free of the heavy imports (Jinja2, YAML, pypinyin, whoosh...) so that a build with
nothing to do costs little more than reading and hashing its inputs. Everything is keyed by
content hashes, never by file times.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pickle
import sys
from pathlib import Path

PACKAGE = Path(__file__).parent
BUILTIN_THEMES = (
    PACKAGE / "themes",  # inside an installed wheel
    PACKAGE.parent / "themes",  # in a source checkout
)


def digest(*parts: object) -> str:
    """A stable hash of strings (or anything with a stable `str`)."""
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode("utf-8")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def files_under(folder: Path, suffixes: tuple[str, ...] = ()) -> list[str]:
    """Every file below `folder` as a sorted list of paths relative to it (POSIX separators)."""
    found: list[str] = []
    pending = [(str(folder), "")]
    while pending:
        current, prefix = pending.pop()
        try:
            entries = os.scandir(current)
        except OSError:
            continue
        with entries:
            for entry in entries:
                if entry.is_dir():
                    pending.append((entry.path, prefix + entry.name + "/"))
                elif entry.is_file() and (not suffixes or entry.name.endswith(suffixes)):
                    found.append(prefix + entry.name)
    found.sort()
    return found


# sha256 of each file hashed by this process: {real path of the folder: {name: hash}}.
# Loading the content then takes a file's hash from here instead of reading the file again;
# every build hashes its inputs first, so an entry is never older than the build using it.
_SEEN: dict[str, dict[str, str]] = {}


def hashed(folder: Path) -> dict[str, str]:
    """{name relative to `folder`: sha256 hex} of the files this process last hashed there."""
    return _SEEN.get(os.path.realpath(folder), {})


def read_file(path: str) -> bytes:
    """A file's bytes, with os.open and os.read: ten thousand small files are read a fifth
    quicker than with a Path's read_bytes."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _hash_files(folder: Path, names: list[str]) -> str:
    """One hash of the files' names and bytes, in order."""
    h = hashlib.sha256()
    base = str(folder)
    seen = _SEEN[os.path.realpath(base)] = {}
    for name in names:
        data = read_file(os.path.join(base, name))
        seen[name] = hashlib.sha256(data).hexdigest()
        encoded = name.encode("utf-8", "surrogateescape")
        h.update(len(encoded).to_bytes(8, "little"))
        h.update(encoded)
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def tool_digest() -> str:
    """The tool's own code and catalogs: a new version of Gongshi rebuilds everything."""
    return _hash_files(PACKAGE, files_under(PACKAGE, (".py", ".yaml")))


def manifest_path(cache: Path, out_dir: Path) -> Path:
    """One manifest per output folder, in the cache (never published with the site)."""
    return cache / "builds" / (digest(str(out_dir))[:16] + ".manifest")


def inputs_digest(root: Path, out_dir: Path, today: dt.date) -> str:
    """Every input of a build, by content: files of the site root, themes, the tool, the date, git."""
    from .history import repository_state

    parts = [tool_digest(), today.isoformat(), str(out_dir)]
    for folder in (root / "content", root / "themes", *BUILTIN_THEMES):
        if folder.is_dir():
            parts.append(str(folder))
            parts.append(_hash_files(folder, files_under(folder)))
    config = root / "site_config.yaml"
    parts.append(digest(config.read_bytes()) if config.is_file() else "-")
    state = repository_state(root)  # a new commit can change the pages' history
    parts.append(repr(state))
    return digest(*parts)


def fork_with_pipe() -> tuple[int, int, int]:
    """(pid as os.fork gives it, the pipe's read end, its write end), for a child that sends
    its answer back through the pipe. Output buffered in this process is flushed first (else
    the child's exit would write it a second time); raises OSError, leaving no descriptor
    open, when no pipe or process can be had."""
    sys.stdout.flush()
    sys.stderr.flush()
    read, write = os.pipe()
    try:
        return os.fork(), read, write
    except OSError:
        os.close(read)
        os.close(write)
        raise


def release_streams() -> None:
    """In a forked process that may outlive the command: let go of its output streams, so
    whoever reads the command's output sees the end when the command ends."""
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
    except OSError:
        pass


class Apart:
    """`job()` worked out in a forked child process while this one goes on: `result()` waits
    for its value, or raises the error it raised there as if it had happened here.

    The job runs here instead, when `result()` is called, with `here`, without `fork` or a
    process to be had, or when the child died without a word (killed, out of memory) or
    could not send its answer (one that cannot be pickled)."""

    def __init__(self, job, here: bool = False):
        self._job = job
        self._pid: int | None = None
        if here or not hasattr(os, "fork"):
            return
        try:
            pid, read, write = fork_with_pipe()
        except OSError:  # no process or descriptor to be had: worked out here
            return
        if pid == 0:  # the child: work, send the answer back, leave
            status = 0
            try:
                os.close(read)
                try:
                    answer = ("value", job())
                except Exception as exc:
                    answer = ("error", exc)
                try:
                    data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
                except Exception:  # the parent works it out again
                    data = pickle.dumps(("retry",))
                with os.fdopen(write, "wb") as out:
                    out.write(data)
            except BaseException:
                status = 1
            finally:
                os._exit(status)
        os.close(write)
        self._pid, self._read = pid, read

    def ready(self) -> bool:
        """Whether `result()` would return at once (the child has answered, or there is none)."""
        if self._pid is None:
            return True
        import select

        return bool(select.select([self._read], [], [], 0)[0])

    def result(self):
        if self._pid is None:
            return self._job()
        with os.fdopen(self._read, "rb") as source:
            data = source.read()
        os.waitpid(self._pid, 0)
        self._pid = None
        try:
            answer = pickle.loads(data)
        except Exception:  # the child died without a word, or its error cannot be rebuilt
            answer = ("retry",)
        if answer[0] == "value":
            return answer[1]
        if answer[0] == "error":
            raise answer[1]
        return self._job()

    def close(self) -> None:
        """The answer is not wanted after all (the caller failed first): the child is stopped
        and collected, so none is left behind in a process that goes on (`gongshi serve`)."""
        if self._pid is None:
            return
        import signal

        try:
            os.kill(self._pid, signal.SIGKILL)
        except OSError:
            pass
        os.close(self._read)
        os.waitpid(self._pid, 0)
        self._pid = None


class Digest(Apart):
    """`inputs_digest(root, out_dir, today)` worked out in a forked child process while this
    one goes on: `gongshi build` imports the modules a build needs meanwhile, one at a time
    until `ready()` (0.17 s of imports, as long as the hashing at 10,000 notices), then
    takes the digest with `result()`, and with it the files' hashes (`hashed`) that loading
    the content reuses."""

    def __init__(self, root: Path, out_dir: Path, today: dt.date):
        super().__init__(lambda: (inputs_digest(root, out_dir, today), _SEEN))

    def result(self) -> str:
        value, hashes = super().result()
        _SEEN.update(hashes)  # (the very dict, when hashed here)
        return value


def stamp_path(manifest_file: Path) -> Path:
    """Beside the manifest: the last build's inputs and a hash of its file list, small enough
    to read at once (the manifest of a large site is megabytes of keys)."""
    return manifest_file.with_suffix(".stamp")


def files_stamp(inputs: str, files) -> str:
    return json.dumps({"inputs": inputs, "files": digest("\n".join(sorted(files)))})


def up_to_date(manifest_file: Path, out_dir: Path, inputs: str) -> bool:
    """The last build into `out_dir` had these inputs and its files are all still there."""
    try:
        stamp = json.loads(stamp_path(manifest_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(stamp, dict) or stamp.get("inputs") != inputs or not out_dir.is_dir():
        return False
    # The published folder must still hold exactly what that build wrote (nobody deleted or
    # added a file).
    return stamp == json.loads(files_stamp(inputs, files_under(out_dir)))
